"""Random initial-condition families (`oceanclosure.families`, ``initial_condition.family``).

The law (``random_fourier``) on [x0, x0 + L]: u₀ = Σ_k a_k sin(k·2π(x − x0)/L + φ_k), with
``a = amplitude · N(0, 1)/k`` and ``φ ~ U(0, 2π)`` from ``numpy.random.default_rng(seed)``;
the state is its exact cell averages (or centre values with ``sampling = "point"``).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import oceanclosure
from oceanclosure.analysis import coarse_grain
from oceanclosure.build import build_grid, initial_fields
from oceanclosure.cases import CaseError, apply_overrides
from oceanclosure.cases.family import FAMILIES, RandomFourierConfig
from oceanclosure.families import (
    fourier_sine_series,
    random_fourier,
    random_fourier_coefficients,
)
from oceanclosure.grid import Grid
from oceanclosure.quadrature import cell_average
from oceanclosure.truth import fine_case, truth_key

FAMILY = 'family = { kind = "random_fourier", modes = 4, amplitude = 1.0, seed = 0 }'

CASE = """
[grid]
domain = [-1.5, 2.5]
nx = 32

[boundary]
kind = "periodic"

[physics]
model = "burgers"
nu = 0.01

[initial_condition]
@ic@

[time]
stop = 0.05
output_interval = 0.025
cfl = 0.5
"""

TWO_FIELDS = """
[grid]
domain = [0.0, 1.0]
nx = 24

[physics]
model = "advection_diffusion_reaction"
variables = { A = { units = "1" }, B = { units = "1" } }
diffusivity = 0.01
reactions = { A = "-A", B = "A" }

[initial_condition.A]
family = { kind = "random_fourier", modes = 3, seed = 1 }
[initial_condition.B]
family = { kind = "random_fourier", modes = 2, amplitude = 0.5, seed = 2 }
sampling = "point"

