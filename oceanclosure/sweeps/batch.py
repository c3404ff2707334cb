"""Run a group of sweep members batched (vmap) and score them against their truths.

The members of a group share the grid, model, closure, stepper and output times
(`plan.group_key`); they differ in their initial fields and in the model's runtime
parameters. Each keeps its own time step: member m takes n_m steps of
dt_m = Δt_out / n_m per output interval (the CFL limit of its own state and
parameters, as a separate run would), and the batched scan runs max_m n_m steps
with member m's state frozen after its n_m-th (`masked_advance`). So a sweep gives
what the separate runs give, to rounding.

A member whose state stops being finite, or whose time step cannot be chosen, is
recorded as failed with its reason; the others finish.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..analysis import block_average
from ..metrics import ErrorAccumulator
from ..simulation import SimState, rate_times
from ..timestepping import StabilityError, steps_between_outputs

tree_map = jax.tree_util.tree_map


@dataclasses.dataclass
class MemberResult:
    """A member's metrics ``{field: {metric: value}}`` (NaN when it failed), and why it failed."""

    metrics: dict[str, dict[str, float]]
    failed: bool = False
    reason: str = ""
    dt: float = math.inf
    steps: int = 0


def masked_advance(step, state: SimState, t_end, n, n_max: int, physics, closure) -> SimState:
    """``n`` steps of dt = (t_end − t)/n, inside a scan of ``n_max`` ≥ n steps that leaves the state
    unchanged after the n-th: under vmap, members with different n advance together."""
    t0 = state.t
    dt = (t_end - t0) / n

    def body(carry, i):
        new = step(carry, dt, physics, closure)
        new = new._replace(t=t0 + (i + 1) * dt)
        return tree_map(lambda a, b: jnp.where(i < n, a, b), new, carry), None

    final, _ = jax.lax.scan(body, state, jnp.arange(n_max))
    return final._replace(t=jnp.asarray(t_end, dtype=jnp.asarray(t0).dtype))


def run_group(cases: Sequence, closure, truths: Sequence[Mapping[str, np.ndarray]], refine: int,
              metrics: Sequence[str]) -> list[MemberResult]:
    """Run ``cases`` (one group) with ``closure`` and score each against its ``truths[m]``.

    ``truths[m]`` maps each field to its truth at the case's output times on the grid
    ``refine`` times coarser than the run's (the run is cell-averaged onto it).
    """
    from ..resolve import resolve

    setups = [resolve(c, closure) for c in cases]
    sim, times = setups[0].simulation, setups[0].times
    results = [MemberResult({}) for _ in cases]
    states, physics, max_dt = [], [], []
    for m, setup in enumerate(setups):
        fields = {k: jnp.asarray(v) for k, v in setup.fields0.items()}
        states.append(sim.initial_state(fields, float(times[0]), setup.model.physics))
        physics.append(setup.model.physics)
        try:
            max_dt.append(setup.simulation.choose_dt(setup.fields0, setup.model.physics, rate_times(times)))
        except StabilityError as err:
            results[m] = _failed(truths[m], metrics, f"no stable time step: {err}")
            max_dt.append(math.nan)
    scores = [{name: ErrorAccumulator() for name in truths[m]} for m in range(len(cases))]
    active = [not r.failed for r in results]
    _score(scores, active, states, truths, 0, refine)
    batch = _stack(states)
    batch_physics = _stack([{k: jnp.asarray(v, dtype=setups[0].dtype) for k, v in p.items()} for p in physics])
    advance = _batched_advance(sim)
    for k in range(1, len(times)):
        if not any(active):
            break
        steps = [steps_between_outputs(times[k] - times[k - 1], d)[0] if a else 1 for d, a in zip(max_dt, active)]
        batch = advance(batch, float(times[k]), jnp.asarray(steps), batch_physics, sim.closure, n_max=max(steps))
        members = _unstack(batch, len(cases))
        for m, state in enumerate(members):
            if not active[m]:
                continue
            results[m].steps += steps[m]
            results[m].dt = min(results[m].dt, (times[k] - times[k - 1]) / steps[m])
            bad = [n for n, v in state.fields.items() if not np.all(np.isfinite(np.asarray(v)))]
            if bad:
                active[m] = False
                results[m] = _failed(truths[m], metrics, f"the solution ({', '.join(bad)}) stopped being finite "
                                     f"between t = {times[k - 1]:g} and t = {times[k]:g}")
        _score(scores, active, members, truths, k, refine)
    for m, result in enumerate(results):
        if not result.failed:
            result.metrics = {name: acc.values(metrics) for name, acc in scores[m].items()}
    return results


def _batched_advance(sim):
    """``advance(batch, t_end, n, physics, closure, n_max=...)``: `masked_advance` vmapped over the members."""
    def batched(states, t_end, n, physics, closure, n_max):
        def one(state, n_m, physics_m):
            return masked_advance(sim.step, state, t_end, n_m, n_max, physics_m, closure)

        return jax.vmap(one)(states, n, physics)

    return jax.jit(batched, static_argnames="n_max")


def _score(scores, active, states, truths, k: int, refine: int) -> None:
    for m, state in enumerate(states):
        if active[m]:
            for name, acc in scores[m].items():
                acc.add(block_average(np.asarray(state.fields[name]), refine), truths[m][name][k])


def _failed(truth: Mapping, metrics: Sequence[str], reason: str) -> MemberResult:
    return MemberResult({name: {m: math.nan for m in metrics} for name in truth}, failed=True, reason=reason)


def _stack(trees: list):
    return tree_map(lambda *leaves: jnp.stack(leaves), *trees)


def _unstack(tree, count: int) -> list:
    host = tree_map(np.asarray, tree)
    return [tree_map(lambda leaf, m=m: leaf[m], host) for m in range(count)]
