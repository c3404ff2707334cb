"""Time integration: a pure Runge-Kutta step, `lax.scan` chunks, and a host loop.

The state of a run is a `SimState` pytree ``(fields, t, closure_state)``, where
``fields`` maps each of the model's variables to its array. `make_step` builds
one pure step ``state -> state`` for a model, closure and Butcher tableau (the
Runge–Kutta stages map over the fields with jax tree utilities);
`advance` scans it ``n_steps`` times from ``state.t`` to ``t_end`` with
dt = (t_end - t) / n_steps, so every chunk lands exactly on its end time. Both
are traceable (jit, grad, vmap) and never leave the device.

`Simulation.run` is the host loop: one jitted chunk per output interval, a
finiteness check between chunks (never inside them), progress callbacks, and the
snapshots, kept in the `Trajectory` and/or handed to ``on_output`` as they come
(``keep=False`` streams them without keeping any). A non-finite state stops the
run with `BlowUpError`, a field grown past its `GrowthBound` with `GrowthBoundError`
(checked at the same place, between chunks), SIGINT with `SimulationInterrupted` (a
KeyboardInterrupt); all carry the snapshots kept up to then and the last accepted state.

`Simulation.plan` fixes a run's output times and largest dt from its initial state;
`Simulation.resume` continues a stopped run from the state at one of those times
with that plan, so the result is bit-identical to the run never having stopped.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Mapping, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from .closures.base import Closure, add_rates, add_tendencies, as_closure
from .errors import InputError, InputTypeError, RunFailedError
from .models.base import FluxModel
from .timestepping import (
    ButcherTableau,
    StabilityError,
    get_stepper,
    max_stable_dt,
    output_times,
    steps_between_outputs,
)

tree_map = jax.tree_util.tree_map


class SimState(NamedTuple):
    """Everything needed to continue a run: the fields ``{name: array}``, the time, the closure memory."""

    fields: Any
    t: Any
    closure_state: Any = ()


class BlowUpError(RunFailedError):
    """The state stopped being finite; ``trajectory`` holds the finite snapshots (those kept)."""

    def __init__(self, message: str, trajectory: "Trajectory"):
        super().__init__(message)
        self.trajectory = trajectory


class GrowthBoundError(BlowUpError):
    """A field grew past its `GrowthBound` (still finite); ``trajectory`` holds the snapshots before it."""


class SimulationInterrupted(KeyboardInterrupt):
    """A run stopped by SIGINT; ``trajectory`` holds the snapshots kept up to then and the last state."""

    def __init__(self, message: str, trajectory: "Trajectory"):
        super().__init__(message)
        self.trajectory = trajectory


@dataclasses.dataclass(frozen=True)
class GrowthBound:
    """Stop a run whose field u grows past ``factor`` × ``scales[u]``: max|u| > factor · scale.

    ``scales`` maps a variable to its scale (the runner's: the largest |value| of the
    initial state and the truth); a variable absent from it, or with scale 0, is not bounded.
    """

    factor: float
    scales: Mapping[str, float]

    def limits(self) -> dict[str, float]:
        return {name: self.factor * scale for name, scale in self.scales.items() if scale > 0}


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """A run's output times and the largest dt between them, fixed from its initial state."""

    times: np.ndarray
    max_dt: float


class Snapshot(NamedTuple):
    """What ``on_output(t, fields, snapshot)`` gets with ``with_state=True``: the state at t (a restart
    point), the steps taken and the smallest dt used up to t."""

    state: SimState
    steps: int
    dt: float


