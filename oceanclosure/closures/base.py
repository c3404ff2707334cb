"""The closure contract.

A closure adds a tendency to a model's right-hand side:

    state = closure.init(grid, u0)            # or init(grid, u0, t0, physics)
    state = closure.observe(u, state, grid, t, physics)     # once per time step
    tendency = closure.tendency(u, state, grid, t, physics)  # at every RK stage
    tendency, state = closure(u, state, grid, t, physics)    # both, standalone

* ``u`` is the model's state, a mapping ``{name: array}`` of its fields (a bare
  array is accepted by the closures that act on one field, as that field), and
  the tendency has the same structure: a mapping with one entry per field it
  acts on (the simulation adds zero for the others).
* ``physics`` is the model's parameter pytree (ν, …), passed at call time.
* Trainable weights belong to the closure object. Closures are `flax.nnx`
  modules, hence pytrees: a rollout takes the closure as an argument and
  ``jax.grad`` differentiates through it.
* ``tendency`` gives sources, in the units of du/dt. A flux closure
  (`FluxClosure`) gives face fluxes instead: ``fluxes(u, state, grid, t, physics)
  -> {name: (F per dimension, faces on the last axis)}``, which the model adds to
  its own face fluxes before its one divergence, so they obey the model's
  boundary conditions. At a periodic boundary a closure flux wraps; at a
  Dirichlet or Neumann wall the closure's own wall-face flux (from its one-sided
  stencil, or zero) is added to the model's; at a flux wall the prescribed flux
  is the total, so the closure's wall-face flux is dropped. Called standalone,
  ``closure(u, …)`` returns the divergence of its fluxes (its own walls).
* ``state`` is a pytree threaded through the `lax.scan` carry (delay buffers live
  there, never on the module). A Runge-Kutta step (`simulation.make_step`)
  calls ``observe`` *once*, with the accepted (uₙ, tₙ), and carries the state it
  returns; every stage i then calls ``tendency(u_i, carried, grid, tₙ + cᵢ dt,
  physics)``, which reads the state and never changes it. So ``observe`` is
  where a closure records the past (a delay closure evaluates its D(uₙ) there,
  once per step), and ``tendency`` must give the right value from the carried
  state plus the (u, t) of the stage itself.
* Defaults: ``observe`` returns the state unchanged and ``tendency`` is
  ``self(u, state, …)[0]``, so a Markovian closure only implements
  ``__call__(u, state, grid, t, physics) -> (tendency, state)``. A stateful one
  implements ``observe`` and ``tendency`` and defines ``__call__`` as
  ``s = observe(…); return tendency(u, s, …), s`` (standalone use).
* ``stencil_width`` declares how many neighbouring cells a tendency reads.
* ``rates(grid, physics, fields)`` reports the eigenvalue rates the closure adds
  at the state ``fields`` (keys as in `models.base.FluxModel.rates`); the
  simulation adds them to the model's before choosing dt, which is at least as
  strict as taking the minimum of separate limits. ``max_dt`` is a hard cap besides.
* Memory belongs to the contract: ``memory_span`` is the longest time the closure
  reads back (0 for Markovian closures), and ``state_from_history(grid, times,
  values, physics)`` builds the state at ``times[-1]`` from past snapshots (a
  delay closure fills its buffer from them). Training and the truth use these
  two, so no code outside a closure looks at its type.
* ``conserves`` declares ``{variable: w}`` with Σ wᵢ Sᵢ = 0 for any parameters
  (a transfer closure's weights, a constrained library's combination), or None.
* Reading a closure back is part of it too: ``describe()`` names it,
  ``coefficient_table()`` and ``equations()`` give its interpretable terms (empty
  for closures that have none; sums and delay closures merge their members').
* A sequence of closures sums (`ClosureSum`: ``observe`` and ``tendency`` map over
  the members, the state is the tuple of theirs); `NoClosure` is the identity,
  and a model run with it is bit-identical to the bare model because the
  simulation skips it entirely.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from ..errors import InputError
from ..fluxes import divergence


class Closure(nnx.Module):
    """Base class: subclasses implement `__call__` and, if stateful, `init`, `observe`, `tendency`."""

    #: Cells read on each side of the cell whose tendency is computed.
    stencil_width: int = 0

    def init(self, grid, u0, t0: float = 0.0, physics=None):
        """Initial closure state (an empty tuple for Markovian closures).

        ``t0`` is the start time and ``physics`` the model parameters, which a
        closure may need to fill its memory from the history (e.g. D(u) values).
        """
        return ()

    def __call__(self, u, state, grid, t, physics):
        raise NotImplementedError

    def observe(self, u, state, grid, t, physics):
        """Record the accepted state (u, t) of a time step; returns the new state.

        Called once per step, before the stages. Default: the state unchanged.
        """
        return state

    def tendency(self, u, state, grid, t, physics):
        """The tendency at (u, t) given the carried ``state`` (which is not changed).

        Default: ``self(u, state, grid, t, physics)[0]`` (a Markovian closure).
        """
        return self(u, state, grid, t, physics)[0]

    @property
    def has_fluxes(self) -> bool:
        """Whether `fluxes` gives face fluxes (flux closures) rather than None."""
        return False

    def fluxes(self, u, state, grid, t, physics):
        """Face fluxes ``{name: (F_dim0, …)}`` (faces on the last axis), or None (no fluxes)."""
        return None

    def rates(self, grid, physics, fields) -> dict[str, float]:
        """Eigenvalue rates (1/time) this closure adds at the state ``fields``.

        Keys: advective, diffusive, dispersive, reactive. The simulation evaluates
        them at the initial state; a flow that steepens later can exceed the
        state-dependent ones (Smagorinsky's eddy viscosity), which is what
        ``time.cfl`` < 1 leaves room for.
        """
        return {}

    def max_dt(self, grid, physics) -> float:
        """A hard time-step cap this closure imposes (``inf`` if none)."""
        return math.inf

    @property
    def memory_span(self) -> float:
        """The longest time back the closure reads (0 for Markovian closures)."""
        return 0.0

    @property
    def conserves(self) -> dict[str, float] | None:
        """``{variable: w}`` with Σ w_i S_i = 0 for the closure's tendencies S, for any parameters.

        None: the closure declares nothing (a source closure in general does not conserve).
        """
        return None

    def state_from_history(self, grid, times, values, physics=None):
        """The closure state at ``times[-1]`` from past snapshots ``values`` (leading axis: time)."""
        return self.init(grid, jax.tree_util.tree_map(lambda v: v[-1], values), times[-1], physics)

    def describe(self) -> str:
        return type(self).__name__

    def contributions(self, u, state, grid, t, physics) -> dict:
        """The closure's tendency at (u, t) in named parts that sum to it, for diagnostics
        (the growth bound's message): ``{label: tendency}``; one part, named by `describe`, by default."""
        return {self.describe(): self(u, state, grid, t, physics)[0]}

    def coefficient_table(self) -> dict[str, dict[str, float]]:
        """``{output: {term: coefficient}}`` of the closure's interpretable terms ({} if none)."""
        return {}

    def equations(self) -> dict[str, list[dict]]:
        """``{output: [{"text": …, "latex": …}, …]}``, one entry per interpretable part."""
        return {}

    @property
    def is_null(self) -> bool:
        return False


class FluxClosure(Closure):
    """A closure that contributes face fluxes only (conservative by construction).

    Subclasses implement `fluxes`. `tendency` (the sources) is zero; called
    standalone, the closure gives the divergence of its fluxes.
    """

    variables: tuple[str, ...] = ("u",)

    @property
    def has_fluxes(self) -> bool:
        return True

    def fluxes(self, u, state, grid, t, physics):
        raise NotImplementedError

    def tendency(self, u, state, grid, t, physics):
        return _zeros_like_state(u)

    def __call__(self, u, state, grid, t, physics):
        fluxes = self.fluxes(u, state, grid, t, physics)
        out = {name: flux_divergence(f, grid) for name, f in fluxes.items()}
        return like_state(u, out, self.variables), state

    @property
    def conserves(self) -> dict[str, float] | None:
        return {name: 1.0 for name in self.variables}


def flux_divergence(fluxes: Sequence, grid):
    """−Σ_d ∂F_d/∂x_d at the cell centres from face fluxes per dimension (faces on the last axis)."""
    total = None
    for dim, flux in enumerate(fluxes):
        term = jnp.moveaxis(divergence(flux, grid.step[dim]), -1, grid.array_axis(dim))
        total = term if total is None else total + term
    return total


def add_fluxes(total, extra):
    """Face fluxes summed per field and dimension (either may be None)."""
    if extra is None:
        return total
    if total is None:
        return dict(extra)
    out = dict(total)
    for name, per_dim in extra.items():
        out[name] = per_dim if name not in out else tuple(a + b for a, b in zip(out[name], per_dim))
    return out


class NoClosure(Closure):
    """The null closure: zero tendency, no state."""

    def __call__(self, u, state, grid, t, physics):
        return jax.tree_util.tree_map(jnp.zeros_like, u), state

    @property
    def is_null(self) -> bool:
        return True


class ClosureSum(Closure):
    """The sum of several closures; its state is the tuple of their states."""

    def __init__(self, closures: Sequence[Closure]):
        self.closures = nnx.List(list(closures))
        self.stencil_width = max((c.stencil_width for c in self.closures), default=0)

    def init(self, grid, u0, t0: float = 0.0, physics=None):
        return tuple(c.init(grid, u0, t0, physics) for c in self.closures)

    def __call__(self, u, state, grid, t, physics):
        total = _zeros_like_state(u)
        new_states = []
        for closure, sub_state in zip(self.closures, state):
            tendency, sub_state = closure(u, sub_state, grid, t, physics)
            total = add_tendencies(total, tendency)
            new_states.append(sub_state)
        return total, tuple(new_states)

    def observe(self, u, state, grid, t, physics):
        return tuple(c.observe(u, s, grid, t, physics) for c, s in zip(self.closures, state))

    @property
    def has_fluxes(self) -> bool:
        return any(c.has_fluxes for c in self.closures)

    def fluxes(self, u, state, grid, t, physics):
        total = None
        for closure, sub_state in zip(self.closures, state):
            if closure.has_fluxes:
                total = add_fluxes(total, closure.fluxes(u, sub_state, grid, t, physics))
        return total

    def tendency(self, u, state, grid, t, physics):
        total = _zeros_like_state(u)
        for closure, sub_state in zip(self.closures, state):
            total = add_tendencies(total, closure.tendency(u, sub_state, grid, t, physics))
        return total

    def rates(self, grid, physics, fields) -> dict[str, float]:
        return add_rates(*(c.rates(grid, physics, fields) for c in self.closures))

    def max_dt(self, grid, physics) -> float:
        return min((c.max_dt(grid, physics) for c in self.closures), default=math.inf)

    @property
    def memory_span(self) -> float:
        return max((c.memory_span for c in self.closures), default=0.0)

    @property
    def conserves(self) -> dict[str, float] | None:
        """The members' combination when they all declare the same one (else None)."""
        declared = [c.conserves for c in self.closures]
        if not declared or any(d is None for d in declared) or any(d != declared[0] for d in declared):
            return None
        return dict(declared[0])

    def state_from_history(self, grid, times, values, physics=None):
        return tuple(c.state_from_history(grid, times, values, physics) for c in self.closures)

    def describe(self) -> str:
        return " + ".join(c.describe() for c in self.closures)

    def contributions(self, u, state, grid, t, physics) -> dict:
        parts: dict = {}
        for index, (closure, sub_state) in enumerate(zip(self.closures, state)):
            for label, tendency in closure.contributions(u, sub_state, grid, t, physics).items():
                parts[label if label not in parts else f"{label} (closure {index + 1})"] = tendency
        return parts

    def coefficient_table(self) -> dict[str, dict[str, float]]:
        table: dict = {}
        for closure in self.closures:
            for output, row in closure.coefficient_table().items():
                table.setdefault(output, {}).update(row)
        return table

    def equations(self) -> dict[str, list[dict]]:
        out: dict = {}
        for closure in self.closures:
            for output, items in closure.equations().items():
                out.setdefault(output, []).extend(items)
        return out

    @property
    def is_null(self) -> bool:
        return all(c.is_null for c in self.closures)


def as_closure(closure: Closure | Iterable[Closure] | None) -> Closure:
    """``None`` → `NoClosure`, a sequence → `ClosureSum` (a single one unwrapped)."""
    if closure is None:
        return NoClosure()
    if isinstance(closure, Closure):
        return closure
    closures = [c for c in closure if not c.is_null]
    if not closures:
        return NoClosure()
    return closures[0] if len(closures) == 1 else ClosureSum(closures)


def as_fields(u, variables: Sequence[str]) -> dict:
    """The state as named fields: a single array is ``variables[0]``; a mapping as it is."""
    if isinstance(u, Mapping):
        return dict(u)
    return {tuple(variables)[0]: u}


def like_state(u, tendencies: Mapping, variables: Sequence[str]):
    """Tendencies in the structure of the state ``u`` (missing outputs are zero)."""
    if isinstance(u, Mapping):
        return {k: tendencies.get(k, jnp.zeros_like(v)) for k, v in u.items()}
    return tendencies.get(tuple(variables)[0], jnp.zeros_like(u))


def _zeros_like_state(u):
    return jax.tree_util.tree_map(jnp.zeros_like, u)


def add_tendencies(total, extra):
    """``total + extra`` for a state-shaped tendency; a mapping ``extra`` may name fewer fields.

    The sum keeps ``total``'s dtype. A field of ``extra`` that ``total`` lacks is an error.
    """
    if not isinstance(total, Mapping):
        return total + extra
    unknown = [k for k in extra if k not in total]
    if unknown:
        raise InputError(f"a closure returned tendencies for {unknown}, which are not fields of the state "
                         f"({list(total)})")
    return {k: (v + extra[k].astype(v.dtype)) if k in extra else v for k, v in total.items()}


def add_rates(*rates: Mapping[str, float]) -> dict[str, float]:
    """Sum stability-rate dictionaries key by key."""
    total: dict[str, float] = {}
    for item in rates:
        for key, rate in item.items():
            total[key] = total.get(key, 0.0) + rate
    return total
