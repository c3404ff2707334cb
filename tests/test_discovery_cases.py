"""The shipped discovery cases with the default recipe (slow: each trains from scratch).

Only the acceptance figures these cases meet are tested here; the README's "Sparse
discovery" table reports the ones that miss (clean KdV–Burgers data keep u² u_x).
"""

import shutil
from pathlib import Path

import numpy as np
import pytest

import oceanclosure
from oceanclosure.training.api import train

CASES = Path(__file__).resolve().parents[1] / "cases"
pytestmark = pytest.mark.slow


def _copy(name, tmp_path, extra=""):
    directory = shutil.copytree(CASES / name, tmp_path / name,
                                ignore=shutil.ignore_patterns("output", "truth", "closure", "checkpoints"))
    if extra:
        with open(directory / "case.toml", "a") as fh:
            fh.write(extra)
    return directory


def test_tracer_diffusion_is_found_in_both_directions_and_the_rest_pruned(tmp_path):
    directory = _copy("tracer_diffusion_discovery", tmp_path)
    terms = train(oceanclosure.load_case(directory))["terms"]["u"]
    assert terms["u_xx"] == pytest.approx(0.01, rel=0.03)
    assert terms["u_yy"] == pytest.approx(0.01, rel=0.03)
    assert all(terms[t] == 0.0 for t in ("u_xy", "u", "u_x", "u_y"))
    ds = oceanclosure.run(oceanclosure.load_case(directory))
    mass = ds["u"].sum(("x", "y")).values.astype(np.float64)
    assert np.max(np.abs(mass - mass[0])) < 1e-6 * abs(mass[0])  # float32 round-off


def test_kdv_burgers_with_noisy_observations_finds_the_three_terms_and_no_other(tmp_path):
    directory = _copy("kdv_burgers_discovery", tmp_path, "\n[observations]\nnoise = 0.0066\nseed = 1\n")
    terms = train(oceanclosure.load_case(directory))["terms"]["u"]
    assert terms["u_xxx"] == pytest.approx(-0.5, rel=0.03)
    assert terms["u*u_x"] == pytest.approx(-3.0, rel=0.03)
    assert terms["u_xx"] == pytest.approx(0.01, rel=0.2)
    assert terms["u**2*u_x"] == 0.0


@pytest.mark.usefixtures("x64")
def test_a_mass_conserving_library_keeps_its_constraint_through_discovery(tmp_path):
    """A → B at k = 0.1 is missing; dB/dt = c_A A + c_B B with dA/dt = −dB/dt (the constraint)."""
    from tests.columns import PAIR_TRAINING, reacting_pair

    text = reacting_pair(nz=10, stop=6.0) + """
[[closure]]
kind = "library"
variables = ["A", "B"]
terms = ["A", "B"]
constraints = { A = { B = -1.0 } }
trainable = true
""" + PAIR_TRAINING
    (tmp_path / "case.toml").write_text(text)
    summary = train(oceanclosure.load_case(tmp_path))
    terms = summary["terms"]
    assert terms["B"]["A"] == pytest.approx(0.1, rel=0.03) and terms["B"]["B"] == 0.0
    assert terms["A"]["A"] == pytest.approx(-terms["B"]["A"])
    assert summary["discovery"]["terms"]["B"]["B"]["final"] == 0.0
    ds = oceanclosure.run(oceanclosure.load_case(tmp_path))
    total = (ds["A"] + ds["B"]).sum("z").values
    assert np.max(np.abs(total - total[0])) < 1e-10 * abs(total[0])