[time]
stop = 0.02
output_interval = 0.01
dt = 0.005
"""


def _case(tmp_path, ic: str = FAMILY, text: str = CASE, overrides=()):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "case.toml").write_text(text.replace("@ic@", ic))
    return oceanclosure.load_case(tmp_path, overrides)


def _field(case):
    return initial_fields(case, build_grid(case), np.float64)["u"]


# --------------------------------------------------------------------------
# the law


@pytest.mark.parametrize("modes, amplitude, seed", [(1, 1.0, 0), (4, 1.0, 0), (7, 0.3, 12345), (3, 0.0, 2)])
def test_the_draw_is_the_stated_numpy_law(modes, amplitude, seed):
    rng = np.random.default_rng(seed)
    k = np.arange(1, modes + 1)
    a = amplitude * rng.standard_normal(modes) / k
    phi = rng.uniform(0, 2 * np.pi, modes)
    got = random_fourier_coefficients(modes, amplitude, seed)
    for expected, value in zip((k, a, phi), got):
        np.testing.assert_array_equal(value, expected)


def test_cell_averages_are_the_closed_form_and_point_values_the_centre_values():
    grid = Grid.uniform(40, [-1.5, 2.5])
    k, a, phi = random_fourier_coefficients(5, 1.3, 7)
    (x0, _), length = grid.domain[0], grid.length[0]
    c = 2 * np.pi * k[:, None] / length
    lo, hi = grid.faces()[None, :-1], grid.faces()[None, 1:]
    closed = a @ ((np.cos(c * (lo - x0) + phi[:, None]) - np.cos(c * (hi - x0) + phi[:, None])) / (c * (hi - lo)))
    centre = a @ np.sin(c * (grid.centers()[None] - x0) + phi[:, None])
    np.testing.assert_allclose(random_fourier(grid, 5, 1.3, 7), closed, rtol=0, atol=1e-13)
    np.testing.assert_allclose(random_fourier(grid, 5, 1.3, 7, sampling="point"), centre, rtol=0, atol=1e-13)
    quadrature = cell_average(lambda x: a @ np.sin(c * (x[None] - x0) + phi[:, None]), grid)
    np.testing.assert_allclose(random_fourier(grid, 5, 1.3, 7), quadrature, rtol=0, atol=1e-13)


@pytest.mark.parametrize("nx, modes", [(3, 8), (16, 4), (64, 16), (1000, 6)])
def test_the_cell_averages_have_zero_mean(nx, modes):
    values = random_fourier(Grid.uniform(nx, [0.25, 3.0]), modes, 2.0, 11)
    assert np.max(np.abs(values)) > 0.01
    assert abs(values.mean()) < 1e-15 * nx


def test_cell_averages_converge_to_point_values_at_second_order(order_of):
    nxs = [16, 32, 64, 128, 256, 512]
    grids = [Grid.uniform(n, [0.0, 3.0]) for n in nxs]
    errors = [np.max(np.abs(random_fourier(g, 4, 1.0, 3) - random_fourier(g, 4, 1.0, 3, sampling="point")))
              for g in grids]
    order = order_of([g.dx for g in grids], errors)
    assert abs(order - 2) < 0.02, (order, errors)


def test_the_seed_changes_the_field_and_the_same_seed_reproduces_it():
    grid = Grid.uniform(32, [0.0, 1.0])
    np.testing.assert_array_equal(random_fourier(grid, 4, 1.0, 5), random_fourier(grid, 4, 1.0, 5))
    assert np.max(np.abs(random_fourier(grid, 4, 1.0, 5) - random_fourier(grid, 4, 1.0, 6))) > 0.1


def test_a_grid_that_is_not_one_dimensional_is_refused_by_the_function():
    with pytest.raises(ValueError, match="needs a 1-D grid"):
        fourier_sine_series(Grid.uniform((4, 4), [[0, 1], [0, 1]]), [1], [1.0], [0.0])
    with pytest.raises(ValueError, match="modes must be an int >= 1"):
        random_fourier_coefficients(0, 1.0, 0)


# --------------------------------------------------------------------------
# the case feature


def test_a_family_case_validates_builds_and_round_trips(tmp_path):
    case = _case(tmp_path / "a")
    ic = case.initial_condition
    assert ic.source == "family" and ic.sampling == "cell_average"
    assert ic.family == RandomFourierConfig(kind="random_fourier", modes=4, amplitude=1.0, seed=0)
    assert set(FAMILIES) == {"random_fourier"} and FAMILIES["random_fourier"].config is RandomFourierConfig
    grid = build_grid(case)
    np.testing.assert_array_equal(_field(case), random_fourier(grid, 4, 1.0, 0))
    again = _case(tmp_path / "again", ic="", text=case.to_toml())
    assert again.initial_condition == ic and again.to_toml() == case.to_toml()
    point = _case(tmp_path / "point", ic=FAMILY + '\nsampling = "point"')
    np.testing.assert_array_equal(_field(point), random_fourier(grid, 4, 1.0, 0, sampling="point"))


def test_defaults_and_the_seed_override(tmp_path):
    case = _case(tmp_path, ic='family = { kind = "random_fourier", modes = 2 }')
    assert (case.initial_condition.family.amplitude, case.initial_condition.family.seed) == (1.0, 0)
    seeded = case.with_overrides(["initial_condition.family.seed=3"])
    assert seeded.initial_condition.family.seed == 3
    np.testing.assert_array_equal(_field(seeded), random_fourier(build_grid(case), 2, 1.0, 3))
    assert np.max(np.abs(_field(seeded) - _field(case))) > 0.1


def test_per_field_families_in_a_two_field_model(tmp_path):
    case = _case(tmp_path, text=TWO_FIELDS)
    grid = build_grid(case)
    fields = initial_fields(case, grid, np.float64)
    np.testing.assert_array_equal(fields["A"], random_fourier(grid, 3, 1.0, 1))
    np.testing.assert_array_equal(fields["B"], random_fourier(grid, 2, 0.5, 2, sampling="point"))
    changed = case.with_overrides(["initial_condition.A.family.seed=9", 'initial_condition.B.expression="1"'])
    assert changed.initial_condition.for_field("A").family.seed == 9
    b = changed.initial_condition.for_field("B")
    assert (b.source, b.family, b.sampling) == ("expression", None, "point")


BAD = {
    "unknown kind": ('family = { kind = "white_noise", modes = 4 }',
                     "initial_condition.family.kind: unknown kind (allowed: random_fourier) (got 'white_noise')"),
    "no kind": ("family = { modes = 4 }",
                "initial_condition.family.kind: missing required key (one of: random_fourier)"),
    "modes 0": ('family = { kind = "random_fourier", modes = 0 }',
                "initial_condition.family.modes: must be >= 1 (got 0)"),
    "no modes": ('family = { kind = "random_fourier" }', "initial_condition.family.modes: missing required key"),
    "float modes": ('family = { kind = "random_fourier", modes = 2.0 }',
                    "initial_condition.family.modes: expected an integer (got 2.0)"),
    "negative amplitude": ('family = { kind = "random_fourier", modes = 2, amplitude = -0.5 }',
                           "initial_condition.family.amplitude: must be >= 0 (got -0.5)"),
    "infinite amplitude": ('family = { kind = "random_fourier", modes = 2, amplitude = inf }',
                           "initial_condition.family.amplitude: must be a finite number (got inf)"),
    "string amplitude": ('family = { kind = "random_fourier", modes = 2, amplitude = "1" }',
                         "initial_condition.family.amplitude: expected a number (got '1')"),
    "negative seed": ('family = { kind = "random_fourier", modes = 2, seed = -1 }',
                      "initial_condition.family.seed: must be >= 0 (got -1)"),
    "boolean seed": ('family = { kind = "random_fourier", modes = 2, seed = true }',
                     "initial_condition.family.seed: expected an integer (got true)"),
    "unknown key": ('family = { kind = "random_fourier", modes = 2, mode = 3 }',
                    "initial_condition.family.mode: unknown key (allowed: amplitude, kind, modes, seed)"),
    "not a table": ('family = "random_fourier"', "initial_condition.family: expected a table (got 'random_fourier')"),
    "two sources": (FAMILY + '\nexpression = "sin(x)"',
                    ("initial_condition: give exactly one source: expression, file, truth = true, or family "
                     "(got expression, family)")),
}


@pytest.mark.parametrize("ic, expected", BAD.values(), ids=BAD.keys())
def test_a_bad_family_gives_one_clear_message(tmp_path, ic, expected):
    with pytest.raises(CaseError) as info:
        _case(tmp_path, ic=ic)
    message = str(info.value)
    assert "(1 error)" in message and message.endswith(f"\n  {expected}"), message


def test_a_family_on_a_two_dimensional_grid_is_refused(tmp_path):
    with pytest.raises(CaseError) as info:
        _case(tmp_path, overrides=["grid.domain=[[0.0, 1.0], [0.0, 1.0]]", "grid.ny=8"])
    message = str(info.value)
    assert "(1 error)" in message and message.endswith(
        "\n  initial_condition.family: a family needs a 1-D grid (this grid is 2-D); on this grid give "
        "initial_condition.expression or file instead"), message


# --------------------------------------------------------------------------
# overrides replace the source


def test_an_override_of_another_source_replaces_the_family_and_back(tmp_path):
    case = _case(tmp_path / "family")
    expression = case.with_overrides(['initial_condition.expression="sin(x)"'])
    assert expression.initial_condition.source == "expression" and expression.initial_condition.family is None
    back = expression.with_overrides(['initial_condition.family={kind = "random_fourier", modes = 4}'])
    assert back.initial_condition.source == "family" and back.initial_condition.expression is None
    np.testing.assert_array_equal(_field(back), _field(case))
    plain = _case(tmp_path / "expression", ic='expression = "sin(x)"\nsampling = "point"')
    seeded = plain.with_overrides(['initial_condition.family.kind="random_fourier"', "initial_condition.family.modes=3",
                                   "initial_condition.family.seed=3"])
    ic = seeded.initial_condition
    assert (ic.source, ic.expression, ic.family.seed, ic.sampling) == ("family", None, 3, "point")


@pytest.mark.parametrize("override, expected", [
    ("initial_condition.expression=1", {"expression": 1, "sampling": "point"}),
    ("initial_condition.family.seed=3", {"family": {"modes": 2, "seed": 3}, "sampling": "point"}),
    ("initial_condition.truth=true", {"truth": True, "sampling": "point"}),
    ('initial_condition.file="ic.nc"', {"file": "ic.nc", "variable": "v"}),
    ('initial_condition.A.expression="2"', {"A": {"expression": "2", "sampling": "point"}}),
    ('initial_condition.A.family.seed=1', {"A": {"family": {"modes": 2, "seed": 1}, "sampling": "point"}}),
    ('initial_condition.A.file="b.nc"', {"A": {"file": "b.nc", "variable": "v"}}),
])
def test_setting_an_initial_condition_source_drops_the_others(override, expected):
    every = {"expression": "0", "file": "a.nc", "variable": "v", "truth": False, "family": {"modes": 2},
             "sampling": "point"}
    raw = {"initial_condition": {**every} if "A." not in override else {"A": {**every}}}
    assert apply_overrides(raw, [override])["initial_condition"] == expected
    assert raw["initial_condition"] == ({**every} if "A." not in override else {"A": every})  # not changed


# --------------------------------------------------------------------------
# the fine truth, and a run


def test_the_family_on_the_fine_truth_grid_coarse_grains_to_the_coarse_family(tmp_path):
    refine = 4
    case = _case(tmp_path, ic=FAMILY.replace("modes = 4", "modes = 12"),
                 text=CASE + f"\n[truth]\nfine = {{ refine = {refine} }}\n")
    fine = fine_case(case)
    fine_grid = build_grid(fine)
    assert fine_grid.nx == refine * case.grid.shape[0] and fine.initial_condition == case.initial_condition
    on_fine = xr.DataArray(_field(fine), dims=["x"], coords={"x": fine_grid.centers()})
    coarse = coarse_grain(on_fine, refine).values
    np.testing.assert_allclose(coarse, _field(case), rtol=0, atol=1e-14)
    assert np.max(np.abs(coarse - random_fourier(build_grid(case), 12, 1.0, 0, sampling="point"))) > 1e-3
    assert truth_key(case) != truth_key(case.with_overrides(["initial_condition.family.seed=1"]))


def test_a_family_case_runs_end_to_end(tmp_path):
    case = _case(tmp_path)
    ds = oceanclosure.run(case)
    u = ds["u"].values
    assert u.shape == (3, 32) and np.all(np.isfinite(u))
    np.testing.assert_allclose(u[0], _field(case).astype(np.float32), rtol=0, atol=0)
    np.testing.assert_allclose(u.sum(axis=1), 0.0, atol=1e-4)  # zero mean, conserved by the periodic run
