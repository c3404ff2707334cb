"""A sweep's results as an xarray Dataset, its netCDF file, and its JSON summary.

The dataset has dims ``(closure, <axis dims>...)`` (an axis key with "." replaced by
"_"), one variable per metric and field (``time_mean_rms`` for a single-field case,
``<field>_time_mean_rms`` otherwise), ``failed`` and ``reason`` per member, ``dt``
and ``steps`` of each run, and ``trained`` over the points: true where a point
matches one of the case's training configurations (every axis key agrees to a
relative tolerance of 1e-6). Failed members hold NaN. Global attributes: the case,
its TOML, the sweep's ``[evaluate]`` table and provenance.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import xarray as xr

from ..errors import InputError
from ..metrics import LONG_NAMES
from .plan import Plan

FORMAT = "oceanclosure-sweep/1"
#: The metric the JSON summary and the table are about.
SUMMARY_METRIC = "time_mean_rms"


def metric_name(field: str, metric: str, fields: Sequence[str]) -> str:
    """The dataset variable of ``metric`` of ``field``: the metric alone for a single-field case."""
    return metric if len(fields) == 1 else f"{field}_{metric}"


def assemble(plan: Plan, results: dict[int, object]) -> xr.Dataset:
    """The dataset of ``plan`` from ``{member index: MemberResult}``."""
    names = list(plan.config.closures)
    fields = list(plan.case.physics.variable_names)
    shape = (len(names),) + plan.shape
    dims = ["closure"] + plan.dims
    values = {(f, m): np.full(shape, np.nan) for f in fields for m in plan.config.metrics}
    failed = np.zeros(shape, dtype=bool)
    reason = np.full(shape, "", dtype=object)
    dt, steps = np.full(shape, np.nan), np.zeros(shape, dtype=np.int64)
    for i, member in enumerate(plan.members):
        at = (names.index(member.closure),) + plan.points[member.point].index
        result = results[i]
        for (f, m), array in values.items():
            array[at] = result.metrics[f][m]
        failed[at], reason[at] = result.failed, result.reason
        dt[at] = result.dt if math.isfinite(result.dt) else np.nan
        steps[at] = result.steps
    data = {metric_name(f, m, fields): (dims, array, {"long_name": f"{f}: {LONG_NAMES[m]}", "metric": m,
                                                     "field": f})
            for (f, m), array in values.items()}
    data["failed"] = (dims, failed.astype(np.int8), {"long_name": "1 where the run failed (its metrics are NaN)",
                                                    "flag_values": "0 1", "flag_meanings": "ran failed"})
    data["reason"] = (dims, reason.astype(str), {"long_name": "why the run failed ('' if it did not)"})
    data["dt"] = (dims, dt, {"long_name": "smallest time step of the run"})
    data["steps"] = (dims, steps, {"long_name": "time steps of the run"})
    data["trained"] = (plan.dims, plan.trained.astype(np.int8),
                       {"long_name": "1 where the point matches a training configuration",
                        "flag_values": "0 1", "flag_meanings": "held_out trained"})
    coords = {"closure": names, **plan.coords}
    return xr.Dataset(data, coords=coords, attrs=_attrs(plan))


def _attrs(plan: Plan) -> dict:
    from ..io import provenance

    return {
        "title": f"oceanclosure evaluate sweep of case '{plan.case.name}'",
        "sweep_format": FORMAT,
        "case": str(plan.case.directory),
        "case_toml": plan.case.to_toml(),
        "evaluate": json.dumps(plan.config.model_dump(mode="json", exclude_none=True), sort_keys=True),
        "axes": json.dumps(plan.keys),
        "training_configurations": json.dumps([list(c) for c in plan.case.training.configurations]
                                              if plan.case.training is not None else []),
        **provenance(),
    }


def write_sweep(ds: xr.Dataset, path, overwrite: bool = False) -> Path:
    """Write the sweep dataset atomically (`io.write_netcdf`)."""
    from ..io import write_netcdf

    return write_netcdf(ds, Path(path), overwrite=overwrite)


def open_sweep(path) -> xr.Dataset:
    """A sweep file written by `write_sweep`, loaded (checked to be one)."""
    from ..fieldfile import open_netcdf

    path = Path(path)
    ds = open_netcdf(path, "sweep file")
    if ds.attrs.get("sweep_format") != FORMAT:
        raise InputError(f"{path} is not an oceanclosure sweep file (no sweep_format = {FORMAT!r}); "
                         "write one with `oceanclosure evaluate CASE_DIR --out FILE`")
    return ds


def summary_variable(ds: xr.Dataset) -> str:
    """The variable the summary is about: the time-mean RMS error (of the first field)."""
    for name in ds.data_vars:
        if ds[name].attrs.get("metric") == SUMMARY_METRIC:
            return str(name)
    raise InputError(f"the sweep has no {SUMMARY_METRIC!r} metric; add it to evaluate.metrics for a summary")


def closure_summary(ds: xr.Dataset) -> dict[str, dict[str, float | None]]:
    """Per closure: mean and max over points of the time-mean RMS error, on all points and held out.

    A failed member counts as an infinite error in the max and is left out of the mean
    (its point is then reported in ``failed``).
    """
    name = summary_variable(ds)
    held_out = ds["trained"] == 0
    out = {}
    for closure in ds["closure"].values:
        values = ds[name].sel(closure=closure)
        failed = ds["failed"].sel(closure=closure) == 1
        out[str(closure)] = {
            "mean": _finite_mean(values), "max": _max(values, failed),
            "held_out_mean": _finite_mean(values.where(held_out)), "held_out_max": _max(values.where(held_out),
                                                                                       failed & held_out),
            "failed": int(failed.sum()),
        }
    return out


def _finite_mean(values: xr.DataArray) -> float | None:
    finite = np.asarray(values.values)[np.isfinite(values.values)]
    return float(finite.mean()) if finite.size else None


def _max(values: xr.DataArray, failed: xr.DataArray) -> float | None:
    if bool(failed.any()):
        return math.inf
    finite = np.asarray(values.values)[np.isfinite(values.values)]
    return float(finite.max()) if finite.size else None


def to_json(ds: xr.Dataset) -> dict:
    """``{"closures": {name: {mean, max, held_out_mean, held_out_max}}, "points": [...]}``; NaN → null."""
    metrics = [n for n in ds.data_vars if "metric" in ds[n].attrs]
    dims = [d for d in ds["trained"].dims]
    points = []
    for index in np.ndindex(*ds["trained"].shape):
        at = dict(zip(dims, index))
        axes = {_key(ds, d): _plain(ds[d].values[i]) for d, i in at.items()}
        member = {str(c): {m: _number(ds[m].isel(closure=j, **at)) for m in metrics}
                  for j, c in enumerate(ds["closure"].values)}
        points.append({"axes": axes, "trained": bool(ds["trained"].isel(**at)), "metrics": member})
    summary = {c: {k: (None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v)
                   for k, v in row.items() if k != "failed"} for c, row in closure_summary(ds).items()}
    return {"closures": summary, "points": points}


def _key(ds: xr.Dataset, dim: str) -> str:
    keys = json.loads(ds.attrs.get("axes", "[]"))
    return next((k for k in keys if k.replace(".", "_") == dim), dim)


def _number(da: xr.DataArray) -> float | None:
    value = float(da)
    return value if math.isfinite(value) else None


def _plain(value):
    return value.item() if hasattr(value, "item") else value
