"""Plankton-column case files: bad input gets one clear message; the truth map; a short training."""

from __future__ import annotations

import numpy as np
import pytest

import oceanclosure
from tests.columns import case_message, column, load_text

pytestmark = pytest.mark.usefixtures("x64")

CASE = "format = 2\n" + column((-100.0, 0.0), 10) + """
[physics]
model = "npzd_oa"

[initial_condition]
total_nitrogen = { top = 10.0, bottom = 20.0 }
spin_up = { days = 5.0 }

[time]
stop = 4.0
output_interval = 1.0
"""

LUMPED = "format = 2\n" + column((-100.0, 0.0), 10) + """
[physics]
model = "npz_oa"

[truth]
fine = { refine = 1, physics = { model = "npzd_oa", q = 1.0 } }

[observations]
map = { N = "N + D" }

[initial_condition]
total_nitrogen = { top = 10.0, bottom = 20.0 }
spin_up = { days = 5.0, physics = { model = "npzd_oa", q = 1.0 } }

[time]
stop = 4.0
output_interval = 1.0
"""


def _load(tmp_path, overrides=(), text=CASE):
    return load_text(tmp_path, text, overrides)


def _message(tmp_path, overrides=(), text=CASE) -> str:
    return case_message(tmp_path, text, overrides)


