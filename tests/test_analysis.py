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


def test_evaluate_on_run():
    grid = Grid.uniform(40, [0.0, 1.25])
    times = np.linspace(0.0, 1.0, 6)
    truth = np.stack([advecting_shock(grid.centers(), t, nu=0.01) for t in times])
    ds = io.make_dataset(grid, times, {"u": (truth + 0.01, "state")})
    ds["u_truth"] = analysis.evaluate_on_run(ds, advecting_shock, nu=0.01)
    assert analysis.time_mean_rms(ds["u"], ds["u_truth"]) == pytest.approx(0.01, rel=1e-9)


def test_open_run_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run file"):
        analysis.open_run(tmp_path / "nope.nc")
    (tmp_path / "junk.nc").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable netCDF"):
        analysis.open_run(tmp_path / "junk.nc")


def _run(grid, data, truth=None, baseline=None, units="m s-1", name="u", time_units="s"):
    """A synthetic run file: ``name`` (+ ``_truth``, ``_baseline``) on ``grid``, CF units as given."""
    times = np.linspace(0.0, 1.0, data.shape[0])
    about = {"long_name": "tracer"} if units is None else {"units": units, "long_name": "tracer"}
    fields = {name: (data, about)}
    fields.update({f"{name}{s}": (v, about) for s, v in (("_truth", truth), ("_baseline", baseline)) if v is not None})
    return io.make_dataset(grid, times, fields, time_units=time_units)


