"""Run a case end to end: build, integrate, and assemble the output.

`run` returns the output as an in-memory `xarray.Dataset`; `run_to_file` streams
the same content to a netCDF file one snapshot at a time (`io.RunFileWriter`), so
a long run never holds its output in memory. A run that blows up, or is stopped by
SIGINT, keeps the part already computed, marked with an ``incomplete`` attribute.

Beside each field ``<name>`` the output holds ``<name>_truth``, the case's truth at
the same times, whatever its source: the analytic solution, evaluated at each
output time, or the fine or file truth, read a snapshot at a time from its file
(`truth.open_truth`, which generates a missing one first). When the overrides make
the truth inapplicable (`truth.truth_inapplicable`) nothing is compared, and the
global attribute ``truth_not_compared`` says why; ``truth_notes`` lists what is
compared as given (`truth.truth_notes`).

A field u that grows past ``time.growth_bound`` x max(max |u₀|, max |u_truth| over the
output times) stops the run as a blow-up does (`simulation.GrowthBoundError`); a
variable whose initial state and truth are zero everywhere is not bounded. The
closure's provenance (`closure_provenance`: parameter files and their SHA-256, the
ensemble member, untrained parts) goes into the global attributes.

A run stopped by SIGINT leaves, beside its file ``run.nc``, the restart checkpoint
``run.restart.npz`` (`restart_path`: the state at the last output written, closure
memory included, with the steps taken and what identifies the run).
``run_to_file(..., resume=True)`` checks that the case and options are those of the
stopped run (``case_sha256`` and the closure parameters' digest), continues from that
state with the same output times and dt, and appends to the same file: the result is
bit-identical to a run that never stopped. A completed run removes the checkpoint.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time as _time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
import xarray as xr

from .errors import DataFileError, InputError, MissingFileError, RunFailedError
from .io import (
    RunFileWriter,
    check_writable,
    interrupts_deferred,
    load_state,
    make_dataset,
    read_run_attrs,
    read_state_metadata,
    save_state,
    time_blocks,
)
from .resolve import resolve
from .simulation import (
    BlowUpError,
    GrowthBound,
    GrowthBoundError,
    SimState,
    Simulation,
    SimulationInterrupted,
    Trajectory,
)
from .timestepping import output_times
from .truth import TIME_TOLERANCE, open_truth, truth_label


class RunBlowUpError(RunFailedError):
    """A run that stopped being finite; the output up to then is in ``dataset`` (`run`) or in the
    file ``path`` (`run_to_file`), and ends at time ``t``."""

    def __init__(self, message: str, dataset: xr.Dataset | None = None, path: Path | None = None,
                 t: float | None = None):
        super().__init__(message)
        self.dataset, self.path, self.t = dataset, path, t


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by SIGINT; the file ``path`` holds the output up to ``t`` of ``stop``
    (``path`` is None when nothing had been computed yet)."""

    def __init__(self, message: str, path: Path | None, t: float | None, stop: float):
        super().__init__(message)
        self.path, self.t, self.stop = path, t, stop


@dataclasses.dataclass(frozen=True)
class _Truth:
    """The truth a run writes beside its fields.

    Attributes:
      about: ``{"<name>_truth": CF attributes (or a long_name)}``, in output order.
      at: ``at(index, t) -> {"<name>_truth": values}`` at the run's output ``index``, time ``t``.
      peaks: ``{name: max |truth|}`` over the run's output times, per field.
      close: releases what ``at`` reads from (a file).
    """

    about: dict[str, object]
    at: Callable[[int, float], dict[str, np.ndarray]]
    peaks: dict[str, float]
    close: Callable[[], None] = lambda: None


@dataclasses.dataclass(frozen=True)
class _Setup:
    """What a run needs, built once: the simulation, its initial state, the truth (or None), the truth's
    notes, the growth bound (None: none), the closure's provenance attributes."""

    sim: Simulation
    state: SimState
    truth: _Truth | None
    truth_attrs: dict[str, str]
    bound: GrowthBound | None = None
    closure_attrs: dict[str, str] = dataclasses.field(default_factory=dict)


