"""The summary ``oceanclosure run`` prints: ranges, each field's budget, errors against the truth.

The budget line of a field q says whether the run conserved what it should. In flux
form (`models.base`) the semi-discrete balance is exact,

    d/dt ∫q dV = Σ_walls (F_in − F_out) · A + ∫S_q dV,

where F are the face fluxes at the domain's walls (periodic dimensions contribute
exactly 0), A the wall area (1 in 1-D, dy or dx in 2-D) and S_q the model's sources
(reactions) plus those of the closure. The summary computes

* Δ∫q dV = ∫q dV at the last output − at the first, with the grid's cell volume;
* the net boundary inflow ∫(F_in − F_out) A dt and the sources ∫∫S dV dt, from the
  physics at each output snapshot (a flux closure's wall-face flux included, as the
  model adds it), integrated in time by the trapezoid rule over the output times;
* imbalance = Δ∫q − inflow − sources: the time-integration error of the trapezoid
  over the outputs (it goes to zero as the outputs get denser), plus whatever was
  not included.

A closure with memory (a delay closure, or a sum holding one) cannot be evaluated
from one snapshot, so its fluxes and sources are not included and the line says so:
its contribution is then in the imbalance. Everything is read from the run file a
block of snapshots at a time (`SUMMARY_BLOCK_BYTES`), so large runs stay cheap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .analysis import field_names, spatial_dims, spatial_rms
from .io import grid_from_dataset

#: How much of a run file the summary reads at once.
SUMMARY_BLOCK_BYTES = 64 << 20


def _closure_lines(ds) -> list[str]:
    """Which trained parameters the closure used, or that it is untrained (the run file's attributes)."""
    lines = []
    files = str(ds.attrs.get("closure_parameters", "none")).splitlines()
    if files and files != ["none"]:
        members = str(ds.attrs.get("closure_member", "?")).splitlines()
        digests = str(ds.attrs.get("closure_parameters_sha256", "?")).splitlines()
        for file, member, digest in zip(files, members + ["?"] * len(files), digests + ["?"] * len(files)):
            lines.append(f"parameters  {file} (member {member}, sha256 {digest[:12]}...)")
    if "closure_untrained" in ds.attrs:
        lines.append(f"UNTRAINED   {ds.attrs['closure_untrained']}")
    return lines


def print_summary(case, ds, out: Path, png: Path | None, seconds: float, closure=None) -> None:
    """Print the run summary of ``ds`` (the run file, opened lazily); ``closure`` as given to the run."""
    print("\n".join(summary_lines(case, ds, out, png, seconds, closure)))


def summary_lines(case, ds, out: Path, png: Path | None, seconds: float, closure=None) -> list[str]:
    """The summary's lines: the run, each field's range, budget and errors, the truth, the files."""
    fields = field_names(ds)
    first = ds[fields[0]]
    lines = [
        f"case        {case.directory.name} ({ds.attrs['model']}, {ds.attrs['scheme']}, {ds.attrs['stepper']})",
        f"grid        {' x '.join(str(n) for n in reversed(first.shape[1:]))} cells, {ds.attrs['precision']}",
        f"closure     {ds.attrs['closure']}",
        *_closure_lines(ds),
        (f"time        {float(ds.time[0]):g} -> {float(ds.time[-1]):g}, dt = {ds.attrs['dt']:.4g}, "
         f"{ds.attrs['steps']} steps, {seconds:.2f} s wall"),
    ]
    balances = budgets(case, ds, closure)
    for name in fields:
        lines += field_lines(case, name, summary_numbers(ds, name), balances[name])
    lines += truth_lines(ds)
    lines.append(f"wrote       {out}" + (f" and {png}" if png else ""))
    return lines


def truth_lines(ds) -> list[str]:
    """Why the truth was not compared, and what it is compared across as given (the run's attributes)."""
    lines = [f"vs truth    not compared: {ds.attrs['truth_not_compared']}"] if "truth_not_compared" in ds.attrs else []
    notes = str(ds.attrs.get("truth_notes", ""))
    return lines + [f"truth note  {note}" for note in notes.splitlines() if note]


def field_lines(case, name: str, numbers: dict, budget: Budget) -> list[str]:
    """A field's range, its budget line and its errors against the truth (and the baseline's)."""
    from .truth import truth_label

    lines = [f"{f'{name} range'.ljust(11)} [{numbers['min']:.4g}, {numbers['max']:.4g}]",
             f"{f'{name} budget'.ljust(11)} {budget.describe(name)}"]
    if "time_mean_rms" in numbers:
        lines.append(
            f"vs truth    time-mean RMS error {numbers['time_mean_rms']:.4g} "
            f"(final {numbers['final_rms']:.4g}, max |err| {numbers['max_abs']:.4g}) "
            f"against {truth_label(case)}"
        )
        if "baseline_rms" in numbers:
            base = numbers["baseline_rms"]
            lines.append(f"no closure  time-mean RMS error {base:.4g}; with the closure / without: "
                         f"{numbers['time_mean_rms'] / base:.3g}")
    return lines


def _blocks(ds, names):
    """``(start, stop)`` index ranges of ``SUMMARY_BLOCK_BYTES``-sized blocks of the run's snapshots."""
    from .io import time_blocks

    return time_blocks(ds, names, SUMMARY_BLOCK_BYTES)


def summary_numbers(ds, field: str = "u") -> dict[str, float]:
    """A field's range, ∫q dV at the first and last outputs, and RMS errors against ``<field>_truth``.

    Reads the file a block of snapshots at a time. ∫q dV is the float64 sum of the
    cell averages times the grid's cell volume (dx, or dx·dy in 2-D).
    """
    import xarray as xr

    truth, baseline = f"{field}_truth", f"{field}_baseline"
    names = [n for n in (field, truth, baseline) if n in ds]
    volume = grid_from_dataset(ds).cell_volume
    lows, highs, integrals, rms, base_rms, max_abs = [], [], [], [], [], []
    for start, stop in _blocks(ds, names):
        part = ds[names].isel(time=slice(start, stop)).load()
        u = part[field]
        lows.append(float(u.min()))
        highs.append(float(u.max()))
        integrals.append(u.astype(np.float64).sum(spatial_dims(u)).values * volume)
        if truth in part:
            rms.append(spatial_rms(u, part[truth]))
            max_abs.append(float(np.abs(u - part[truth]).max()))
            if baseline in part:
                base_rms.append(spatial_rms(part[baseline], part[truth]))
    numbers = {"min": min(lows), "max": max(highs),
               "integral_first": float(integrals[0][0]), "integral_last": float(integrals[-1][-1])}
    if rms:
        errors = xr.concat(rms, "time")
        numbers.update(time_mean_rms=float(errors.mean("time")), final_rms=float(errors.isel(time=-1)),
                       max_abs=max(max_abs))
    if base_rms:
        numbers["baseline_rms"] = float(xr.concat(base_rms, "time").mean("time"))
    return numbers


@dataclasses.dataclass(frozen=True)
class Budget:
    """One field's budget over a run (module docstring): every term integrated over the run.

    Attributes:
      change: Δ∫q dV, last output − first.
      inflow: ∫ net boundary inflow dt (0 exactly when every dimension is periodic).
      sources: ∫∫ S dV dt of the model's sources (reactions); 0 for a model without.
      closure_sources: ∫∫ S dV dt of the closure's sources (None: not included).
      outputs: the number of output times the trapezoid rule ran over.
      integral: the name of the integral in the line, e.g. ``∫u dx``.
      excluded: why the closure is not in the budget, or "".
    """

    change: float
    inflow: float
    sources: float
    closure_sources: float | None
    outputs: int
    integral: str
    excluded: str = ""

    @property
    def imbalance(self) -> float:
        return self.change - self.inflow - self.sources - (self.closure_sources or 0.0)

    def describe(self, name: str) -> str:
        """``∫u dx changed by -1.53; net boundary inflow -1.52 (trapezoid over 101 outputs); imbalance -0.01``."""
        terms = [f"net boundary inflow {self.inflow:.4g}"]
        if self.sources:
            terms.append(f"sources {self.sources:.4g}")
        if self.closure_sources is not None and self.closure_sources != 0.0:
            terms.append(f"closure sources {self.closure_sources:.4g}")
        text = (f"{self.integral} changed by {self.change:.4g}; {', '.join(terms)} "
                f"(trapezoid over {self.outputs} outputs); imbalance {self.imbalance:.3g}")
        return text + (f" ({self.excluded})" if self.excluded else "")


def _integral_name(name: str, dims) -> str:
    return f"∫{name} " + " ".join(f"d{d}" for d in dims)


def budgets(case, ds, closure=None) -> dict[str, Budget]:
    """Every field's `Budget` over the run in ``ds``, from the case's model and closure.

    ``closure`` is the closure the run used (None: the case's own). The physics is
    evaluated at every output snapshot, read a block at a time.
    """
    from .build import build_boundary, build_grid, build_model
    from .closures.base import as_closure
    from .factory import build_closures

    bc = build_boundary(case)
    model = build_model(case, build_grid(case, bc), bc)
    closure = build_closures(case) if closure is None else as_closure(closure)
    names = list(model.variable_names)
    grid = grid_from_dataset(ds)
    times = np.asarray(ds["time"].values, np.float64)
    excluded = "" if closure.is_null or closure.memory_span == 0 else \
        "the closure has memory: its fluxes and sources are not included, they are in the imbalance"
    rates = _rate_function(model, None if closure.is_null or excluded else closure, ds, names)
    inflow, sources, closure_sources = [], [], []
    for start, stop in _blocks(ds, names):
        part = ds[names].isel(time=slice(start, stop)).load()
        a, b, c = rates({n: part[n].values for n in names}, times[start:stop])
        inflow.append(a)
        sources.append(b)
        closure_sources.append(c)
    inflow, sources, closure_sources = (np.concatenate(v, axis=0) for v in (inflow, sources, closure_sources))
    out = {}
    for i, name in enumerate(names):
        integral = ds[name].astype(np.float64).isel(time=[0, -1]).sum(spatial_dims(ds[name])).values * grid.cell_volume
        include = not closure.is_null and not excluded
        out[name] = Budget(change=float(integral[-1] - integral[0]), inflow=_trapezoid(inflow[:, i], times),
                           sources=_trapezoid(sources[:, i], times),
                           closure_sources=_trapezoid(closure_sources[:, i], times) if include else None,
                           outputs=times.size, integral=_integral_name(name, grid.dims), excluded=excluded)
    return out


def _trapezoid(values: np.ndarray, times: np.ndarray) -> float:
    """∫ values dt by the trapezoid rule over the output times (0 for a single output)."""
    return float(np.sum(0.5 * (values[1:] + values[:-1]) * np.diff(times)))


def _rate_function(model, closure, ds, names):
    """``rates(fields, times) -> (inflow, sources, closure_sources)``, each ``(times, fields)`` float64.

    Vectorised over the snapshots of a block and jitted once. ``closure`` is a
    Markovian closure to include, or None.
    """
    import jax
    import jax.numpy as jnp

    from .simulation import closure_view, state_part

    grid, physics = model.grid, model.physics
    volume = grid.cell_volume
    state = ()
    if closure is not None:
        first = {n: jnp.asarray(ds[n].isel(time=0).values) for n in names}
        state = closure.init(grid, first, float(ds["time"][0]), physics)

    def one(fields, t):
        seen = closure_view(model, fields, t, physics) if closure is not None else fields
        extra = state_part(model, closure.fluxes(seen, state, grid, t, physics)) \
            if closure is not None and closure.has_fluxes else None
        fluxes = model.face_fluxes(fields, t, physics, extra)
        inflow = [_wall_inflow(model, fluxes[n]) for n in names]
        own = model.sources(fields, t, physics)
        sources = [jnp.sum(own[n]) * volume if n in own else jnp.zeros(()) for n in names]
        added = {}
        if closure is not None:
            added = model.coupled(_as_mapping(state_part(model, closure.tendency(seen, state, grid, t, physics)),
                                              names), physics)
        from_closure = [jnp.sum(added[n]) * volume if n in added else jnp.zeros(()) for n in names]
        return jnp.stack(inflow), jnp.stack(sources), jnp.stack(from_closure)

    batched = jax.jit(jax.vmap(one))

    def rates(fields: Mapping, times: np.ndarray):
        values = batched({n: jnp.asarray(v) for n, v in fields.items()}, jnp.asarray(times))
        return tuple(np.asarray(v, np.float64) for v in values)

    return rates


def _as_mapping(tendency, names):
    return tendency if isinstance(tendency, Mapping) else {names[0]: tendency}


def _wall_inflow(model, fluxes):
    """Net inflow through the walls, Σ_d (F_lower − F_upper) · wall area, from face fluxes per dimension."""
    import jax.numpy as jnp

    grid = model.grid
    total = jnp.zeros(())
    for dim, flux in enumerate(fluxes):
        if not model.bc.is_periodic(dim):  # a periodic dimension has no wall: exactly 0
            total = total + jnp.sum(flux[..., 0] - flux[..., -1]) * (grid.cell_volume / grid.step[dim])
    return total
