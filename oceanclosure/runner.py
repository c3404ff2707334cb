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
"""

from __future__ import annotations

import dataclasses
import time as _time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
import xarray as xr

from .io import RunFileWriter, check_writable, make_dataset
from .resolve import resolve
from .simulation import (
    BlowUpError,
    SimState,
    Simulation,
    SimulationInterrupted,
    Trajectory,
)
from .timestepping import output_times
from .truth import TIME_TOLERANCE, open_truth, truth_label


class RunBlowUpError(RuntimeError):
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
      close: releases what ``at`` reads from (a file).
    """

    about: dict[str, object]
    at: Callable[[int, float], dict[str, np.ndarray]]
    close: Callable[[], None] = lambda: None


@dataclasses.dataclass(frozen=True)
class _Setup:
    """What a run needs, built once: the simulation, its initial state, the truth (or None), the truth's notes."""

    sim: Simulation
    state: SimState
    truth: _Truth | None
    truth_attrs: dict[str, str]


def _setup(case, closure, truth: bool = True, progress=None) -> _Setup:
    """The parts of a run; with ``truth``, the truth to write (a fine one may be generated first)."""
    setup = resolve(case, closure)
    sim = setup.simulation
    state = sim.initial_state({k: jnp.asarray(v) for k, v in setup.fields0.items()}, case.time.start)
    if not truth:
        return _Setup(sim, state, None, {})
    attrs = {"truth_not_compared": setup.truth_not_compared} if setup.truth_not_compared else {}
    if setup.truth_notes:
        attrs["truth_notes"] = "\n".join(setup.truth_notes)
    return _Setup(sim, state, _truth(case, setup, progress), attrs)


def _truth(case, setup, progress) -> _Truth | None:
    """The case's truth as the run writes it (None: no truth, or not compared)."""
    if setup.truth is not None:
        analytic = setup.truth
        return _Truth({"u_truth": f"analytic solution '{case.truth.analytic}'"},
                      lambda index, t: {"u_truth": analytic(t)})
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

    return _Truth(about, at, ds.close)


def run(case, closure=None, progress=None, baseline: bool = False, truth: bool = True) -> xr.Dataset:
    """Run ``case`` and return its output as an `xarray.Dataset`.

    Args:
      closure: ``None`` runs the case's own ``[[closure]]`` list; pass a `Closure`
        (e.g. `NoClosure()` for the baseline) to replace it.
      baseline: also run without the closure and store that run as ``u_baseline``
        (only when there is a closure).
      truth: write the case's truth beside the fields (False: do not, and do not
        generate a missing fine truth).

    The dataset holds each field ``u`` (this run) and, when the case has a truth that
    applies to it, ``u_truth`` at the same times (see the module docstring). Raises
    `RunBlowUpError` (with the finite part of the output attached) if the state stops
    being finite.
    """
    setup = _setup(case, closure, truth, progress)
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
        trajectory = setup.sim.run(setup.state, case.time.stop, case.time.output_interval, progress=progress)
    except BlowUpError as err:
        partial = _dataset(case, setup, err.trajectory, _time.perf_counter() - started)
        last = float(err.trajectory.times[-1])
        partial.attrs["incomplete"] = incomplete_note("the run stopped being finite", last, case.time.stop)
        raise RunBlowUpError(str(err), dataset=partial, t=last) from None
    return _dataset(case, setup, trajectory, _time.perf_counter() - started)


def run_to_file(case, path, closure=None, progress=None, baseline: bool = False, overwrite: bool = False,
                truth: bool = True) -> Path:
    """Run ``case`` and stream its output to the netCDF file ``path`` as it is computed.

    The file holds what `run` returns (the same variables, attributes and values),
    written one snapshot at a time: no snapshot is kept in memory. It is written to
    a temporary file beside ``path`` and renamed at the end; an existing ``path`` is
    refused unless ``overwrite`` (and is never lost). Arguments as in `run`; the
    baseline run follows the run and fills ``<name>_baseline`` record by record.

    Raises:
      RunBlowUpError: the state stopped being finite; ``path`` holds the finite part.
      RunInterrupted: SIGINT (a KeyboardInterrupt); ``path`` holds the part computed.
    In both cases the file has a global attribute ``incomplete`` saying why and
    where the output ends.
    """
    check_writable(Path(path), overwrite)  # refuse before a fine truth is generated
    setup = _setup(case, closure, truth, progress)
    try:
        variables = {name: about for name, (_, about) in _field_specs(case, setup).items()}
        count = len(output_times(case.time.start, case.time.stop, case.time.output_interval))
        with RunFileWriter(path, setup.sim.grid, variables, overwrite=overwrite, expected_times=count,
                           time_units=case.physics.time_units) as out:
            _stream_run(case, setup, out, progress)
            if baseline and not setup.sim.closure.is_null:
                _stream_baseline(case, out, setup.sim.model.variables)
    finally:
        if setup.truth is not None:
            setup.truth.close()
    return out.path


