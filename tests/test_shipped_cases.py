"""Every case in cases/ loads, validates and runs a few steps, also when copied elsewhere."""

import shutil
from pathlib import Path

import numpy as np
import pytest

import oceanclosure

CASES = sorted(p.parent for p in (Path(__file__).resolve().parents[1] / "cases").glob("*/case.toml"))


def test_there_are_cases():
    assert len(CASES) >= 3


@pytest.mark.parametrize("case_dir", CASES, ids=[c.name for c in CASES])
def test_case_runs_a_few_steps_from_a_copy(tmp_path, case_dir):
    copy = shutil.copytree(case_dir, tmp_path / case_dir.name, ignore=shutil.ignore_patterns("output"))
    case = oceanclosure.load_case(copy)
    interval = case.time.output_interval
    case = case.with_overrides([f"time.stop={case.time.start + 2 * interval}"])
    ds = oceanclosure.run(case)
    assert ds.sizes["time"] == 3
    for name in case.physics.variable_names:
        assert np.all(np.isfinite(ds[name].values)), name
    assert ds.attrs["steps"] >= 2


def test_advecting_shock_accepts_the_generalisation_grid():
    case_dir = next(c for c in CASES if c.name == "burgers_advecting_shock")
    for nx, re in ((50, 50), (200, 1500)):
        case = oceanclosure.load_case(case_dir, [f"grid.nx={nx}", f"physics.nu={1 / re}", "time.stop=0.3"])
        ds = oceanclosure.run(case)
        np.testing.assert_allclose(ds["u"].isel(time=0), ds["u_truth"].isel(time=0), rtol=1e-5, atol=1e-6)
        assert ds.sizes["x"] == nx
