"""Coefficients and forcings c(x, t): constants, time tables, expressions, netCDF fields.

A diffusivity κ(z, t), a velocity u(x, y, t) or a forcing F(z, t) is a
:class:`Coefficient`.  Models evaluate it inside jitted code,

    c = coefficient.at(coords, t)        # jax.numpy, traceable in t

where ``coords`` maps dimension names to coordinates, e.g.
``grid.face_coordinates(0)`` for a diffusivity needed at the faces, and the
result broadcasts against those coordinates (a :class:`Constant` returns a
scalar).  On the host, :meth:`Coefficient.max_abs` and
:meth:`Coefficient.min_value` sample it with numpy for stable time steps and
sign checks.

Kinds
-----
- :class:`Constant` ``c``.
- :class:`TimeTable` ``c(t)``: piecewise linear through ``(t_k, v_k)``,
  constant beyond the ends, or periodic with a period.
- :class:`ExpressionCoefficient`: a safe expression (see
  :mod:`oceanclosure.expressions`) in the coordinates, ``t``, named
  parameters, and named time tables called as functions, e.g.
  ``"0.1 + 8*exp((z - M(t))/10)"``.
- :class:`FileCoefficient`: a netCDF variable at the cell centres, optionally
  with a ``time`` dimension, interpolated (multi)linearly in space and time.

Case files give them as values, built by :func:`coefficient_from_spec`::

    K = 1e-3                                       # Constant
    K = "1e-3 * (1 + z/50)"                        # expression
    K = {t = [0, 180], values = [1, 2], period = 365}          # TimeTable
    K = {expression = "0.1 + 8*exp((z - M(t))/10)",
         tables = {M = {t = [0, 180], values = [-20, -60], period = 365}}}
    K = {file = "kappa.nc", variable = "K"}        # FileCoefficient

Coefficients are immutable and compare and hash by value, so they can be
static (not traced) members of a jitted model: their numbers are numpy
arrays, turned into ``jax.numpy`` arrays at call time.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import hashlib
import itertools
import math
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .errors import InputError, InputTypeError, MissingFileError
from .expressions import Expression, ExpressionError, parse_expression
from .fieldfile import COORDINATE_TOLERANCE  # one tolerance for every field file
from .grid import Grid

__all__ = [
    "Coefficient",
    "Constant",
    "TimeTable",
    "ExpressionCoefficient",
    "FileCoefficient",
    "coefficient_from_spec",
    "nonnegative",
    "require_nonnegative",
    "TIME_DIM",
    "COORDINATE_TOLERANCE",
]

Coords = Mapping[str, Any]

TIME_DIM = "time"
"""Name of the optional time dimension of a :class:`FileCoefficient` variable."""



class Coefficient(abc.ABC):
    """A field ``c(coords, t)``; subclasses are frozen and compare by value.

    Subclasses implement :meth:`evaluate`, :meth:`describe` and ``_key``;
    they may refine :attr:`is_constant`, :meth:`global_minimum`,
    :meth:`critical_times` and :meth:`check_grid`.
    """

    @abc.abstractmethod
    def evaluate(self, xp: Any, coords: Coords, t: Any) -> Any:
        """``c(coords, t)`` with array namespace ``xp`` (numpy or jax.numpy)."""

    @abc.abstractmethod
    def describe(self) -> str:
        """One line saying what the coefficient is, for logs and errors."""

    @abc.abstractmethod
    def _key(self) -> tuple:
        """Hashable value that defines equality."""

    @property
    def is_constant(self) -> bool:
        """True when the value depends on neither the coordinates nor t."""
        return False

    def at(self, coords: Coords, t: Any) -> jnp.ndarray:
        """``c(coords, t)`` as a jax.numpy array broadcastable to the coordinates' shape.

        ``coords`` maps dimension names to coordinate arrays (e.g.
        ``grid.coordinates()`` or ``grid.face_coordinates(dim)``); ``t`` may
        be traced.  Compiled once per coefficient (by value) and coordinate
        shapes; inside an outer ``jax.jit`` it is inlined.
        """
        return _compiled_at(self, dict(coords), t)

    def global_minimum(self) -> float | None:
        """min over all coordinates and times, when known without a grid; else None."""
        return None

    def critical_times(self, start: float, stop: float) -> np.ndarray:
        """Times in [start, stop] where c(·, t) has kinks (table knots); sampled too."""
        return np.empty(0)

    def check_grid(self, grid: Grid) -> None:
        """Raise ValueError if the coefficient cannot live on ``grid``."""

    def max_abs(self, coords: Coords, times: Sequence[float]) -> float:
        """max |c| at ``coords`` over ``times`` and the critical times between them.

        Evaluated with numpy in float64; NaN if c is NaN at some sample.
        """
        return float(np.max([np.max(np.abs(v), initial=0.0) for v in self._samples(coords, times)]))

    def min_value(self, coords: Coords, times: Sequence[float]) -> float:
        """min c at ``coords`` over ``times`` and the critical times between them (numpy)."""
        return float(np.min([np.min(v, initial=np.inf) for v in self._samples(coords, times)]))

    def _samples(self, coords: Coords, times: Sequence[float]) -> Iterator[np.ndarray]:
        coords = {name: np.asarray(c, dtype=np.float64) for name, c in coords.items()}
        times = _sample_times(times)
        extra = self.critical_times(float(times[0]), float(times[-1]))
        for t in np.union1d(times, extra):
            yield np.asarray(self.evaluate(np, coords, float(t)), dtype=np.float64)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._key() == self._key()

    def __hash__(self) -> int:
        return hash((type(self).__qualname__, self._key()))

    def __str__(self) -> str:
        return self.describe()


@functools.partial(jax.jit, static_argnums=0)
def _compiled_at(coefficient: Coefficient, coords: dict[str, Any], t: Any) -> jnp.ndarray:
    return coefficient.evaluate(jnp, coords, t)


# --------------------------------------------------------------------------
# constants and time tables


@dataclasses.dataclass(frozen=True, eq=False)
class Constant(Coefficient):
    """``c(x, t) = value``."""

    value: float

    def __post_init__(self):
        object.__setattr__(self, "value", _finite_number(self.value, "Constant: value"))

    def evaluate(self, xp, coords, t):
        return xp.asarray(self.value)

    @property
    def is_constant(self) -> bool:
        return True

    def global_minimum(self) -> float:
        return self.value

    def describe(self) -> str:
        return f"constant {self.value:g}"

    def _key(self) -> tuple:
        return (self.value,)


@dataclasses.dataclass(frozen=True, eq=False)
class TimeTable(Coefficient):
    """``c(t)`` piecewise linear through ``(t_k, values_k)``, uniform in space.

    Without a period, ``c(t) = values_0`` for ``t < t_0`` and ``values_-1``
    for ``t > t_-1``.  With a period ``P`` (``t_-1 - t_0 <= P``),
    ``c(t) = c(t_0 + (t - t_0) mod P)`` and the table closes through
    ``(t_0 + P, values_0)``: between ``t_-1`` and ``t_0 + P`` it runs linearly
    from ``values_-1`` back to ``values_0``.  A table spanning exactly one
    period has a jump there, ``values_-1`` being the left limit at
    ``t_0 + kP`` and ``values_0`` the value.

    Args:
      t: at least two strictly increasing finite times (model time units).
      values: as many finite values.
      period: None, or the period (> 0, at least the table's span).
    """

    t: np.ndarray
    values: np.ndarray
    period: float | None = None
    _knots: np.ndarray = dataclasses.field(init=False, repr=False)
    _knot_values: np.ndarray = dataclasses.field(init=False, repr=False)

    def __post_init__(self):
        t, values = _table_arrays(self.t, self.values)
        period = _table_period(self.period, t)
        knots, knot_values = t, values
        if period is not None and t[-1] - t[0] < period:
            knots = _frozen(np.append(t, t[0] + period))
            knot_values = _frozen(np.append(values, values[0]))
        for name, value in [("t", t), ("values", values), ("period", period),
                            ("_knots", knots), ("_knot_values", knot_values)]:
            object.__setattr__(self, name, value)

    def interpolate(self, xp: Any, s: Any) -> Any:
        """The table's value at times ``s`` (any shape) with namespace ``xp``."""
        s, t0 = xp.asarray(s), float(self.t[0])  # Python floats keep s's precision
        if self.period is not None:
            s = t0 + xp.mod(s - t0, self.period)
        return xp.interp(s, xp.asarray(self._knots), xp.asarray(self._knot_values))

    def __call__(self, s: Any) -> jnp.ndarray:
        """The table's value at times ``s`` with jax.numpy."""
        return self.interpolate(jnp, s)

    def evaluate(self, xp, coords, t):
        return self.interpolate(xp, t)

    def global_minimum(self) -> float:
        return float(self.values.min())  # linear pieces: extremes at the knots

    def critical_times(self, start: float, stop: float) -> np.ndarray:
        """The knots in [start, stop]; with a period, those of the first period in it."""
        knots = self._knots
        if self.period is not None:
            stop = min(stop, start + self.period)
            first = math.floor((start - self.t[0]) / self.period)
            shifts = self.period * np.arange(first, first + 2)
            knots = (knots[None, :] + shifts[:, None]).ravel()
        return np.unique(knots[(knots >= start) & (knots <= stop)])

    def describe(self) -> str:
        period = "" if self.period is None else f", period {self.period:g}"
        return (f"time table of {len(self.t)} points over "
                f"[{self.t[0]:g}, {self.t[-1]:g}]{period}")

    def _key(self) -> tuple:
        return (tuple(self.t.tolist()), tuple(self.values.tolist()), self.period)


def _table_arrays(t: Any, values: Any) -> tuple[np.ndarray, np.ndarray]:
    t = _float_vector(t, "TimeTable: t")
    values = _float_vector(values, "TimeTable: values")
    if len(t) != len(values):
        raise InputError(
            f"TimeTable: t and values must have the same length, "
            f"got len(t) = {len(t)} and len(values) = {len(values)}"
        )
    if len(t) < 2:
        raise InputError(f"TimeTable: needs at least 2 points, got {len(t)}")
    for name, array in [("t", t), ("values", values)]:
        if not np.all(np.isfinite(array)):
            raise InputError(f"TimeTable: {name} must be finite, got {_listing(array)}")
    steps = np.diff(t)
    if not np.all(steps > 0):
        k = int(np.argmax(~(steps > 0)))
        raise InputError(
            f"TimeTable: t must be strictly increasing, got t[{k}] = {t[k]:g} "
            f"followed by t[{k + 1}] = {t[k + 1]:g}"
        )
    return _frozen(t), _frozen(values)


def _table_period(period: Any, t: np.ndarray) -> float | None:
    if period is None:
        return None
    period = _finite_number(period, "TimeTable: period")
    if not period > 0:
        raise InputError(f"TimeTable: period must be > 0, got {period:g}")
    span = float(t[-1] - t[0])
    if span > period:
        raise InputError(
            f"TimeTable: the table spans t[-1] - t[0] = {span:g}, more than "
            f"its period {period:g}; expected a span <= period"
        )
    return period


# --------------------------------------------------------------------------
# expressions


@dataclasses.dataclass(frozen=True, eq=False)
class ExpressionCoefficient(Coefficient):
    """``c(x, t) = expression(coords, t, parameters, tables)``.

    Args:
      text: a safe expression (see :mod:`oceanclosure.expressions`) in the
        coordinate names ``dims``, ``t``, the parameter names, and the table
        names called with one argument, e.g. ``"0.1 + 8*exp((z - M(t))/10)"``.
      dims: coordinate names, e.g. ``grid.dims``.
      parameters: named numbers (not to be mutated).
      tables: named :class:`TimeTable`, callable in the text (not to be mutated).
      what: where the text came from, for error messages.
    """

    text: str
    dims: tuple[str, ...]
    parameters: Mapping[str, float] = dataclasses.field(default_factory=dict)
    tables: Mapping[str, TimeTable] = dataclasses.field(default_factory=dict)
    what: str = "coefficient"
    expression: Expression = dataclasses.field(init=False, repr=False)

    def __post_init__(self):
        dims = _check_dims(self.dims, self.what)
        parameters = _check_parameters(self.parameters, dims, self.what)
        tables = _check_tables(self.tables, self.what)
        names = dims + ("t",) + tuple(parameters)
        expression = parse_expression(
            self.text, names, what=self.what, functions={name: 1 for name in tables}
        )
        for name, value in [("dims", dims), ("parameters", parameters),
                            ("tables", tables), ("expression", expression)]:
            object.__setattr__(self, name, value)

    @property
    def coordinate_names(self) -> tuple[str, ...]:
        """The coordinates the expression uses."""
        return tuple(d for d in self.dims if d in self.expression.variables)

    @property
    def is_constant(self) -> bool:
        used = set(self.expression.variables) - set(self.parameters)
        return not used and not self.expression.functions

    def evaluate(self, xp, coords, t):
        values = {**self.parameters, "t": t, **_pick(coords, self.coordinate_names, self.what)}
        functions = {name: functools.partial(self.tables[name].interpolate, xp)
                     for name in self.expression.functions}
        used = {name: values[name] for name in self.expression.variables}
        return self.expression.evaluate(xp, functions, **used)

    def global_minimum(self) -> float | None:
        return float(self.evaluate(np, {}, 0.0)) if self.is_constant else None

    def critical_times(self, start: float, stop: float) -> np.ndarray:
        knots = [self.tables[n].critical_times(start, stop) for n in self.expression.functions]
        return np.unique(np.concatenate([np.empty(0), *knots]))

    def check_grid(self, grid: Grid) -> None:
        missing = [d for d in self.coordinate_names if d not in grid.dims]
        if missing:
            raise InputError(
                f"{self.what}: expression {self.text!r} uses coordinate(s) "
                f"{', '.join(missing)}, but the grid has dimensions {', '.join(grid.dims)}"
            )

    def describe(self) -> str:
        used = [n for n in self.expression.variables if n in self.parameters]
        parts = [f"expression {self.text!r}"]
        if used:
            parts.append("with " + ", ".join(f"{n} = {self.parameters[n]:g}" for n in used))
        parts += [f"{n} = {self.tables[n].describe()}" for n in self.expression.functions]
        return "; ".join(parts)

    def _key(self) -> tuple:
        """Text, dims and the parameters and tables the text uses (others change nothing)."""
        parameters = [(n, self.parameters[n]) for n in self.expression.variables
                      if n in self.parameters]
        tables = [(n, self.tables[n]) for n in self.expression.functions]
        return (self.text, self.dims, tuple(parameters), tuple(tables))


def _check_dims(dims: Any, what: str) -> tuple[str, ...]:
    if isinstance(dims, str):
        raise InputTypeError(f"{what}: dims must be a sequence of names, not the str {dims!r}")
    dims = tuple(dims)
    for name in dims:
        if not isinstance(name, str) or not name.isidentifier() or name == "t":
            raise InputError(
                f"{what}: dims must be coordinate names other than 't', got {list(dims)}"
            )
    return dims


def _check_parameters(parameters: Any, dims: tuple[str, ...], what: str) -> dict[str, float]:
    parameters = {} if parameters is None else parameters
    if not isinstance(parameters, Mapping):
        raise InputTypeError(f"{what}: parameters must map names to numbers, "
                        f"got {type(parameters).__name__}")
    out = {}
    for name, value in parameters.items():
        if name in dims or name == "t":
            raise InputError(
                f"{what}: parameter {name!r} collides with a coordinate name "
                f"(coordinates: {', '.join(dims + ('t',))})"
            )
        out[name] = _finite_number(value, f"{what}: parameter {name!r}")
    return out


def _check_tables(tables: Any, what: str) -> dict[str, TimeTable]:
    tables = {} if tables is None else tables
    if not isinstance(tables, Mapping):
        raise InputTypeError(f"{what}: tables must map names to TimeTable, got {type(tables).__name__}")
    for name, table in tables.items():
        if not isinstance(table, TimeTable):
            raise InputTypeError(f"{what}: tables[{name!r}] must be a TimeTable, "
                            f"got {type(table).__name__}")
    return dict(tables)


def _pick(coords: Coords, names: Sequence[str], what: str) -> dict[str, Any]:
    """The named coordinates; a clear error if some are missing."""
    missing = [n for n in names if n not in coords]
    if missing:
        raise InputError(
            f"{what}: needs coordinate(s) {', '.join(missing)}, "
            f"got coordinates {', '.join(coords) or '(none)'}"
        )
    return {n: coords[n] for n in names}


# --------------------------------------------------------------------------
# netCDF files


@dataclasses.dataclass(frozen=True, eq=False)
class FileCoefficient(Coefficient):
    """A netCDF variable given at the cell centres, interpolated linearly.

    The variable has the grid's dimensions (any order; stored in array order,
    ``(y, x)`` in 2D) and optionally a ``time`` dimension with a numeric
    ``time`` coordinate in model time units.  ``at(coords, t)`` is the
    multilinear interpolant of the centre values at the given points,
    constant beyond the outermost centres (and times):

    - at cell centres it returns the file's values;
    - at the faces normal to a dimension (``grid.face_coordinates(dim)``), the
      mean of the two neighbouring centres, and at the end faces the value of
      the end cell;
    - in time, linear between the two neighbouring file times.

    The centres come from the grid when one is given (the file's coordinate
    variables, if any, must then match them within ``COORDINATE_TOLERANCE``
    of a cell), else from the file's coordinate variables, to be checked
    later with :meth:`check_grid`.

    Args:
      path: the netCDF file.
      variable: the variable's name in it.
      dims: coordinate names in dimension order; default ``grid.dims``.
      grid: the grid the values live on (recommended).
    """

    path: str
    variable: str
    dims: tuple[str, ...] = ()
    grid: dataclasses.InitVar[Grid | None] = None
    data: np.ndarray = dataclasses.field(init=False, repr=False)
    centres: tuple[np.ndarray, ...] = dataclasses.field(init=False, repr=False)
    times: np.ndarray | None = dataclasses.field(init=False, repr=False)
    _digest: str = dataclasses.field(init=False, repr=False)

    def __post_init__(self, grid: Grid | None):
        path, dims = Path(self.path), _file_dims(self.dims, grid)
        where = f"variable {self.variable!r} in {path}"
        array = _arrange(_read_variable(path, self.variable), dims, where)
        data = _frozen(_finite_data(array, where))
        times = _file_times(array, where)
        file_centres = _file_centres(array, dims, where)
        if grid is None:
            centres = _required_centres(file_centres, dims, where)
        else:
            _check_on_grid(data.shape[data.ndim - len(dims):], file_centres, grid, where)
            centres = tuple(_frozen(grid.centers(d)) for d in range(grid.ndim))
        arrays = (data, *centres, *(() if times is None else (times,)))
        digest = hashlib.sha256(b"".join(a.tobytes() for a in arrays)).hexdigest()
        for name, value in [("path", str(path)), ("dims", dims), ("data", data),
                            ("centres", centres), ("times", times), ("_digest", digest)]:
            object.__setattr__(self, name, value)

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """Shape of one time's values, in array order."""
        return self.data.shape[-len(self.dims):]

    def evaluate(self, xp, coords, t):
        field = self._at_time(xp, t)
        points = _pick(coords, self.dims, f"variable {self.variable!r} of {self.path}")
        result = 0.0
        weights = [_linear_weights(xp, c, points[d]) for d, c in zip(self.dims, self.centres)]
        for corner in itertools.product((0, 1), repeat=len(self.dims)):
            index = tuple(weights[d][corner[d]] for d in reversed(range(len(self.dims))))
            factor = math.prod(w[2] if c else 1 - w[2] for w, c in zip(weights, corner))
            result = result + field[index] * factor
        return result

    def _at_time(self, xp, t):
        """The values at time ``t``, linear between the file's times."""
        data = xp.asarray(self.data)
        if self.times is None:
            return data
        i0, i1, w = _linear_weights(xp, self.times, t)
        return xp.take(data, i0, axis=0) * (1 - w) + xp.take(data, i1, axis=0) * w

    def global_minimum(self) -> float:
        return float(self.data.min())  # interpolation only averages the values

    def critical_times(self, start: float, stop: float) -> np.ndarray:
        if self.times is None:
            return np.empty(0)
        return self.times[(self.times >= start) & (self.times <= stop)]

    def check_grid(self, grid: Grid) -> None:
        where = f"variable {self.variable!r} in {self.path}"
        if tuple(grid.dims) != self.dims:
            raise InputError(f"{where}: has dimensions {', '.join(self.dims)}, "
                             f"the grid has {', '.join(grid.dims)}")
        _check_on_grid(self.spatial_shape, dict(zip(self.dims, self.centres)), grid, where)

    def describe(self) -> str:
        shape = " × ".join(str(n) for n in reversed(self.spatial_shape))
        time = "" if self.times is None else (
            f", {len(self.times)} times in [{self.times[0]:g}, {self.times[-1]:g}]")
        return f"netCDF variable {self.variable!r} from {self.path} on {shape} cells{time}"

    def _key(self) -> tuple:
        return (self.path, self.variable, self.dims, self._digest)


def _linear_weights(xp: Any, knots: np.ndarray, s: Any):
    """Indices ``i0, i1`` and weight ``w`` with ``f(s) ≈ (1 - w) f[i0] + w f[i1]``,
    constant beyond the end knots (a uniform spacing is found by arithmetic)."""
    n = len(knots)
    s = xp.asarray(s, dtype=float)
    if n == 1:
        zero = xp.zeros(s.shape, dtype=int)
        return zero, zero, xp.zeros(s.shape, dtype=s.dtype)
    spacing = float(knots[-1] - knots[0]) / (n - 1)
    if np.allclose(np.diff(knots), spacing, rtol=1e-12, atol=0.0):
        position = (s - float(knots[0])) / spacing
        i0 = xp.clip(xp.floor(position), 0, n - 2).astype(int)
        return i0, i0 + 1, xp.clip(position - i0, 0.0, 1.0)
    k = xp.asarray(knots, dtype=s.dtype)
    i0 = xp.clip(xp.searchsorted(k, s, side="right") - 1, 0, n - 2)
    w = xp.clip((s - k[i0]) / (k[i0 + 1] - k[i0]), 0.0, 1.0)
    return i0, i0 + 1, w


def _file_dims(dims: Any, grid: Grid | None) -> tuple[str, ...]:
    dims = tuple(dims)
    if grid is None and not dims:
        raise InputError("FileCoefficient: give dims or grid, got neither")
    if grid is not None and dims and dims != tuple(grid.dims):
        raise InputError(
            f"FileCoefficient: dims {list(dims)} differ from the grid's {list(grid.dims)}"
        )
    return dims or tuple(grid.dims)


def _read_variable(path: Path, variable: str):
    """The variable, loaded, with its coordinates; clear errors for missing or corrupt files."""
    import xarray as xr

    if not path.is_file():
        raise MissingFileError(f"netCDF file {path} (for variable {variable!r}) does not exist")
    try:
        dataset = xr.open_dataset(path, decode_times=False)
    except Exception as exc:  # xarray raises many kinds for unreadable files
        raise InputError(f"cannot read {path} as netCDF: {type(exc).__name__}: {exc}") from exc
    with dataset:
        if variable not in dataset.data_vars:
            available = ", ".join(map(str, dataset.data_vars)) or "(none)"
            raise InputError(f"no variable {variable!r} in {path}; available: {available}")
        try:
            return dataset[variable].load()
        except Exception as exc:
            raise InputError(f"cannot read variable {variable!r} from {path}: {exc}") from exc


def _arrange(array, dims: tuple[str, ...], where: str):
    """Transpose to ``(time?, *reversed(dims))``; error on other dimensions."""
    spatial = tuple(reversed(dims))
    present = set(array.dims)
    expected = set(spatial) | ({TIME_DIM} if TIME_DIM in present else set())
    if present != expected or len(array.dims) != len(expected):
        raise InputError(
            f"{where} has dimensions ({', '.join(map(str, array.dims))}); "
            f"expected ({', '.join(spatial)}) or ({TIME_DIM}, {', '.join(spatial)})"
        )
    order = ((TIME_DIM,) if TIME_DIM in present else ()) + spatial
    return array.transpose(*order)


def _finite_data(array, where: str) -> np.ndarray:
    data = np.asarray(array.values, dtype=np.float64)
    bad = int(np.count_nonzero(~np.isfinite(data)))
    if bad:
        raise InputError(f"{where} has {bad} missing or non-finite value(s) out of "
                         f"{data.size}; expected all finite")
    return data


def _file_times(array, where: str) -> np.ndarray | None:
    if TIME_DIM not in array.dims:
        return None
    if TIME_DIM not in array.coords:
        raise InputError(f"{where} has a {TIME_DIM} dimension but no {TIME_DIM} coordinate")
    return _frozen(_increasing(array.coords[TIME_DIM].values, f"{where}: {TIME_DIM}"))


def _file_centres(array, dims: tuple[str, ...], where: str) -> dict[str, np.ndarray]:
    """The file's coordinate values of the spatial dimensions that have them."""
    return {d: _frozen(_increasing(array.coords[d].values, f"{where}: coordinate {d!r}"))
            for d in dims if d in array.coords}


def _required_centres(file_centres, dims, where: str) -> tuple[np.ndarray, ...]:
    missing = [d for d in dims if d not in file_centres]
    if missing:
        raise InputError(f"{where} has no coordinate(s) {', '.join(missing)} and no grid "
                         f"was given to place it")
    return tuple(file_centres[d] for d in dims)


def _check_on_grid(shape, centres: Mapping[str, np.ndarray], grid: Grid, where: str) -> None:
    """Spatial shape equal to the grid's array shape; coordinates at its centres."""
    if tuple(shape) != grid.array_shape:
        names = ", ".join(f"n{d}" for d in reversed(grid.dims))
        raise InputError(f"{where}: wrong shape: expected ({names}) = {grid.array_shape} "
                         f"from the grid, got {tuple(shape)}")
    for d, name in enumerate(grid.dims):
        if name in centres:
            _match_centres(centres[name], grid.centers(d), grid.step[d],
                           f"{where}: coordinate {name!r}")


def _increasing(values: Any, what: str) -> np.ndarray:
    try:
        values = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be numeric, got dtype {np.asarray(values).dtype}") from None
    if not np.all(np.isfinite(values)) or not np.all(np.diff(values) > 0):
        raise InputError(f"{what} must be finite and strictly increasing, got {_listing(values)}")
    return values


def _match_centres(file_centres, grid_centres, step: float, what: str) -> None:
    difference = np.max(np.abs(file_centres - grid_centres)) / step
    if not difference <= COORDINATE_TOLERANCE:
        raise InputError(
            f"{what} does not match the grid's cell centres: differs by up to "
            f"{difference:.3g} cells (tolerance {COORDINATE_TOLERANCE:g}); expected "
            f"{_listing(grid_centres)}, got {_listing(file_centres)}"
        )


# --------------------------------------------------------------------------
# sign checks


def require_nonnegative(coefficient: Coefficient, what: str) -> bool:
    """Check c >= 0 exactly where that is possible without a grid.

    Raises ValueError naming ``what`` if a constant, a table or a file's
    values are negative; returns True when a sampled check on the grid is
    still needed (:func:`nonnegative`, for expressions in x or t), else False.
    """
    minimum = coefficient.global_minimum()
    if minimum is None:
        return True
    if not minimum >= 0:
        raise InputError(f"{what} must be nonnegative, but {coefficient.describe()} "
                         f"has minimum {minimum:g}")
    return False


def nonnegative(coefficient: Coefficient, what: str, coords: Coords,
                times: Sequence[float]) -> None:
    """Raise ValueError naming ``what`` if c < 0 (or not finite) at the sampled points.

    ``coords`` are the points (e.g. ``grid.face_coordinates(0)``), ``times``
    the times to sample, to which the coefficient's critical times between
    them are added.
    """
    minimum = coefficient.min_value(coords, times)
    if math.isnan(minimum):
        raise InputError(f"{what}: {coefficient.describe()} is not finite at some sampled point")
    if not minimum >= 0:
        raise InputError(
            f"{what} must be nonnegative, but {coefficient.describe()} reaches "
            f"{minimum:g} at the sampled points and times"
        )


# --------------------------------------------------------------------------
# case-file values

_FORMS: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {
    # form -> (required keys, optional keys); the first required key marks the form
    "expression": (frozenset({"expression"}), frozenset({"tables"})),
    "file": (frozenset({"file", "variable"}), frozenset()),
    "table": (frozenset({"t", "values"}), frozenset({"period"})),
}
_MARKERS = {"expression": "expression", "file": "file", "t": "table", "values": "table"}


def coefficient_from_spec(
    spec: Any,
    *,
    dims: Sequence[str],
    parameters: Mapping[str, float] | None = None,
    what: str,
    base_dir: str | Path | None = None,
    grid: Grid | None = None,
) -> Coefficient:
    """Build a coefficient from a case-file value.

    - a number: :class:`Constant`;
    - a string: :class:`ExpressionCoefficient` in ``dims``, ``t`` and ``parameters``;
    - ``{expression = "...", tables = {M = {t = [...], values = [...], period = P}}}``:
      :class:`ExpressionCoefficient` calling the tables;
    - ``{t = [...], values = [...], period = P}``: :class:`TimeTable`;
    - ``{file = "path.nc", variable = "K"}``: :class:`FileCoefficient`, the path
      relative to ``base_dir``, checked against ``grid`` when given;
    - a :class:`Coefficient`: itself.

    Errors (ValueError, TypeError, FileNotFoundError) name ``what``.
    """
    if isinstance(spec, Coefficient):
        return spec
    if isinstance(spec, (int, float, np.number)) and not isinstance(spec, bool):
        with _named(what):
            return Constant(spec)
    if isinstance(spec, str):
        return ExpressionCoefficient(spec, tuple(dims), parameters or {}, {}, what=what)
    if isinstance(spec, Mapping):
        form = _form(spec, what)
        if form == "expression":
            tables = _tables_from_spec(spec.get("tables", {}), what)
            return ExpressionCoefficient(spec["expression"], tuple(dims), parameters or {},
                                         tables, what=what)
        if form == "table":
            with _named(what):
                return TimeTable(spec["t"], spec["values"], spec.get("period"))
        path = _resolve(spec["file"], base_dir, what)
        variable = _text(spec["variable"], f"{what}.variable")
        with _named(what):
            return FileCoefficient(path, variable, tuple(dims), grid=grid)
    raise InputTypeError(
        f"{what}: expected a number, an expression string, or a table, expression "
        f"or file dict ({_accepted_forms()}), got {type(spec).__name__}"
    )


def _form(spec: Mapping[str, Any], what: str) -> str:
    """Which dict form ``spec`` is, after checking its keys."""
    forms = {_MARKERS[k] for k in spec if k in _MARKERS}
    if len(forms) != 1:
        found = ", ".join(map(str, spec)) or "(none)"
        raise InputError(f"{what}: cannot tell the kind of coefficient from the keys "
                         f"{found}; accepted forms: {_accepted_forms()}")
    form = forms.pop()
    required, optional = _FORMS[form]
    unknown = [k for k in spec if k not in required | optional]
    missing = sorted(required - set(spec))
    if unknown or missing:
        problem = (f"unknown key(s) {', '.join(map(str, unknown))}" if unknown
                   else f"missing key(s) {', '.join(missing)}")
        raise InputError(f"{what}: {problem} in a {form} coefficient; accepted keys: "
                         f"{', '.join(sorted(required | optional))}")
    return form


def _accepted_forms() -> str:
    return "; ".join(
        f"{form}: {', '.join(sorted(req))}" + (f" [{', '.join(sorted(opt))}]" if opt else "")
        for form, (req, opt) in _FORMS.items()
    )


def _tables_from_spec(spec: Any, what: str) -> dict[str, TimeTable]:
    if not isinstance(spec, Mapping):
        raise InputTypeError(f"{what}.tables must map names to tables, got {type(spec).__name__}")
    tables = {}
    for name, table in spec.items():
        where = f"{what}.tables.{name}"
        if isinstance(table, TimeTable):
            tables[name] = table
            continue
        if not isinstance(table, Mapping) or _form(table, where) != "table":
            raise InputError(f"{where}: expected a table {{t = [...], values = [...], "
                             f"period = ...}}, got {table!r}")
        with _named(where):
            tables[name] = TimeTable(table["t"], table["values"], table.get("period"))
    return tables


def _resolve(path: Any, base_dir: str | Path | None, what: str) -> Path:
    path = Path(_text(path, f"{what}.file"))
    return path if path.is_absolute() or base_dir is None else Path(base_dir) / path


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InputError(f"{what} must be a non-empty string, got {value!r}")
    return value


@contextmanager
def _named(what: str):
    """Prefix errors raised inside with ``what`` (keeping their type)."""
    try:
        yield
    except ExpressionError:
        raise
    except (ValueError, TypeError, FileNotFoundError) as exc:
        raise type(exc)(f"{what}: {exc}") from exc


# --------------------------------------------------------------------------
# small helpers


def _finite_number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise InputTypeError(f"{what} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f"{what} must be finite, got {value}")
    return value


def _float_vector(values: Any, what: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputTypeError(f"{what} must be a sequence of numbers, got {values!r}") from None
    if array.ndim != 1:
        raise InputError(f"{what} must be one-dimensional, got shape {array.shape}")
    return array


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=np.float64)
    array.setflags(write=False)
    return array


def _listing(values: np.ndarray, limit: int = 6) -> str:
    values = np.asarray(values).ravel()
    shown = ", ".join(f"{v:g}" for v in values[:limit])
    return f"[{shown}{', ...' if len(values) > limit else ''}]"


def _sample_times(times: Any) -> np.ndarray:
    times = np.atleast_1d(np.asarray(times, dtype=np.float64))
    if times.ndim != 1 or times.size == 0 or not np.all(np.isfinite(times)):
        raise InputError(f"times must be a non-empty sequence of finite numbers, got {times!r}")
    return np.sort(times)