BAD = {
    "a negative parameter": (["physics.m_p=-0.08"], "physics.m_p: must be >= 0 (got -0.08)"),
    "a zero mu_max": (["physics.mu_max=0.0"], "physics.mu_max: must be > 0"),
    "a zero K_P": (["physics.K_P=0.0"], "physics.K_P: must be > 0"),
    "a zero K_N": (["physics.K_N=0.0"], "physics.K_N: must be > 0"),
    "gamma + lambda above one": (["physics.gamma=0.8"], "gamma + lambda must be <= 1"),
    "a spin-up physics key error": (["initial_condition.spin_up.physics={foo=1.0}"],
                                    "initial_condition.spin_up.physics.foo: unknown key"),
    "an unknown parameter": (["physics.mu=2.0"], "physics.mu"),
    "a missing forcing file": (['physics.mixing={file="kz.nc"}'], "physics.mixing.file: file not found"),
    "a mixed-layer table out of order": (
        ["physics.mixing.mixed_layer.t=[0.0, 175.0, 25.0, 365.0]"], "t must be strictly increasing"),
    "a mixed-layer table of two lengths": (
        ["physics.mixing.mixed_layer.depth=[-80.0, -25.0]"], "must have the same length"),
    "a positive mixed-layer depth": (
        ["physics.mixing.mixed_layer.depth=[-80.0, 25.0, -25.0, -80.0]"], "depths are negative"),
    "sinking of an unknown tracer": (["physics.velocity={X=-1.0}"], "physics.velocity.X: not a variable of npzd_oa"),
    "a bad mortality form": (['physics.mortality_form="Z**2 + W"'], "physics.mortality_form"),
    "a split that does not sum to one": (
        ["initial_condition.total_nitrogen.split={N=0.5, P=0.1, Z=0.1, D=0.1}"], "the fractions must sum to 1"),
    "a split naming DIC": (
        ["initial_condition.total_nitrogen.split={N=0.9, DIC=0.1}"], "not a nitrogen pool"),
    "a spin-up into another family": (
        ['initial_condition.spin_up.physics={model="burgers", nu=0.1}'], "spin-up model must be a plankton model"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_is_one_clear_message(tmp_path, name):
    overrides, expected = BAD[name]
    assert expected in _message(tmp_path, overrides)


def test_a_column_must_reach_the_surface(tmp_path):
    from oceanclosure.build import InputError, build_model

    case = _load(tmp_path, ["grid.domain=[-200.0, -100.0]"])
    with pytest.raises(InputError, match="top is the sea surface, z = 0"):
        build_model(case)


def test_total_nitrogen_is_for_plankton_models_only(tmp_path):
    text = "format = 2\n" + column((-100.0, 0.0), 10) + """
[physics]
model = "advection_diffusion_reaction"
variables = { A = {} }

[initial_condition]
total_nitrogen = { top = 1.0, bottom = 2.0 }

[time]
stop = 1.0
output_interval = 1.0
"""
    assert "only for the plankton models" in _message(tmp_path, text=text)


def test_a_plankton_model_needs_a_z_column(tmp_path):
    text = CASE.replace('dims = ["z"]', 'dims = ["x"]').replace("bottom =", "left =").replace("top =", "right =")
    assert "is a 1-D column" in _message(tmp_path, text=text)


def test_an_observation_map_is_checked_against_both_models(tmp_path):
    assert "not variables of the model" in _message(tmp_path, ['observations.map={D="N"}'], LUMPED)
    assert "observations.map.N" in _message(tmp_path, ['observations.map={N="N + X"}'], LUMPED)
    # without the map NPZ-OA's N is the truth's N, which exists: valid; the D is simply not seen
    _load(tmp_path, ["observations.map={}"], LUMPED)
    # a truth model that lacks a variable the case needs, with no map for it
    text = LUMPED.replace('model = "npz_oa"', 'model = "npzd_oa"').replace(
        'physics = { model = "npzd_oa", q = 1.0 } }', 'physics = { model = "npz_oa", q = 1.0 } }')
    assert "the truth's model has no ['D']" in _message(tmp_path, ["observations.map={}"], text)


def test_the_lumped_truth_and_initial_state_are_n_plus_d(tmp_path):
    case = _load(tmp_path, text=LUMPED)
    from oceanclosure.build import build_model, initial_fields
    from oceanclosure.truth import generate_truth

    model = build_model(case)
    start = initial_fields(case, model.grid, np.float64)
    full = case.with_overrides(['physics={model="npzd_oa", q=1.0}', "observations.map={}"])
    full_start = initial_fields(full, model.grid, np.float64)
    np.testing.assert_allclose(start["N"], full_start["N"] + full_start["D"], rtol=1e-14)
    np.testing.assert_allclose(start["P"], full_start["P"], rtol=1e-14)
    truth = generate_truth(case)
    assert set(truth.data_vars) == {"N", "P", "Z", "DIC", "TA"}
    assert truth.time.attrs["units"] == "days"
    ds = oceanclosure.run(full, truth=False)
    np.testing.assert_allclose(truth["N"].values, (ds["N"] + ds["D"]).values, rtol=1e-12)
    assert truth.attrs["truth_key"] != generate_truth(case.with_overrides(['observations.map={}'])).attrs["truth_key"]


def test_a_short_training_moves_the_quadratic_mortality_toward_the_truth(tmp_path):
    """Experiment 2a in small: 10 cells, 12 days, the Z² library term alone, 12 Adam steps."""
    text = CASE.replace("stop = 4.0", "stop = 12.0") + """
[truth]
fine = { refine = 1, physics = { q = 1.0 } }

[[closure]]
kind = "library"
variables = ["N", "P", "Z", "D", "DIC", "TA"]
terms = ["Z**2"]
outputs = ["Z", "D"]
constraints = { D = { Z = -1.0 } }
trainable = true

[training]
window = 2
batch = 4
steps = 12
optimizer = "adam"
learning_rate = 0.004
loss = "mse"
selection = "none"
train_times = [0.0, 8.0]
validation_times = [8.0, 12.0]
checkpoint_every = 12
"""
    text = text.replace("spin_up = { days = 5.0 }", "spin_up = { days = 5.0, physics = { q = 1.0 } }")
    (tmp_path / "case.toml").write_text(text)
    from oceanclosure.training.api import train

    summary = train(oceanclosure.load_case(tmp_path))
    c = summary["terms"]["Z"]["Z**2"]
    truth = -0.02998
    assert abs(c - truth) < 0.5 * abs(truth)  # from 0, more than half way
    assert summary["terms"]["D"]["Z**2"] == pytest.approx(-c)


def test_a_closure_reading_an_unknown_field_is_one_message(tmp_path):
    text = CASE + """
[[closure]]
kind = "library"
variables = ["N", "P", "Q"]
terms = ["P"]
"""
    assert "closure[0].variables: ['Q'] are not fields of the model (it has N, P, Z, D, DIC, TA, PAR)" in _message(
        tmp_path, text=text)