def _colorbar_labels(fig):
    """The labels of the figure's colour bars (the axes that hold one)."""
    return [ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>"]


def _titles(fig):
    return [ax.get_title() for ax in fig.axes if ax.get_title()]


def _wave(grid, n_times=6, shift=0.0):
    x = grid.centers()
    return np.stack([np.sin(2 * np.pi * (x - t)) + shift for t in np.linspace(0.0, 1.0, n_times)])


def test_a_1d_run_shows_values_and_both_errors_on_one_symmetric_scale():
    grid = Grid.uniform(20, [0.0, 1.0])
    truth = _wave(grid)
    ds = _run(grid, truth + 0.01, truth=truth, baseline=truth - 0.05)
    fig = analysis.run_figure(ds, title="demo")
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 5 and len(_colorbar_labels(fig)) == 2
    titles = _titles(fig)
    assert titles[:3] == ["u (with closure)", "u truth", "u (no closure)"]
    assert titles[3].startswith("u: closure − truth") and titles[4].startswith("u: baseline − truth")
    assert _colorbar_labels(fig) == ["u [m s-1]", "error in u [m s-1]"]
    error_scales = [ax.collections[0].get_clim() for ax in panels[3:]]
    assert error_scales[0] == error_scales[1] == pytest.approx((-0.05, 0.05))  # shared, symmetric
    value_scales = {ax.collections[0].get_clim() for ax in panels[:3]}
    assert len(value_scales) == 1
    assert panels[0].get_xlabel() == "x [1]" and panels[0].get_ylabel() == "t [s]"
    assert fig.get_layout_engine() is not None and fig.get_suptitle() == "demo"


def test_the_png_is_saved_with_a_tight_bounding_box(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    grid = Grid.uniform(12, [0.0, 1.0])
    ds = _run(grid, _wave(grid))
    seen = {}
    save = Figure.savefig

    def spy(self, *args, **kwargs):
        seen.update(kwargs)
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    png = analysis.hovmoller_png(ds, tmp_path / "run.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and seen["bbox_inches"] == "tight"
    with pytest.raises(io.OutputExistsError):
        analysis.hovmoller_png(ds, png)


def test_units_are_named_or_said_to_be_unknown():
    grid = Grid.uniform(12, [0.0, 1.0])
    no_units = analysis.run_figure(_run(grid, _wave(grid), units=None))
    assert _colorbar_labels(no_units) == ["u [units unknown]"]
    dimensionless = analysis.run_figure(_run(grid, _wave(grid), units="1"))
    assert _colorbar_labels(dimensionless) == ["u [1]"]
    assert len(dimensionless.axes) == 2  # one panel and its colour bar: no error panels without a truth


def test_a_column_has_depth_time_sections_and_error_panels():
    grid = Grid.uniform(10, [-100.0, 0.0], dims=("z",))
    times = np.linspace(0.0, 5.0, 6)
    truth = np.stack([np.cos(grid.centers() / 30.0 + t) for t in times])
    ds = io.make_dataset(grid, times, {"N": (truth + 0.1, {"units": "mmol m-3", "long_name": "nitrate"})},
                         time_units="days")
    ds["N_truth"] = ds["N"] - 0.1
    fig = analysis.run_figure(ds)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert [ax.get_title() for ax in panels] == ["N (run)", "N truth", "N: run − truth, max 0.1"]
    assert panels[0].get_xlabel() == "t [days]" and panels[0].get_ylabel() == "z [m]"
    assert _colorbar_labels(fig) == ["N [mmol m-3]", "error in N [mmol m-3]"]


def test_a_0d_run_gets_line_plots_against_time():
    """Every cell equal at every time (reactions only): u, truth and baseline as lines, then the errors."""
    grid = Grid.uniform(8, [0.0, 1.0])
    t = np.linspace(0.0, 3.0, 31)[:, None]
    truth = np.exp(-t) * np.ones((1, 8))
    ds = _run(grid, truth + 0.01 * t, truth=truth, baseline=np.ones_like(truth))
    assert analysis.is_uniform(ds["u"]) and not analysis.is_uniform(_run(grid, _wave(grid))["u"])
    fig = analysis.run_figure(ds)
    assert len(fig.axes) == 2 and _colorbar_labels(fig) == []
    values, errors = fig.axes
    assert [line.get_label() for line in values.get_lines()] == ["u (with closure)", "u truth", "u (no closure)"]
    np.testing.assert_allclose(values.get_lines()[1].get_ydata(), truth[:, 0])
    assert values.get_ylabel() == "u [m s-1]" and values.get_xlabel() == "t [s]"
    assert errors.get_ylabel() == "error in u [m s-1]"
    np.testing.assert_allclose(errors.get_lines()[0].get_ydata(), 0.01 * t[:, 0], atol=1e-15)


def test_a_2d_run_gets_maps_at_four_times_with_truth_and_error_rows():
    grid = Grid.uniform((8, 6), [[0.0, 2.0], [0.0, 1.0]])
    x, y = grid.mesh()
    truth = np.stack([np.sin(np.pi * (x - t)) * np.cos(np.pi * y) for t in np.linspace(0.0, 1.0, 11)])
    ds = _run(grid, truth + 0.02, truth=truth)
    fig = analysis.run_figure(ds)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 3 * 4  # run, truth, error × first, two between, last
    assert [ax.get_title().split("t = ")[1] for ax in panels[:4]] == ["0", "0.3", "0.7", "1"]
    assert all(ax.get_title().startswith("u: run − truth") for ax in panels[8:])
    assert _colorbar_labels(fig) == ["u [m s-1]", "error in u [m s-1]"]  # one for the values, one for errors
    assert panels[8].get_title() == "u: run − truth, t = 0, max 0.02"
    assert analysis.snapshot_indices(11) == [0, 3, 7, 10] and analysis.snapshot_indices(2) == [0, 1]


def test_a_multi_field_run_has_a_row_per_field():
    grid = Grid.uniform(10, [-100.0, 0.0], dims=("z",))
    data = _wave(grid)
    ds = io.make_dataset(grid, np.linspace(0.0, 1.0, 6), {"N": (data, {"units": "mmol m-3"}),
                                                          "P": (2 * data, {"units": "mmol m-3"})})
    ds["N_truth"] = ds["N"] * 0.9
    fig = analysis.run_figure(ds)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert [ax.get_title() for ax in panels][:2] == ["N (run)", "N truth"] and panels[3].get_title() == "P (run)"
    assert len(panels) == 4  # P has no truth: its row's unused panels are removed, not left blank
    assert analysis.run_figure(ds, variables=["P"]).axes[0].get_title() == "P (run)"
    with pytest.raises(ValueError, match="nothing to plot"):
        analysis.run_figure(ds, variables=["Q"])
