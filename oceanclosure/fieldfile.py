"""The one reader of netCDF fields on a case grid, with one coordinate tolerance.

Initial conditions, closure histories, file truths and stored truths all read a
variable that must sit on the case grid's cell centres. `open_netcdf` opens a
file (a missing or unreadable one is one message), and `field_on_grid` checks a
variable's dimensions, sizes and coordinates and returns it in the package's
layout ``([time,] [y,] x)`` (or ``z``). Coordinates match the cell centres when
they differ by at most `COORDINATE_TOLERANCE` of a cell width; the coefficient
files of `oceanclosure.coefficients` use the same tolerance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from .errors import DataFileError, MissingFileError
from .grid import Grid

COORDINATE_TOLERANCE = 1e-3
"""File coordinates match the grid's cell centres within this fraction of a cell width."""


class FieldFileError(DataFileError):
    """A netCDF field that is missing, unreadable or not on the case grid; the message says which."""


def open_netcdf(path: Path, what: str) -> xr.Dataset:
    """The dataset at ``path``, loaded; ``what`` names the case key in messages."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{what}: {path} does not exist (paths are relative to the case directory)")
    try:
        with xr.open_dataset(path, decode_times=False, decode_timedelta=False) as ds:
            return ds.load()
    except Exception as err:  # netCDF4/HDF5/scipy raise many kinds of errors on bad files
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise FieldFileError(f"{what}: cannot read {path} as netCDF ({reason}); check the file, or delete it and "
                             "regenerate it") from None


def variable_of(ds: xr.Dataset, variable: str, path: Path, what: str) -> xr.DataArray:
    if variable not in ds:
        raise FieldFileError(f"{what}: {path} has no variable '{variable}' (it has {sorted(ds.data_vars)}); "
                             "set the variable key")
    return ds[variable]


def field_on_grid(da: xr.DataArray, grid: Grid, what: str, *, time: str = "optional",
                  require_coordinates: bool = False) -> xr.DataArray:
    """``da`` transposed to ``([time,] *reversed(grid.dims))``, checked to sit on the cell centres.

    Args:
      time: ``"required"``, ``"optional"`` or ``"none"``: whether ``da`` must,
        may or must not have a ``time`` dimension (with a coordinate).
      require_coordinates: refuse a file without a coordinate for each grid dimension.
    """
    spatial = tuple(reversed(grid.dims))
    has_time = "time" in da.dims
    if (time == "required" and not has_time) or (time == "none" and has_time):
        raise FieldFileError(f"{what}: {'needs' if time == 'required' else 'cannot have'} a time dimension "
                             f"(it has dims {da.dims})")
    expected = (("time",) if has_time else ()) + spatial
    if set(da.dims) != set(expected):
        raise FieldFileError(f"{what} has dims {da.dims}, expected {expected} on the case grid")
    da = da.transpose(*expected)
    for dim, name in enumerate(grid.dims):
        _check_coordinate(da, grid, dim, name, what, require_coordinates)
    if has_time and "time" not in da.coords:
        raise FieldFileError(f"{what} has no 'time' coordinate")
    return da


TIME_TOLERANCE = 1e-6
"""A requested time matches a file's time within this fraction of max(1, |largest time|) (float32 times pass)."""


def at_time(da: xr.DataArray, time: float | None, what: str, key: str) -> xr.DataArray:
    """``da`` at one time: its only time when ``time`` is None, else the file time that equals ``time``.

    A field without a time dimension is itself (and refuses a ``time``). Several times and no ``time``
    are refused, naming the times, as is a ``time`` that is none of them (within `TIME_TOLERANCE`);
    ``key`` is the case key that picks it (``initial_condition.time``).
    """
    if "time" not in da.dims:
        if time is not None:
            raise FieldFileError(f"{what} has no time dimension, so there is no time to pick; remove {key}")
        return da
    times = np.asarray(da["time"].values, dtype=np.float64)
    if time is None:
        if times.size != 1:
            raise FieldFileError(f"{what} has {times.size} times ({_times_text(times)}); set {key} to the one "
                                 "to start from")
        return da.isel(time=0)
    distance = np.abs(times - time)
    nearest = int(np.argmin(distance)) if times.size else None
    if nearest is None or distance[nearest] > TIME_TOLERANCE * max(1.0, float(np.max(np.abs(times)))):
        raise FieldFileError(f"{what} has no time {time:g}: its times are {_times_text(times)}; set {key} to "
                             "one of them")
    return da.isel(time=nearest)


def _times_text(times: np.ndarray, shown: int = 8) -> str:
    """``0, 0.5, 1`` or, for many, ``0, 0.5, 1, ..., 9.5, 10`` (the first and last few)."""
    if times.size == 0:
        return "none"
    text = [f"{t:.10g}" for t in times]
    return ", ".join(text if len(text) <= shown else [*text[:3], "...", *text[-2:]])


def _check_coordinate(da, grid: Grid, dim: int, name: str, what: str, required: bool) -> None:
    centres = grid.centers(dim)
    if da.sizes[name] != centres.size:
        raise FieldFileError(f"{what} has {da.sizes[name]} cells along {name}, the case grid has {centres.size} "
                             f"(grid.n{name} = {centres.size}); regrid the file or set grid.n{name} = "
                             f"{da.sizes[name]}")
    if name not in da.coords:
        if required:
            raise FieldFileError(f"{what} has no '{name}' coordinate; add the cell-centre coordinate "
                                 f"{name} = {name}0 + (i + 1/2) d{name}")
        return
    given = np.asarray(da[name].values, dtype=np.float64)
    bad = np.flatnonzero(np.abs(given - centres) > COORDINATE_TOLERANCE * grid.step[dim])
    if bad.size:
        i = int(bad[0])
        (lo, hi) = grid.domain[dim]
        raise FieldFileError(f"{what}: {name}[{i}] = {given[i]:.12g} is not the case grid's cell centre "
                             f"{centres[i]:.12g} (domain [{lo:g}, {hi:g}], d{name} = {grid.step[dim]:g}); write the "
                             f"data at the centres {name}0 + (i + 1/2) d{name}, or change grid.domain / grid.n{name}")
