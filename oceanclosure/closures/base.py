"""The closure contract.

A closure adds a tendency to a model's right-hand side:

    state = closure.init(grid, u0)            # or init(grid, u0, t0, physics)
    tendency, state = closure(u, state, grid, t, physics)

* ``physics`` is the model's parameter pytree (ν, …), passed at call time.
* Trainable weights belong to the closure object. Closures are `flax.nnx`
  modules, hence pytrees: a rollout takes the closure as an argument and
  ``jax.grad`` differentiates through it.
* The result is always a tendency, in the units of du/dt. A flux-form closure
  computes it as the divergence of its own face fluxes.
* ``state`` is a pytree threaded through the `lax.scan` carry (delay buffers live
  there, never on the module). In a Runge-Kutta step the state returned by the
  *first* stage (at the accepted u_n, t_n) is carried; later stages read it and
  their returned states are discarded. A closure must therefore give the right
  tendency from the state it is given plus the (u, t) of the call itself, and
  must not rely on a later stage's update surviving.
* ``stencil_width`` declares how many neighbouring cells a tendency reads.
* ``stability_rates(grid, physics)`` reports the eigenvalue rates the closure adds
  (keys as in `models.base.FluxModel.stability_rates`); the simulation adds them
  to the model's before choosing dt, which is at least as strict as taking the
  minimum of separate limits. ``max_dt`` is a hard cap besides.
* A sequence of closures sums (`ClosureSum`); `NoClosure` is the identity, and a
  model run with it is bit-identical to the bare model because the simulation
  skips it entirely.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import jax.numpy as jnp
from flax import nnx


class Closure(nnx.Module):
    """Base class: subclasses implement `__call__` and, if stateful, `init`."""

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

    def stability_rates(self, grid, physics) -> dict[str, float]:
        """Eigenvalue rates (1/time) this closure adds: advective, diffusive, dispersive."""
        return {}

    def max_dt(self, grid, physics) -> float:
        """A hard time-step cap this closure imposes (``inf`` if none)."""
        return math.inf

    @property
    def is_null(self) -> bool:
        return False


class NoClosure(Closure):
    """The null closure: zero tendency, no state."""

    def __call__(self, u, state, grid, t, physics):
        return jnp.zeros_like(u), state

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
        total = jnp.zeros_like(u)
        new_states = []
        for closure, sub_state in zip(self.closures, state):
            tendency, sub_state = closure(u, sub_state, grid, t, physics)
            total = total + tendency
            new_states.append(sub_state)
        return total, tuple(new_states)

    def stability_rates(self, grid, physics) -> dict[str, float]:
        total: dict[str, float] = {}
        for closure in self.closures:
            for key, rate in closure.stability_rates(grid, physics).items():
                total[key] = total.get(key, 0.0) + rate
        return total

    def max_dt(self, grid, physics) -> float:
        return min((c.max_dt(grid, physics) for c in self.closures), default=math.inf)

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
