"""Non-Markovian closures: a discrete delay and a distributed (integral) delay.

    discrete:     ∂u/∂t += D(u(t − τ))
    distributed:  ∂u/∂t += y(t) = ∫_{t−τ₁}^{t−τ₂} D(u(s)) ds        (docs/reference_problems.md §1)

D is any *Markovian* closure (a `LibraryClosure`, a pointwise network, ...),
called as ``D(u, (), grid, t, physics)[0]``; its weights stay trainable because
it is an attribute of the delay closure (a pytree). The past lives in the closure
state, a `DelayState` in the `lax.scan` carry, never on the module.

D once per step, D values in the buffer
---------------------------------------
Both closures buffer D(u), not u, and follow the two-phase contract of
`closures.base`:

* ``observe(uₙ, state, grid, tₙ, physics)`` is called once per time step, with
  the accepted state. It evaluates D(uₙ), the only evaluation of D in the step,
  and writes (tₙ, D(uₙ)) into the ring buffer.
* ``tendency(u, state, grid, t, physics)`` is called at every Runge-Kutta stage
  (t = tₙ + c·dt). It only *reads* the buffer: no evaluation of D, and the stage
  value u is not used.
* ``closure(u, state, grid, t, physics)`` (standalone use) is observe, then
  tendency on the observed state: ``(tendency, state)``.

The discrete delay thus reads D(u(t − τ)) as the interpolant of D values along
the trajectory, exact at the buffer times, rather than D applied to an
interpolated u. Both approximate D(u(t − τ)) to second order, and they coincide
when D is linear.

τ = 0 (a discrete delay of 0) is special-cased: its tendency is D(u) at the
call's own (u, t), exactly the Markovian closure at every stage, and it has no
buffer (its state is ``()``, `observe` does nothing).

The delay buffer
----------------
A ring buffer of L = ⌈span / buffer_dt⌉ + 3 time levels (span = τ, or τ₁):
``values`` (L, *field) of D(u) with their ``times`` (L,), ``head`` (slot of the
newest entry) and ``committed_time`` (time of the newest *frozen* entry).

``observe`` writes (t, D(u)) and returns the updated state:

1. the head is *frozen* when ``times[head] == committed_time``; a frozen head
   is kept and (t, D(u)) goes into the next slot (overwriting the oldest),
   unless ``t == times[head]``, which only rewrites the same time level;
2. a head that is not frozen is *live*: it is overwritten by (t, D(u));
3. if ``t − committed_time ≥ buffer_dt`` the entry just written is frozen
   (``committed_time = t``).

So frozen entries are spaced by at least buffer_dt (which is what sizes L) and
by less than buffer_dt + dt, the live entry is less than buffer_dt after the
newest frozen one, and after the step's observe the newest entry is
(tₙ, D(uₙ)). Observing twice at the same (t, u) gives the same state
(idempotent). Requires t ≥ times[head] (time goes forward).

Reading the past (both closures use the same interpolant of D)
--------------------------------------------------------------
The nodes are the L buffer entries in time order (oldest first, skipping the
head → oldest wrap of the ring). Between consecutive nodes D is the straight
line through them (piecewise-linear interpolation). Before the oldest node it
is held constant (clamped; with L sized as above this never happens in a run,
only for a buffer filled from too short a history). After the newest node, i.e.
for the stage times tₙ < s ≤ tₙ + c·dt of the current step, it is held at the
newest value D(uₙ). The discrete delay evaluates this interpolant at s = t − τ;
the distributed delay integrates it exactly over [t − τ₁, t − τ₂]: the trapezoid
rule on every piece, partial pieces at both ends, and the held piece. The
discrete read mixes the two levels around t − τ; the integral is one weight
vector over the L levels contracted with the buffer. No loops over time, static
shapes, no while loops, so ``jax.grad`` flows through both.

Accuracy and choosing buffer_dt
-------------------------------
Node spacing is below buffer_dt + dt, so the interpolation error is
≤ (buffer_dt + dt)² max|D̈|/8 and the integral's ≤ (τ₁ − τ₂)(buffer_dt + dt)²
max|D̈|/12, where D̈ is the second time derivative of D(u(t)) along the run.
The held piece after tₙ has length ≤ c·dt ≤ dt (explicit tableaux have
0 ≤ c ≤ 1):

* distributed delay: holding D(uₙ) there changes the integral by at most
  ½ dt² max|Ḋ|, so the closure stays second order in max(buffer_dt, dt);
* discrete delay with τ ≥ dt (the normal use): t − τ ≤ tₙ at every stage, the
  held piece is never read, and it is second order in max(buffer_dt, dt);
* discrete delay with 0 < τ < dt: a stage with c·dt > τ reads D(uₙ) instead of
  D(u(t − τ)), an O(dt) error in that stage's closure term, so the run is only
  first order in dt (a tiny τ is *not* the Markovian closure; τ = 0 is, exactly).

The time stepper's own order is not reached once buffer_dt dominates. Memory is
L × cells per variable, i.e. O(τ / buffer_dt × cells); each step costs one
evaluation of D and, per stage, a read of two levels (discrete) or one
contraction over the L levels (distributed). The default
buffer_dt = span / 32 (L = 35) keeps the relative interpolation error near 1e-4
for a history varying on the scale of τ; halving it quarters the error. A zero
span defaults to buffer_dt = 1 (L = 3; only the newest entry is ever read).

History before the start
------------------------
``history="constant"``: u(t) = u₀ for t < t₀, so D(u₀) at every level. A callable
``history(t) -> field`` (e.g. truth data) is sampled at the buffer times
t₀ − k·buffer_dt, k ≥ 1 (u₀ itself at t₀), and D is applied to each sample.
`init_from_samples` fills the buffer from snapshots of u at given past times
(the trainer's history from truth). Applying D may need the physical
parameters (a term in ν): the simulation and the trainer pass ``physics=`` to
`init` / `init_from_samples`; called directly without it, a D that needs a
parameter is a clear error.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp

from ..errors import InputError, InputTypeError
from .base import Closure, flux_divergence, like_state

tree_map = jax.tree_util.tree_map

#: Default number of buffer intervals per delay span.
DEFAULT_INTERVALS = 32
#: Buffer levels beyond ⌈span / buffer_dt⌉ (the newest entry, the live one, margin).
EXTRA_LEVELS = 3


class DelayState(NamedTuple):
    """The delay buffer of D values (module docstring).

    Attributes:
      values: the buffered D(u), leaves of shape (L, *field).
      times: (L,) the time of each slot.
      head: int32 slot of the newest entry.
      committed_time: time of the newest frozen entry.
    """

    values: Any
    times: Any
    head: Any
    committed_time: Any


class _DelayClosure(Closure):
    """Shared buffer logic; subclasses say how the buffered D values are read."""

    def __init__(self, inner: Closure, span: float, buffer_dt, history):
        name = type(self).__name__
        if not isinstance(inner, Closure):
            raise InputTypeError(f"{name}: inner must be a Markovian Closure, got {type(inner).__name__}")
        self.inner = inner
        self.span = float(span)
        self.buffer_dt = _check_buffer_dt(buffer_dt, self.span, name)
        self.history = _check_history(history, name)
        self.length = math.ceil(self.span / self.buffer_dt) + EXTRA_LEVELS
        self.stencil_width = inner.stencil_width

    # --- what subclasses define ---------------------------------------------

    #: The tendency is D(u) at the call's own (u, t), with no buffer (τ = 0).
    instantaneous: bool = False

    def _read(self, nodes, state, t):
        """The tendency at time t from the buffer (``nodes``: its times, oldest first)."""
        raise NotImplementedError

    # --- the contract --------------------------------------------------------

    def observe(self, u, state, grid, t, physics):
        """Evaluate D(u) once and write (t, D(u)) into the buffer (module docstring)."""
        if self.instantaneous:
            return state
        t = jnp.asarray(t, state.times.dtype)
        return _observe(state, t, self._inner(u, grid, t, physics), self.buffer_dt)

    def _buffered(self, u, state, grid, t, physics):
        """D at time t: read from the buffer, or D(u) itself when τ = 0."""
        if self.instantaneous:
            return self._inner(u, grid, t, physics)
        t = jnp.asarray(t, state.times.dtype)
        return self._read(_chronological(state.times, state.head), state, t)

    @property
    def has_fluxes(self) -> bool:
        """A delayed flux closure buffers its face fluxes, and is a flux closure itself."""
        return self.inner.has_fluxes

    def fluxes(self, u, state, grid, t, physics):
        return self._buffered(u, state, grid, t, physics) if self.has_fluxes else None

    def tendency(self, u, state, grid, t, physics):
        """Read the buffered D values at time t (``u`` is not used unless τ = 0)."""
        if self.has_fluxes:
            return like_state(u, {}, getattr(self.inner, "variables", ("u",)))
        return self._buffered(u, state, grid, t, physics)

    def __call__(self, u, state, grid, t, physics):
        state = self.observe(u, state, grid, t, physics)
        if self.has_fluxes:
            fluxes = self.fluxes(u, state, grid, t, physics)
            out = {name: flux_divergence(f, grid) for name, f in fluxes.items()}
            return like_state(u, out, getattr(self.inner, "variables", ("u",))), state
        return self.tendency(u, state, grid, t, physics), state

    def init(self, grid, u0, t0: float = 0.0, physics=None):
        """A buffer of D at t0 − k·buffer_dt, k = L−1 … 0 (D(u0) at t0); ``()`` for τ = 0.

        Args:
          u0: the state at the start time t0.
          physics: the model's parameters, to apply D to the history (needed
            when D uses one).
        """
        self._check_markovian(grid, u0, t0)
        if self.instantaneous:
            return ()
        dtype = _time_dtype(u0)
        times = jnp.asarray(t0, dtype) - self.buffer_dt * jnp.arange(self.length - 1, -1, -1, dtype=dtype)
        if self.history == "constant":
            level = self._record_levels(tree_map(lambda v: v[None], u0), grid, times[-1:], physics)
            values = tree_map(lambda v: jnp.broadcast_to(v, (self.length, *jnp.shape(v)[1:])), level)
            return _fresh_state(values, times, u0)
        past = [self._history_at(s, u0) for s in times[:-1]]
        samples = tree_map(lambda *leaves: jnp.stack(leaves), *past, u0)
        return _fresh_state(self._record_levels(samples, grid, times, physics), times, u0)

    @property
    def memory_span(self) -> float:
        return self.span

    def state_from_history(self, grid, times, values, physics=None):
        return self.init_from_samples(grid, times, values, physics)

    def describe(self) -> str:
        return f"{type(self).__name__}({self.inner.describe()})"

    @property
    def conserves(self) -> dict[str, float] | None:
        return self.inner.conserves  # the buffered D values are combined linearly

    def coefficient_table(self) -> dict[str, dict[str, float]]:
        return self.inner.coefficient_table()

    def equations(self) -> dict[str, list[dict]]:
        return self.inner.equations()

    def init_from_samples(self, grid, times, values, physics=None):
        """A buffer from snapshots of u at past times (ascending; the last is the start).

        The snapshots are interpolated linearly to the buffer times
        t_last − k·buffer_dt (held constant before the first one) and D is
        applied to each level; the run then starts from ``values[-1]`` at
        ``times[-1]``. Traceable (vmap over windows). ``()`` for τ = 0.

        Args:
          times: (K,) ascending sample times.
          values: u at those times, leaves of shape (K, *field).
          physics: the model's parameters, to apply D.
        """
        times = jnp.asarray(times)
        _check_samples(times, values, type(self).__name__)
        last = tree_map(lambda v: v[-1], values)
        self._check_markovian(grid, last, times[-1])
        if self.instantaneous:
            return ()
        dtype = _time_dtype(last)
        nodes = times[-1].astype(dtype) - self.buffer_dt * jnp.arange(self.length - 1, -1, -1, dtype=dtype)
        resampled = _resample(times.astype(dtype), values, nodes)
        resampled = tree_map(lambda r, v: r.at[-1].set(v[-1]), resampled, values)
        return _fresh_state(self._record_levels(resampled, grid, nodes, physics), nodes, last)

    def max_dt(self, grid, physics) -> float:
        return self.inner.max_dt(grid, physics)

    # --- helpers --------------------------------------------------------------

    def _inner(self, u, grid, t, physics):
        """D(u): the inner closure's face fluxes if it is a flux closure, else its tendency."""
        if self.inner.has_fluxes:
            return self.inner.fluxes(u, (), grid, t, physics)
        return self.inner(u, (), grid, t, physics)[0]

    def _record_levels(self, samples, grid, times, physics):
        """D(u) level by level."""
        physics = {} if physics is None else physics
        apply = jax.vmap(lambda u, s: self._inner(u, grid, s, physics))
        try:
            return apply(samples, times)
        except KeyError as err:
            raise InputError(
                f"{type(self).__name__}: applying the inner closure to the history failed ({err}); "
                "pass the model's physics= to init / init_from_samples"
            ) from None

    def _history_at(self, s, u0):
        sample = self.history(s)
        if isinstance(u0, Mapping) and len(u0) == 1 and not isinstance(sample, Mapping):
            sample = {next(iter(u0)): sample}  # a single-field model's history may return that field
        shapes = (jax.tree_util.tree_map(jnp.shape, sample), jax.tree_util.tree_map(jnp.shape, u0))
        if shapes[0] != shapes[1]:
            raise InputError(
                f"{type(self).__name__}: history(t) must return a field shaped like u0 {shapes[1]}, got {shapes[0]}"
            )
        return tree_map(lambda h, u: jnp.asarray(h, jnp.result_type(u)), sample, u0)

    def _check_markovian(self, grid, u0, t0):
        inner_state = self.inner.init(grid, u0, t0)
        if not (isinstance(inner_state, tuple) and not inner_state):
            raise InputError(
                f"{type(self).__name__}: inner must be a Markovian closure (state ()), "
                f"got {type(self.inner).__name__} with a state"
            )


