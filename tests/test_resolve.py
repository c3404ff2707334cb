"""resolve(case) builds a run's parts once, and every part shares them."""

from pathlib import Path

import numpy as np

import oceanclosure
from oceanclosure.grid import Grid

CASES = Path(__file__).resolve().parents[1] / "cases"


def test_the_grid_is_built_once_and_shared(monkeypatch):
    calls = []
    original = Grid.uniform.__func__

    def counting(cls, *args, **kwargs):
        calls.append(args)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(Grid, "uniform", classmethod(counting))
    setup = oceanclosure.resolve(oceanclosure.load_case(CASES / "burgers_advecting_shock"))
    assert len(calls) == 1
    assert setup.simulation.grid is setup.grid and setup.truth.grid is setup.grid
    assert setup.closure is setup.simulation.closure
    assert setup.times[0] == 0.0 and setup.times[-1] == 8.0
    np.testing.assert_allclose(setup.fields0["u"], setup.truth(0.0).astype(np.float32), rtol=1e-6, atol=1e-7)


def test_a_replacement_closure_is_used():
    setup = oceanclosure.resolve(oceanclosure.load_case(CASES / "burgers_advecting_shock"), oceanclosure.NoClosure())
    assert setup.closure.is_null
