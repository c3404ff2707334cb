"""Closures from case files: every kind builds, parameter checkpoints, --closure none, examples."""

import shutil
from pathlib import Path

import numpy as np
import pytest

import oceanclosure
from oceanclosure import analysis, cli
from oceanclosure.closures import (
    DiscreteDelayClosure, DistributedDelayClosure, LibraryClosure, NeuralClosure, NoClosure, SmagorinskyClosure,
)
from oceanclosure.closures.checkpoint import load_parameters, parameter_arrays, save_parameters
from oceanclosure.factory import build_closures
from oceanclosure.io import CheckpointError

CASES = Path(__file__).resolve().parents[1] / "cases"
SHIPPED_SHOCK = CASES / "burgers_advecting_shock"


@pytest.fixture(scope="module")
def shock(tmp_path_factory):
    """The advecting-shock case without its trained closure (these tests bring their own)."""
    copy = tmp_path_factory.mktemp("shock") / "burgers_advecting_shock"
    shutil.copytree(SHIPPED_SHOCK, copy, ignore=shutil.ignore_patterns("output", "closure", "checkpoints", "truth"))
    text = (copy / "case.toml").read_text()
    (copy / "case.toml").write_text(text[: text.index("[[closure]]")])
    return copy


def _case(shock, *overrides):
    return oceanclosure.load_case(shock, ["time.stop=0.2", *overrides])


KINDS = {
    "library": ('{kind="library", terms=["u_xx", "dx*u*u_xx"], coefficients=[0.001, -0.5]}', LibraryClosure),
    "neural": ('{kind="neural", inputs=["u", "u_x", "nu", "dx"], parameters=["nu"], hidden=[4, 3]}', NeuralClosure),
    "discrete": ('{kind="discrete_delay", delay=0.05, terms=["u_xx"], coefficients=[0.001]}', DiscreteDelayClosure),
    "distributed": ('{kind="distributed_delay", tau1=0.075, network={inputs=["u", "u_x", "u_xx", "nu", "dx"], '
                    'parameters=["nu"], output_scale="abs_u"}}', DistributedDelayClosure),
    "smagorinsky": ('{kind="smagorinsky", cs=0.5}', SmagorinskyClosure),
}


@pytest.mark.parametrize("name", KINDS)
def test_every_kind_builds_and_runs_from_a_case(shock, name):
    table, cls = KINDS[name]
    case = _case(shock, f"closure=[{table}]")
    closure = build_closures(case)
    assert isinstance(closure, cls)
    ds = oceanclosure.run(case)
    assert np.all(np.isfinite(ds["u"].values))
    assert ds.attrs["closure"].split("(")[0] == cls.__name__


def test_closures_in_a_list_sum(shock):
    case = _case(shock, f"closure=[{KINDS['library'][0]}, {KINDS['smagorinsky'][0]}]")
    assert oceanclosure.run(case).attrs["closure"] == "LibraryClosure + SmagorinskyClosure"


def test_parameters_file_round_trip_and_spec_mismatch(shock, tmp_path):
    case_dir = shutil.copytree(shock, tmp_path / "case")
    net = '{kind="neural", inputs=["u", "u_x"], hidden=[4], seed=3}'
    trained = build_closures(oceanclosure.load_case(case_dir, [f"closure=[{net}]"]))
    save_parameters(trained, case_dir / "net.npz", spec=[{"kind": "neural"}])
    other_seed = net.replace("seed=3", "seed=9").replace("}", ', parameters_file="net.npz"}')
    loaded = build_closures(oceanclosure.load_case(case_dir, [f"closure=[{other_seed}]"]))
    for key, value in parameter_arrays(trained).items():
        np.testing.assert_array_equal(parameter_arrays(loaded)[key], value)
    wider = other_seed.replace("hidden=[4]", "hidden=[5]")
    with pytest.raises(CheckpointError, match="has shape"):
        build_closures(oceanclosure.load_case(case_dir, [f"closure=[{wider}]"]))


def test_corrupt_or_edited_parameters_are_refused(tmp_path):
    closure = LibraryClosure(["u_xx"], [0.1])
    path = save_parameters(closure, tmp_path / "p.npz")
    with pytest.raises(FileExistsError):
        save_parameters(closure, path)
    np.savez(tmp_path / "p.npz", coefficients=np.array([[0.2]], dtype=np.float32))  # edited behind the sidecar
    with pytest.raises(CheckpointError, match="checksum"):
        load_parameters(LibraryClosure(["u_xx"]), path)
    (tmp_path / "p.npz").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_parameters(LibraryClosure(["u_xx"]), path)
    with pytest.raises(CheckpointError, match="do not exist"):
        load_parameters(LibraryClosure(["u_xx"]), tmp_path / "missing.npz")


def test_cli_closure_none_is_the_baseline(shock, tmp_path, capsys):
    SHOCK = shock
    lib = 'closure=[{kind="library", terms=["u_xx"], coefficients=[0.002]}]'
    args = ["run", str(SHOCK), "--no-plot", "--set", "time.stop=0.3", "--set", lib]
    assert cli.main(args + ["--out", str(tmp_path / "with.nc")]) == 0
    assert cli.main(args + ["--out", str(tmp_path / "none.nc"), "--closure", "none"]) == 0
    assert cli.main(["run", str(SHOCK), "--no-plot", "--set", "time.stop=0.3", "--out", str(tmp_path / "bare.nc")]) == 0
    with_closure, none, bare = (analysis.open_run(tmp_path / f) for f in ("with.nc", "none.nc", "bare.nc"))
    assert none.attrs["closure"] == "NoClosure"
    assert not np.allclose(with_closure["u"], none["u"])
    np.testing.assert_array_equal(none["u"].values, bare["u"].values)


