"""Where a sweep's work runs: in this process, or on a Dask distributed cluster.

The work comes in two kinds of task, both plain functions of picklable arguments:
`point_truth` (the truth at one point, at the case's output times) and `group_task`
(one group of members, batched, scored against their points' truths). In this
process they run in order; with a scheduler they are submitted to a
``dask.distributed`` cluster, each truth once, each group as one task that depends
on its truths. The same functions run either way, so the results are the same.

``scheduler``:

* ``None``: this process;
* ``"local:N"``: a `distributed.LocalCluster` of N single-threaded worker processes
  on this machine, closed at the end;
* ``"tcp://host:port"`` (or any address `distributed.Client` takes): a running
  scheduler, e.g. one started by dask-jobqueue on Slurm or PBS (README). Its workers
  need oceanclosure installed and the case directory on a shared file system.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Sequence

import numpy as np

from ..cases.evaluate import ClosureEntry
from .batch import MemberResult, run_group
from .plan import SweepError, require_trained

#: How long to wait for a scheduler before saying that it cannot be reached.
CONNECT_TIMEOUT_S = 10


def point_truth(truth_case) -> dict[str, np.ndarray]:
    """The truth of a point at its output times, ``{field: (time, ...) array}`` on the point's grid.

    An analytic truth is computed in memory; a fine or file truth is read from (or
    generated into) its file under the case (`truth.load_truth`), so a second sweep
    reuses it.
    """
    from ..truth import generate_truth, load_truth

    ds = generate_truth(truth_case) if truth_case.truth.source == "analytic" else load_truth(truth_case)
    return {name: np.asarray(ds[name].values, dtype=np.float64) for name in truth_case.physics.variable_names}


def entry_closure(entry: ClosureEntry, run_case, base_case):
    """The closure a sweep entry names, built for ``run_case`` (paths relative to ``base_case``)."""
    from ..cases import load_case
    from ..closures import NoClosure
    from ..closures.base import as_closure
    from ..closures.checkpoint import load_parameters
    from ..factory import build_closure, build_closures

    if entry.case is not None:
        other = load_case(base_case.resolve_path(entry.case))
        require_trained(other)
        return build_closures(other)
    if entry.parameters_file is not None:
        return load_parameters(build_closures(run_case, trained=False), base_case.resolve_path(entry.parameters_file))
    if entry.closure == "none":
        return NoClosure()
    if entry.closure == "tables":
        return as_closure([build_closure(c, base_case) for c in entry.tables])
    require_trained(run_case)
    return build_closures(run_case)


def group_task(cases: Sequence, entry: ClosureEntry, base_case, refine: int, metrics: Sequence[str],
               x64: bool, *truths: dict) -> list[MemberResult]:
    """One group of members: build its closure once, run it batched, score it (`batch.run_group`).

    ``x64`` is the caller's ``jax_enable_x64``: a worker process takes it over, so that
    closure parameters get the dtypes they get in the caller and the results agree.
    """
    import jax

    if bool(jax.config.jax_enable_x64) != x64:
        jax.config.update("jax_enable_x64", x64)
    return run_group(list(cases), entry_closure(entry, cases[0], base_case), list(truths), refine, metrics)


class LocalExecutor:
    """Runs tasks in this process, in order."""

    def truths(self, cases: Sequence) -> list:
        return [point_truth(c) for c in cases]

    def groups(self, tasks: Sequence[tuple], truths: list, progress: Callable | None) -> Iterator[list]:
        for i, (args, points) in enumerate(tasks):
            yield group_task(*args, *(truths[p] for p in points))
            if progress is not None:
                progress(i + 1, len(tasks))


class DaskExecutor:
    """Runs tasks on a `distributed.Client`'s cluster; the truths stay on the workers as futures."""

    def __init__(self, client):
        self.client = client

    def truths(self, cases: Sequence) -> list:
        return self.client.map(point_truth, list(cases), pure=False)

    def groups(self, tasks: Sequence[tuple], truths: list, progress: Callable | None) -> Iterator[list]:
        from distributed import as_completed

        futures = [self.client.submit(group_task, *args, *(truths[p] for p in points), pure=False)
                   for args, points in tasks]
        order = {f.key: i for i, f in enumerate(futures)}
        results: dict[int, list] = {}
        for done, future in enumerate(as_completed(futures), 1):
            results[order[future.key]] = future.result()
            if progress is not None:
                progress(done, len(tasks))
        yield from (results[i] for i in range(len(futures)))


@contextlib.contextmanager
def executor(scheduler: str | None):
    """The executor for ``scheduler`` (module docstring); a LocalCluster it starts is closed on exit."""
    if scheduler is None:
        yield LocalExecutor()
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SweepError("--scheduler needs dask.distributed: pip install 'dask[distributed]'") from None
    if scheduler.startswith("local:"):
        workers = _worker_count(scheduler)
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            yield DaskExecutor(client)
        return
    try:
        client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError, ValueError) as err:
        raise SweepError(f"cannot reach the Dask scheduler at {scheduler!r} ({err}); start one with "
                         "`dask scheduler` (and workers with `dask worker ADDRESS`), or use --scheduler local:N "
                         "for N worker processes on this machine") from None
    with client:
        yield DaskExecutor(client)


def _worker_count(scheduler: str) -> int:
    text = scheduler.partition(":")[2]
    if not text.isdigit() or int(text) < 1:
        raise SweepError(f"--scheduler {scheduler!r}: give local:N with N >= 1 worker processes, e.g. local:2")
    return int(text)
