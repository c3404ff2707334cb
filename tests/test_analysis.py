"""Post-processing: the gnCM error metric, coarse-graining, plots."""

import numpy as np
import pytest
import xarray as xr

from oceanclosure import analysis, io
from oceanclosure.analytic import advecting_shock
from oceanclosure.grid import Grid


def test_time_mean_rms_matches_the_formula():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(5, 12)), rng.normal(size=(5, 12))
    da = lambda v: xr.DataArray(v, dims=("time", "x"))
    expected = np.mean(np.sqrt(np.mean((a - b) ** 2, axis=1)))
    assert analysis.time_mean_rms(da(a), da(b)) == pytest.approx(expected, rel=1e-14)
    assert analysis.time_mean_rms(da(a), da(a)) == 0.0


def test_coarse_grain_averages_cells_and_conserves_mass():
    fine = Grid.uniform((12, 8), [[0.0, 3.0], [0.0, 2.0]])
    data = np.random.default_rng(2).normal(size=(2,) + fine.array_shape)
    ds = io.make_dataset(fine, [0.0, 1.0], {"u": (data, "state")})
    coarse = analysis.coarse_grain(ds, 4)
    assert coarse["u"].shape == (2, 2, 3)
    np.testing.assert_allclose(coarse["x"].values, fine.with_shape((3, 2)).centers(0))
    np.testing.assert_allclose(coarse["u"].values[0, 0, 0], data[0, :4, :4].mean())
    np.testing.assert_allclose(coarse["u"].sum(("x", "y")) * 16, ds["u"].sum(("x", "y")))
    assert io.grid_from_dataset(coarse) == fine.with_shape((3, 2))
    with pytest.raises(ValueError, match="not divisible"):
        analysis.coarse_grain(ds, 5)


def test_evaluate_on_run_and_hovmoller_png(tmp_path):
    grid = Grid.uniform(40, [0.0, 1.25])
    times = np.linspace(0.0, 1.0, 6)
    truth = np.stack([advecting_shock(grid.centers(), t, nu=0.01) for t in times])
    ds = io.make_dataset(grid, times, {"u": (truth + 0.01, "state")})
    ds["u_truth"] = analysis.evaluate_on_run(ds, advecting_shock, nu=0.01)
    assert analysis.time_mean_rms(ds["u"], ds["u_truth"]) == pytest.approx(0.01, rel=1e-9)
    png = analysis.hovmoller_png(ds, tmp_path / "run.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(io.OutputExistsError):
        analysis.hovmoller_png(ds, png)


def test_open_run_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run file"):
        analysis.open_run(tmp_path / "nope.nc")
    (tmp_path / "junk.nc").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable netCDF"):
        analysis.open_run(tmp_path / "junk.nc")


def test_a_column_plot_has_an_error_panel(tmp_path):
    """Depth-time sections of a z column: field, truth and the error field − truth on its own scale."""
    grid = Grid.uniform(10, [-100.0, 0.0], dims=("z",))
    times = np.linspace(0.0, 5.0, 6)
    truth = np.stack([np.cos(grid.centers() / 30.0 + t) for t in times])
    ds = io.make_dataset(grid, times, {"N": (truth + 0.1, "state")}, time_units="days")
    ds["N_truth"] = ds["N"] - 0.1
    assert analysis._has_error_panel(ds, ["N", "N_truth"]) and not analysis._has_error_panel(ds, ["N"])
    assert ds.time.attrs["units"] == "days"
    png = analysis.hovmoller_png(ds, tmp_path / "column.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