class DiscreteDelayClosure(_DelayClosure):
    """∂u/∂t += D(u(t − τ)), D a Markovian closure, read from the buffered D values.

    Args:
      inner: the Markovian closure D.
      delay: τ ≥ 0, in model time units (τ = 0 is exactly D(u), with no buffer).
      buffer_dt: spacing of the buffered levels (default τ/32; module docstring).
      history: ``"constant"`` (u = u0 before t0) or a callable ``history(t) -> u``.
    """

    def __init__(self, inner: Closure, delay: float, *, buffer_dt: float | None = None,
                 history: str | Callable = "constant"):
        self.delay = _check_time(delay, "delay", type(self).__name__)
        super().__init__(inner, self.delay, buffer_dt, history)
        self.instantaneous = self.delay == 0.0

    def _read(self, nodes, state, t):
        return _interpolate(nodes, state, t - self.delay)  # two levels, not all L

    def rates(self, grid, physics, fields=None) -> dict[str, float]:
        """D's own rates: exact for τ = 0, an upper bound for a delayed term.

        With τ > 0 the stages read only the buffer (a forcing from the past),
        so the term does not restrict an explicit dt within a step.
        """
        return dict(self.inner.rates(grid, physics, fields))

    @property
    def is_null(self) -> bool:
        return self.inner.is_null


