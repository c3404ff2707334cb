"""Post-processing with xarray: open runs, coarse-grain, error metrics, Hovmöller plots.

The headline metric is the one of the gnCM papers (docs/reference_problems.md §3): the time mean
of the spatial RMS error,

    E = (1/T) Σ_t sqrt( (1/N) Σ_x (u(x, t) − u_ref(x, t))² ).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import xarray as xr

from .io import grid_from_dataset, write_bytes_atomic


def open_run(path) -> xr.Dataset:
    """Load a run written by oceanclosure (time stays plain floats)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no run file at {path}")
    try:
        with xr.open_dataset(path, decode_times=False, decode_timedelta=False) as ds:
            return ds.load()
    except (OSError, ValueError) as err:
        raise ValueError(f"{path} is not a readable netCDF file ({err})") from None


SPATIAL_NAMES = ("x", "y", "z")
SUFFIXES = ("_truth", "_baseline")


def spatial_dims(da: xr.DataArray) -> list[str]:
    return [d for d in da.dims if d in SPATIAL_NAMES]


def field_names(ds: xr.Dataset) -> list[str]:
    """The model fields of a run file: variables over time that are not a ``_truth``/``_baseline`` copy."""
    return [str(n) for n in ds.data_vars if "time" in ds[n].dims and not str(n).endswith(SUFFIXES)]


def spatial_rms(u: xr.DataArray, reference: xr.DataArray) -> xr.DataArray:
    """sqrt(mean over space of (u − reference)²), one value per time."""
    diff = u - reference
    return np.sqrt((diff**2).mean(dim=spatial_dims(diff)))


def time_mean_rms(u: xr.DataArray, reference: xr.DataArray) -> float:
    """Time mean of the spatial RMS error (the gnCM papers' metric)."""
    return float(spatial_rms(u, reference).mean("time"))


def error_summary(u: xr.DataArray, reference: xr.DataArray) -> dict[str, float]:
    rms = spatial_rms(u, reference)
    return {
        "time_mean_rms": float(rms.mean("time")),
        "max_rms": float(rms.max()),
        "final_rms": float(rms.isel(time=-1)),
        "max_abs": float(np.abs(u - reference).max()),
    }