def _setup(case, closure, truth: bool = True, progress=None, bounded: bool = True) -> _Setup:
    """The parts of a run; with ``truth``, the truth to write (a fine one may be generated first);
    with ``bounded``, the growth bound from the initial state and that truth."""
    setup = resolve(case, closure)
    sim = setup.simulation
    state = sim.initial_state({k: jnp.asarray(v) for k, v in setup.fields0.items()}, case.time.start)
    attrs = {"truth_not_compared": setup.truth_not_compared} if setup.truth_not_compared and truth else {}
    if setup.truth_notes and truth:
        attrs["truth_notes"] = "\n".join(setup.truth_notes)
    written = _truth(case, setup, progress) if truth else None
    bound = _growth_bound(case, setup.fields0, written) if bounded else None
    return _Setup(sim, state, written, attrs, bound, setup.closure_attrs)


def _growth_bound(case, fields0: dict, truth: _Truth | None) -> GrowthBound:
    """time.growth_bound x max(max |u₀|, max |u_truth|) per field (0, so unbounded, where both are zero)."""
    peaks = truth.peaks if truth is not None else {}
    scales = {name: max(float(np.max(np.abs(values))), peaks.get(name, 0.0)) for name, values in fields0.items()}
    return GrowthBound(float(case.time.growth_bound), scales)


def _truth(case, setup, progress) -> _Truth | None:
    """The case's truth as the run writes it (None: no truth, or not compared)."""
    if setup.truth is not None:
        analytic = setup.truth
        peak = max(float(np.max(np.abs(analytic(float(t))))) for t in setup.times)
        return _Truth({"u_truth": f"analytic solution '{case.truth.analytic}'"},
                      lambda index, t: {"u_truth": analytic(t)}, {"u": peak})
    if case.truth is None or case.truth.source == "analytic" or setup.truth_not_compared:
        return None
    return _stored_truth(case, setup.grid, progress)


def _stored_truth(case, grid, progress) -> _Truth:
    """A fine or file truth, read from its file (`open_truth`) one output at a time."""
    ds = open_truth(case, progress=progress)
    names, times = case.physics.variable_names, np.asarray(ds["time"].values, dtype=np.float64)
    spatial = tuple(reversed(grid.dims))
    tolerance = TIME_TOLERANCE * max(1.0, abs(case.time.start), abs(case.time.stop))
    prefix = (lambda name: "") if names == ("u",) else (lambda name: f"{name}: ")
    about = {f"{name}_truth": {"units": str(ds[name].attrs.get("units", "1")),
                               "long_name": f"{prefix(name)}truth, {truth_label(case)}"} for name in names}

    def at(index: int, t: float) -> dict[str, np.ndarray]:
        if index >= times.size or abs(times[index] - t) > tolerance:
            raise RuntimeError(f"the run's output {index} at t = {t:g} is not the truth's time "
                               f"{times[min(index, times.size - 1)]:g}; this is a bug in oceanclosure")
        return {f"{name}_truth": np.asarray(ds[name].isel(time=index).transpose(*spatial).values)
                for name in names}

    return _Truth(about, at, {name: _abs_max(ds, name) for name in names}, ds.close)


def _abs_max(ds: xr.Dataset, name: str) -> float:
    """max |ds[name]| over all times, reading a block of times at a time."""
    peaks = [float(np.abs(ds[name].isel(time=slice(start, stop)).values).max())
             for start, stop in time_blocks(ds, [name])]
    return max(peaks, default=0.0)


