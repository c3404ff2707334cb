"""A-posteriori rollouts: start from truth, integrate the closure model, compare.

For a start index i₀ into the truth snapshots, the start state is the truth at
t_{i₀}, and a delay closure's memory is filled from the truth snapshots before
it (``closure.state_from_history``). The model is then integrated over ``window`` output
intervals, each one a `simulation.advance` of ``n_sub`` solver steps wrapped in
`jax.checkpoint` (remat), so the memory of the backward pass grows with the
window, not with the number of solver steps. The loss compares the predictions
with the observations at the observed times and cells only (a dense weight mask,
zero where nothing is observed):

    L1  = Σ w |u − y| / Σ w,      MSE = Σ w (u − y)² / Σ w.

Everything here is a pure, traceable function of the closure parameters, so
`jax.value_and_grad` and `jax.vmap` (over start indices, and over ensemble
members) apply directly.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..simulation import SimState, advance


@dataclasses.dataclass(frozen=True)
class Problem:
    """One training configuration: a simulation on a grid, with its truth and observations.

    Attributes:
      sim: the closure-augmented `Simulation` (its closure fixes the structure).
      truth: ``{field: (n_times, *field)}`` truth snapshots of every field, in the run's dtype.
      times: (n_times,) truth output times.
      targets: ``{field: (n_times, *field)}`` observed values of the observed fields
        (noise included; 0 where unobserved).
      weights: ``{field: (n_times, *field)}`` observation weights (0 where unobserved).
      scales: ``{field: s}``, each field's misfit is divided by s in the loss.
      n_sub: solver steps per output interval (fixed: dt from the case's CFL limit).
      history: truth snapshots before the start that fill delay buffers.
      train_starts, validation_starts: admissible start indices.
      name: a label (the configuration's overrides).
      stride: output intervals per observed snapshot (``observations.every``): a
        window of w observed snapshots spans w × stride output intervals.
      selection_starts: start indices in ``training.selection_times``.
    """

    sim: Any
    truth: Any
    times: Any
    targets: Any
    weights: Any
    n_sub: int
    history: int
    train_starts: np.ndarray
    validation_starts: np.ndarray
    name: str
    scales: Any = dataclasses.field(default_factory=dict)
    stride: int = 1
    selection_starts: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=int))

    def intervals(self, window: int) -> int:
        """Output intervals rolled out for a window of ``window`` observed snapshots."""
        return window * self.stride


def rollout(problem: Problem, closure, start, window: int):
    """Predictions (window, *field) at the window's output times after ``start``.

    ``{field: (window, *field)}`` for the observed fields (`Problem.targets`).
    """
    sim = problem.sim
    physics = sim.model.physics
    observed = tuple(problem.targets)
    h = problem.history
    past = {name: jax.lax.dynamic_slice_in_dim(values, start - h, h + 1) for name, values in problem.truth.items()}
    past_times = jax.lax.dynamic_slice_in_dim(problem.times, start - h, h + 1)
    current = {k: v[-1] for k, v in past.items()}
    if sim.model.closure_input_names:  # the closure's memory is of what it sees (the state and, e.g., PAR)
        past = {**past, **jax.vmap(lambda f, t: sim.model.closure_inputs(f, t, physics))(past, past_times)}
    state = SimState(current, past_times[-1], closure.state_from_history(sim.grid, past_times, past, physics))
    ends = jax.lax.dynamic_slice_in_dim(problem.times, start + 1, window)

    @jax.checkpoint
    def interval(state, t_end):
        state = advance(sim.step, state, t_end, problem.n_sub, physics, closure)
        return state, {name: state.fields[name] for name in observed}

    _, predictions = jax.lax.scan(interval, state, ends)
    return predictions


def window_misfits(problem: Problem, closure, start, window: int, bag=None):
    """``{field: (misfit, weights)}`` of one rollout of ``window`` observed snapshots.

    misfit = (prediction − target) / scale at each of the window's output times;
    weights are the observation weights there (0 where unobserved), times ``bag``
    (``{field: (n_times, *field)}`` multiplicities of a bootstrap sample) if given.
    """
    intervals = problem.intervals(window)
    predictions = rollout(problem, closure, start, intervals)
    out = {}
    for name, prediction in predictions.items():
        targets = jax.lax.dynamic_slice_in_dim(problem.targets[name], start + 1, intervals)
        weights = jax.lax.dynamic_slice_in_dim(problem.weights[name], start + 1, intervals)
        if bag is not None:
            weights = weights * jax.lax.dynamic_slice_in_dim(bag[name], start + 1, intervals)
        out[name] = ((prediction - targets) / problem.scales.get(name, 1.0), weights)
    return out


def window_loss(problem: Problem, closure, start, window: int, kind: str = "l1", bag=None):
    """Weighted misfit of one rollout at the observed points of its window, over the observed fields.

    Each field's misfit is divided by its scale (`setup.loss_scales`) before the
    weighted sums, which run over every field's observed points together.
    """
    l1 = mse = total = 0.0
    for misfit, weights in window_misfits(problem, closure, start, window, bag).values():
        l1 = l1 + jnp.sum(weights * jnp.abs(misfit))
        mse = mse + jnp.sum(weights * misfit**2)
        total = total + jnp.sum(weights)
    total = jnp.maximum(total, 1e-30)
    l1, mse = l1 / total, mse / total
    return {"l1": l1, "mse": mse, "l1+mse": l1 + mse}[kind]


def batch_loss(problem: Problem, closure, starts, window: int, kind: str = "l1", bag=None):
    """Mean window loss over a batch of start indices (vmapped)."""
    losses = jax.vmap(lambda s: window_loss(problem, closure, s, window, kind, bag))(starts)
    return jnp.mean(losses)


def penalty(params, l1: float, l2: float):
    """l1 Σ|w| + l2 Σw² over every trainable array."""
    leaves = jax.tree_util.tree_leaves(params)
    total = jnp.asarray(0.0)
    if l1:
        total = total + l1 * sum(jnp.sum(jnp.abs(w)) for w in leaves)
    if l2:
        total = total + l2 * sum(jnp.sum(w**2) for w in leaves)
    return total


def split_closure(closure):
    """(graphdef, trainable params, everything else) of a closure module."""
    return nnx.split(closure, nnx.Param, ...)