class DistributedDelayClosure(_DelayClosure):
    """∂u/∂t += ∫_{t−τ₁}^{t−τ₂} D(u(s)) ds, D a Markovian closure, D(u) buffered.

    Args:
      inner: the Markovian closure D (its output has units of u / time²).
      tau1: τ₁ ≥ τ₂, the far end of the window (model time units).
      tau2: τ₂ ≥ 0, the near end (0: the window ends at the present).
      buffer_dt: spacing of the buffered levels (default τ₁/32; module docstring).
      history: ``"constant"`` (D(u0) before t0) or a callable ``history(t) -> u``.
    """

    def __init__(self, inner: Closure, tau1: float, tau2: float = 0.0, *, buffer_dt: float | None = None,
                 history: str | Callable = "constant"):
        name = type(self).__name__
        self.tau1 = _check_time(tau1, "tau1", name)
        self.tau2 = _check_time(tau2, "tau2", name)
        if self.tau1 < self.tau2:
            raise InputError(
                f"{name}: tau1 must be >= tau2 (window [t - tau1, t - tau2]), got tau1 = {tau1}, tau2 = {tau2}"
            )
        super().__init__(inner, self.tau1, buffer_dt, history)

    def _read(self, nodes, state, t):
        return _combine(_integral_weights(nodes, t - self.tau1, t - self.tau2), state)

    def rates(self, grid, physics, fields=None) -> dict[str, float]:
        """D's rates × (τ₁ − τ₂): y ≈ (τ₁ − τ₂) D(u) for a slowly varying D.

        An upper bound: the stages read only the buffered past (D is evaluated
        once per step, at the accepted state), so within a step the term is a
        forcing and does not restrict an explicit dt.
        """
        window = self.tau1 - self.tau2
        return {k: rate * window for k, rate in self.inner.rates(grid, physics, fields).items()}

    @property
    def is_null(self) -> bool:
        return self.inner.is_null or self.tau1 == self.tau2


