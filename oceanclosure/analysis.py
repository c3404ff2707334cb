"""Post-processing with xarray: open runs, coarse-grain, error metrics, plots of runs.

The headline metric is the one of the gnCM papers (docs/reference_problems.md §3): the time mean
of the spatial RMS error,

    E = (1/T) Σ_t sqrt( (1/N) Σ_x (u(x, t) − u_ref(x, t))² ).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import xarray as xr

from .errors import InputError, MissingFileError
from .io import grid_from_dataset, write_bytes_atomic


def open_run(path) -> xr.Dataset:
    """Load a run written by oceanclosure (time stays plain floats)."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"no run file at {path}")
    try:
        with xr.open_dataset(path, decode_times=False, decode_timedelta=False) as ds:
            return ds.load()
    except (OSError, ValueError) as err:
        raise InputError(f"{path} is not a readable netCDF file ({err})") from None


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
            raise InputError(f"block_average: {n} cells are not divisible by {factor}")
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
            raise InputError(f"coarse_grain: {dim} has {n} cells, not divisible by factor {f}")
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
        raise InputError("evaluate_on_run supports 1D runs")
    x = ds["x"].values
    values = np.stack([function(x, float(t), **params) for t in ds["time"].values])
    return xr.DataArray(values, coords={"time": ds["time"], "x": ds["x"]}, dims=("time", "x"))


def hovmoller_png(ds: xr.Dataset, path, variables: Sequence[str] | None = None, overwrite: bool = False,
                  title: str | None = None) -> Path:
    """Write `run_figure` of ``ds`` to the PNG ``path`` (tight bounding box: no clipped labels, no margins)."""
    fig = run_figure(ds, variables, title)

    def write(tmp: Path):
        fig.savefig(tmp, dpi=110, format="png", bbox_inches="tight", pad_inches=0.05)

    return write_bytes_atomic(path, write, overwrite)


def run_figure(ds: xr.Dataset, variables: Sequence[str] | None = None, title: str | None = None):
    """The figure of a run: per field, its values, its truth and baseline, and their errors.

    * a 1-D field (x, or a z column): space-time panels of the run, ``_truth`` and
      ``_baseline`` on one colour scale, then the errors run − truth and baseline − truth
      on one symmetric diverging scale;
    * a 0-D field (every cell equal at every time, e.g. reactions only): line plots of
      the three against t, and of the errors;
    * a 2-D field: maps at four times (first, two between, last), one row each for the
      run, truth, baseline and the errors.

    Colour bars and value axes name the variable and its units (the ``units``
    attribute; "units unknown" when it has none, "1" when dimensionless). Returns a
    `matplotlib.figure.Figure` (constrained layout, not attached to pyplot).
    ``variables`` picks the fields (default: every field of the run).
    """
    from matplotlib.figure import Figure

    names = [f for f in (variables or field_names(ds)) if f in ds]
    if not names:
        raise InputError(f"nothing to plot: no fields among {list(ds.data_vars)}")
    layouts = [_layout(ds, name) for name in names]
    rows = sum(n for _, n, _ in layouts)
    width = max(w for _, _, w in layouts)
    height = sum(n * {"line": 2.2, "hovmoller": 2.7, "maps": 3.2}[kind] for kind, n, _ in layouts)
    fig = Figure(figsize=(3.4 * width + 0.8, height + (0.4 if title else 0.0)), layout="constrained")
    axes = fig.subplots(rows, width, squeeze=False)
    row = 0
    for name, (kind, n, used) in zip(names, layouts):
        PLOTTERS[kind](ds, fig, axes[row:row + n], name)
        for ax in axes[row:row + n, used:].ravel():
            ax.remove()
        row += n
    if title:
        fig.suptitle(title)
    return fig


SNAPSHOTS = 4


def _layout(ds: xr.Dataset, name: str) -> tuple[str, int, int]:
    """``(kind, rows, columns)`` of a field's panels: kind "line" (0-D), "hovmoller" (1-D) or "maps" (2-D)."""
    values, errors = _values(ds, name), _errors(ds, name)
    if is_uniform(ds[name]):
        return "line", 1, 1 + bool(errors)
    if "y" in ds[name].dims:
        return "maps", len(values) + len(errors), min(SNAPSHOTS, ds.sizes["time"])
    return "hovmoller", 1, len(values) + len(errors)


def is_uniform(da: xr.DataArray) -> bool:
    """Whether every cell holds the same value at every time (a 0-D run on a few identical cells)."""
    dims = spatial_dims(da)
    values = np.asarray(da.values, np.float64)
    spread = values.max(axis=tuple(da.get_axis_num(dims))) - values.min(axis=tuple(da.get_axis_num(dims)))
    scale = max(float(np.nanmax(np.abs(values))), np.finfo(np.float64).tiny)
    return bool(np.all(spread <= 16 * np.finfo(da.dtype).eps * scale))


def _values(ds: xr.Dataset, name: str) -> list[tuple[str, str]]:
    """``(variable, title)`` of the field, its truth and its baseline, those the file has."""
    run = "with closure" if f"{name}_baseline" in ds else "run"
    labels = {name: f"{name} ({run})", f"{name}_truth": f"{name} truth", f"{name}_baseline": f"{name} (no closure)"}
    return [(v, label) for v, label in labels.items() if v in ds]


def _errors(ds: xr.Dataset, name: str) -> list[tuple[xr.DataArray, str]]:
    """``(error, title)``: run − truth and baseline − truth, where the file has a truth."""
    truth = f"{name}_truth"
    if truth not in ds:
        return []
    run = "closure" if f"{name}_baseline" in ds else "run"
    out = [(ds[name] - ds[truth], f"{name}: {run} − truth")]
    if f"{name}_baseline" in ds:
        out.append((ds[f"{name}_baseline"] - ds[truth], f"{name}: baseline − truth"))
    return out


