"""Generalisation sweeps: run a case over a grid of overrides and tabulate errors.

`sweep(case, axes)` runs the case (with its closure, and with `NoClosure()` for
the baseline) at every combination of the axes' values, e.g.
``{"grid.nx": [50, 75, ...], "physics.nu": [1/50, 1/250, ...]}``, and returns an
`xarray.Dataset` of the time-mean spatial RMS error against the case's analytic
truth (docs/reference_problems.md §3's metric) for each, with dims named after the axes.
"""

from __future__ import annotations

import itertools
from typing import Callable, Mapping, Sequence

import numpy as np
import xarray as xr

from .analysis import time_mean_rms
from .closures import NoClosure
from .runner import RunBlowUpError, run


def _error(case, closure) -> float:
    try:
        ds = run(case, closure=closure)
    except RunBlowUpError:
        return float("inf")
    return time_mean_rms(ds["u"], ds["u_truth"])


def sweep(case, axes: Mapping[str, Sequence], progress: Callable | None = None) -> xr.Dataset:
    """Errors of the case's closure and of no closure at every combination of ``axes``.

    A run that blows up counts as an infinite error.
    """
    if case.truth is None or case.truth.source != "analytic":
        raise ValueError("sweep needs a case with an analytic [truth]")
    names = list(axes)
    shape = tuple(len(axes[n]) for n in names)
    closure_err, baseline_err = np.empty(shape), np.empty(shape)
    for index in itertools.product(*(range(n) for n in shape)):
        overrides = [f"{n}={axes[n][i]!r}" for n, i in zip(names, index)]
        variant = case.with_overrides(overrides)
        closure_err[index] = _error(variant, None)
        baseline_err[index] = _error(variant, NoClosure())
        if progress is not None:
            progress(overrides, closure_err[index], baseline_err[index])
    coords = {n.replace(".", "_"): list(axes[n]) for n in names}
    dims = list(coords)
    return xr.Dataset(
        {"error_closure": (dims, closure_err, {"long_name": "time-mean spatial RMS error, with the closure"}),
         "error_no_closure": (dims, baseline_err, {"long_name": "time-mean spatial RMS error, no closure"})},
        coords=coords,
    )
