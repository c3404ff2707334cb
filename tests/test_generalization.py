"""The shipped advecting-shock closure on the 7x7 (Nx, Re) grid of docs/reference_problems.md §3 (slow: ~5 min).

Targets (issue 4): at every Re >= 250 the closure's time-mean RMS error is at most half the
no-closure error, and the mean over the grid is <= 0.0039. Run with ``pytest -m slow``.
"""

from pathlib import Path

import numpy as np
import pytest

import oceanclosure
from oceanclosure.cases.evaluate import EvaluateConfig

SHOCK = Path(__file__).resolve().parents[1] / "cases" / "burgers_advecting_shock"
NX = [50, 75, 100, 125, 150, 175, 200]
RE = [50, 250, 500, 750, 1000, 1250, 1500]


@pytest.mark.slow
def test_shipped_closure_meets_the_generalisation_targets():
    config = EvaluateConfig(axes={"grid.nx": NX, "physics.nu": [1 / r for r in RE]},
                            closures={"trained": "case", "none": "none"}, metrics=["time_mean_rms"])
    ds = oceanclosure.evaluate(oceanclosure.load_case(SHOCK), config=config)
    error = ds["time_mean_rms"]
    ratio = error.sel(closure="trained") / error.sel(closure="none")
    judged = ratio.isel(physics_nu=slice(1, None))  # Re = 50 is reported, not judged
    assert float(judged.max()) <= 0.5, ratio.values
    assert float(error.sel(closure="trained").mean()) <= 0.0039
    assert not ds["failed"].any()
    assert np.all(np.isfinite(error.values))