def make_rhs(model: FluxModel, closure: Closure) -> Callable:
    """``rhs(fields, closure_state, t, physics, closure) -> d(fields)/dt``.

    ``closure_state`` is the state carried through the step (after the step's
    ``closure.observe``); the closure only reads it here (`closures.base`).
    """
    grid = model.grid

    def rhs(u, closure_state, t, physics, closure):
        # The barrier pins how XLA compiles the model tendency, so that adding a
        # closure whose output is exactly zero leaves the result bit-identical
        # (without it, fusion with the closure changes rounding by an ulp).
        if closure.is_null:
            return jax.lax.optimization_barrier(model.tendency(u, t, physics))
        seen = closure_view(model, u, t, physics)
        extra = closure.fluxes(seen, closure_state, grid, t, physics) if closure.has_fluxes else None
        tendency = jax.lax.optimization_barrier(model.tendency(u, t, physics, extra_fluxes=state_part(model, extra)))
        added = state_part(model, closure.tendency(seen, closure_state, grid, t, physics))
        return add_tendencies(tendency, model.coupled(added, physics))

    return rhs


def closure_view(model: FluxModel, u, t, physics):
    """What a closure sees: the state, plus the model's `closure_inputs` (PAR, …) when it has any."""
    if not model.closure_input_names or not isinstance(u, Mapping):
        return u
    return {**u, **model.closure_inputs(u, t, physics)}


def state_part(model: FluxModel, tendencies):
    """A closure's output for the state's fields only (none for the model's closure inputs)."""
    if not model.closure_input_names or not isinstance(tendencies, Mapping):
        return tendencies
    return {k: v for k, v in tendencies.items() if k not in model.closure_input_names}


def make_step(model: FluxModel, closure: Closure, tableau: ButcherTableau) -> Callable:
    """One explicit RK step ``step(state, dt, physics, closure) -> state``.

    The closure observes the accepted (uₙ, tₙ) once (``closure.observe``: a delay
    closure evaluates D(uₙ) and buffers it there); that state is carried, and
    every stage reads it through ``closure.tendency`` (see `closures.base`).
    Stages 1.. run in a `lax.fori_loop` over a stacked buffer of stage
    tendencies: each stage's input is then materialised before the next stage
    reads it. Unrolled, XLA:CPU fuses the whole chain of earlier tendencies into
    the padding of later stages and emits unvectorised code for it (about 3x
    slower on periodic Burgers; see benchmarks/README.md). Results are
    bit-identical to the unrolled form: the extra terms are exact zeros.
    """
    rhs = make_rhs(model, closure)
    grid = model.grid
    stages = tableau.stages
    a_matrix = np.zeros((stages, stages))
    for i, row in enumerate(tableau.a):
        a_matrix[i, : len(row)] = row
    c_vector = np.asarray(tableau.c)

    def step(state: SimState, dt, physics, closure) -> SimState:
        u, t = state.fields, state.t
        carried = state.closure_state
        if not closure.is_null:
            carried = closure.observe(closure_view(model, u, t, physics), carried, grid, t, physics)
        k0 = rhs(u, carried, t, physics, closure)
        if stages == 1:
            return SimState(tree_map(lambda q, k: (q + dt * tableau.b[0] * k).astype(q.dtype), u, k0), t + dt, carried)
        c_values = jnp.asarray(c_vector, dtype=jnp.asarray(t).dtype)

        def stage(i, ks):
            def stage_input(q, kq):
                a_row = jnp.asarray(a_matrix, dtype=q.dtype)[i]
                return (q + dt * _weighted_sum(list(a_row), list(kq), skip_zeros=False)).astype(q.dtype)

            k = rhs(tree_map(stage_input, u, ks), carried, t + c_values[i] * dt, physics, closure)
            return tree_map(lambda kq, ki, q: kq.at[i].set(ki.astype(q.dtype)), ks, k, u)

        ks = tree_map(lambda q, k: jnp.zeros((stages,) + q.shape, q.dtype).at[0].set(k.astype(q.dtype)), u, k0)
        ks = jax.lax.fori_loop(1, stages, stage, ks)
        u_new = tree_map(lambda q, kq: (q + dt * _weighted_sum(tableau.b, list(kq))).astype(q.dtype), u, ks)
        return SimState(u_new, t + dt, carried)

    return step


def _weighted_sum(weights, ks, skip_zeros: bool = True):
    """Σ w_i k_i in order; static zero weights are skipped when ``skip_zeros``."""
    total = None
    for w, k in zip(weights, ks):
        if skip_zeros and isinstance(w, (int, float)) and w == 0:
            continue
        term = w * k
        total = term if total is None else total + term
    return total if total is not None else jnp.zeros_like(ks[0])