def run(case, closure=None, progress=None, baseline: bool = False, truth: bool = True,
        growth_bound: bool = True) -> xr.Dataset:
    """Run ``case`` and return its output as an `xarray.Dataset`.

    Args:
      closure: ``None`` runs the case's own ``[[closure]]`` list; pass a `Closure`
        (e.g. `NoClosure()` for the baseline) to replace it.
      baseline: also run without the closure and store that run as ``u_baseline``
        (only when there is a closure).
      truth: write the case's truth beside the fields (False: do not, and do not
        generate a missing fine truth).
      growth_bound: stop at ``time.growth_bound`` (False: do not; for a reference run, such as
        the fine truth's, whose growth is the physics').

    The dataset holds each field ``u`` (this run) and, when the case has a truth that
    applies to it, ``u_truth`` at the same times (see the module docstring). Raises
    `RunBlowUpError` (with the finite part of the output attached) if the state stops
    being finite.
    """
    setup = _setup(case, closure, truth, progress, bounded=growth_bound)
    try:
        ds = _run_in_memory(case, setup, progress)
    finally:
        if setup.truth is not None:
            setup.truth.close()
    if baseline and not setup.sim.closure.is_null:
        for name, values in _baseline(case, ds, setup.sim.model.variable_names).items():
            ds[name] = values
    return ds


def _run_in_memory(case, setup: _Setup, progress) -> xr.Dataset:
    started = _time.perf_counter()
    try:
        trajectory = setup.sim.run(setup.state, case.time.stop, case.time.output_interval, progress=progress,
                                   bound=setup.bound)
    except BlowUpError as err:
        partial = _dataset(case, setup, err.trajectory, _time.perf_counter() - started)
        last = float(err.trajectory.times[-1])
        partial.attrs["incomplete"] = incomplete_note(_stopped_why(err, "the run"), last, case.time.stop)
        raise RunBlowUpError(str(err), dataset=partial, t=last) from None
    return _dataset(case, setup, trajectory, _time.perf_counter() - started)


def _stopped_why(err: BlowUpError, what: str) -> str:
    if isinstance(err, GrowthBoundError):
        return f"{what} grew past the growth bound (time.growth_bound)"
    return f"{what} stopped being finite"


def restart_path(path) -> Path:
    """The restart checkpoint of the run file ``path``: ``run.nc`` -> ``run.restart.npz``."""
    return Path(path).with_suffix(".restart.npz")


def case_digest(case) -> str:
    """The SHA-256 of the resolved case (case.toml with the --set overrides applied, as TOML)."""
    return hashlib.sha256(case.to_toml().encode()).hexdigest()


def run_to_file(case, path, closure=None, progress=None, baseline: bool = False, overwrite: bool = False,
                truth: bool = True, resume: bool = False) -> Path:
    """Run ``case`` and stream its output to the netCDF file ``path`` as it is computed.

    The file holds what `run` returns (the same variables, attributes and values),
    written one snapshot at a time: no snapshot is kept in memory. It is written to
    a temporary file beside ``path`` and renamed at the end; an existing ``path`` is
    refused unless ``overwrite`` (and is never lost). Arguments as in `run`; the
    baseline run follows the run and fills ``<name>_baseline`` record by record.

    With ``resume``, ``path`` must be the incomplete file of a run stopped by SIGINT
    (with its `restart_path` checkpoint), of the same case and options: the run
    continues from its last output and appends to it (module docstring).

    Raises:
      RunBlowUpError: the state stopped being finite, or grew past time.growth_bound;
        ``path`` holds the part before.
      RunInterrupted: SIGINT (a KeyboardInterrupt); ``path`` holds the part computed,
        and `restart_path` the state to resume from.
    In both cases the file has a global attribute ``incomplete`` saying why and
    where the output ends.
    """
    path = Path(path)
    stopped = _stopped_run(path) if resume else None  # refuse before a fine truth is generated
    if not resume:
        check_writable(path, overwrite)
    setup = _setup(case, closure, truth, progress)
    try:
        variables = {name: about for name, (_, about) in _field_specs(case, setup).items()}
        count = len(output_times(case.time.start, case.time.stop, case.time.output_interval))
        identity = _identity(case, setup, baseline)
        previous = None if stopped is None else _Previous.of(path, stopped, identity, setup.state)
        writer = RunFileWriter(path, setup.sim.grid, variables, overwrite=overwrite or resume, expected_times=count,
                               time_units=case.physics.time_units, append=resume)
        with writer as out:
            save_restart = _stream_run(case, setup, out, progress, identity, previous)
            if baseline and not setup.sim.closure.is_null:
                _stream_baseline(case, out, setup.sim.model.variables, save_restart)
    finally:
        if setup.truth is not None:
            setup.truth.close()
    restart_path(path).unlink(missing_ok=True)  # complete: nothing to resume
    return out.path