@pytest.mark.parametrize("name, bound", [("delay_method_of_steps", 1e-3), ("distributed_delay_decay", 1e-3)])
def test_delay_example_cases_match_their_exact_solutions(name, bound):
    ds = oceanclosure.run(oceanclosure.load_case(CASES / name))
    error = float(np.abs(ds["u"] - ds["u_truth"]).max())
    assert error <= bound


def test_library_example_from_a_case_file():
    case = oceanclosure.load_case(CASES / "delay_method_of_steps", [
        'closure=[{kind="library", terms=["u_xx"], coefficients=[0.05]}]',
        "initial_condition.expression=sin(2*pi*x)", "boundary.kind=\"periodic\"", "time.stop=0.5"])
    ds = oceanclosure.run(case)
    dx = float(ds.x[1] - ds.x[0])
    average = np.sin(np.pi * dx) / (np.pi * dx)  # the initial state is the cell average of sin(2πx)
    expected = np.exp(-0.05 * (2 * np.pi) ** 2 * ds.time) * np.sin(2 * np.pi * ds.x) * average
    np.testing.assert_allclose(ds["u"].isel(time=0), expected.isel(time=0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ds["u"], expected, atol=0.02)


def test_no_closure_case_builds_no_closure(shock):
    assert isinstance(build_closures(_case(shock)), NoClosure)


def test_shipped_trained_closure_loads_and_beats_the_baseline():
    """The shipped advecting-shock closure at its default point (Nx 50, Re 1000), t in [0, 8].

    Measured (retrained on the 9 distinct configurations, cell-averaged truths): 0.00292 with the
    closure against 0.01028 without (ratio 0.284). Held to 1e-3 relative: the network's face
    output scale taken from the right-hand cell instead of the mean of the two gives 0.003024
    (+3.6%), which the former bound (< 0.0045) let through.
    """
    ds = oceanclosure.run(oceanclosure.load_case(SHIPPED_SHOCK), baseline=True)
    assert ds.attrs["closure"] == ("LibraryClosure + DistributedDelayClosure(NeuralClosure(flux, inputs ['u', 'u_x', 'u_xx', "
                                    "'nu', 'dx']))")
    with_closure = analysis.time_mean_rms(ds["u"], ds["u_truth"])
    without = analysis.time_mean_rms(ds["u_baseline"], ds["u_truth"])
    assert with_closure < 0.5 * without
    assert with_closure == pytest.approx(0.0029189, rel=1e-3)
    assert without == pytest.approx(0.0102823, rel=1e-3)


def _write_history(path, times, x, dims=("time", "x")):
    import xarray as xr

    values = np.ones((len(times), len(x)))
    da = xr.DataArray(values if dims == ("time", "x") else values.T, dims=dims, coords={"time": times, "x": x})
    da.to_dataset(name="u").to_netcdf(path)


def test_history_file_covering_exactly_the_delay_window(tmp_path):
    case_dir = shutil.copytree(CASES / "delay_method_of_steps", tmp_path / "c", ignore=shutil.ignore_patterns("output"))
    case = oceanclosure.load_case(case_dir)
    x = (np.arange(8) + 0.5) / 8
    _write_history(case_dir / "hist.nc", np.linspace(-1.0, 0.0, 41), x, dims=("x", "time"))
    ds = oceanclosure.run(case.with_overrides(['closure.0.history="hist.nc"']))
    assert float(np.abs(ds["u"] - ds["u_truth"]).max()) <= 1e-3
    _write_history(case_dir / "short.nc", np.linspace(-0.5, 0.0, 21), x)
    with pytest.raises(ValueError, match=r"needs \[-1, 0\]"):
        oceanclosure.run(case.with_overrides(['closure.0.history="short.nc"']))
    _write_history(case_dir / "shifted.nc", np.linspace(-1.0, 0.0, 41), x + 0.01)
    with pytest.raises(ValueError, match="not the case grid's cell centre"):
        oceanclosure.run(case.with_overrides(['closure.0.history="shifted.nc"']))


def test_a_1d_case_refuses_y_derivatives_at_load(shock):
    with pytest.raises(oceanclosure.CaseError, match=r"closure\[0\]\.terms\[0\].*unknown name 'u_y'"):
        _case(shock, 'closure=[{kind="library", terms=["u_y"], coefficients=[1.0]}]')


def test_parameter_files_carry_a_format_version_and_newer_ones_are_refused(tmp_path):
    closure = LibraryClosure(["u_xx"], [0.1])
    path = save_parameters(closure, tmp_path / "p.npz")
    with np.load(path) as data:
        assert str(data["__format__"]) == "oceanclosure-closure-parameters/2"
    assert float(load_parameters(LibraryClosure(["u_xx"]), path).coefficients[...][0, 0]) == pytest.approx(0.1)
    # a version-1 file (no tag in the .npz, as the shipped closure's) still loads
    np.savez(tmp_path / "old.npz", coefficients=np.array([[0.3]]))
    assert float(load_parameters(LibraryClosure(["u_xx"]), tmp_path / "old.npz").coefficients[...][0, 0]) == pytest.approx(0.3)
    np.savez(tmp_path / "new.npz", __format__=np.asarray("oceanclosure-closure-parameters/9"),
             coefficients=np.array([[0.3]]))
    with pytest.raises(CheckpointError, match="format 9, newer than this oceanclosure reads .1 to 2.: upgrade"):
        load_parameters(LibraryClosure(["u_xx"]), tmp_path / "new.npz")
    np.savez(tmp_path / "alien.npz", __format__=np.asarray("something-else/1"), coefficients=np.array([[0.3]]))
    with pytest.raises(CheckpointError, match="unknown format"):
        load_parameters(LibraryClosure(["u_xx"]), tmp_path / "alien.npz")