# --- the buffer as pure functions ----------------------------------------------


def _fresh_state(values, times, like) -> DelayState:
    dtype = jnp.result_type(jax.tree_util.tree_leaves(like)[0])
    values = tree_map(lambda v: jnp.asarray(v, dtype), values)  # D values (or fluxes) in the state's dtype
    head = jnp.asarray(times.shape[0] - 1, jnp.int32)
    return DelayState(values, times, head, times[-1])


def _observe(state: DelayState, t, current, buffer_dt: float) -> DelayState:
    """Write (t, current) into the ring: next slot after a frozen head, else the head."""
    length = state.times.shape[0]
    newest = state.times[state.head]
    advance = (newest == state.committed_time) & (t > newest)
    slot = jnp.where(advance, (state.head + 1) % length, state.head).astype(state.head.dtype)
    values = tree_map(lambda v, c: v.at[slot].set(c.astype(v.dtype)), state.values, current)
    committed = jnp.where(t - state.committed_time >= buffer_dt, t, state.committed_time)
    return DelayState(values, state.times.at[slot].set(t), slot, committed)


def _chronological(times, head):
    """The slot times oldest first: slot (head + 1 + r) mod L has rank r."""
    length = times.shape[0]
    return times[(head + 1 + jnp.arange(length)) % length]