def _identity(case, setup: _Setup, baseline: bool) -> dict[str, object]:
    """What a resumed run must share with the stopped one (stored in its restart checkpoint)."""
    return {"case_sha256": case_digest(case), "closure": setup.sim.closure.describe(),
            "closure_parameters_sha256": setup.closure_attrs.get("closure_parameters_sha256", "none"),
            "baseline": bool(baseline and not setup.sim.closure.is_null), "truth": setup.truth is not None}


#: What each entry of `_identity` is, in the words of a refusal to resume.
_IDENTITY_WORDS = {
    "case_sha256": "the case differs from the stopped run's (case.toml or the --set options changed)",
    "closure": "the closure differs from the stopped run's (--closure, or the [[closure]] tables)",
    "closure_parameters_sha256": "the closure parameters changed since the run stopped (retrained, or another "
                                 "parameters_file)",
    "baseline": "the stopped run was started with a different --no-baseline",
    "truth": "the stopped run compared with a truth and this one does not, or the other way round",
}


def _stopped_run(path: Path) -> dict:
    """The attributes, length and restart metadata of a stopped run's file; refuses one that cannot resume."""
    restart = restart_path(path)
    if not path.is_file():
        raise MissingFileError(f"{path} does not exist: there is no stopped run to resume; run without --resume")
    attrs, times = read_run_attrs(path)
    if "incomplete" not in attrs:
        raise InputError(f"{path} is complete: there is nothing to resume; to run it again, pass --overwrite "
                         "instead of --resume")
    if not restart.is_file():
        raise DataFileError(f"{path} cannot be resumed: {attrs['incomplete']}, and it has no restart checkpoint "
                            f"{restart.name} (only a run stopped by SIGINT leaves one); start again with --overwrite")
    return {"attrs": attrs, "times": times, "meta": read_state_metadata(restart)}


@dataclasses.dataclass(frozen=True)
class _Previous:
    """A stopped run to continue: its restart state and what it had done (steps, dt, wall time)."""

    state: SimState
    steps: int
    dt: float
    max_dt: float
    wall_seconds: float

    @classmethod
    def of(cls, path: Path, stopped: dict, identity: dict, like: SimState) -> "_Previous":
        meta, times, restart = stopped["meta"], stopped["times"], restart_path(path)
        for key, words in _IDENTITY_WORDS.items():
            if meta.get(key) != identity[key]:
                raise InputError(f"cannot resume {path}: {words}; resume with the case and options of the stopped "
                                 "run, or start again with --overwrite")
        if (meta.get("count") != times.size or meta.get("t") != float(times[-1])
                or stopped["attrs"].get("case_sha256") != meta.get("case_sha256")):
            raise DataFileError(f"the restart checkpoint {restart} does not belong to {path} (it stops at output "
                                f"{meta.get('count')}, t = {meta.get('t')}; the file has {times.size} outputs); "
                                "start again with --overwrite")
        return cls(load_state(restart, like), int(meta["steps"]), float(meta["dt"]), float(meta["max_dt"]),
                   float(meta.get("wall_seconds", 0.0)))


class _Written:
    """The last snapshot written to the file, with the state to restart from (updated with the file)."""

    def __init__(self, previous: _Previous | None):
        self.snapshot = None
        self.steps, self.dt = (0, np.inf) if previous is None else (previous.steps, previous.dt)

    def totals(self, trajectory: Trajectory | None = None) -> tuple[int, float]:
        """Steps and smallest dt of the whole run, up to the file's end (or ``trajectory``'s)."""
        steps, dt = (self.snapshot.steps, self.snapshot.dt) if self.snapshot is not None else (0, np.inf)
        if trajectory is not None:
            steps, dt = trajectory.steps, trajectory.dt
        return self.steps + int(steps), float(min(self.dt, dt))


