"""Sweeps: a case run over any case keys, for several closures, scored against its truth.

    plan = plan_sweep(case)          # points × closures, validated; the trained mask
    ds = evaluate(case)              # run (batched, here or on Dask) → xr.Dataset
    write_sweep(ds, path); open_sweep(path); to_json(ds)

`evaluate` is what ``oceanclosure evaluate CASE_DIR`` runs. The sweep is declared in
the case's ``[evaluate]`` section (`cases.evaluate`); the metrics are
`oceanclosure.metrics`; where the work runs is `sweeps.execute`.
"""

from __future__ import annotations

from typing import Callable

import jax
import xarray as xr

from .dataset import assemble, closure_summary, open_sweep, to_json, write_sweep
from .execute import executor
from .plan import Plan, SweepError, groups, plan_sweep

__all__ = ["evaluate", "plan_sweep", "Plan", "SweepError", "open_sweep", "write_sweep", "to_json",
           "closure_summary"]


def evaluate(case, *, scheduler: str | None = None, progress: Callable[[int, int], None] | None = None,
             config=None) -> xr.Dataset:
    """Run the case's ``[evaluate]`` sweep (or ``config``) and return its dataset (`sweeps.dataset`).

    Args:
      scheduler: None (this process), ``"local:N"`` or a Dask scheduler address (`sweeps.execute`).
      progress: optional ``progress(done, total)`` after each group of runs.
    """
    plan = plan_sweep(case, config)
    member_groups = groups(plan)
    tasks = []
    for indices in member_groups:
        members = [plan.members[i] for i in indices]
        entry = plan.config.closures[members[0].closure]
        args = ([m.case for m in members], entry, plan.case, members[0].refine, plan.config.metrics,
                bool(jax.config.jax_enable_x64))
        tasks.append((args, [m.point for m in members]))
    with executor(scheduler) as ex:
        truths = ex.truths(plan.truth_cases)
        results = {}
        for indices, group in zip(member_groups, ex.groups(tasks, truths, progress)):
            results.update(zip(indices, group))
    return assemble(plan, results)