def advance(step: Callable, state: SimState, t_end, n_steps: int, physics, closure) -> SimState:
    """Scan ``step`` n_steps times from state.t to exactly t_end."""
    t0 = state.t
    dt = (t_end - t0) / n_steps

    def body(carry, i):
        carry = step(carry, dt, physics, closure)
        return carry._replace(t=t0 + (i + 1) * dt), None

    final, _ = jax.lax.scan(body, state, jnp.arange(n_steps))
    return final._replace(t=jnp.asarray(t_end, dtype=jnp.asarray(t0).dtype))


@dataclasses.dataclass
class Trajectory:
    """Snapshots of a run on the host: ``fields[name][k]`` at ``times[k]``.

    ``final_state`` is the last accepted (finite) state; a run with ``keep=False``
    keeps no snapshots (``times`` empty), only that state, ``dt`` and ``steps``.
    """

    times: np.ndarray
    fields: dict[str, np.ndarray]
    final_state: Optional[SimState] = None
    dt: float = math.nan
    steps: int = 0


class Simulation:
    """A model plus a closure plus a stepper, advanced in jitted chunks.

    Args:
      model: a `FluxModel`.
      closure: a `Closure`, a sequence of them, or ``None``.
      stepper: ``"euler" | "ssprk3" | "rk4"`` or a `ButcherTableau`.
      dt: a fixed time step (checked against the stability limit), or
      cfl: the fraction of the stability limit to use when ``dt`` is None.
    """

    def __init__(self, model: FluxModel, closure=None, stepper="ssprk3", dt: float | None = None, cfl: float = 0.5):
        if dt is not None and not dt > 0:
            raise InputError(f"Simulation: dt must be > 0, got {dt}")
        if not 0 < cfl <= 1:
            raise InputError(f"Simulation: cfl must be in (0, 1], got {cfl}")
        self.model = model
        self.closure = as_closure(closure)
        self.tableau = get_stepper(stepper)
        self.dt, self.cfl = dt, cfl
        self.step = make_step(model, self.closure, self.tableau)
        self._advance = jax.jit(
            lambda state, t_end, physics, closure, n_steps: advance(self.step, state, t_end, n_steps, physics, closure),
            static_argnames="n_steps",
        )

    @property
    def grid(self):
        return self.model.grid

    def as_fields(self, u0) -> dict:
        """The state's fields: a mapping as it is, or one array for a single-field model."""
        names = self.model.variable_names
        if not isinstance(u0, Mapping):
            if len(names) != 1:
                raise InputError(f"this model has the fields {list(names)}: give the state as {{name: array}}")
            u0 = {names[0]: u0}
        return self.model.check_fields(u0)

    def initial_state(self, u0, t0: float = 0.0, physics=None) -> SimState:
        """The state at ``t0`` from the fields ``u0`` (a mapping, or an array for a single-field model)."""
        fields = {k: jnp.asarray(v) for k, v in self.as_fields(u0).items()}
        physics = self.model.physics if physics is None else physics
        closure_state = self.closure.init(self.grid, closure_view(self.model, fields, t0, physics), t0, physics)
        return SimState(fields, jnp.asarray(t0, dtype=_float_dtype(fields)), closure_state)

    def stable_dt(self, u0, physics=None, times=(0.0,)) -> float:
        """The largest stable dt for this model, closure and stepper (cfl = 1)."""
        physics = self.model.physics if physics is None else physics
        fields = self.as_fields(u0)
        seen = closure_view(self.model, fields, float(np.asarray(times)[0]), physics)
        rates = add_rates(self.model.rates(fields, physics, times), self.closure.rates(self.grid, physics, seen))
        limit = max_stable_dt(rates, self.tableau, central_advection=self.model.scheme.central)
        return min(limit, self.closure.max_dt(self.grid, physics))

    def choose_dt(self, u0, physics=None, times=(0.0,)) -> float:
        """``dt`` if given (and stable), else cfl × the stable limit."""
        limit = self.stable_dt(u0, physics, times)
        if self.dt is None:
            if math.isinf(limit):
                raise StabilityError("no process limits dt (everything is zero); give dt explicitly")
            return self.cfl * limit
        if self.dt > limit * (1 + 1e-12):
            keeps = (" (with the bound that keeps this model's fields non-negative)"
                     if hasattr(self.model, "positivity_rate") else "")
            raise StabilityError(
                f"dt = {self.dt:g} exceeds the stability limit {limit:g} of stepper "
                f"'{self.tableau.name}'{keeps}; use dt <= {limit:g}, or give cfl instead of dt"
            )
        return self.dt

    def advance(self, state: SimState, t_end: float, n_steps: int, physics=None, closure=None) -> SimState:
        """Jitted: n_steps steps from state.t to exactly t_end.

        ``closure`` replaces the simulation's closure for this call (same structure,
        other weights): this is how a trainer differentiates with respect to them.
        """
        physics = self.model.physics if physics is None else physics
        closure = self.closure if closure is None else closure
        return self._advance(state, t_end, physics, closure, n_steps=n_steps)

    def plan(self, u0_or_state, stop: float, output_interval: float, physics=None) -> RunPlan:
        """The output times from the state's t to ``stop`` and the largest dt, chosen at that state."""
        physics = self.model.physics if physics is None else physics
        state = u0_or_state if isinstance(u0_or_state, SimState) else self.initial_state(u0_or_state, physics=physics)
        times = output_times(float(state.t), stop, output_interval)
        return RunPlan(times, self.choose_dt(_host(state.fields), physics, rate_times(times)))

    def run(self, u0_or_state, stop: float, output_interval: float, physics=None, progress=None,
            on_output: Optional[Callable[..., None]] = None, keep: bool = True,
            bound: Optional[GrowthBound] = None, with_state: bool = False) -> Trajectory:
        """Run to ``stop`` with a snapshot every ``output_interval``, the initial state included.

        Args:
          u0_or_state: the initial field (t = 0) or a `SimState` to continue from.
          progress: optional callable ``progress(t, stop)`` called between chunks.
          on_output: optional callable ``on_output(t, fields)`` given each snapshot
            (host arrays ``{name: array}``, checked finite) as soon as it is computed:
            this is how output is streamed to a file. With ``with_state`` it is called
            ``on_output(t, fields, snapshot)`` with a `Snapshot` (the state at t, to restart from).
          keep: keep the snapshots in the returned `Trajectory` (the default). With
            ``keep=False`` it holds none (``times`` is empty, each field has shape
            ``(0, ...)``), only the final state, dt and steps, so memory does not grow
            with the number of outputs.
          bound: a `GrowthBound` checked at every output (None: no bound).
        Raises:
          BlowUpError: with the snapshots up to the last finite state.
          GrowthBoundError: a field crossed ``bound``; the snapshots before it.
          SimulationInterrupted: on KeyboardInterrupt (SIGINT), with the snapshots so far.
        """
        physics = self.model.physics if physics is None else physics
        state = u0_or_state if isinstance(u0_or_state, SimState) else self.initial_state(u0_or_state, physics=physics)
        plan = self.plan(state, stop, output_interval, physics)
        return self._loop(state, plan, 0, physics, progress, on_output, keep, bound, with_state)

    def resume(self, state: SimState, plan: RunPlan, physics=None, progress=None,
               on_output: Optional[Callable[..., None]] = None, keep: bool = True,
               bound: Optional[GrowthBound] = None, with_state: bool = False) -> Trajectory:
        """Continue a run planned as ``plan`` from ``state``, at one of ``plan.times``, to its end.

        The snapshot at ``state.t`` is not handed on again (it was before the stop),
        unless it is the first output time (then this is `run` with that plan). The
        steps are those the run would have taken, so the result is bit-identical.
        Arguments and errors as in `run`; the `Trajectory` counts the steps of this call.
        """
        physics = self.model.physics if physics is None else physics
        t, times = float(state.t), plan.times
        index = int(np.argmin(np.abs(times - t)))
        if abs(times[index] - t) > 8 * np.finfo(np.asarray(state.t).dtype).eps * max(1.0, abs(t)):
            raise InputError(f"Simulation.resume: t = {t:g} is not one of the run's output times; resume from the "
                             "state at an output time")
        return self._loop(state, plan, index, physics, progress, on_output, keep, bound, with_state)

    def _loop(self, state: SimState, plan: RunPlan, first: int, physics, progress, on_output, keep: bool,
              bound: Optional[GrowthBound], with_state: bool) -> Trajectory:
        """The host loop of `run` and `resume`: chunks from output ``first`` to the last."""
        if on_output is not None and not callable(on_output):
            raise InputTypeError(f"Simulation.run: on_output must be a callable on_output(t, fields), got {on_output!r}")
        times, stop = plan.times, float(plan.times[-1])
        record = _Record(times, state, keep, on_output, first, with_state)
        limits = bound.limits() if bound is not None else {}
        try:
            if first == 0:
                record.add(_host(state.fields))
            for k in range(first + 1, len(times)):
                self._run_chunk(record, k, plan.max_dt, physics, bound, limits)
                if progress is not None:
                    progress(float(times[k]), stop)
        except KeyboardInterrupt:
            reached = float(times[max(record.count - 1, 0)])
            raise SimulationInterrupted(f"interrupted at t = {reached:g} of {stop:g}", record.trajectory()) from None
        return record.trajectory()

    def _blow_up_hint(self) -> str:
        """What to try: a smaller step, and, when there is a closure, a run without it."""
        step = "if the time step is too large for the flow (CFL), lower time.cfl or time.dt"
        if self.closure.is_null:
            return step
        return (f"{step}; if a run without the closure (--closure none) stays finite, the closure drives the "
                "instability (retrain it, or bound it)")

    def _run_chunk(self, record: "_Record", k: int, max_dt: float, physics, bound=None, limits=()) -> None:
        """Advance from output time k - 1 to k; refuse a state that is not finite, or past the bound."""
        t_start, t_end = record.times[k - 1], record.times[k]
        n, dt = steps_between_outputs(t_end - t_start, max_dt)
        new_state = self.advance(record.state, float(t_end), n, physics)
        host = _host(new_state.fields)
        bad = [name for name, v in host.items() if not np.all(np.isfinite(v))]
        if bad:
            raise BlowUpError(
                f"the solution ({', '.join(bad)}) stopped being finite between t = {t_start:g} and "
                f"t = {t_end:g} (dt = {dt:g}); {self._blow_up_hint()}",
                record.trajectory(),
            )
        over = {name: peak for name, peak in _peaks(host, limits).items() if peak > limits[name]}
        if over:
            name = max(over, key=lambda v: over[v] / limits[v])
            raise GrowthBoundError(self._growth_message(new_state, physics, name, over[name], bound, t_start, t_end),
                                   record.trajectory())
        record.accept(new_state, n, dt)
        record.add(host)

    def _growth_message(self, state: SimState, physics, name: str, peak: float, bound: GrowthBound,
                        t_start: float, t_end: float) -> str:
        """Which field crossed the bound, when, by how much, and the largest closure contribution there."""
        scale = bound.scales[name]
        return (f"{name} grew past the growth bound between t = {t_start:g} and t = {t_end:g}: max |{name}| = "
                f"{peak:.4g} at t = {t_end:g}, above {bound.factor:g} x {scale:.4g} = {bound.factor * scale:.4g} "
                f"(time.growth_bound x the largest |{name}| of the initial state and the truth); "
                f"{self._largest_contribution(state, physics, name)}; {self._blow_up_hint()}; if this growth is "
                "real, raise time.growth_bound")

    def _largest_contribution(self, state: SimState, physics, name: str) -> str:
        """The closure's largest contribution to d(name)/dt at ``state``, against the physics' tendency."""
        u, t = state.fields, state.t
        physical = float(jnp.max(jnp.abs(self.model.tendency(u, t, physics)[name])))
        if self.closure.is_null:
            return f"there is no closure (the physics' max |d{name}/dt| there is {physical:.4g})"
        seen = closure_view(self.model, u, t, physics)
        parts = self.closure.contributions(seen, state.closure_state, self.grid, t, physics)
        sizes = {label: float(jnp.max(jnp.abs(_part(tendency, name)))) for label, tendency in parts.items()}
        label = max(sizes, key=sizes.get)
        return (f"the largest closure contribution there is {label} with max |d{name}/dt| = {sizes[label]:.4g}, "
                f"against the physics' max |d{name}/dt| = {physical:.4g}")


