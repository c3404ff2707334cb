"""Finite-difference features on local stencils, at the grid's current spacing.

Closures are placed in the continuous PDE and discretised afterwards, so their
inputs are point-wise stacks of the state and its derivatives computed at the
*current* dx (docs/reference_problems.md §1). Feature names:

* ``u``: the state; ``u_x``, ``u_xx``, ``u_xxx``, ... its x derivatives;
  ``u_y``, ``u_yy``, ``u_xy`` ... in 2D (letters are applied in turn);
* ``dx``, ``dy``: the cell widths; any name in ``physics`` (``nu``, ...): that
  physical parameter; both broadcast to the field's shape.

A derivative of order m at (even) accuracy p uses the centred stencil of
2r + 1 cells, r = ⌊(m + 1)/2⌋ − 1 + p/2, in the interior. On a bounded
dimension (``grid.bounded``) the r cells next to each wall use a one-sided
stencil of max(2r + 1, m + p) cells lying inside the domain, so the accuracy is
p there too and no ghost cell (no boundary condition) is read. Weights come from
the Vandermonde system on unit spacing, scaled by dx^−m: exact for polynomials of
degree (stencil size − 1).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from .errors import InputError
from .grid import DIMENSION_NAMES, Grid


class FeatureError(InputError, KeyError):
    """A feature name that this grid or model cannot provide (a ValueError and a KeyError)."""

    __str__ = ValueError.__str__


_DERIVATIVE = re.compile(r"^([A-Za-z][A-Za-z0-9]*)_([xyz]+)$")
#: The coordinate letters a derivative feature may use (``u_xx``, ``N_z``).
LETTERS = ("x", "y", "z")


@lru_cache(maxsize=None)
def fd_weights(offsets: tuple[int, ...], order: int) -> np.ndarray:
    """Weights w with Σ w_k f(k) ≈ f^(order)(0) on unit spacing, exact to degree len-1."""
    offsets_arr = np.asarray(offsets, dtype=float)
    n = len(offsets)
    if order >= n:
        raise InputError(f"a derivative of order {order} needs more than {n} stencil points")
    vandermonde = offsets_arr[None, :] ** np.arange(n)[:, None]
    rhs = np.zeros(n)
    rhs[order] = float(np.prod(np.arange(1, order + 1)))
    return np.linalg.solve(vandermonde, rhs)


def half_width(order: int, accuracy: int = 2) -> int:
    """Stencil half-width r for a derivative of ``order`` at ``accuracy``."""
    return (order + 1) // 2 - 1 + accuracy // 2 if order else 0


@lru_cache(maxsize=None)
def stencil_radius(order: int, accuracy: int = 2) -> float:
    """max over κ of |σ(κ)|, σ(κ) = Σ_j w_j e^{ijκ} the symbol of the centred stencil (unit spacing).

    The periodic operator is a circulant whose eigenvalues are σ(2πm/n)/dx^order, so
    its spectral radius is at most ``stencil_radius(order, accuracy) / dx**order``
    (1, 4, 3√3/2 ≈ 2.598, 16 for orders 1-4 at accuracy 2; 1.372, 16/3, 4.609, 80/3
    at accuracy 4). With x = cos κ, an even order's symbol is the polynomial
    P(x) = w_0 + 2 Σ w_j T_j(x) and an odd order's is 2i sin κ Σ w_j U_{j−1}(x), so
    |σ|² is a polynomial g(x) on [−1, 1] and the maximum is taken exactly, at the real
    roots of g' and the ends. The one-sided wall rows on a bounded line do not raise
    it (tests/test_stencil_rates.py compares both with the assembled matrices).
    """
    if order == 0:
        return 1.0
    r = half_width(order, accuracy)
    w = fd_weights(tuple(range(-r, r + 1)), order)[r:]  # w_0 .. w_r
    cheb = np.polynomial.Chebyshev
    if order % 2 == 0:
        g = cheb(np.concatenate([[w[0]], 2 * w[1:]])) ** 2
    else:
        q = cheb(np.concatenate([[0.0], w[1:] / np.arange(1, r + 1)])).deriv()  # Σ w_j U_{j−1}
        g = 4 * (1 - cheb.identity() ** 2) * q**2
    roots = g.deriv().roots()
    x = np.concatenate([[-1.0, 1.0], roots[(abs(roots.imag) < 1e-9) & (abs(roots.real) <= 1)].real])
    return float(np.sqrt(np.max(g(x))))


def derivative(u, grid: Grid, dim: int, order: int, accuracy: int = 2):
    """The ``order``-th derivative of ``u`` along ``dim`` (see module docstring)."""
    if order == 0:
        return u
    axis = grid.array_axis(dim)
    v = jnp.moveaxis(u, axis, -1)
    r = half_width(order, accuracy)
    n = v.shape[-1]
    needed = max(2 * r + 1, order + accuracy)
    if n < needed:
        raise InputError(f"a derivative of order {order} at accuracy {accuracy} needs {needed} cells, got {n}")
    scale = grid.step[dim] ** (-order)
    central = fd_weights(tuple(range(-r, r + 1)), order) * scale
    if grid.bounded[dim]:
        out = _bounded_line(v, order, r, central, scale, max(2 * r + 1, order + accuracy))
    else:
        # The barrier materialises the padded line. Without it XLA:CPU fuses the
        # wrap-around concatenate (and whatever computed v, e.g. a Runge-Kutta
        # stage value) into the fusion that applies the stencil, and emits
        # unvectorised code for it: a 4-term library closure then cost 3.8x the
        # bare Burgers step instead of 1.5x (benchmarks/closure_overhead.py).
        padded = jax.lax.optimization_barrier(jnp.concatenate([v[..., n - r :], v, v[..., :r]], axis=-1))
        out = _apply(padded, central, n)
    return jnp.moveaxis(out, -1, axis)


def _apply(padded, weights, n):
    total = None
    for k, w in enumerate(weights):
        if w == 0:
            continue
        term = w * padded[..., k : k + n]
        total = term if total is None else total + term
    return total


def _bounded_line(v, order, r, central, scale, size):
    n = v.shape[-1]
    interior = _apply(v, central, n - 2 * r)
    left = [_one_sided(v, i, order, scale, start=0, size=size) for i in range(r)]
    right = [_one_sided(v, n - r + i, order, scale, start=n - size, size=size) for i in range(r)]
    return jnp.concatenate(left + [interior] + right, axis=-1)


def _one_sided(v, i, order, scale, start, size):
    """Derivative at cell i from the ``size`` cells start .. start + size - 1."""
    offsets = tuple(range(start - i, start - i + size))
    weights = fd_weights(offsets, order) * scale
    window = v[..., start : start + size]
    return (window @ jnp.asarray(weights, dtype=v.dtype))[..., None]


def feature_half_width(name: str, accuracy: int = 2) -> int:
    """Cells read on each side to compute feature ``name`` (0 for non-derivatives)."""
    parsed = parse_feature(name)
    if parsed is None:
        return 0
    return max(half_width(order, accuracy) for order in parsed[1])


def parse_feature(name: str) -> tuple[str, tuple[int, ...]] | None:
    """``"u_xx"`` → ("u", (2, 0, 0)), orders along `LETTERS`; ``"u"`` → None (not a derivative)."""
    match = _DERIVATIVE.match(name)
    if not match:
        return None
    var, letters = match.groups()
    return var, tuple(letters.count(d) for d in LETTERS)


def derivative_dims(orders: tuple[int, ...], grid: Grid) -> list[tuple[int, int]]:
    """(grid dimension, order) pairs of a parsed feature's orders; an error for a letter the grid lacks."""
    out = []
    for letter, order in zip(LETTERS, orders):
        if order:
            if letter not in grid.dims:
                raise FeatureError(f"a feature differentiates along {letter}, but the grid's dims are {list(grid.dims)}")
            out.append((grid.dims.index(letter), order))
    return out


