"""`oceanclosure evaluate` sweeps: equal to separate runs, metrics, failures, trained mask, plots, Dask, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr

import oceanclosure
from oceanclosure.analysis import block_average, coarse_grain
from oceanclosure.cases import CaseError
from oceanclosure.cli import main
from oceanclosure.closures import NoClosure
from oceanclosure.metrics import ErrorAccumulator, run_metrics
from oceanclosure.runner import run
from oceanclosure.sweeps import (
    SweepError,
    evaluate,
    open_sweep,
    plan_sweep,
    to_json,
    write_sweep,
)
from oceanclosure.sweeps.execute import entry_closure

NX, NU = [32, 48], [0.004, 0.00133333333333]

CASE = """
[grid]
domain = [0.0, 1.25]
nx = 32

[boundary]
left = { kind = "dirichlet", value = 0.0 }
right = { kind = "neumann", gradient = 0.0 }

[physics]
model = "burgers"
nu = 0.004
scheme = "upwind"

[truth]
analytic = "advecting_shock"

[initial_condition]
truth = true

[time]
stop = 1.0
output_interval = 0.1

[[closure]]
kind = "library"
terms = ["dx*u_x**2"]
coefficients = [0.3]

[training]
configurations = [["grid.nx=32", "physics.nu=0.004"], ["grid.nx=48", "physics.nu=0.0013333333"]]

[evaluate]
axes = { "grid.nx" = [32, 48], "physics.nu" = [0.004, 0.00133333333333] }
"""

CLOSURES = """closures = { trained = "case", none = "none", smagorinsky = { kind = "smagorinsky", cs = 1.0 }, \
delay = { kind = "distributed_delay", tau1 = 0.05, terms = ["dx*u_x**2"], coefficients = [0.2] } }
"""


def _case_dir(tmp_path, extra: str = CLOSURES, base: str = CASE):
    directory = tmp_path / "sweep_case"
    directory.mkdir(exist_ok=True)
    (directory / "case.toml").write_text(base + extra)
    return directory


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The sweep in JAX's default 32-bit mode (other test modules switch x64 on and off)."""
    from conftest import _set_x64

    before = _set_x64(False)
    try:
        case = oceanclosure.load_case(_case_dir(tmp_path_factory.mktemp("sweep")))
        yield case, evaluate(case)
    finally:
        _set_x64(before)


def test_a_sweep_of_2_nx_by_2_nu_equals_the_separate_runs(swept, x32):
    case, ds = swept
    assert ds["time_mean_rms"].dims == ("closure", "grid_nx", "physics_nu")
    assert list(ds["closure"].values) == ["trained", "none", "smagorinsky", "delay"]
    for name in ds["closure"].values:
        entry = case.evaluate.closures[str(name)]
        for i, nx in enumerate(NX):
            for j, nu in enumerate(NU):
                point = case.with_overrides([f"grid.nx={nx}", f"physics.nu={nu!r}"])
                alone = run(point, closure=entry_closure(entry, point, case))
                expected = run_metrics(alone["u"], alone["u_truth"], ["time_mean_rms", "max_abs", "final_rms"])
                for metric, value in expected.items():
                    got = float(ds[metric].sel(closure=name)[i, j])
                    assert got == pytest.approx(value, rel=2e-6), (name, nx, nu, metric)
                assert float(ds["dt"].sel(closure=name)[i, j]) == pytest.approx(alone.attrs["dt"], rel=1e-12)
                assert int(ds["steps"].sel(closure=name)[i, j]) == alone.attrs["steps"]
    # each member kept its own dt: the CFL limit depends on nu and nx
    assert len(np.unique(ds["dt"].sel(closure="none").values)) == 4


def test_the_trained_mask_matches_configurations_to_a_relative_1e_6(swept):
    _, ds = swept
    # (48, 0.00133333333333) matches the configuration's 0.0013333333 (relative difference 2.5e-9)
    np.testing.assert_array_equal(ds["trained"].values, [[1, 0], [0, 1]])


def test_the_json_has_the_documented_shape_and_held_out_figures(swept):
    _, ds = swept
    out = to_json(ds)
    assert set(out) == {"closures", "points"}
    assert len(out["points"]) == 4
    first = out["points"][0]
    assert first["axes"] == {"grid.nx": 32, "physics.nu": 0.004} and first["trained"] is True
    assert set(first["metrics"]) == {"trained", "none", "smagorinsky", "delay"}
    none = out["closures"]["none"]
    values = ds["time_mean_rms"].sel(closure="none").values
    held = values[ds["trained"].values == 0]
    assert none["mean"] == pytest.approx(values.mean())
    assert none["max"] == pytest.approx(values.max())
    assert none["held_out_mean"] == pytest.approx(held.mean())
    assert none["held_out_max"] == pytest.approx(held.max())
    json.dumps(out, allow_nan=False)  # nothing that is not JSON


