"""Streaming output: snapshots handed on as they come, files written record by record.

The streamed file must hold exactly what ``make_dataset(...).to_netcdf`` writes;
a run that blows up or is interrupted keeps the part computed, marked incomplete;
a streamed run keeps no snapshot in memory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import oceanclosure
from oceanclosure import io, runner
from oceanclosure.boundaries import BoundaryConditions
from oceanclosure.grid import Grid
from oceanclosure.models import Burgers
from oceanclosure.simulation import Simulation, SimulationInterrupted

REPO = Path(__file__).resolve().parents[1]
SHOCK = REPO / "cases" / "burgers_advecting_shock"
GRID_1D = Grid.uniform(16, [0.0, 2.0])
GRID_2D = Grid.uniform((8, 6), [[0.0, 1.0], [-1.0, 2.0]])
ABOUT = {"u": {"units": "m s-1", "long_name": "velocity"}, "u_truth": "the truth"}


def _open(path) -> xr.Dataset:
    with xr.open_dataset(path, decode_times=False) as ds:
        return ds.load()


def _snapshots(grid, nt=5):
    rng = np.random.default_rng(1)
    times = np.linspace(0.0, 1.0, nt)
    u = rng.normal(size=(nt,) + grid.array_shape).astype(np.float32)
    truth = rng.normal(size=(nt,) + grid.array_shape)
    return times, u, truth


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- the writer --------------------------------------------------------------------


@pytest.mark.parametrize("grid", [GRID_1D, GRID_2D], ids=["1d", "2d"])
def test_streamed_file_is_identical_to_make_dataset(tmp_path, grid):
    times, u, truth = _snapshots(grid)
    fields = {"u": (u, ABOUT["u"]), "u_truth": (truth, ABOUT["u_truth"])}
    attrs = {"scheme": "upwind", "dt": 0.01, "steps": 7}
    io.make_dataset(grid, times, fields, attrs).to_netcdf(tmp_path / "memory.nc")
    with io.RunFileWriter(tmp_path / "stream.nc", grid, ABOUT, expected_times=len(times)) as out:
        for k, t in enumerate(times):
            out.append(float(t), {"u": u[k], "u_truth": truth[k]})
        out.set_attrs(attrs)
    memory, stream = _open(tmp_path / "memory.nc"), _open(tmp_path / "stream.nc")
    xr.testing.assert_identical(stream, memory)
    assert list(stream.variables) == list(memory.variables) and list(stream.attrs) == list(memory.attrs)
    for name in memory.variables:
        assert stream[name].dtype == memory[name].dtype, name
    assert io.grid_from_dataset(stream) == grid
    assert stream.encoding["unlimited_dims"] == {"time"}
    assert _leftovers(tmp_path) == []


def test_variables_added_later_fill_records_and_stay_nan_where_unwritten(tmp_path):
    times, u, _ = _snapshots(GRID_1D)
    with io.RunFileWriter(tmp_path / "run.nc", GRID_1D, {"u": "state"}) as out:
        for k, t in enumerate(times):
            out.append(float(t), {"u": u[k]})
        out.add_variables({"u_baseline": "baseline"})
        for k in range(2):  # e.g. a baseline that blew up after two outputs
            out.write(k, {"u_baseline": u[k] + 1})
    ds = _open(tmp_path / "run.nc")
    np.testing.assert_array_equal(ds["u_baseline"].values[:2], u[:2] + 1)
    assert np.all(np.isnan(ds["u_baseline"].values[2:]))
    assert ds["u_baseline"].dtype == np.float32 and ds["u_baseline"].attrs["long_name"] == "baseline"


def test_writer_refuses_an_existing_file_and_keeps_it(tmp_path):
    path = tmp_path / "run.nc"
    path.write_bytes(b"precious")
    with pytest.raises(io.OutputExistsError, match="--overwrite"):
        io.RunFileWriter(path, GRID_1D, {"u": "state"})
    assert path.read_bytes() == b"precious" and _leftovers(tmp_path) == []
    with io.RunFileWriter(path, GRID_1D, {"u": "state"}, overwrite=True) as out:
        assert path.read_bytes() == b"precious"  # replaced only when the new file is complete
        out.append(0.0, {"u": np.zeros(16)})
    assert _open(path).sizes["time"] == 1


def test_an_error_leaves_no_file_unless_marked_incomplete(tmp_path):
    with pytest.raises(RuntimeError, match="disk full"):
        with io.RunFileWriter(tmp_path / "lost.nc", GRID_1D, {"u": "state"}) as out:
            out.append(0.0, {"u": np.zeros(16)})
            raise RuntimeError("disk full")
    assert not (tmp_path / "lost.nc").exists() and _leftovers(tmp_path) == []
    with pytest.raises(KeyboardInterrupt):
        with io.RunFileWriter(tmp_path / "kept.nc", GRID_1D, {"u": "state"}) as out:
            out.append(0.0, {"u": np.zeros(16)})
            out.append(0.5, {"u": np.ones(16)})
            out.mark_incomplete("stopped by the test")
            raise KeyboardInterrupt
    ds = _open(tmp_path / "kept.nc")
    assert ds.attrs["incomplete"] == "stopped by the test"
    np.testing.assert_array_equal(ds["time"].values, [0.0, 0.5])
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "call, needle",
    [
        (lambda out: out.append(0.0, {"v": np.zeros(16)}), "expected the fields"),
        (lambda out: out.append(0.0, {"u": np.zeros(15)}), "shape"),
        (lambda out: [out.append(1.0, {"u": np.zeros(16)}), out.append(1.0, {"u": np.zeros(16)})], "time order"),
        (lambda out: out.write(0, {"u": np.zeros(16)}), "not written yet"),
        (lambda out: [out.append(0.0, {"u": np.zeros(16)}), out.write(0, {"w": np.zeros(16)})], "add_variables"),
        (lambda out: out.add_variables({"u": "again"}), "already"),
    ],
)
def test_writer_misuse_is_a_clear_error(tmp_path, call, needle):
    with pytest.raises((ValueError, IndexError), match=needle):
        with io.RunFileWriter(tmp_path / "run.nc", GRID_1D, {"u": "state"}) as out:
            call(out)
    assert not (tmp_path / "run.nc").exists()


# --- Simulation.run: on_output and keep --------------------------------------------


def _sim(nx=32, dt=0.01, nu=0.05):
    grid = Grid.uniform(nx, [0.0, 2 * np.pi])
    return Simulation(Burgers(grid, BoundaryConditions.periodic(1), "muscl_vanleer", nu=nu), dt=dt)


def _u0(sim):
    x, = sim.grid.mesh()
    return (np.sin(x) + 0.5).astype(np.float32)


def test_on_output_gets_every_snapshot_and_keep_false_keeps_none():
    sim = _sim()
    kept = sim.run(_u0(sim), stop=0.5, output_interval=0.1)
    handed = []
    streamed = sim.run(_u0(sim), stop=0.5, output_interval=0.1, on_output=lambda t, f: handed.append((t, f)),
                       keep=False)
    assert [t for t, _ in handed] == list(kept.times)
    np.testing.assert_array_equal(np.stack([f["u"] for _, f in handed]), kept.fields["u"])
    assert streamed.times.size == 0 and streamed.fields["u"].shape == (0, 32)  # no snapshots held
    assert streamed.fields["u"].dtype == kept.fields["u"].dtype
    np.testing.assert_array_equal(np.asarray(streamed.final_state.fields["u"]), kept.fields["u"][-1])
    assert (streamed.dt, streamed.steps) == (kept.dt, kept.steps)


def test_on_output_must_be_callable():
    sim = _sim()
    with pytest.raises(TypeError, match="on_output"):
        sim.run(_u0(sim), stop=0.1, output_interval=0.05, on_output="file.nc")


def test_interrupt_carries_the_snapshots_so_far():
    sim = _sim()

    def stop_at_third(t, fields):
        if t > 0.15:
            raise KeyboardInterrupt

    with pytest.raises(SimulationInterrupted, match="interrupted at t = 0.2 of 0.5") as info:
        sim.run(_u0(sim), stop=0.5, output_interval=0.1, on_output=stop_at_third)
    assert isinstance(info.value, KeyboardInterrupt)
    np.testing.assert_allclose(info.value.trajectory.times, [0.0, 0.1, 0.2])
    assert info.value.trajectory.steps == 20


def test_streaming_memory_does_not_grow_with_the_outputs():
    """Peak traced host memory of a streamed run stays far below the size of its output."""
    sim = _sim(nx=4096, dt=None, nu=1e-5)
    u0, count = _u0(sim), 200
    stop = count * 0.001
    sim.run(u0, stop=stop, output_interval=0.001, keep=False)  # compile outside the measurement
    total = count * u0.nbytes
    peaks = {}
    for keep in (True, False):
        tracemalloc.start()
        trajectory = sim.run(u0, stop=stop, output_interval=0.001, keep=keep, on_output=lambda t, f: None)
        peaks[keep] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del trajectory
    assert peaks[True] >= total  # the measurement sees the kept snapshots
    assert peaks[False] < total / 4, peaks


# --- runner.run_to_file ------------------------------------------------------------


def test_run_to_file_is_identical_to_the_in_memory_run(tmp_path):
    case = oceanclosure.load_case(SHOCK, ["time.stop=0.3"])
    memory = oceanclosure.run(case, baseline=True)
    memory.to_netcdf(tmp_path / "memory.nc")
    path = runner.run_to_file(case, tmp_path / "stream.nc", baseline=True)
    a, b = _open(tmp_path / "memory.nc"), _open(path)
    assert {"u", "u_truth", "u_baseline"} <= set(b.data_vars)
    for ds in (a, b):
        ds.attrs.pop("wall_seconds")  # the only thing that differs between two runs
    xr.testing.assert_identical(b, a)
    assert list(a.attrs) == list(b.attrs) and list(a.variables) == list(b.variables)


def test_run_to_file_keeps_no_snapshot_in_memory(tmp_path, monkeypatch):
    returned = []
    original = Simulation.run

    def spy(self, *args, **kwargs):
        trajectory = original(self, *args, **kwargs)
        returned.append((kwargs.get("keep", True), trajectory))
        return trajectory

    monkeypatch.setattr(Simulation, "run", spy)
    case = oceanclosure.load_case(SHOCK, ["time.stop=0.3"])
    runner.run_to_file(case, tmp_path / "run.nc", baseline=True)
    assert len(returned) == 2  # the run and its baseline
    for keep, trajectory in returned:
        assert keep is False and trajectory.times.size == 0
        assert all(v.shape[0] == 0 for v in trajectory.fields.values())
    assert _open(tmp_path / "run.nc").sizes["time"] == 4


def test_blow_up_keeps_the_finite_part_marked_incomplete(tmp_path, blow_up_case):
    case = oceanclosure.load_case(blow_up_case)
    with pytest.raises(runner.RunBlowUpError, match="stopped being finite") as info:
        runner.run_to_file(case, tmp_path / "run.nc")
    ds = _open(tmp_path / "run.nc")
    assert info.value.path == tmp_path / "run.nc" and info.value.t == float(ds.time[-1])
    assert 0 < float(ds.time[-1]) < 5.0 and np.all(np.isfinite(ds["u"].values))
    assert ds.attrs["incomplete"] == f"the run stopped being finite; the output ends at t = {float(ds.time[-1]):g} of 5"
    with pytest.raises(runner.RunBlowUpError) as memory:
        oceanclosure.run(case)
    assert memory.value.dataset.attrs["incomplete"] == ds.attrs["incomplete"]
    np.testing.assert_array_equal(memory.value.dataset["u"].values, ds["u"].values)
    assert _leftovers(tmp_path) == []


def _interrupt_after(count):
    calls = []

    def progress(t, stop):
        calls.append(t)
        if len(calls) == count:
            raise KeyboardInterrupt

    return progress


def test_interrupted_run_keeps_the_part_computed(tmp_path):
    case = oceanclosure.load_case(SHOCK, ["time.stop=0.5"])
    with pytest.raises(runner.RunInterrupted, match=r"t = 0.2 of 0.5") as info:
        runner.run_to_file(case, tmp_path / "run.nc", progress=_interrupt_after(2), baseline=True)
    assert isinstance(info.value, KeyboardInterrupt) and info.value.t == pytest.approx(0.2)
    ds = _open(tmp_path / "run.nc")
    np.testing.assert_allclose(ds["time"].values, [0.0, 0.1, 0.2])
    assert "interrupted (SIGINT)" in ds.attrs["incomplete"] and "ends at t = 0.2 of 0.5" in ds.attrs["incomplete"]
    assert "u_baseline" not in ds and {"u", "u_truth"} <= set(ds.data_vars)
    assert ds.attrs["steps"] > 0 and np.isfinite(ds.attrs["dt"])
    assert _leftovers(tmp_path) == []


def test_interrupt_never_replaces_an_existing_file_without_overwrite(tmp_path):
    case = oceanclosure.load_case(SHOCK, ["time.stop=0.5"])
    path = tmp_path / "run.nc"
    runner.run_to_file(case, path)
    before = path.read_bytes()
    with pytest.raises(io.OutputExistsError):
        runner.run_to_file(case, path, progress=_interrupt_after(2))
    assert path.read_bytes() == before
    with pytest.raises(runner.RunInterrupted):
        runner.run_to_file(case, path, progress=_interrupt_after(2), overwrite=True)
    assert "incomplete" in _open(path).attrs and _leftovers(tmp_path) == []


# --- the command line under SIGINT -------------------------------------------------


def _long_case(tmp_path) -> Path:
    case = tmp_path / "long"
    case.mkdir()
    (case / "case.toml").write_text(
        '[grid]\ndomain = [0.0, 1.0]\nnx = 64\n'
        '[physics]\nmodel = "advection_diffusion"\nvelocity = 1.0\ndiffusivity = 0.001\nscheme = "upwind"\n'
        '[initial_condition]\nexpression = "sin(2*pi*x)"\n'
        '[time]\nstop = 1000.0\noutput_interval = 0.01\n'  # 100 000 outputs: far longer than the test
    )
    return case


def _wait_for(predicate, proc, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it was interrupted:\n{proc.communicate()[1]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no output appeared within {seconds} s:\n{proc.communicate()[1]}")
        time.sleep(0.05)


def sigint_long_run(case: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    """``oceanclosure run case --out out --no-plot [options]`` in a subprocess, sent SIGINT a few outputs in."""
    paths = [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": os.pathsep.join(paths)}
    command = [sys.executable, "-m", "oceanclosure.cli", "run", str(case), "--out", str(out), "--no-plot", *options]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        # a shell's background job inherits SIGINT ignored, and Python then keeps it ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        _wait_for(lambda: out.parent.exists() and _leftovers(out.parent), proc, 120)  # the temporary file
        time.sleep(4.0)  # let it compute a few outputs (it needs 100 000; under load the first chunk takes seconds)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


def test_sigint_keeps_the_partial_file_and_exits_130(tmp_path):
    out = tmp_path / "results" / "run.nc"
    proc = sigint_long_run(_long_case(tmp_path), out)
    stderr = proc.stderr
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "of 1000" in stderr and str(out) in stderr and "Traceback" not in stderr
    ds = _open(out)
    reached = float(ds.time[-1])
    assert f"t = {reached:g} of 1000" in stderr
    assert ds.sizes["time"] >= 1 and reached < 1000.0
    assert np.all(np.isfinite(ds["u"].values)) and np.all(np.diff(ds["time"].values) > 0)
    assert "interrupted (SIGINT)" in ds.attrs["incomplete"]
    assert _leftovers(out.parent) == []