def feature_names(variables: Iterable[str], dims, max_order: int, parameters: Iterable[str] = ()) -> list[str]:
    """Every feature name available: states, pure derivatives up to ``max_order``, steps, parameters.

    ``dims`` names the grid's dimensions (an int n means the default ``x``/``x, y``).
    """
    dims = DIMENSION_NAMES[:dims] if isinstance(dims, int) else tuple(dims)
    names = []
    for var in variables:
        names.append(var)
        for dim_name in dims:
            names += [f"{var}_{dim_name * k}" for k in range(1, max_order + 1)]
        if max_order >= 2:
            names += [f"{var}_{a}{b}" for i, a in enumerate(dims) for b in dims[i + 1:]]
    names += [f"d{d}" for d in dims]
    return names + [p for p in parameters if p not in names]


def features(fields: Mapping[str, object], grid: Grid, names: Iterable[str], physics: Mapping = None,
             accuracy: int = 2) -> dict:
    """The requested features as arrays of the fields' shape.

    Args:
      fields: state variables by name, e.g. ``{"u": u}``.
      names: feature names (module docstring).
      physics: scalar physical parameters available by name.
    """
    physics = physics or {}
    shape_like = next(iter(fields.values()))
    out = {}
    for name in names:
        out[name] = _feature(name, fields, grid, physics, accuracy, shape_like)
    return out


def _feature(name, fields, grid, physics, accuracy, like):
    if name in fields:
        return fields[name]
    parsed = parse_feature(name)
    if parsed is not None and parsed[0] in fields:
        value = fields[parsed[0]]
        try:
            pairs = derivative_dims(parsed[1], grid)
        except FeatureError as err:
            raise FeatureError(f"feature {name!r}: {err}") from None
        for dim, order in pairs:
            value = derivative(value, grid, dim, order, accuracy)
        return value
    steps = {f"d{d}": h for d, h in zip(grid.dims, grid.step)}
    if name in steps:
        return jnp.full_like(like, steps[name])
    if name in physics and physics[name] is not None and np.ndim(physics[name]) == 0:
        return jnp.broadcast_to(jnp.asarray(physics[name], dtype=like.dtype), like.shape)
    known = [k for k, v in physics.items() if v is not None and np.ndim(v) == 0]
    raise FeatureError(
        f"unknown feature {name!r}: expected a state ({', '.join(fields)}), a derivative such as "
        f"'u_xx', a step ({', '.join(list(steps)[: grid.ndim])}) or a physical parameter of this model "
        f"({', '.join(known) or 'none'})"
    )