def block_average(values: np.ndarray, factor: int) -> np.ndarray:
    """Averages of an array over blocks of ``factor`` cells per dimension (`coarse_grain` on bare arrays).

    For finite-volume cell averages the block averages are the coarse cells' exact
    averages. Used where a Dataset would cost too much (every output of a batched sweep).
    """
    if factor == 1:
        return values
    shape = []
    for n in values.shape:
        if n % factor:
            raise ValueError(f"block_average: {n} cells are not divisible by {factor}")
        shape += [n // factor, factor]
    return values.reshape(shape).mean(axis=tuple(range(1, 2 * values.ndim, 2)))


def coarse_grain(ds, factor: int | Sequence[int]):
    """Cell-average a fine run onto a grid ``factor`` times coarser per dimension.

    Works on a Dataset or DataArray with cell-centre coordinates. Cell averages of
    a finite-volume field averaged over whole coarse cells are exact coarse cell
    averages, so mass is preserved. Grid attributes are updated.
    """
    dims = spatial_dims(ds if isinstance(ds, xr.DataArray) else next(iter(ds.data_vars.values())))
    factors = [factor] * len(dims) if np.ndim(factor) == 0 else list(factor)
    windows = {}
    for dim, f in zip(dims, factors):
        n = ds.sizes[dim]
        if f < 1 or n % f:
            raise ValueError(f"coarse_grain: {dim} has {n} cells, not divisible by factor {f}")
        windows[dim] = int(f)
    out = ds.coarsen(windows).mean()
    for dim in dims:
        out = out.assign_coords({dim: ds[dim].coarsen({dim: windows[dim]}).mean()})
        out[dim].attrs = ds[dim].attrs
        key = f"grid_n{dim}"
        if key in out.attrs:
            out.attrs[key] = int(out.attrs[key]) // windows[dim]
    return out


def evaluate_on_run(ds: xr.Dataset, function, **params) -> xr.DataArray:
    """Evaluate an analytic ``function(x, t, **params)`` (1D) on a run's centres and times."""
    grid = grid_from_dataset(ds)
    if grid.ndim != 1:
        raise ValueError("evaluate_on_run supports 1D runs")
    x = ds["x"].values
    values = np.stack([function(x, float(t), **params) for t in ds["time"].values])
    return xr.DataArray(values, coords={"time": ds["time"], "x": ds["x"]}, dims=("time", "x"))


def hovmoller_png(ds: xr.Dataset, path, variables: Sequence[str] | None = None, overwrite: bool = False,
                  title: str | None = None) -> Path:
    """Space-time panels of 1D fields (x against t, or t against z), or final-time maps in 2D, to PNG.

    One row per field, holding the field and its ``_truth`` and ``_baseline`` when the
    file has them, on one colour scale per row (fields have their own units), and for a
    1-D field with a truth its error (field − truth) on its own diverging scale.
    ``variables`` picks the fields (default: every field of the run).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [[v for v in (f, f + "_truth", f + "_baseline") if v in ds] for f in (variables or field_names(ds))]
    rows = [r + ([ERROR_PANEL] if _has_error_panel(ds, r) else []) for r in rows if r]
    if not rows:
        raise ValueError(f"nothing to plot: no fields among {list(ds.data_vars)}")
    width = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), width, figsize=(4.2 * width, 3.4 * len(rows)), squeeze=False,
                             layout="constrained")
    for axes_row, names in zip(axes, rows):
        _plot_row(ds, fig, axes_row, names)
    if title:
        fig.suptitle(title, y=1.0)

    def write(tmp: Path):
        fig.savefig(tmp, dpi=110, format="png", bbox_inches="tight")

    try:
        return write_bytes_atomic(path, write, overwrite)
    finally:
        plt.close(fig)


#: The last panel of a 1-D field's row that has a truth: field − truth, on its own diverging scale.
ERROR_PANEL = "error"


def _has_error_panel(ds: xr.Dataset, names: Sequence[str]) -> bool:
    return len(names) > 1 and names[1] == names[0] + "_truth" and "y" not in ds[names[0]].dims


def _plot_error(ds: xr.Dataset, fig, ax, name: str) -> None:
    """``name − name_truth`` against time and space, symmetric colour scale, its own colour bar."""
    error = ds[name] - ds[name + "_truth"]
    bound = float(abs(error).max()) or 1.0
    x, y = ("time", "z") if "z" in error.dims else ("x", "time")
    image = error.plot.pcolormesh(ax=ax, x=x, y=y, vmin=-bound, vmax=bound, cmap="RdBu_r", add_colorbar=False)
    ax.set_title(f"{name} − {name}_truth")
    fig.colorbar(image, ax=ax, shrink=0.9)


def _plot_row(ds: xr.Dataset, fig, axes_row, names: Sequence[str]) -> None:
    """One field's panels on a shared colour scale (the error panel on its own); unused axes are hidden."""
    if names and names[-1] == ERROR_PANEL:
        _plot_error(ds, fig, axes_row[len(names) - 1], names[0])
        names = names[:-1]
    shown = {v: ds[v].isel(time=-1) if "y" in ds[v].dims else ds[v] for v in names}  # 2D: final maps
    vmin = min(float(da.min()) for da in shown.values())
    vmax = max(float(da.max()) for da in shown.values())
    for ax, name in zip(axes_row, names):
        da = ds[name]
        if "y" in da.dims:
            image = da.isel(time=-1).plot.pcolormesh(ax=ax, x="x", y="y", vmin=vmin, vmax=vmax, add_colorbar=False)
            ax.set_title(f"{name} at t = {float(ds.time[-1]):g}")
        elif "z" in da.dims:
            image = da.plot.pcolormesh(ax=ax, x="time", y="z", vmin=vmin, vmax=vmax, add_colorbar=False)
            ax.set_title(name)
        else:
            image = da.plot.pcolormesh(ax=ax, x="x", y="time", vmin=vmin, vmax=vmax, add_colorbar=False)
            ax.set_title(name)
    for ax in axes_row[len(names) + (1 if _has_error_panel(ds, names) else 0):]:
        ax.set_visible(False)
    units = ds[names[0]].attrs.get("units")
    bar = fig.colorbar(image, ax=list(axes_row[: len(names)]), shrink=0.9)
    if units and units != "1":
        bar.set_label(units)