def _stream_run(case, setup: _Setup, out: RunFileWriter, progress, identity: dict,
                previous: _Previous | None = None) -> Callable[[], None]:
    """The run itself (or its continuation), each snapshot (and the truth at its time) appended to ``out``.

    Returns what saves the restart checkpoint at the run's end (for an interrupted baseline).
    """
    sim, written = setup.sim, _Written(previous)
    plan = sim.plan(setup.state, case.time.stop, case.time.output_interval)
    if previous is not None and plan.max_dt != previous.max_dt:
        raise DataFileError(f"cannot resume {out.path} bit-identically: its time step limit was "
                            f"{previous.max_dt!r}, now it is {plan.max_dt!r}; start again with --overwrite")

    def on_output(t: float, fields: dict, snapshot) -> None:
        values = dict(fields)
        if setup.truth is not None:
            values.update(setup.truth.at(out.count, t))
        with interrupts_deferred():  # the file and the restart state move together
            out.append(t, values)
            written.snapshot = snapshot

    started = _time.perf_counter()
    before = 0.0 if previous is None else previous.wall_seconds
    options = {"progress": progress, "on_output": on_output, "keep": False, "bound": setup.bound, "with_state": True}
    try:
        if previous is None:
            trajectory = sim.run(setup.state, case.time.stop, case.time.output_interval, **options)
        else:
            trajectory = sim.resume(previous.state, plan, **options)
    except (BlowUpError, SimulationInterrupted) as err:
        wall = before + _time.perf_counter() - started
        out.set_attrs(_run_attrs(case, setup, *written.totals(), wall))
        if isinstance(err, SimulationInterrupted):
            _save_restart(out, written, identity, plan.max_dt, wall)
        else:
            restart_path(out.path).unlink(missing_ok=True)
        _stopped_early(out, err, "the run", out.last_time, case.time.stop)
    wall = before + _time.perf_counter() - started
    out.set_attrs(_run_attrs(case, setup, *written.totals(trajectory), wall))
    return lambda: _save_restart(out, written, identity, plan.max_dt, wall)


def _save_restart(out: RunFileWriter, written: _Written, identity: dict, max_dt: float, wall: float) -> None:
    """The state at the file's last output, beside it (`restart_path`); kept as it is when nothing new was written."""
    if written.snapshot is None or out.count == 0:
        return
    steps, dt = written.totals()
    meta = {**identity, "count": out.count, "t": out.last_time, "steps": steps, "dt": dt, "max_dt": max_dt,
            "wall_seconds": wall}
    with interrupts_deferred():
        save_state(written.snapshot.state, restart_path(out.path), metadata=meta, overwrite=True)


def _stream_baseline(case, out: RunFileWriter, variables, save_restart: Callable[[], None] = lambda: None) -> None:
    """The same case without its closure into ``<name>_baseline``, at the same output times.

    After a blow-up of the baseline its values stay NaN (the file's fill value), as in `run`.
    """
    from .closures import NoClosure

    base = _setup(case, NoClosure(), truth=False, bounded=False)
    out.add_variables({f"{v.name}_baseline": _baseline_attrs(v) for v in variables})
    written: list[float] = []  # the times written, to check that they are the run's

    def on_output(t: float, fields: dict) -> None:
        index = len(written)
        if index >= out.count or out.time(index) != t:
            raise RuntimeError(f"the baseline's output time {t:g} is not the run's record {index}; "
                               "this is a bug in oceanclosure")
        out.write(index, {f"{name}_baseline": values for name, values in fields.items()})
        written.append(t)

    try:
        base.sim.run(base.state, case.time.stop, case.time.output_interval, on_output=on_output, keep=False)
    except BlowUpError:
        pass  # keep what there is; the rest is NaN
    except SimulationInterrupted as err:
        save_restart()  # the run is done: resumed, it goes straight to the baseline
        _stopped_early(out, err, "the baseline run (no closure)", written[-1] if written else None,
                       case.time.stop)