class _Record:
    """The bookkeeping of `Simulation.run`: the accepted state, steps, dt, and the snapshots kept.

    ``first`` is the output the run starts at (> 0 when it resumes); ``count`` the next one to add.
    """

    def __init__(self, times: np.ndarray, state: SimState, keep: bool, on_output, first: int = 0,
                 with_state: bool = False):
        self.times, self.state, self.keep, self.on_output = times, state, keep, on_output
        self.steps, self.dt_used, self.with_state = 0, math.inf, with_state
        self.count = self.start = first if first == 0 else first + 1  # resuming: `first` was added before
        self.kept: list[dict] = []
        # no snapshots: the fields' shapes and dtypes
        self.empty = {name: np.empty((0,) + np.shape(v), v.dtype) for name, v in state.fields.items()}

    def accept(self, state: SimState, n_steps: int, dt: float) -> None:
        self.state, self.steps, self.dt_used = state, self.steps + n_steps, min(self.dt_used, dt)

    def add(self, host: dict) -> None:
        """The snapshot at the next output time: kept and/or handed to ``on_output``."""
        t = float(self.times[self.count])
        if self.keep:
            self.kept.append(host)
        self.count += 1
        if self.on_output is None:
            return
        if self.with_state:
            self.on_output(t, host, Snapshot(self.state, self.steps, self.dt_used))
        else:
            self.on_output(t, host)

    def trajectory(self) -> "Trajectory":
        if not self.kept:
            return Trajectory(self.times[:0], dict(self.empty), self.state, self.dt_used, self.steps)
        times = self.times[self.start: self.start + len(self.kept)]
        return Trajectory(times, _stack(self.kept), self.state, self.dt_used, self.steps)