def _combine(weights, state: DelayState):
    """Σ_r weights[r] · level_r over the L buffer levels (weights in time order)."""
    length = state.times.shape[0]
    by_slot = weights[(jnp.arange(length) - state.head - 1) % length]
    return tree_map(lambda v: jnp.tensordot(by_slot.astype(v.dtype), v, axes=1), state.values)


def _point_location(nodes, s):
    """(k, f): s lies at fraction f of the piece [nodes[k], nodes[k+1]] (held constant outside)."""
    s = jnp.clip(s, nodes[0], nodes[-1])
    k = jnp.sum(nodes[1:-1] <= s)
    lower, width = nodes[k], nodes[k + 1] - nodes[k]
    fraction = jnp.where(width > 0, (s - lower) / jnp.where(width > 0, width, 1.0), 1.0)
    return k, fraction


def _interpolate(nodes, state: DelayState, s):
    """The buffered values interpolated at s: reads the two levels around s only."""
    length = state.times.shape[0]
    k, fraction = _point_location(nodes, s)
    lower, upper = (state.head + 1 + k) % length, (state.head + 2 + k) % length

    def mix(v):
        f = fraction.astype(v.dtype)
        return (1 - f) * v[lower] + f * v[upper]

    return tree_map(mix, state.values)


def _integral_weights(nodes, a, b):
    """Weights of ∫_a^b of the piecewise-linear interpolant (a ≤ b).

    Each piece contributes its overlap length × the interpolant at the overlap's
    midpoint (exact for a line); before the oldest node and after the newest the
    value is held.
    """
    lower, upper = nodes[:-1], nodes[1:]
    width = upper - lower
    start, end = jnp.clip(a, lower, upper), jnp.clip(b, lower, upper)
    overlap = end - start
    fraction = jnp.where(width > 0, (0.5 * (start + end) - lower) / jnp.where(width > 0, width, 1.0), 0.5)
    weights = jnp.zeros(nodes.shape, dtype=nodes.dtype)
    weights = weights.at[:-1].add(overlap * (1.0 - fraction)).at[1:].add(overlap * fraction)
    weights = weights.at[0].add(jnp.maximum(jnp.minimum(b, nodes[0]) - a, 0.0))
    return weights.at[-1].add(jnp.maximum(b - jnp.maximum(a, nodes[-1]), 0.0))


