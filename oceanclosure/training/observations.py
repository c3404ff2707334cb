"""Sparse observations of a truth: which times and cells the training loss sees.

An observation operator H picks values out of a field history u(t_n, cells):

    y_{k,c} = u(t_{n_k}, x_c) + σ ε_{k,c},      ε ~ N(0, 1) (numpy default_rng(seed))

at every ``every``-th truth output time n_k and at the cells c of ``cells`` ("all", a
stride along each axis, or explicit indices), with Gaussian noise of std σ =
``noise``. A user observation file replaces the sampling. Cells are flat indices
into the field's array shape (``(nx,)``, or ``(ny, nx)`` flattened row-major:
c = j nx + i), so ``prediction.reshape(n_times, -1)[time_index][:, cells]`` is H.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import InputError, MissingFileError
from ..grid import Grid

__all__ = ["ObservationError", "Observations", "observe", "read_observation_file",
           "case_observations", "field_observations", "select_cells"]

TOLERANCE = 1e-9
"""Relative tolerance for observation coordinates and times to coincide with the truth's."""


class ObservationError(InputError):
    """Observations that do not fit the truth (coordinates, times, units, values)."""


@dataclasses.dataclass(frozen=True, eq=False)
class Observations:
    """Observed values of one variable, on a subset of truth times and cells.

    Attributes:
      time_index: (n_times,) int, indices into the truth's output times (increasing).
      times: (n_times,) float64, those times.
      cells: (n_cells,) int, flat indices into the field's array shape.
      values: (n_times, n_cells) float64, the observations (noise included).
      weight: the variable's weight in the loss.
      variable: the observed variable.
      field_shape: the field's array shape, ``(nx,)`` or ``(ny, nx)``.
    """

    time_index: np.ndarray
    times: np.ndarray
    cells: np.ndarray
    values: np.ndarray
    weight: float = 1.0
    variable: str = "u"
    field_shape: tuple[int, ...] = ()

    def __post_init__(self):
        arrays = {"time_index": np.asarray(self.time_index, dtype=np.int64),
                  "times": np.asarray(self.times, dtype=np.float64),
                  "cells": np.asarray(self.cells, dtype=np.int64),
                  "values": np.asarray(self.values, dtype=np.float64)}
        for name, array in arrays.items():
            array = array.copy()
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        object.__setattr__(self, "weight", float(self.weight))
        object.__setattr__(self, "field_shape", tuple(int(n) for n in self.field_shape))
        expected = (self.time_index.size, self.cells.size)
        if self.values.shape != expected or self.times.shape != self.time_index.shape:
            raise InputError(f"Observations: values have shape {self.values.shape}, times "
                             f"{self.times.shape}; expected {expected} and ({expected[0]},)")

    @property
    def n_times(self) -> int:
        return int(self.time_index.size)

    @property
    def n_cells(self) -> int:
        return int(self.cells.size)

    def gather(self, stack):
        """H applied to a field history ``(n_truth_times, *field_shape)`` -> (n_times, n_cells).

        Works on NumPy and JAX arrays (the indices are static NumPy arrays).
        """
        flat = stack.reshape(stack.shape[0], -1)
        return flat[self.time_index][:, self.cells]

    def gather_cells(self, fields):
        """The observed cells of fields ``(..., *field_shape)`` -> (..., n_cells)."""
        lead = fields.shape[: fields.ndim - len(self.field_shape)]
        return fields.reshape(*lead, -1)[..., self.cells]

    def mask(self, n_times_total: int) -> np.ndarray:
        """Boolean (n_times_total, *field_shape): True where observed."""
        mask = np.zeros((n_times_total, int(np.prod(self.field_shape))), dtype=bool)
        mask[self.time_index[:, None], self.cells[None, :]] = True
        return mask.reshape((n_times_total,) + self.field_shape)

    def dense(self, n_times_total: int) -> tuple[np.ndarray, np.ndarray]:
        """(targets, weights), each (n_times_total, *field_shape); 0 where unobserved."""
        shape = (n_times_total, int(np.prod(self.field_shape)))
        targets, weights = np.zeros(shape), np.zeros(shape)
        rows, cols = self.time_index[:, None], self.cells[None, :]
        targets[rows, cols] = self.values
        weights[rows, cols] = self.weight
        full = (n_times_total,) + self.field_shape
        return targets.reshape(full), weights.reshape(full)

    def between(self, t0: float, t1: float) -> "Observations":
        """The observations at times in [t0, t1] (e.g. a training or validation window)."""
        tol = TOLERANCE * max(1.0, abs(t0), abs(t1))
        keep = (self.times >= t0 - tol) & (self.times <= t1 + tol)
        return dataclasses.replace(self, time_index=self.time_index[keep], times=self.times[keep],
                                   values=self.values[keep])