def _peaks(host: Mapping[str, np.ndarray], names) -> dict[str, float]:
    """max |value| of each field in ``names``."""
    return {name: float(np.max(np.abs(host[name]))) for name in names if name in host}


def _part(tendency, name: str):
    """A closure tendency's field ``name`` (a bare array is the state's only field)."""
    return tendency[name] if isinstance(tendency, Mapping) else tendency


def _host(fields: Mapping) -> dict[str, np.ndarray]:
    return {name: np.asarray(v) for name, v in fields.items()}


def _stack(snapshots: list[dict]) -> dict[str, np.ndarray]:
    return {name: np.stack([s[name] for s in snapshots]) for name in snapshots[0]}


def _float_dtype(fields: Mapping):
    return jnp.result_type(*(jnp.asarray(v).dtype for v in fields.values()))


#: At most this many times are sampled for the rates of time-dependent coefficients.
MAX_RATE_TIMES = 4097


def rate_times(times: np.ndarray) -> np.ndarray:
    """The output times and the midpoints between them (at most `MAX_RATE_TIMES`, evenly thinned).

    Time-dependent coefficients (κ(z, t), boundary-free forcing) are sampled there for
    the stable dt and for sign checks; one that varies faster than the output interval
    can be missed: lower time.output_interval or give time.dt.
    """
    times = np.asarray(times, dtype=float)
    both = np.sort(np.concatenate([times, 0.5 * (times[1:] + times[:-1])]))
    if both.size > MAX_RATE_TIMES:
        both = both[np.linspace(0, both.size - 1, MAX_RATE_TIMES).round().astype(int)]
    return both