def test_the_dataset_round_trips_through_netcdf(swept, tmp_path):
    _, ds = swept
    path = write_sweep(ds, tmp_path / "sweep.nc")
    back = open_sweep(path)
    xr.testing.assert_allclose(back["time_mean_rms"], ds["time_mean_rms"])
    assert to_json(back) == to_json(ds)
    with pytest.raises(FileExistsError):
        write_sweep(ds, tmp_path / "sweep.nc")


def test_metrics_match_hand_computed_values():
    truth = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    value = np.array([[1.0, -1.0, 1.0, -1.0], [1.0, 1.0, 1.0, 4.0]])
    acc = ErrorAccumulator()
    for v, t in zip(value, truth):
        acc.add(v, t)
    got = acc.values(["time_mean_rms", "final_rms", "max_rms", "max_abs"])
    # rms at t0: sqrt(mean(1,1,1,1)) = 1; at t1: sqrt(9/4) = 1.5
    assert got == {"time_mean_rms": 1.25, "final_rms": 1.5, "max_rms": 1.5, "max_abs": 3.0}
    coords = {"time": [0.0, 1.0], "x": [0.5, 1.5, 2.5, 3.5]}
    da = xr.DataArray(value, coords=coords, dims=("time", "x"))
    ref = xr.DataArray(truth, coords=coords, dims=("time", "x"))
    assert run_metrics(da, ref)["time_mean_rms"] == 1.25
    with pytest.raises(ValueError, match="cells along x"):
        run_metrics(da, ref.isel(x=slice(0, 2)))
    assert ErrorAccumulator().values(["max_abs"]) == {"max_abs": pytest.approx(math.nan, nan_ok=True)}


def test_block_average_is_the_exact_coarse_cell_average_and_agrees_with_coarse_grain():
    fine = np.arange(12.0).reshape(4, 3)
    assert block_average(np.arange(8.0), 4).tolist() == [1.5, 5.5]
    with pytest.raises(ValueError, match="not divisible"):
        block_average(fine, 2)
    values = np.random.default_rng(0).standard_normal((4, 8))
    da = xr.DataArray(values, dims=("y", "x"), coords={"y": np.arange(4) + 0.5, "x": np.arange(8) + 0.5})
    np.testing.assert_allclose(coarse_grain(da, 2).values, block_average(values, 2))


def test_a_refined_member_is_cell_averaged_onto_the_point_grid(tmp_path):
    floor = 'closures = { none = "none", floor = { closure = "none", refine = 4, set = [\'physics.scheme="weno5"\'] } }\n'
    case = oceanclosure.load_case(_case_dir(tmp_path, floor))
    config = case.evaluate.model_copy(update={"axes": {"grid.nx": case.evaluate.axes["grid.nx"].model_copy(
        update={"values": (32,)})}})
    ds = evaluate(case, config=config)
    fine = case.with_overrides(["grid.nx=128", 'physics.scheme="weno5"'])
    alone = run(fine, closure=NoClosure())
    coarse = coarse_grain(alone["u"], 4)
    truth = run(case, closure=NoClosure())["u_truth"]
    expected = run_metrics(coarse.assign_coords(x=truth["x"]), truth)["time_mean_rms"]
    assert float(ds["time_mean_rms"].sel(closure="floor")[0]) == pytest.approx(expected, rel=1e-5)
    assert float(ds["time_mean_rms"].sel(closure="floor")[0]) < 0.5 * float(ds["time_mean_rms"].sel(closure="none")[0])


def test_a_member_that_diverges_is_flagged_and_the_others_finish(tmp_path):
    # an anti-diffusive library term of -0.02 u_xx: unstable at nu = 0.004, net diffusion 0.01 at nu = 0.03
    extra = 'closures = { anti = { kind = "library", terms = ["u_xx"], coefficients = [-0.02] }, none = "none" }\n'
    base = CASE.replace('axes = { "grid.nx" = [32, 48], "physics.nu" = [0.004, 0.00133333333333] }',
                        'axes = { "physics.nu" = [0.004, 0.03] }')
    case = oceanclosure.load_case(_case_dir(tmp_path, extra, base))
    ds = evaluate(case)
    failed = ds["failed"].sel(closure="anti").values.tolist()
    assert failed == [1, 0]
    assert "stopped being finite" in str(ds["reason"].sel(closure="anti").values[0])
    assert np.isnan(ds["time_mean_rms"].sel(closure="anti").values[0])
    assert np.isfinite(ds["time_mean_rms"].sel(closure="anti").values[1])
    assert np.all(np.isfinite(ds["time_mean_rms"].sel(closure="none").values))
    out = to_json(ds)
    assert out["points"][0]["metrics"]["anti"]["time_mean_rms"] is None
    assert out["closures"]["anti"]["max"] is None  # a failed member: no finite max to report