def _stopped_early(out: RunFileWriter, err: Exception, what: str, last: float | None, stop: float) -> None:
    """Keep what ``out`` holds, marked incomplete, and raise the runner's error for ``err``."""
    if isinstance(err, BlowUpError):
        out.mark_incomplete(incomplete_note(_stopped_why(err, what), last, stop))
        raise RunBlowUpError(str(err), path=out.path, t=last) from None
    if out.count == 0:  # nothing computed yet: leave no file
        raise RunInterrupted("interrupted before any output was computed; no file was written", None, None,
                             stop) from None
    out.mark_incomplete(incomplete_note(f"{what} was interrupted (SIGINT)", last, stop))
    reached = "before its first output" if last is None else f"at t = {last:g} of {stop:g}"
    raise RunInterrupted(f"interrupted: {what} stopped {reached}; the output up to then is in {out.path} "
                         f"(marked incomplete), the state to continue from in {restart_path(out.path)}",
                         out.path, last, stop) from None


def incomplete_note(why: str, last: float | None, stop: float) -> str:
    """The ``incomplete`` attribute of a run that stopped early: why, and where its output ends."""
    if last is None:
        return f"{why} before its first output (stop = {stop:g})"
    return f"{why}; the output ends at t = {last:g} of {stop:g}"


def _baseline(case, ds: xr.Dataset, names) -> dict[str, xr.DataArray]:
    """The same case without its closure, at the same output times, per field."""
    from .closures import NoClosure

    try:
        base = _run_in_memory(case, _setup(case, NoClosure(), truth=False, bounded=False), None)
    except RunBlowUpError as err:  # keep what there is; the rest is NaN
        base = err.dataset.reindex(time=ds["time"])
    out = {}
    for name in names:
        out[f"{name}_baseline"] = base[name]
        out[f"{name}_baseline"].attrs = {**ds[name].attrs, "long_name": f"{name}: the same case without its closure"}
    return out


def _baseline_attrs(variable) -> dict[str, str]:
    return {**_field_attrs(variable, "state of this run"),
            "long_name": f"{variable.name}: the same case without its closure"}


def _field_specs(case, setup: _Setup, trajectory: Trajectory | None = None) -> dict[str, tuple[Any, object]]:
    """Each output variable: (its data from ``trajectory``, or None; its CF attributes)."""
    sim = setup.sim
    specs = {v.name: (None if trajectory is None else trajectory.fields[v.name], _field_attrs(v, "state of this run"))
             for v in sim.model.variables}
    if setup.truth is not None:
        values = [] if trajectory is None else [setup.truth.at(i, float(t)) for i, t in enumerate(trajectory.times)]
        for name, about in setup.truth.about.items():
            specs[name] = (None if trajectory is None else np.stack([v[name] for v in values]), about)
    return specs


def _dataset(case, setup: _Setup, trajectory: Trajectory, wall_seconds: float) -> xr.Dataset:
    fields = _field_specs(case, setup, trajectory)
    attrs = _run_attrs(case, setup, trajectory.steps, trajectory.dt, wall_seconds)
    return make_dataset(setup.sim.grid, trajectory.times, fields, attrs, time_units=case.physics.time_units)


def _run_attrs(case, setup: _Setup, steps: int, dt: float, wall_seconds: float) -> dict[str, object]:
    """The global attributes of a run (besides the grid's and the provenance)."""
    sim = setup.sim
    return {
        "title": f"oceanclosure run of case '{case.directory.name}'",
        "case_toml": case.to_toml(),
        "case_sha256": case_digest(case),
        "model": case.physics.model,
        "scheme": sim.model.scheme.name,
        "stepper": sim.tableau.name,
        "dt": float(dt),
        "steps": int(steps),
        "closure": sim.closure.describe(),
        **setup.closure_attrs,
        "precision": case.grid.precision,
        "wall_seconds": float(wall_seconds),
        "boundary": sim.model.bc.describe(),
        "growth_bound": float(case.time.growth_bound),
        **setup.truth_attrs,
    }


def _field_attrs(variable, default_long_name: str) -> dict[str, str]:
    """CF attributes of a field: the model's units, long_name and standard_name."""
    attrs = variable.attrs()
    if not variable.long_name:
        attrs["long_name"] = default_long_name
    return attrs
