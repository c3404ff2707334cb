"""Plots of a sweep: the error per closure over the axes, and its ratio to no closure.

One PNG, one column per closure: the first row is the time-mean RMS error (log
colour scale), the second the ratio to the entry named ``none`` (when there is
one; 1 means no gain, < 1 better). Two axes make a heatmap (first axis down, second
across); one axis makes a line; further axes are averaged over, and the title says
so. Trained points are marked with a dot, failed ones with a cross.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from .dataset import summary_variable

BASELINE = "none"


def sweep_png(ds: xr.Dataset, path, overwrite: bool = False) -> Path:
    """Write the sweep's heatmaps (module docstring) to ``path`` atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io import write_bytes_atomic

    name = summary_variable(ds)
    dims = [d for d in ds[name].dims if d != "closure"]
    shown, averaged = dims[:2], dims[2:]
    error = ds[name].mean(averaged) if averaged else ds[name]
    closures = [str(c) for c in ds["closure"].values]
    rows = 2 if BASELINE in closures else 1
    fig, axes = plt.subplots(rows, len(closures), figsize=(3.2 * len(closures) + 1, 2.8 * rows + 0.6),
                             squeeze=False, constrained_layout=True)
    finite = error.values[np.isfinite(error.values) & (error.values > 0)]
    limits = (finite.min(), finite.max()) if finite.size else (1e-3, 1.0)
    for j, closure in enumerate(closures):
        values = error.sel(closure=closure)
        _panel(fig, axes[0, j], values, shown, ds, closure, "error", limits)
        if rows == 2:
            _panel(fig, axes[1, j], values / error.sel(closure=BASELINE), shown, ds, closure, f"/ {BASELINE}", None)
    note = f" (mean over {', '.join(averaged)})" if averaged else ""
    fig.suptitle(f"{ds.attrs.get('title', 'sweep')}: {ds[name].attrs.get('long_name', name)}{note}", fontsize=9)

    def write(tmp: Path):
        fig.savefig(tmp, dpi=110, format="png")

    try:
        return write_bytes_atomic(Path(path), write, overwrite)
    finally:
        plt.close(fig)


def _panel(fig, ax, values: xr.DataArray, dims, ds, closure: str, what: str, limits) -> None:
    from matplotlib.colors import LogNorm, TwoSlopeNorm

    failed = ds["failed"].sel(closure=closure)
    trained = ds["trained"]
    extra = [d for d in failed.dims if d not in dims]
    if extra:
        failed = failed.max(extra)
        trained = trained.max(extra)
    ax.set_title(f"{closure} {what}", fontsize=9)
    if len(dims) == 1:
        x = np.arange(values.sizes[dims[0]])
        ax.plot(x, values.values, "o-")
        ax.set_yscale("log" if limits else "linear")
        ax.set_xticks(x, [_label(v) for v in values[dims[0]].values], fontsize=7)
        ax.set_xlabel(dims[0], fontsize=8)
        return
    data = values.transpose(*dims).values
    if limits is not None:
        norm = LogNorm(*limits)
        cmap = "viridis"
    else:
        finite = data[np.isfinite(data)]
        top = max(2.0, float(finite.max())) if finite.size else 2.0
        norm = TwoSlopeNorm(vcenter=1.0, vmin=min(0.0, float(finite.min()) if finite.size else 0.0), vmax=top)
        cmap = "RdBu_r"
    image = ax.imshow(np.where(np.isfinite(data), data, np.nan), origin="lower", aspect="auto", norm=norm, cmap=cmap)
    fig.colorbar(image, ax=ax, shrink=0.85)
    for (i, k), flag in np.ndenumerate(trained.transpose(*dims).values):
        if flag:
            ax.plot(k, i, "k.", markersize=4)
    for (i, k), flag in np.ndenumerate(failed.transpose(*dims).values):
        if flag:
            ax.plot(k, i, "rx", markersize=7)
    ax.set_yticks(range(data.shape[0]), [_label(v) for v in values[dims[0]].values], fontsize=7)
    ax.set_xticks(range(data.shape[1]), [_label(v) for v in values[dims[1]].values], fontsize=7, rotation=45)
    ax.set_ylabel(dims[0], fontsize=8)
    ax.set_xlabel(dims[1], fontsize=8)


def _label(value) -> str:
    return f"{value:.4g}" if isinstance(value, (float, np.floating)) else str(value)