def test_plots_are_written_and_not_empty(swept, tmp_path):
    from oceanclosure.sweeps.plots import sweep_png

    _, ds = swept
    path = sweep_png(ds, tmp_path / "sweep.png")
    assert path.stat().st_size > 10_000
    import matplotlib.image

    image = matplotlib.image.imread(path)
    assert image.shape[0] > 200 and image[..., :3].std() > 0.05  # not a blank canvas


def test_the_cli_writes_the_file_the_table_and_json(tmp_path, capsys):
    directory = _case_dir(tmp_path, 'closures = { none = "none", trained = "case" }\n')
    out = tmp_path / "out.nc"
    assert main(["evaluate", str(directory), "--out", str(out), "--plot"]) == 0
    table = capsys.readouterr().out
    assert "held-out mean" in table and "trained" in table and str(out) in table
    assert out.with_suffix(".png").stat().st_size > 0
    assert main(["evaluate", str(directory), "--out", str(out)]) == 2  # exists: refused
    assert "exists" in capsys.readouterr().err
    assert main(["evaluate", str(directory), "--out", str(out), "--overwrite", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary["closures"]) == {"none", "trained"}
    written = open_sweep(out)
    assert summary["closures"]["trained"]["mean"] == pytest.approx(
        float(written["time_mean_rms"].sel(closure="trained").mean()))


@pytest.mark.parametrize("axes, message", [
    ('{ "grid.nxx" = [32] }', "grid.nxx"),
    ('{ "physics.nu" = [-1.0] }', "physics.nu"),
])
def test_a_sweep_key_or_value_that_gives_no_valid_case_is_one_message(tmp_path, axes, message):
    base = CASE.replace('{ "grid.nx" = [32, 48], "physics.nu" = [0.004, 0.00133333333333] }', axes)
    case = oceanclosure.load_case(_case_dir(tmp_path, "", base))
    with pytest.raises(SweepError, match=message) as err:
        plan_sweep(case)
    assert "evaluate.axes" in str(err.value)


@pytest.mark.parametrize("evaluate_table, message", [
    ('axes = { "grid.nx" = [] }', "at least one value"),
    ('axes = {}', "at least one axis"),
    ('axes = { "grid.nx" = [32] }\nclosures = { mine = "trained" }', "unknown closure"),
    ('axes = { "grid.nx" = [32] }\nclosures = { mine = { kind = "smagorinskyy" } }', "unknown kind"),
    ('axes = { "grid.nx" = [32] }\nmetrics = ["l7"]', "unknown metric"),
    ('axes = { "boundary.right" = [{ kind = "neumann", gradient = 0.0 }] }', "need labels"),
])
def test_bad_evaluate_tables_are_refused_on_loading(tmp_path, evaluate_table, message):
    base = CASE.split("[evaluate]")[0] + "[evaluate]\n" + evaluate_table + "\n"
    with pytest.raises(CaseError, match=message):
        oceanclosure.load_case(_case_dir(tmp_path, "", base))


def test_an_unreachable_scheduler_is_one_message(tmp_path, monkeypatch, capsys):
    from oceanclosure.sweeps import execute

    monkeypatch.setattr(execute, "CONNECT_TIMEOUT_S", 1)
    directory = _case_dir(tmp_path, 'closures = { none = "none" }\n')
    assert main(["evaluate", str(directory), "--scheduler", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler" in err and "local:N" in err and "Traceback" not in err
    assert main(["evaluate", str(directory), "--scheduler", "local:zero"]) == 2
    assert "local:N" in capsys.readouterr().err


def test_a_sweep_on_a_dask_local_cluster_equals_the_in_process_sweep(swept, x32):
    case, ds = swept
    remote = evaluate(case, scheduler="local:2")
    for name in ("time_mean_rms", "max_abs", "final_rms", "dt", "steps", "failed", "trained"):
        np.testing.assert_array_equal(remote[name].values, ds[name].values, err_msg=name)


def test_a_closure_entry_whose_case_is_missing_is_refused_before_anything_runs(tmp_path):
    case = oceanclosure.load_case(_case_dir(tmp_path, 'closures = { other = { case = "../nowhere" } }\n'))
    with pytest.raises(SweepError, match="evaluate.closures.other.case: .*nowhere does not exist"):
        plan_sweep(case)


def test_a_closure_entry_whose_case_is_untrained_is_refused_before_anything_runs(tmp_path):
    untrained = tmp_path / "untrained"
    untrained.mkdir()
    (untrained / "case.toml").write_text(CASE.split("[[closure]]")[0] + '[[closure]]\nkind = "library"\n'
                                         'terms = ["dx*u_x**2"]\ntrainable = true\n')
    case = oceanclosure.load_case(_case_dir(tmp_path, 'closures = { other = { case = "../untrained" } }\n'))
    with pytest.raises(SweepError, match="evaluate.closures.other: .*no trained parameters.*oceanclosure train"):
        plan_sweep(case)
