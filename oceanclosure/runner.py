"""Run a case end to end: build, integrate, and assemble the output dataset."""

from __future__ import annotations

import time as _time

import jax.numpy as jnp
import numpy as np
import xarray as xr

from .build import analytic_truth, build_simulation, dtype_for, initial_fields
from .closures.factory import build_closures
from .io import make_dataset
from .simulation import BlowUpError, Trajectory


class RunBlowUpError(RuntimeError):
    """A run that stopped being finite; ``dataset`` holds the output up to then."""

    def __init__(self, message: str, dataset: xr.Dataset):
        super().__init__(message)
        self.dataset = dataset


def run(case, closure=None, progress=None, baseline: bool = False) -> xr.Dataset:
    """Run ``case`` and return its output as an `xarray.Dataset`.

    Args:
      closure: ``None`` runs the case's own ``[[closure]]`` list; pass a `Closure`
        (e.g. `NoClosure()` for the baseline) to replace it.
      baseline: also run without the closure and store that run as ``u_baseline``
        (only when there is a closure).

    The dataset holds ``u`` (this run) and, when the case has an analytic truth,
    ``u_truth`` at the same times. Raises `RunBlowUpError` (with the finite part
    of the output attached) if the state stops being finite.
    """
    dtype = dtype_for(case.grid.precision)
    if closure is None:
        closure = build_closures(case)
    sim = build_simulation(case, closure)
    fields0 = initial_fields(case, sim.grid, dtype)
    truth = analytic_truth(case)
    if truth is not None:
        truth(case.time.stop)  # fail before integrating if the truth does not reach the end
    state = sim.initial_state({k: jnp.asarray(v) for k, v in fields0.items()}, case.time.start)
    started = _time.perf_counter()
    try:
        trajectory = sim.run(state, case.time.stop, case.time.output_interval, progress=progress)
    except BlowUpError as err:
        partial = _dataset(case, sim, err.trajectory, _time.perf_counter() - started, truth)
        partial.attrs["incomplete"] = f"the run stopped being finite after t = {float(err.trajectory.times[-1]):g}"
        raise RunBlowUpError(str(err), partial) from None
    ds = _dataset(case, sim, trajectory, _time.perf_counter() - started, truth)
    if baseline and not sim.closure.is_null:
        for name, values in _baseline(case, ds, sim.model.variable_names).items():
            ds[f"{name}_baseline"] = values
    return ds


def _baseline(case, ds: xr.Dataset, names) -> dict[str, xr.DataArray]:
    """The same case without its closure, at the same output times, per field."""
    from .closures import NoClosure

    try:
        base = run(case, closure=NoClosure())
    except RunBlowUpError as err:  # keep what there is; the rest is NaN
        base = err.dataset.reindex(time=ds["time"])
    out = {}
    for name in names:
        out[name] = base[name]
        out[name].attrs = {**ds[name].attrs, "long_name": f"{name}: the same case without its closure"}
    return out


def _dataset(case, sim, trajectory: Trajectory, wall_seconds: float, truth) -> xr.Dataset:
    fields = {v.name: (trajectory.fields[v.name], _field_attrs(v, "state of this run")) for v in sim.model.variables}
    if truth is not None:
        fields["u_truth"] = (np.stack([truth(t) for t in trajectory.times]), f"analytic solution '{case.truth.analytic}'")
    attrs = {
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
    }
    return make_dataset(sim.grid, trajectory.times, fields, attrs)


def _field_attrs(variable, default_long_name: str) -> dict[str, str]:
    """CF attributes of a field: the model's units, long_name and standard_name."""
    attrs = variable.attrs()
    if not variable.long_name:
        attrs["long_name"] = default_long_name
    return attrs