def _resample(times, values, nodes):
    """Linear interpolation of samples (K, *field) at ``nodes``, constant outside."""
    if times.shape[0] == 1:
        return tree_map(lambda v: jnp.broadcast_to(v, (nodes.shape[0], *v.shape[1:])), values)
    basis = jnp.eye(times.shape[0], dtype=times.dtype)
    matrix = jax.vmap(lambda e: jnp.interp(nodes, times, e))(basis)  # (K, L)
    return tree_map(lambda v: jnp.tensordot(matrix.T.astype(v.dtype), v, axes=1), values)


# --- validation ----------------------------------------------------------------


def _check_time(value, what: str, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name}: {what} must be a number >= 0, got {value!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise InputError(f"{name}: {what} must be a finite number >= 0, got {value}")
    return value


def _check_buffer_dt(buffer_dt, span: float, name: str) -> float:
    if buffer_dt is None:
        return span / DEFAULT_INTERVALS if span > 0 else 1.0
    try:
        value = float(buffer_dt)
    except (TypeError, ValueError):
        raise InputError(f"{name}: buffer_dt must be a number > 0, got {buffer_dt!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"{name}: buffer_dt must be a finite number > 0, got {buffer_dt}")
    return value


def _check_history(history, name: str):
    if history == "constant" or callable(history):
        return history
    raise InputError(f"{name}: history must be 'constant' or a callable history(t) -> field, got {history!r}")


def _check_samples(times, values, name: str) -> None:
    if times.ndim != 1 or times.shape[0] < 1:
        raise InputError(f"{name}: times must be a non-empty 1-D array, got shape {times.shape}")
    for leaf in jax.tree_util.tree_leaves(values):
        if jnp.shape(leaf)[:1] != times.shape:
            raise InputError(f"{name}: values need a leading axis of {times.shape[0]} samples, got {jnp.shape(leaf)}")
    if not isinstance(times, jax.core.Tracer) and bool(jnp.any(jnp.diff(times) <= 0)):
        raise InputError(f"{name}: times must be strictly ascending, got {times}")


def _time_dtype(u):
    leaf = jax.tree_util.tree_leaves(u)[0]
    dtype = jnp.result_type(leaf)
    return dtype if jnp.issubdtype(dtype, jnp.floating) else jnp.result_type(float)
