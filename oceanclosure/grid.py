"""Uniform, cell-centred finite-volume grids with named dimensions.

A `Grid` describes cells, not data. Its dimensions are named: ``("x",)`` (the
default in 1D), ``("z",)`` (a vertical column in metres, positive up, with sides
``bottom`` and ``top``) or ``("x", "y")`` in 2D. Arrays that live on it are plain
JAX arrays whose axes follow the output convention: ``(x,)`` or ``(z,)`` in 1D
and ``(y, x)`` in 2D, so the first dimension is always the last array axis.
Cell ``i`` along a dimension has centre ``x0 + (i + 1/2) dx`` and faces at
``x0 + i dx`` and ``x0 + (i + 1) dx``.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from .errors import InputError

DIMENSION_NAMES = ("x", "y")
#: The dimension tuples a grid may have, and the names of each dimension's sides.
ALLOWED_DIMS = (("x",), ("z",), ("x", "y"))
SIDES = {"x": ("left", "right"), "y": ("bottom", "top"), "z": ("bottom", "top")}
#: CF attributes of each coordinate.
COORDINATE_ATTRS = {
    "x": {"long_name": "x", "axis": "X"},
    "y": {"long_name": "y", "axis": "Y"},
    "z": {"long_name": "height", "axis": "Z",
          "positive": "up", "units": "m", "standard_name": "height"},
}


def default_dims(ndim: int) -> tuple[str, ...]:
    return DIMENSION_NAMES[:ndim]


@dataclasses.dataclass(frozen=True)
class Grid:
    """A uniform cell-centred grid.

    Args:
      shape: number of cells per dimension in dimension order, ``(nx,)`` or
        ``(nx, ny)``.
      domain: ``((x0, x1),)`` or ``((x0, x1), (y0, y1))``, in model length units.
      bounded: per dimension, whether it ends at walls (True) or wraps around
        periodically (False, the default). A model sets this from its boundary
        conditions, so that stencil operators (closure features) know where to
        switch to one-sided stencils. It is topology, as in Oceananigans' grids.
      dims: dimension names in dimension order, one of `ALLOWED_DIMS`
        (default ``("x",)`` in 1D, ``("x", "y")`` in 2D).
    """

    shape: tuple[int, ...]
    domain: tuple[tuple[float, float], ...]
    bounded: tuple[bool, ...] = ()
    dims: tuple[str, ...] = ()

    def __post_init__(self):
        shape = tuple(int(n) for n in self.shape)
        domain = tuple((float(lo), float(hi)) for lo, hi in self.domain)
        bounded = tuple(bool(b) for b in self.bounded) or (False,) * len(shape)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "domain", domain)
        object.__setattr__(self, "bounded", bounded)
        dims = tuple(str(d) for d in self.dims) or default_dims(len(shape))
        object.__setattr__(self, "dims", dims)
        if dims not in ALLOWED_DIMS:
            raise InputError(f"Grid: dims must be one of {[list(d) for d in ALLOWED_DIMS]}, got {list(dims)}")
        if len(bounded) != len(shape):
            raise InputError(f"Grid: bounded has {len(bounded)} entries, expected {len(shape)}")
        if len(shape) not in (1, 2):
            raise InputError(f"Grid: expected 1 or 2 dimensions, got shape {shape}")
        if len(domain) != len(shape):
            raise InputError(
                f"Grid: domain has {len(domain)} dimension(s) but shape {shape} has {len(shape)}"
            )
        if len(dims) != len(shape):
            raise InputError(f"Grid: dims {list(dims)} do not match shape {shape}")
        for name, n, (lo, hi) in zip(dims, shape, domain):
            if n < 1:
                raise InputError(f"Grid: n{name} must be >= 1, got {n}")
            if not hi > lo:
                raise InputError(f"Grid: domain along {name} must have x1 > x0, got [{lo}, {hi}]")

    @classmethod
    def uniform(cls, n: int | Sequence[int], domain, dims: Sequence[str] = ()) -> "Grid":
        """Build from ``nx`` (or ``(nx, ny)``) and ``[x0, x1]`` (or ``[[x0, x1], [y0, y1]]``)."""
        shape = (n,) if np.ndim(n) == 0 else tuple(n)
        domain = np.asarray(domain, dtype=float)
        domain = (tuple(domain),) if domain.ndim == 1 else tuple(map(tuple, domain))
        return cls(shape=shape, domain=domain, dims=tuple(dims))

    def sides(self, dim: int) -> tuple[str, str]:
        """Names of the lower and upper side of dimension ``dim`` (e.g. bottom, top for z)."""
        return SIDES[self.dims[dim]]

    def dim_index(self, name: str) -> int:
        """Dimension number of the dimension called ``name``."""
        if name not in self.dims:
            raise InputError(f"the grid has dimensions {list(self.dims)}, not {name!r}")
        return self.dims.index(name)

    def coordinates(self) -> dict[str, np.ndarray]:
        """Cell-centre coordinates broadcast to the array shape, by dimension name."""
        return dict(zip(self.dims, self.mesh()))

    def face_coordinates(self, dim: int) -> dict[str, np.ndarray]:
        """Coordinates of the faces normal to ``dim`` by dimension name (that face array's shape)."""
        return dict(zip(self.dims, self.face_mesh(dim)))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nx(self) -> int:
        return self.shape[0]

    @property
    def ny(self) -> int:
        if self.ndim < 2:
            raise AttributeError("a 1D grid has no ny")
        return self.shape[1]

    @property
    def step(self) -> tuple[float, ...]:
        """Cell widths per dimension in dimension order, ``(dx,)`` or ``(dx, dy)``."""
        return tuple((hi - lo) / n for n, (lo, hi) in zip(self.shape, self.domain))

    @property
    def dx(self) -> float:
        return self.step[0]

    @property
    def dy(self) -> float:
        return self.step[1]

    @property
    def length(self) -> tuple[float, ...]:
        return tuple(hi - lo for lo, hi in self.domain)

    @property
    def array_shape(self) -> tuple[int, ...]:
        """Shape of a cell-centred array: ``(nx,)`` or ``(ny, nx)``."""
        return tuple(reversed(self.shape))

    @property
    def cell_volume(self) -> float:
        return float(np.prod(self.step))

    def array_axis(self, dim: int) -> int:
        """Array axis holding dimension ``dim`` (0 = x, 1 = y): x is always the last axis."""
        return -1 - dim

    def centers(self, dim: int = 0) -> np.ndarray:
        """Cell-centre coordinates along ``dim`` (float64, 1D)."""
        (lo, _), n, h = self.domain[dim], self.shape[dim], self.step[dim]
        return lo + (np.arange(n) + 0.5) * h

    def faces(self, dim: int = 0) -> np.ndarray:
        """Face coordinates along ``dim`` (float64, length n + 1)."""
        (lo, _), n, h = self.domain[dim], self.shape[dim], self.step[dim]
        return lo + np.arange(n + 1) * h

    def mesh(self) -> tuple[np.ndarray, ...]:
        """Cell-centre coordinates broadcast to the array shape, in dimension order (x, y)."""
        return self._broadcast([self.centers(d) for d in range(self.ndim)])

    def face_mesh(self, dim: int) -> tuple[np.ndarray, ...]:
        """Coordinates of the faces normal to ``dim``, broadcast to that face array's shape."""
        axes = [self.faces(d) if d == dim else self.centers(d) for d in range(self.ndim)]
        return self._broadcast(axes)

    def _broadcast(self, axes_in_dim_order):
        grids = np.meshgrid(*reversed(axes_in_dim_order), indexing="ij")
        return tuple(reversed(grids))

    def with_shape(self, shape: int | Sequence[int]) -> "Grid":
        """The same domain and topology at another resolution."""
        shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)
        return dataclasses.replace(self, shape=shape)

    def with_bounded(self, bounded: Sequence[bool]) -> "Grid":
        return dataclasses.replace(self, bounded=tuple(bounded))

    def attrs(self) -> dict[str, float | int]:
        """Attributes from which `Grid.from_attrs` rebuilds this grid (for netCDF output)."""
        out: dict[str, float | int] = {"grid_ndim": self.ndim, "grid_dims": " ".join(self.dims)}
        for name, n, (lo, hi) in zip(self.dims, self.shape, self.domain):
            out.update({f"grid_n{name}": n, f"grid_{name}0": lo, f"grid_{name}1": hi})
        out["grid_bounded"] = "".join("1" if b else "0" for b in self.bounded)
        return out

    @classmethod
    def from_attrs(cls, attrs) -> "Grid":
        ndim = int(attrs["grid_ndim"])
        names = tuple(str(attrs.get("grid_dims", " ".join(default_dims(ndim)))).split())
        shape = tuple(int(attrs[f"grid_n{n}"]) for n in names)
        domain = tuple((float(attrs[f"grid_{n}0"]), float(attrs[f"grid_{n}1"])) for n in names)
        bounded = tuple(c == "1" for c in str(attrs.get("grid_bounded", "0" * ndim)))
        return cls(shape=shape, domain=domain, bounded=bounded, dims=names)