# --------------------------------------------------------------------------
# sampling a truth


def _grid_of(truth: xr.Dataset, grid: Grid | None) -> Grid:
    if grid is not None:
        return grid
    from ..io import grid_from_dataset

    return grid_from_dataset(truth)


def select_cells(cells, grid: Grid) -> np.ndarray:
    """Flat cell indices for ``cells``: "all", a stride, [i, ...] (1D) or [[j, i], ...] (2D)."""
    shape = grid.array_shape
    if isinstance(cells, str):
        if cells != "all":
            raise ObservationError(f'observations.cells: expected "all", a stride or indices (got {cells!r})')
        return np.arange(int(np.prod(shape)))
    if np.ndim(cells) == 0:
        stride = int(cells)
        axes = np.meshgrid(*[np.arange(0, n, stride) for n in shape], indexing="ij")
        return np.ravel_multi_index(tuple(axes), shape).ravel()
    index = np.asarray(cells, dtype=np.int64)
    index = index[:, None] if index.ndim == 1 else index
    if index.shape[1] != len(shape) or np.any(index < 0) or np.any(index >= np.asarray(shape)):
        raise ObservationError(f"observations.cells: {np.asarray(cells).tolist()} are not cell indices "
                               f"of the {len(shape)}D grid with array shape {shape}")
    return np.ravel_multi_index(tuple(index.T), shape)


def observe(truth: xr.Dataset, config, grid: Grid | None = None, variable: str = "u",
            directory: Path | str | None = None) -> Observations:
    """Observations of ``truth`` as chosen by an `ObservationsConfig`.

    Args:
      truth: a truth dataset (`truth.load_truth`): ``u`` with dims (time, [y,] x).
      config: the case's ``observations`` section.
      grid: the case grid (default: rebuilt from the dataset's attributes).
      directory: where ``config.file`` is relative to (the case directory; needed with a file).

    With ``config.file`` the file's observations are returned (`read_observation_file`);
    otherwise every ``config.every``-th time, ``config.cells``, plus N(0, noise²)
    noise from ``numpy.random.default_rng(config.seed)``.
    """
    weight = float(config.weights.get(variable, 0.0))
    if config.file is not None:
        base = directory
        if base is None:
            raise ObservationError("observations.file is relative to the case directory, which is "
                                   "unknown here; pass directory= or use case_observations(case, truth)")
        return read_observation_file(Path(base) / config.file, truth, variable=variable, weight=weight)
    grid = _grid_of(truth, grid)
    field = _field(truth, variable, grid)
    time_index = np.arange(0, field.shape[0], int(config.every))
    cells = select_cells(config.cells, grid)
    values = field.reshape(field.shape[0], -1)[time_index][:, cells]
    if config.noise > 0:
        rng = np.random.default_rng(config.seed)
        values = values + config.noise * rng.standard_normal(values.shape)
    times = np.asarray(truth["time"].values, dtype=np.float64)[time_index]
    return Observations(time_index, times, cells, values, weight, variable, grid.array_shape)


def case_observations(case, truth: xr.Dataset, variable: str = "u") -> Observations:
    """The observations of one field of a case (its ``[observations]``) from its truth."""
    from ..truth import case_grid

    return observe(truth, case.observations, case_grid(case), variable=variable, directory=case.directory)


