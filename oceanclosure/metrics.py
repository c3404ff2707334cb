"""Error metrics of a run against its truth, accumulated one output time at a time.

With e_k = u(t_k) − u_truth(t_k) over the N cells of the grid, k = 0 … K at the run's
output times (the initial time included):

* ``time_mean_rms``: (1/(K+1)) Σ_k sqrt((1/N) Σ_i e_{k,i}²), the gnCM papers' metric;
* ``final_rms``: sqrt((1/N) Σ_i e_{K,i}²);
* ``max_rms``: max_k sqrt((1/N) Σ_i e_{k,i}²);
* ``max_abs``: max_{k,i} |e_{k,i}|.

`ErrorAccumulator` takes the snapshots as they come, so a sweep never holds a run
in memory; `align` puts an xarray run and its truth on common times and cells,
and `run_metrics` applies the metrics to them.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np
import xarray as xr

from .errors import InputError

#: name → function of the per-time RMS errors (array over k) and the largest |error| → value.
METRICS: dict[str, Callable[[np.ndarray, float], float]] = {
    "time_mean_rms": lambda rms, max_abs: float(np.mean(rms)),
    "final_rms": lambda rms, max_abs: float(rms[-1]),
    "max_rms": lambda rms, max_abs: float(np.max(rms)),
    "max_abs": lambda rms, max_abs: float(max_abs),
}

LONG_NAMES = {
    "time_mean_rms": "time mean of the spatial RMS error",
    "final_rms": "spatial RMS error at the last output time",
    "max_rms": "largest spatial RMS error over the output times",
    "max_abs": "largest absolute error over cells and output times",
}


class ErrorAccumulator:
    """Per-time RMS errors and the largest |error| of one field, one snapshot at a time."""

    def __init__(self):
        self.rms: list[float] = []
        self.max_abs = 0.0

    def add(self, value: np.ndarray, truth: np.ndarray) -> None:
        error = np.asarray(value, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
        if error.size == 0:
            raise InputError("metrics: an empty field has no error")
        self.rms.append(math.sqrt(float(np.mean(error**2))))
        self.max_abs = max(self.max_abs, float(np.max(np.abs(error))))

    def values(self, names: Sequence[str]) -> dict[str, float]:
        """The metrics ``names`` (NaN for all if no snapshot was added)."""
        if not self.rms:
            return {name: math.nan for name in names}
        rms = np.asarray(self.rms)
        return {name: METRICS[name](rms, self.max_abs) for name in names}


def align(run: xr.DataArray, truth: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    """``run`` and ``truth`` on their common output times, checked to share their cells.

    Raises ValueError when they have no time in common or sit on other cells.
    """
    common = np.intersect1d(run["time"].values, truth["time"].values)
    if common.size == 0:
        raise InputError("metrics: the run and the truth have no output time in common")
    run, truth = run.sel(time=common), truth.sel(time=common)
    for dim in run.dims:
        if dim == "time":
            continue
        if dim not in truth.dims or truth.sizes[dim] != run.sizes[dim]:
            raise InputError(f"metrics: the run has {run.sizes[dim]} cells along {dim}, the truth "
                             f"{truth.sizes.get(dim, 0)}; cell-average one onto the other's grid "
                             "(analysis.coarse_grain)")
        if dim in run.coords and dim in truth.coords and not np.allclose(run[dim].values, truth[dim].values,
                                                                         rtol=0, atol=1e-9 * _span(run[dim])):
            raise InputError(f"metrics: the run and the truth have other cell centres along {dim}")
    return run, truth.transpose(*run.dims)


def run_metrics(run: xr.DataArray, truth: xr.DataArray,
                names: Sequence[str] = tuple(METRICS)) -> dict[str, float]:
    """The metrics ``names`` of ``run`` against ``truth`` (aligned with `align`)."""
    run, truth = align(run, truth)
    acc = ErrorAccumulator()
    for k in range(run.sizes["time"]):
        acc.add(run.isel(time=k).values, truth.isel(time=k).values)
    return acc.values(names)


def dataset_metrics(ds: xr.Dataset, names: Sequence[str] = tuple(METRICS),
                    suffix: str = "_truth") -> Mapping[str, dict[str, float]]:
    """Per field of a run file that has ``<field>_truth``: its metrics against that truth."""
    return {str(name)[: -len(suffix)]: run_metrics(ds[str(name)[: -len(suffix)]], ds[name], names)
            for name in ds.data_vars if str(name).endswith(suffix) and str(name)[: -len(suffix)] in ds}


def _span(coordinate: xr.DataArray) -> float:
    values = np.asarray(coordinate.values, dtype=np.float64)
    return float(max(1.0, np.ptp(values))) if values.size else 1.0
