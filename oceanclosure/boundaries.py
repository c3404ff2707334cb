"""Boundary conditions and ghost-cell padding, set per side.

Sides are ``left``/``right`` (x) and ``bottom``/``top`` (y). Each is one of

* `Periodic()`  -- paired with the opposite side;
* `Dirichlet(value)`  -- u = value at the wall;
* `Neumann(gradient)`  -- du/dx (or du/dy) = gradient at the wall, the derivative
  taken along the positive coordinate direction on both sides.

Ghost cells for a wall are point values of the polynomial ``p`` of degree
``order`` that meets the wall condition (``p = value`` or ``p' = gradient``) and
passes through the first ``order`` interior cell centres. The padding is therefore
exact for polynomial data of that degree and its error is O(dx^(order+1)) for
smooth data; a scheme asks for the order it needs (`fluxes.Scheme.boundary_order`).
jax-cfd's own width-2 padding is not used: it repeats the first ghost cell, which
is only first-order accurate for the second ghost.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Union

import jax.numpy as jnp
import numpy as np

SIDE_NAMES = (("left", "right"), ("bottom", "top"))


@dataclasses.dataclass(frozen=True)
class Periodic:
    kind = "periodic"


@dataclasses.dataclass(frozen=True)
class Dirichlet:
    value: float = 0.0
    kind = "dirichlet"


@dataclasses.dataclass(frozen=True)
class Neumann:
    gradient: float = 0.0
    kind = "neumann"


Side = Union[Periodic, Dirichlet, Neumann]


@dataclasses.dataclass(frozen=True)
class BoundaryConditions:
    """Per-side conditions: ``sides[dim] = (lower, upper)``."""

    sides: tuple[tuple[Side, Side], ...]

    def __post_init__(self):
        for dim, (lower, upper) in enumerate(self.sides):
            if isinstance(lower, Periodic) != isinstance(upper, Periodic):
                lo, hi = SIDE_NAMES[dim]
                raise ValueError(
                    f"boundary: '{lo}' and '{hi}' must both be periodic or both not, "
                    f"got {lower.kind} and {upper.kind}"
                )

    @classmethod
    def periodic(cls, ndim: int = 1) -> "BoundaryConditions":
        return cls(sides=((Periodic(), Periodic()),) * ndim)

    @classmethod
    def from_sides(cls, **named: Side) -> "BoundaryConditions":
        """Build from ``left=..., right=...`` (and ``bottom=..., top=...`` in 2D)."""
        ndim = 2 if ("bottom" in named or "top" in named) else 1
        sides = []
        for lo, hi in SIDE_NAMES[:ndim]:
            missing = [s for s in (lo, hi) if s not in named]
            if missing:
                raise ValueError(f"boundary: missing side(s) {missing}")
            sides.append((named[lo], named[hi]))
        return cls(sides=tuple(sides))

    @property
    def ndim(self) -> int:
        return len(self.sides)

    def is_periodic(self, dim: int) -> bool:
        return isinstance(self.sides[dim][0], Periodic)

    @property
    def all_periodic(self) -> bool:
        return all(self.is_periodic(d) for d in range(self.ndim))

    def named(self) -> dict[str, Side]:
        return {name: side for names, pair in zip(SIDE_NAMES, self.sides) for name, side in zip(names, pair)}

    def pad(self, u, width: int, dim: int, h: float, order: int = 2):
        """Pad ``u`` with ``width`` ghost cells on both sides of dimension ``dim``.

        Args:
          u: cell-centred array in our layout (x last).
          width: ghost cells per side.
          dim: 0 for x, 1 for y.
          h: cell width along ``dim`` (needed by Neumann conditions).
          order: polynomial degree of the wall extrapolation (see module docstring).
        """
        axis = -1 - dim
        padded = self.pad_line(jnp.moveaxis(u, axis, -1), width, dim, h, order)
        return jnp.moveaxis(padded, -1, axis)

    def pad_line(self, v, width: int, dim: int, h: float, order: int = 2):
        """As `pad`, for an array whose last axis already runs along ``dim``."""
        if width > v.shape[-1]:
            raise ValueError(f"boundary padding of width {width} needs at least {width} cells, got {v.shape[-1]}")
        if self.is_periodic(dim):
            return jnp.concatenate([v[..., -width:], v, v[..., :width]], axis=-1)
        lower, upper = self.sides[dim]
        low = _wall_ghosts(v, lower, width, h, order)
        high = _wall_ghosts(v[..., ::-1], upper, width, -h, order)[..., ::-1]
        return jnp.concatenate([low, v, high], axis=-1)


def _wall_ghosts(v, side: Side, width: int, h: float, order: int):
    """Ghosts below the first cell of ``v`` (last axis), ordered outward-to-inward.

    For the upper wall the caller reverses the array and passes ``-h`` so that the
    outward normal derivative flips sign.
    """
    n = v.shape[-1]
    if order > n:
        raise ValueError(f"boundary padding of order {order} needs at least {order} cells, got {n}")
    bc_weight, cell_weights = _ghost_weights(side.kind, width, order)
    interior = v[..., :order]
    bc_data = side.value if isinstance(side, Dirichlet) else side.gradient * h
    bc_term = jnp.asarray(bc_weight, v.dtype) * jnp.asarray(bc_data, v.dtype)  # keep v's dtype (float32 stays)
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
        raise ValueError(f"no ghost extrapolation for a {kind!r} side")
    system = np.vstack([bc_row, s_cells[:, None] ** powers[None, :]])
    s_ghost = -(np.arange(1, width + 1) - 0.5)
    weights = (s_ghost[:, None] ** powers[None, :]) @ np.linalg.inv(system)
    return weights[:, 0].copy(), weights[:, 1:].copy()