def field_observations(case, truth: xr.Dataset) -> dict[str, Observations]:
    """``{field: Observations}`` for every field with a weight > 0 in ``observations.weights``."""
    weights = case.observations.weights
    return {name: case_observations(case, truth, name) for name in case.physics.variable_names
            if weights.get(name, 0.0) > 0}


def _field(truth: xr.Dataset, variable: str, grid: Grid) -> np.ndarray:
    if variable not in truth:
        raise ObservationError(f"the truth has no variable '{variable}' (it has {sorted(truth.data_vars)})")
    da = truth[variable]
    expected = ("time",) + tuple(reversed(grid.dims))
    if set(da.dims) != set(expected) or da.transpose(*expected).shape[1:] != grid.array_shape:
        raise ObservationError(f"the truth's '{variable}' has dims {dict(da.sizes)}, expected {expected} "
                               f"with shape {grid.array_shape} (the case grid)")
    return np.asarray(da.transpose(*expected).values, dtype=np.float64)


# --------------------------------------------------------------------------
# user observation files


def read_observation_file(path, truth: xr.Dataset, *, variable: str = "u", weight: float = 1.0,
                          grid: Grid | None = None) -> Observations:
    """Observations from a user netCDF file, checked against the truth.

    The file holds ``variable`` with dims ``(time, x)`` / ``(time, y, x)`` (a subset of
    the cell centres), or ``(time, station)`` with coordinates ``x`` (and ``y``) along
    ``station``. Positions must be cell centres of the case grid and times must be
    truth output times, both to a relative 1e-9; a ``units`` attribute must equal the
    truth's. Errors name the offending value and the fix.
    """
    path = Path(path)
    grid = _grid_of(truth, grid)
    what = f"observation file {path}"
    ds = _open(path, what)
    if variable not in ds:
        raise ObservationError(f"{what} has no variable '{variable}' (it has {sorted(ds.data_vars)}); "
                               "name the observed variable as in the case (e.g. u)")
    da = ds[variable]
    _check_units(da, truth, variable, what)
    names = grid.dims
    if "station" in da.dims:
        da, cells = _stations(da, grid, names, what)
    else:
        da, cells = _gridded(da, grid, names, what)
    time_index, times = _match_times(da, truth, what)
    values = np.asarray(da.values, dtype=np.float64).reshape(len(times), -1)
    order = np.argsort(time_index, kind="stable")
    if not np.all(np.isfinite(values)):
        k = np.argwhere(~np.isfinite(values))[0]
        raise ObservationError(f"{what}: '{variable}' is not finite at time {times[k[0]]:g}, cell {k[1]}; "
                               "remove missing values (drop that time or station)")
    return Observations(time_index[order], times[order], cells, values[order], weight, variable,
                        grid.array_shape)


def _open(path: Path, what: str) -> xr.Dataset:
    if not path.is_file():
        raise MissingFileError(f"{what} does not exist (observations.file is relative to the case directory)")
    try:
        with xr.open_dataset(path, decode_times=False, decode_timedelta=False) as ds:
            return ds.load()
    except Exception as err:  # netCDF backends raise many kinds of errors on bad files
        raise ObservationError(f"{what} cannot be read as netCDF ({type(err).__name__}: {err})") from None


def _check_units(da: xr.DataArray, truth: xr.Dataset, variable: str, what: str) -> None:
    given = da.attrs.get("units")
    expected = truth[variable].attrs.get("units") if variable in truth else None
    if given is not None and expected is not None and str(given) != str(expected):
        raise ObservationError(f"{what}: '{variable}' has units {given!r}, the truth's are {expected!r}; "
                               "convert the observations or correct the units attribute")