def _with_max(label: str, error: xr.DataArray) -> str:
    return f"{label}, max {float(abs(error).max()):.2g}"


def units_label(da: xr.DataArray, what: str | None = None) -> str:
    """``"name [units]"``, with "units unknown" when the variable has no ``units`` attribute."""
    units = str(da.attrs.get("units", "")).strip() or "units unknown"
    return f"{what or da.name} [{units}]"


def _time_label(ds: xr.Dataset) -> str:
    return units_label(ds["time"], "t")


def _value_range(ds: xr.Dataset, names: Sequence[str]) -> tuple[float, float]:
    return min(float(ds[v].min()) for v in names), max(float(ds[v].max()) for v in names)


def _error_bound(errors) -> float:
    return max(float(abs(e).max()) for e, _ in errors) or 1.0


def _plot_hovmoller(ds: xr.Dataset, fig, axes, name: str) -> None:
    """One row: space-time panels of the values (shared scale), then of the errors (symmetric scale)."""
    axes = axes[0]
    values, errors = _values(ds, name), _errors(ds, name)
    x, y = ("time", "z") if "z" in ds[name].dims else (spatial_dims(ds[name])[0], "time")
    vmin, vmax = _value_range(ds, [v for v, _ in values])
    for ax, (v, label) in zip(axes, values):
        image = ds[v].plot.pcolormesh(ax=ax, x=x, y=y, vmin=vmin, vmax=vmax, add_colorbar=False)
        _label_axes(ds, ax, label, x, y)
    fig.colorbar(image, ax=list(axes[:len(values)]), label=units_label(ds[name]))
    if errors:
        bound = _error_bound(errors)
        panels = axes[len(values):len(values) + len(errors)]
        for ax, (error, label) in zip(panels, errors):
            image = error.plot.pcolormesh(ax=ax, x=x, y=y, vmin=-bound, vmax=bound, cmap="RdBu_r", add_colorbar=False)
            _label_axes(ds, ax, _with_max(label, error), x, y)
        fig.colorbar(image, ax=list(panels), label=units_label(ds[name], f"error in {name}"))


def _label_axes(ds: xr.Dataset, ax, title: str, x: str, y: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(_time_label(ds) if x == "time" else units_label(ds[x], x))
    ax.set_ylabel(_time_label(ds) if y == "time" else units_label(ds[y], y))


def _plot_lines(ds: xr.Dataset, fig, axes, name: str) -> None:
    """A 0-D field: its value (one cell; they are all equal) against t, and its errors."""
    axes = axes[0]
    t = ds["time"].values
    cell = {d: 0 for d in spatial_dims(ds[name])}
    styles = {name: "-", f"{name}_truth": "k--", f"{name}_baseline": ":"}
    for v, label in _values(ds, name):
        axes[0].plot(t, ds[v].isel(cell).values, styles[v], label=label)
    axes[0].set(title=f"{name} (all cells equal)", xlabel=_time_label(ds), ylabel=units_label(ds[name]))
    axes[0].legend(fontsize="small")
    errors = _errors(ds, name)
    if errors:
        for error, label in errors:
            axes[1].plot(t, error.isel(cell).values, label=_with_max(label, error))
        axes[1].axhline(0.0, color="0.6", lw=0.8)
        axes[1].set(title=f"{name}: errors", xlabel=_time_label(ds), ylabel=units_label(ds[name], f"error in {name}"))
        axes[1].legend(fontsize="small")


def snapshot_indices(n_times: int, count: int = SNAPSHOTS) -> list[int]:
    """``count`` output indices spread evenly from the first to the last (fewer if there are fewer outputs)."""
    return sorted(set(np.linspace(0, n_times - 1, min(count, n_times)).round().astype(int).tolist()))


def _plot_maps(ds: xr.Dataset, fig, axes, name: str) -> None:
    """A 2-D field: maps at `SNAPSHOTS` times, one row per value (shared scale) and per error (symmetric)."""
    values, errors = _values(ds, name), _errors(ds, name)
    indices = snapshot_indices(ds.sizes["time"])
    vmin, vmax = _value_range(ds, [v for v, _ in values])
    rows = [(ds[v], label, {"vmin": vmin, "vmax": vmax}) for v, label in values]
    if errors:
        bound = _error_bound(errors)
        rows += [(error, label, {"vmin": -bound, "vmax": bound, "cmap": "RdBu_r"}) for error, label in errors]
    images = []
    for axes_row, (da, label, scale) in zip(axes, rows):
        for ax, i in zip(axes_row, indices):
            snapshot = da.isel(time=i)
            image = snapshot.plot.pcolormesh(ax=ax, x="x", y="y", add_colorbar=False, **scale)
            title = f"{label}, t = {float(ds.time[i]):g}"
            _label_axes(ds, ax, _with_max(title, snapshot) if "cmap" in scale else title, "x", "y")
            ax.title.set_fontsize("small")
            ax.set_aspect("equal")
        images.append(image)
    # one colour bar for the value rows, one for the error rows
    fig.colorbar(images[0], ax=list(axes[:len(values), :len(indices)].ravel()), label=units_label(ds[name]))
    if errors:
        fig.colorbar(images[-1], ax=list(axes[len(values):, :len(indices)].ravel()),
                     label=units_label(ds[name], f"error in {name}"))


PLOTTERS = {"line": _plot_lines, "hovmoller": _plot_hovmoller, "maps": _plot_maps}
