"""Training through a multi-field model: per-field truths, observations and a loss normalised per field."""

from __future__ import annotations

import numpy as np
import pytest

import oceanclosure
from oceanclosure.factory import build_closures
from oceanclosure.training.api import train
from oceanclosure.training.setup import build_problems, loss_scales
from tests.columns import PAIR_TRAINING, reacting_pair

# The low-fidelity model lacks the reaction A -> B (rate k A, k = 0.1); the truth is the same
# column with the reaction, on a grid twice as fine. A transfer closure with the library rate
# c A along the edge A -> B learns c.
CASE = reacting_pair(nz=10, stop=6.0) + """
[[closure]]
kind = "transfer"
variables = ["A", "B"]
edges = [["A", "B"]]
terms = ["A"]
coefficients = [[0.0]]
trainable = true
positive = "none"
""" + PAIR_TRAINING


@pytest.fixture
def case(tmp_path):
    (tmp_path / "case.toml").write_text(CASE)
    return oceanclosure.load_case(tmp_path)


def test_every_field_is_observed_and_scaled_by_its_truth(case):
    assert case.observations.weights == {"A": 1.0, "B": 1.0}
    (problem,) = build_problems(case, build_closures(case, trained=False))
    assert sorted(problem.truth) == sorted(problem.targets) == ["A", "B"]
    for name in ("A", "B"):
        rms = float(np.sqrt(np.mean(np.asarray(problem.truth[name]) ** 2)))
        assert problem.scales[name] == pytest.approx(rms)
    assert problem.scales["A"] != pytest.approx(problem.scales["B"], rel=0.1)


def test_loss_scales_leave_a_single_field_alone():
    truth = {"u": np.full((3, 4), 50.0), "v": np.full((3, 4), 0.1)}
    assert loss_scales(truth, ["u"]) == {"u": 1.0}
    assert loss_scales(truth, ["u", "v"]) == pytest.approx({"u": 50.0, "v": 0.1})


def test_a_transfer_closure_learns_the_missing_reaction_rate(case):
    summary = train(case, steps=60)
    learned = summary["terms"]["A_to_B"]["A"]
    assert learned == pytest.approx(0.1, rel=0.05)
    ds = oceanclosure.run(oceanclosure.load_case(case.directory))
    total = ds["A"].values.sum(axis=1) + ds["B"].values.sum(axis=1)
    np.testing.assert_allclose(total, total[0], rtol=1e-13)