def _cell_indices(values: np.ndarray, grid: Grid, dim: int, name: str, what: str) -> np.ndarray:
    """Indices of the cell centres that ``values`` coincide with (else an error)."""
    centres = grid.centers(dim)
    lo, hi = grid.domain[dim]
    tol = TOLERANCE * max(abs(lo), abs(hi), hi - lo)
    index = np.clip(np.rint((values - lo) / grid.step[dim] - 0.5).astype(np.int64), 0, centres.size - 1)
    bad = np.flatnonzero(~(np.abs(values - centres[index]) <= tol))
    if bad.size:
        v = values[bad[0]]
        raise ObservationError(f"{what}: {name} = {v:.12g} is not a cell centre of the case grid (nearest centre "
                               f"{centres[index[bad[0]]]:.12g}; centres are {name}0 + (i + 1/2) d{name} with "
                               f"{name}0 = {lo:g}, d{name} = {grid.step[dim]:g}); move the observation to a "
                               "cell centre or change the grid")
    return index


def _coordinate(da: xr.DataArray, name: str, what: str, dim: str) -> np.ndarray:
    if name not in da.coords or da[name].dims != (dim,):
        raise ObservationError(f"{what}: '{da.name}' needs a coordinate '{name}' along {dim}")
    return np.asarray(da[name].values, dtype=np.float64)


def _stations(da, grid: Grid, names, what: str):
    if set(da.dims) != {"time", "station"}:
        raise ObservationError(f"{what}: '{da.name}' has dims {da.dims}; station data needs dims (time, station)")
    da = da.transpose("time", "station")
    per_dim = [_cell_indices(_coordinate(da, n, what, "station"), grid, d, n, what) for d, n in enumerate(names)]
    cells = np.ravel_multi_index(tuple(reversed(per_dim)), grid.array_shape)
    _no_repeats(cells, what, "station")
    return da, cells


def _gridded(da, grid: Grid, names, what: str):
    expected = ("time",) + tuple(reversed(names))
    if set(da.dims) != set(expected):
        raise ObservationError(f"{what}: '{da.name}' has dims {da.dims}; expected {expected} (a subset of the "
                               "cell centres) or (time, station) with x" + (", y" if grid.ndim == 2 else "")
                               + " coordinates")
    da = da.transpose(*expected)
    per_dim = [_cell_indices(_coordinate(da, n, what, n), grid, d, n, what) for d, n in enumerate(names)]
    for n, index in zip(names, per_dim):
        _no_repeats(index, what, n)
    mesh = np.meshgrid(*reversed(per_dim), indexing="ij")
    return da, np.ravel_multi_index(tuple(mesh), grid.array_shape).ravel()


def _no_repeats(index: np.ndarray, what: str, name: str) -> None:
    unique, counts = np.unique(index, return_counts=True)
    if np.any(counts > 1):
        what_repeats = "output time" if name == "time" else "cell"
        raise ObservationError(f"{what}: two {name} entries fall on the same {what_repeats} (index "
                               f"{int(unique[counts > 1][0])}); keep one")


def _match_times(da: xr.DataArray, truth: xr.Dataset, what: str) -> tuple[np.ndarray, np.ndarray]:
    if "time" not in da.coords:
        raise ObservationError(f"{what}: '{da.name}' has no 'time' coordinate")
    given = np.asarray(da["time"].values, dtype=np.float64)
    truth_times = np.asarray(truth["time"].values, dtype=np.float64)
    start, stop = float(truth_times[0]), float(truth_times[-1])
    tol = TOLERANCE * max(1.0, abs(start), abs(stop))
    outside = np.flatnonzero((given < start - tol) | (given > stop + tol))
    if outside.size:
        raise ObservationError(f"{what}: time {given[outside[0]]:.12g} is outside the run window "
                               f"[{start:g}, {stop:g}]; drop it or extend time.start/stop")
    index = np.abs(given[:, None] - truth_times[None, :]).argmin(axis=1)
    off = np.flatnonzero(np.abs(truth_times[index] - given) > tol)
    if off.size:
        t = given[off[0]]
        raise ObservationError(f"{what}: time {t:.12g} is not a truth output time (nearest {truth_times[index[off[0]]]:g}; "
                               f"outputs every {truth_times[1] - truth_times[0] if truth_times.size > 1 else 0:g} "
                               f"from {start:g}); observe at output times or change time.output_interval")
    _no_repeats(index, what, "time")
    return index, truth_times[index]