def _stream_run(case, setup: _Setup, out: RunFileWriter, progress) -> None:
    """The run itself, each snapshot (and the truth at its time) appended to ``out``."""

    def on_output(t: float, fields: dict) -> None:
        snapshot = dict(fields)
        if setup.truth is not None:
            snapshot.update(setup.truth.at(out.count, t))
        out.append(t, snapshot)

    started = _time.perf_counter()
    try:
        trajectory = setup.sim.run(setup.state, case.time.stop, case.time.output_interval, progress=progress,
                                   on_output=on_output, keep=False)
    except (BlowUpError, SimulationInterrupted) as err:
        out.set_attrs(_run_attrs(case, setup, err.trajectory, _time.perf_counter() - started))
        _stopped_early(out, err, "the run", out.last_time, case.time.stop)
    out.set_attrs(_run_attrs(case, setup, trajectory, _time.perf_counter() - started))


def _stream_baseline(case, out: RunFileWriter, variables) -> None:
    """The same case without its closure into ``<name>_baseline``, at the same output times.

    After a blow-up of the baseline its values stay NaN (the file's fill value), as in `run`.
    """
    from .closures import NoClosure

    base = _setup(case, NoClosure(), truth=False)
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
        _stopped_early(out, err, "the baseline run (no closure)", written[-1] if written else None,
                       case.time.stop)


def _stopped_early(out: RunFileWriter, err: Exception, what: str, last: float | None, stop: float) -> None:
    """Keep what ``out`` holds, marked incomplete, and raise the runner's error for ``err``."""
    if isinstance(err, BlowUpError):
        out.mark_incomplete(incomplete_note(f"{what} stopped being finite", last, stop))
        raise RunBlowUpError(str(err), path=out.path, t=last) from None
    if out.count == 0:  # nothing computed yet: leave no file
        raise RunInterrupted("interrupted before any output was computed; no file was written", None, None,
                             stop) from None
    out.mark_incomplete(incomplete_note(f"{what} was interrupted (SIGINT)", last, stop))
    reached = "before its first output" if last is None else f"at t = {last:g} of {stop:g}"
    raise RunInterrupted(f"interrupted: {what} stopped {reached}; the output up to then is in {out.path} "
                         "(marked incomplete)", out.path, last, stop) from None


def incomplete_note(why: str, last: float | None, stop: float) -> str:
    """The ``incomplete`` attribute of a run that stopped early: why, and where its output ends."""
    if last is None:
        return f"{why} before its first output (stop = {stop:g})"
    return f"{why}; the output ends at t = {last:g} of {stop:g}"


def _baseline(case, ds: xr.Dataset, names) -> dict[str, xr.DataArray]:
    """The same case without its closure, at the same output times, per field."""
    from .closures import NoClosure

    try:
        base = run(case, closure=NoClosure(), truth=False)
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
    return make_dataset(setup.sim.grid, trajectory.times, fields, _run_attrs(case, setup, trajectory, wall_seconds),
                        time_units=case.physics.time_units)


def _run_attrs(case, setup: _Setup, trajectory: Trajectory, wall_seconds: float) -> dict[str, object]:
    """The global attributes of a run (besides the grid's and the provenance)."""
    sim = setup.sim
    return {
        "title": f"oceanclosure run of case '{case.directory.name}'",
        "case_toml": case.to_toml(),
        "model": case.physics.model,
        "scheme": sim.model.scheme.name,
        "stepper": sim.tableau.name,
        "dt": float(trajectory.dt),
        "steps": int(trajectory.steps),
        "closure": sim.closure.describe(),
        "precision": case.grid.precision,
        "wall_seconds": float(wall_seconds),
        "boundary": sim.model.bc.describe(),
        **setup.truth_attrs,
    }


def _field_attrs(variable, default_long_name: str) -> dict[str, str]:
    """CF attributes of a field: the model's units, long_name and standard_name."""
    attrs = variable.attrs()
    if not variable.long_name:
        attrs["long_name"] = default_long_name
    return attrs
