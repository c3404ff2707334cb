"""Boundary conditions and ghost-cell padding, set per variable and per side.

Sides are ``left``/``right`` (x), ``bottom``/``top`` (y, and z in a column).
Each is one of

* `Periodic()`  -- paired with the opposite side;
* `Dirichlet(value)`  -- u = value at the wall;
* `Neumann(gradient)`  -- ∂u/∂x (or ∂u/∂y, ∂u/∂z) = gradient at the wall, the
  derivative taken along the positive coordinate direction on both sides;
* `Flux(flux)`  -- the total face flux through the wall is prescribed (default
  0, no flux). ``flux`` is the flux along the positive coordinate direction, as
  every face flux in the package: at a lower wall (left, bottom) a positive
  flux enters the domain, at an upper wall (right, top) it leaves it.

A value, gradient or flux is a number or a `BoundaryValue`: a safe expression in
t, the model's physics parameters and, in 2D, the coordinate along the side
(``right = { kind = "dirichlet", value = "1/(1+t)" }``). It is evaluated inside
the jitted step at the stage time, with the physics the step is given.

Ghost cells for a Dirichlet or Neumann wall are point values of the polynomial
``p`` of degree ``order`` that meets the wall condition (``p = value`` or
``p' = gradient``) and passes through the first ``order`` interior cell centres.
The padding is therefore exact for polynomial data of that degree and its error
is O(dx^(order+1)) for smooth data; a scheme asks for the order it needs
(`fluxes.Scheme.boundary_order`). A flux wall pads like a zero-gradient Neumann
wall, so that interior stencils near it see smooth data; the model then replaces
the wall face's flux by the prescribed one (`models.base.FluxModel`), so the
ghosts never set what crosses the wall. jax-cfd's own width-2 padding is not
used: it repeats the first ghost cell, which is only first-order accurate for
the second ghost.

`BoundaryConditions` holds the sides of one variable; `FieldBoundaries` maps
each variable to its own (the ``[boundary]`` table of a case applies to all of
them, ``[boundary.<name>]`` overrides it for one).
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Mapping, Sequence, Union

import jax.numpy as jnp
import numpy as np

from .errors import InputError
from .expressions import Expression, parse_expression
from .grid import SIDES, default_dims

SIDE_NAMES = (("left", "right"), ("bottom", "top"))


@dataclasses.dataclass(frozen=True)
class BoundaryValue:
    """A wall value that varies: a safe expression in t, physics parameters and the side's coordinate.

    Args:
      text: the expression, e.g. ``"1/(1+t)"`` or ``"0.5*(1 + tanh((t - 2)/0.1))"``.
      parameters: physics parameter names it may use (values come from the step's physics).
      along: the coordinate name along the side it may use (2D only), or None.
    """

    text: str
    parameters: tuple[str, ...] = ()
    along: str | None = None
    expression: Expression = dataclasses.field(init=False, compare=False, repr=False)

    def __post_init__(self):
        names = ("t",) + tuple(self.parameters) + ((self.along,) if self.along else ())
        object.__setattr__(self, "parameters", tuple(self.parameters))
        object.__setattr__(self, "expression", parse_expression(self.text, names, what=f"boundary value {self.text!r}"))

    def __call__(self, t, physics=None, along=None):
        """The value at time t (jax.numpy), broadcast along the side when it uses its coordinate."""
        values = {"t": t}
        for name in self.expression.variables:
            if name in self.parameters:
                if physics is None or name not in physics or physics[name] is None:
                    raise InputError(f"boundary value {self.text!r} needs the physics parameter {name!r}")
                values[name] = physics[name]
        if self.along is not None and self.along in self.expression.variables:
            values[self.along] = along
        return self.expression.evaluate(jnp, **values)


Value = Union[float, BoundaryValue]


def _value(value: Value, t, physics, along):
    return value(t, physics, along) if isinstance(value, BoundaryValue) else value


@dataclasses.dataclass(frozen=True)
class Periodic:
    kind = "periodic"


@dataclasses.dataclass(frozen=True)
class Dirichlet:
    value: Value = 0.0
    kind = "dirichlet"

    def data(self, t=0.0, physics=None, along=None):
        return _value(self.value, t, physics, along)


@dataclasses.dataclass(frozen=True)
class Neumann:
    gradient: Value = 0.0
    kind = "neumann"

    def data(self, t=0.0, physics=None, along=None):
        return _value(self.gradient, t, physics, along)


@dataclasses.dataclass(frozen=True)
class Flux:
    """A prescribed total flux through the wall, along the positive coordinate (module docstring)."""

    flux: Value = 0.0
    kind = "flux"

    def data(self, t=0.0, physics=None, along=None):
        return 0.0  # ghosts of a zero-gradient wall; the model sets the wall flux itself

    def wall_flux(self, t=0.0, physics=None, along=None):
        return _value(self.flux, t, physics, along)


Side = Union[Periodic, Dirichlet, Neumann, Flux]


@dataclasses.dataclass(frozen=True)
class BoundaryConditions:
    """Per-side conditions: ``sides[dim] = (lower, upper)``."""

    sides: tuple[tuple[Side, Side], ...]
    dims: tuple[str, ...] = ()

    def __post_init__(self):
        dims = tuple(self.dims) or default_dims(len(self.sides))
        object.__setattr__(self, "dims", dims)
        if len(dims) != len(self.sides):
            raise InputError(f"boundary: {len(self.sides)} pairs of sides for dimensions {list(dims)}")
        for dim, (lower, upper) in enumerate(self.sides):
            if isinstance(lower, Periodic) != isinstance(upper, Periodic):
                lo, hi = SIDES[dims[dim]]
                raise InputError(
                    f"boundary: '{lo}' and '{hi}' must both be periodic or both not, "
                    f"got {lower.kind} and {upper.kind}"
                )

    @classmethod
    def periodic(cls, ndim: int = 1, dims: Sequence[str] = ()) -> "BoundaryConditions":
        return cls(sides=((Periodic(), Periodic()),) * ndim, dims=tuple(dims))

    @classmethod
    def from_sides(cls, dims: Sequence[str] | None = None, **named: Side) -> "BoundaryConditions":
        """Build from ``left=..., right=...`` (``bottom=..., top=...`` in 2D, or for a z column).

        ``dims`` names the grid's dimensions; by default ``("x",)``, or ``("x", "y")``
        when both left/right and bottom/top are given.
        """
        if dims is None:
            dims = ("x", "y") if ("left" in named or "right" in named) and ("bottom" in named or "top" in named) \
                else ("x",)
        sides = []
        for name in dims:
            lo, hi = SIDES[name]
            missing = [s for s in (lo, hi) if s not in named]
            if missing:
                raise InputError(f"boundary: missing side(s) {missing}")
            sides.append((named[lo], named[hi]))
        unknown = sorted(set(named) - {s for d in dims for s in SIDES[d]})
        if unknown:
            raise InputError(f"boundary: {unknown} are not sides of a grid with dimensions {list(dims)}")
        return cls(sides=tuple(sides), dims=tuple(dims))

    @property
    def ndim(self) -> int:
        return len(self.sides)

    def is_periodic(self, dim: int) -> bool:
        return isinstance(self.sides[dim][0], Periodic)

    @property
    def all_periodic(self) -> bool:
        return all(self.is_periodic(d) for d in range(self.ndim))

    def named(self) -> dict[str, Side]:
        return {name: side for dim, pair in zip(self.dims, self.sides) for name, side in zip(SIDES[dim], pair)}

    @property
    def is_time_dependent(self) -> bool:
        return any(isinstance(getattr(s, f, None), BoundaryValue) for pair in self.sides for s in pair
                   for f in ("value", "gradient", "flux"))

    def pad(self, u, width: int, dim: int, h: float, order: int = 2, t=0.0, physics=None, along=None):
        """Pad ``u`` with ``width`` ghost cells on both sides of dimension ``dim``.

        Args:
          u: cell-centred array in our layout (first dimension last).
          width: ghost cells per side.
          dim: 0 for x (or z), 1 for y.
          h: cell width along ``dim`` (needed by Neumann conditions).
          order: polynomial degree of the wall extrapolation (see module docstring).
          t, physics: time and physics parameters for `BoundaryValue` sides.
          along: coordinate along the side (shaped like the leading axes of the
            line), for values that depend on it in 2D.
        """
        axis = -1 - dim
        padded = self.pad_line(jnp.moveaxis(u, axis, -1), width, dim, h, order, t, physics, along)
        return jnp.moveaxis(padded, -1, axis)

    def pad_line(self, v, width: int, dim: int, h: float, order: int = 2, t=0.0, physics=None, along=None):
        """As `pad`, for an array whose last axis already runs along ``dim``."""
        if width > v.shape[-1]:
            raise InputError(f"boundary padding of width {width} needs at least {width} cells, got {v.shape[-1]}")
        if self.is_periodic(dim):
            return jnp.concatenate([v[..., -width:], v, v[..., :width]], axis=-1)
        lower, upper = self.sides[dim]
        low = _wall_ghosts(v, lower, width, h, order, lower.data(t, physics, along))
        high = _wall_ghosts(v[..., ::-1], upper, width, -h, order, upper.data(t, physics, along))[..., ::-1]
        return jnp.concatenate([low, v, high], axis=-1)

    def wall_fluxes(self, dim: int, t=0.0, physics=None, along=None) -> tuple:
        """The prescribed (lower, upper) wall fluxes of ``dim``; None for a side that is not a flux wall."""
        return tuple(side.wall_flux(t, physics, along) if isinstance(side, Flux) else None
                     for side in self.sides[dim])


def _wall_ghosts(v, side: Side, width: int, h: float, order: int, data):
    """Ghosts below the first cell of ``v`` (last axis), ordered outward-to-inward.

    For the upper wall the caller reverses the array and passes ``-h`` so that the
    outward normal derivative flips sign. ``data`` is the wall value (Dirichlet)
    or gradient (Neumann; 0 for a flux wall).
    """
    n = v.shape[-1]
    if order > n:
        raise InputError(f"boundary padding of order {order} needs at least {order} cells, got {n}")
    kind = "neumann" if side.kind == "flux" else side.kind
    bc_weight, cell_weights = _ghost_weights(kind, width, order)
    interior = v[..., :order]
    bc_data = data if kind == "dirichlet" else data * h
    bc_data = jnp.asarray(bc_data, v.dtype)
    if bc_data.ndim:  # varies along the side: one value per line
        bc_data = bc_data[..., None]
    bc_term = jnp.asarray(bc_weight, v.dtype) * bc_data  # keep v's dtype (float32 stays)
    ghosts = bc_term + interior @ jnp.asarray(cell_weights.T, v.dtype)
    return ghosts[..., ::-1]


@lru_cache(maxsize=None)
def _ghost_weights(kind: str, width: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights so that ghost_j = bc_weight[j] * bc + cell_weights[j] @ interior.

    Distances are in cell widths from the wall, interior positive: cells sit at
    s = k + 1/2, ghost j (1-based) at s = -(j - 1/2). ``bc`` is the wall value for
    Dirichlet and (gradient * h) for Neumann.
    """
    powers = np.arange(order + 1)
    s_cells = np.arange(order) + 0.5
    if kind == "dirichlet":
        bc_row = (powers == 0).astype(float)
    elif kind == "neumann":
        bc_row = (powers == 1).astype(float)
    else:
        raise InputError(f"no ghost extrapolation for a {kind!r} side")
    system = np.vstack([bc_row, s_cells[:, None] ** powers[None, :]])
    s_ghost = -(np.arange(1, width + 1) - 0.5)
    weights = (s_ghost[:, None] ** powers[None, :]) @ np.linalg.inv(system)
    return weights[:, 0].copy(), weights[:, 1:].copy()


@dataclasses.dataclass(frozen=True)
class FieldBoundaries:
    """Boundary conditions per variable: ``{name: BoundaryConditions}``.

    Every variable must have the same topology (the same dimensions periodic),
    since the grid has one. Build with `FieldBoundaries.of`.
    """

    by_variable: tuple[tuple[str, BoundaryConditions], ...]

    def __post_init__(self):
        if not self.by_variable:
            raise InputError("boundary: no variables")
        first_name, first = self.by_variable[0]
        for name, bc in self.by_variable[1:]:
            if bc.dims != first.dims:
                raise InputError(f"boundary: '{name}' is on dimensions {list(bc.dims)}, '{first_name}' on {list(first.dims)}")
            for dim in range(bc.ndim):
                if bc.is_periodic(dim) != first.is_periodic(dim):
                    raise InputError(
                        f"boundary.{name}: dimension {bc.dims[dim]} is {'' if bc.is_periodic(dim) else 'not '}"
                        f"periodic but it is {'' if first.is_periodic(dim) else 'not '}for '{first_name}'; "
                        "every variable shares the grid's topology")

    @classmethod
    def of(cls, bc: "BoundaryConditions | Mapping[str, BoundaryConditions] | FieldBoundaries",
           variables: Sequence[str]) -> "FieldBoundaries":
        """One set for every variable, or a mapping that names each variable exactly once."""
        if isinstance(bc, FieldBoundaries):
            bc = bc.as_dict()
        if isinstance(bc, BoundaryConditions):
            return cls(tuple((name, bc) for name in variables))
        unknown = [k for k in bc if k not in variables]
        missing = [v for v in variables if v not in bc]
        if unknown or missing:
            raise InputError(f"boundary: conditions given for {sorted(bc)}, the variables are {list(variables)} "
                             f"(unknown {unknown}, missing {missing})")
        return cls(tuple((name, bc[name]) for name in variables))

    def as_dict(self) -> dict[str, BoundaryConditions]:
        return dict(self.by_variable)

    def __getitem__(self, name: str) -> BoundaryConditions:
        return self.as_dict()[name]

    @property
    def first(self) -> BoundaryConditions:
        return self.by_variable[0][1]

    @property
    def ndim(self) -> int:
        return self.first.ndim

    @property
    def dims(self) -> tuple[str, ...]:
        return self.first.dims

    def is_periodic(self, dim: int) -> bool:
        return self.first.is_periodic(dim)

    def describe(self) -> str:
        """``left=dirichlet, right=neumann``; per variable where they differ."""
        texts = {name: ", ".join(f"{k}={v.kind}" for k, v in bc.named().items()) for name, bc in self.by_variable}
        if len(set(texts.values())) == 1:
            return next(iter(texts.values()))
        return "; ".join(f"{name}: {text}" for name, text in texts.items())
