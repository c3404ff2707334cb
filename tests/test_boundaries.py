"""Ghost-cell padding: polynomial exactness, periodic wrap, convergence order.

Wall ghosts are point values of the degree-``order`` polynomial that meets the
wall condition and passes through the first ``order`` interior cell centres, so
the data here are point values at cell centres.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from oceanclosure import cfd
from oceanclosure.boundaries import BoundaryConditions, Dirichlet, Neumann, Periodic
from oceanclosure.grid import Grid

pytestmark = pytest.mark.usefixtures("x64")

DOMAIN = (0.3, 1.1)
WIDTH = 3
ORDERS = (1, 2, 3)


def _polynomial(order: int, seed: int = 0) -> np.polynomial.Polynomial:
    coefficients = np.random.default_rng(seed + order).uniform(-1.0, 1.0, order + 1)
    coefficients[-1] = 1.0  # the full degree is present
    return np.polynomial.Polynomial(coefficients)


def _walls(kind: str, f, df, lo: float, hi: float):
    """Wall conditions that ``f`` (with derivative ``df``) meets exactly at lo and hi."""
    if kind == "dirichlet":
        return Dirichlet(float(f(lo))), Dirichlet(float(f(hi)))
    return Neumann(float(df(lo))), Neumann(float(df(hi)))


def _ghost_centres(grid: Grid, dim: int, width: int):
    (lo, hi), h = grid.domain[dim], grid.step[dim]
    offsets = (np.arange(width) + 0.5) * h
    return lo - offsets[::-1], hi + offsets


def _pad_1d(kind, f, df, nx, order, width=WIDTH):
    """Pad point values of ``f`` on ``nx`` cells; return (padded, exact ghosts)."""
    grid = Grid.uniform(nx, DOMAIN)
    bc = BoundaryConditions(sides=(_walls(kind, f, df, *DOMAIN),))
    x = grid.centers()
    padded = np.asarray(bc.pad(jnp.asarray(f(x)), width, 0, grid.dx, order))
    low, high = _ghost_centres(grid, 0, width)
    return padded, np.concatenate([f(low), f(x), f(high)])


@pytest.mark.parametrize("kind", ["dirichlet", "neumann"])
@pytest.mark.parametrize("order", ORDERS)
def test_wall_padding_is_exact_for_polynomials_1d(kind, order):
    p = _polynomial(order)
    padded, exact = _pad_1d(kind, p, p.deriv(), nx=7, order=order)
    np.testing.assert_allclose(padded, exact, rtol=0, atol=1e-12)


@pytest.mark.parametrize("order", ORDERS)
def test_mixed_walls_are_exact_for_polynomials(order):
    p = _polynomial(order, seed=5)
    grid = Grid.uniform(6, DOMAIN)
    bc = BoundaryConditions.from_sides(left=Neumann(float(p.deriv()(DOMAIN[0]))), right=Dirichlet(float(p(DOMAIN[1]))))
    x = grid.centers()
    padded = np.asarray(bc.pad(jnp.asarray(p(x)), WIDTH, 0, grid.dx, order))
    low, high = _ghost_centres(grid, 0, WIDTH)
    np.testing.assert_allclose(padded, p(np.concatenate([low, x, high])), rtol=0, atol=1e-12)


def _field_2d(kind, order, dim, coords):
    """A 2D field whose every line along ``dim`` is a degree-``order`` polynomial
    meeting the same (scalar) wall conditions, while varying across lines."""
    along, across = coords[dim], coords[1 - dim]
    (lo, hi) = (0.3, 1.1) if dim == 0 else (-0.5, 0.7)
    p = _polynomial(order, seed=11)
    if kind == "neumann":
        bump = np.ones_like(along)  # adds a constant per line: wall gradients unchanged
    elif order >= 2:
        bump = (along - lo) * (hi - along)  # zero at both walls
    else:
        bump = np.zeros_like(along)
    wobble = np.cos(3 * across)
    walls = _walls(kind, p, p.deriv(), lo, hi)
    return p(along) + wobble * bump, walls


@pytest.mark.parametrize("kind", ["dirichlet", "neumann"])
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dim", [0, 1])
def test_wall_padding_is_exact_for_polynomials_2d(kind, order, dim):
    grid = Grid.uniform((7, 9), [[0.3, 1.1], [-0.5, 0.7]])
    walls_other = (Periodic(), Periodic())
    u, walls = _field_2d(kind, order, dim, grid.mesh())
    sides = (walls, walls_other) if dim == 0 else (walls_other, walls)
    bc = BoundaryConditions(sides=sides)
    padded = np.asarray(bc.pad(jnp.asarray(u), WIDTH, dim, grid.step[dim], order))

    low, high = _ghost_centres(grid, dim, WIDTH)
    coords = [grid.centers(0), grid.centers(1)]
    coords[dim] = np.concatenate([low, coords[dim], high])
    ys, xs = np.meshgrid(coords[1], coords[0], indexing="ij")  # our layout: (y, x)
    exact, _ = _field_2d(kind, order, dim, (xs, ys))
    np.testing.assert_allclose(padded, exact, rtol=0, atol=1e-12)


@pytest.mark.parametrize("width", [1, 2, 3])
def test_periodic_padding_wraps(width):
    u = np.random.default_rng(1).normal(size=(5, 8))
    bc = BoundaryConditions.periodic(2)
    along_x = np.asarray(bc.pad(jnp.asarray(u), width, 0, 0.1))
    along_y = np.asarray(bc.pad(jnp.asarray(u), width, 1, 0.1))
    np.testing.assert_array_equal(along_x, np.pad(u, ((0, 0), (width, width)), mode="wrap"))
    np.testing.assert_array_equal(along_y, np.pad(u, ((width, width), (0, 0)), mode="wrap"))
    line = np.asarray(BoundaryConditions.periodic(1).pad(jnp.asarray(u[0]), width, 0, 0.1))
    np.testing.assert_array_equal(line, np.pad(u[0], width, mode="wrap"))


# --- convergence on smooth, non-polynomial data --------------------------------

NXS = (16, 32, 64, 128)


def _smooth(x):
    return np.exp(np.sin(3 * x)) + np.cos(x)


def _smooth_dx(x):
    return 3 * np.cos(3 * x) * np.exp(np.sin(3 * x)) - np.sin(x)


def _ghost_errors(pad, nxs=NXS):
    """Max ghost error per resolution for a padding function ``pad(nx) -> (padded, exact)``."""
    errors = []
    for nx in nxs:
        padded, exact = pad(nx)
        ghosts = np.r_[0:WIDTH, -WIDTH:0]
        errors.append(np.max(np.abs(padded[ghosts] - exact[ghosts])))
    return np.array(errors)


@pytest.mark.parametrize("kind", ["dirichlet", "neumann"])
@pytest.mark.parametrize("order", ORDERS)
def test_wall_padding_error_order(kind, order, order_of):
    errors = _ghost_errors(lambda nx: _pad_1d(kind, _smooth, _smooth_dx, nx, order))
    dxs = np.diff(DOMAIN)[0] / np.array(NXS)
    observed = order_of(dxs, errors)
    # measured: close to order + 1 for every kind and order (1.9-2.0, 2.9-3.0, 3.9-4.1)
    assert observed >= order + 1 - 0.2, f"{kind} order {order}: ghost error order {observed:.2f}, errors {errors}"


def _jax_cfd_dirichlet_pad(u, lo_value, hi_value, width):
    """jax-cfd 0.2.1's cell-centred Dirichlet padding of ``width`` on both sides."""
    grid = Grid.uniform(u.size, DOMAIN)
    return np.asarray(cfd.dirichlet_pad(u, grid, (lo_value, hi_value), width))


def _jax_cfd_case(f, nx, width=2):
    grid = Grid.uniform(nx, DOMAIN)
    x = grid.centers()
    padded = _jax_cfd_dirichlet_pad(f(x), float(f(DOMAIN[0])), float(f(DOMAIN[1])), width)
    low, high = _ghost_centres(grid, 0, width)
    return padded, np.concatenate([f(low), f(x), f(high)])


def test_jax_cfd_width_two_padding_repeats_its_first_ghost():
    """What we replace: jax-cfd's second Dirichlet ghost copies the first."""
    p = _polynomial(2)
    padded, exact = _jax_cfd_case(p, nx=7)
    assert padded[0] == padded[1] and padded[-1] == padded[-2]
    ours, _ = _pad_1d("dirichlet", p, p.deriv(), nx=7, order=1, width=1)
    np.testing.assert_allclose(padded[[1, -2]], ours[[0, -1]], rtol=0, atol=1e-14)  # first ghosts agree
    # ... so it fails the exactness test that our order-2 padding passes:
    assert np.max(np.abs(padded[[0, -1]] - exact[[0, -1]])) > 1e-2


def test_repeating_the_first_ghost_fails_the_order_test(order_of):
    """The convergence test above has teeth: jax-cfd's width-2 padding is first order."""
    errors = []
    for nx in NXS:
        padded, exact = _jax_cfd_case(_smooth, nx)
        errors.append(np.max(np.abs(padded[[0, 1, -2, -1]] - exact[[0, 1, -2, -1]])))
    dxs = np.diff(DOMAIN)[0] / np.array(NXS)
    observed = order_of(dxs, errors)
    assert observed < 1.3, f"repeat-first-ghost padding unexpectedly converges at order {observed:.2f}"
    ours = _ghost_errors(lambda nx: _pad_1d("dirichlet", _smooth, _smooth_dx, nx, order=2))
    assert order_of(dxs, ours) >= 2.8 and np.all(ours < np.array(errors))


def test_padding_validates_its_input():
    bc = BoundaryConditions.from_sides(left=Dirichlet(0.0), right=Neumann(0.0))
    with pytest.raises(ValueError, match="needs at least 3 cells"):
        bc.pad(jnp.zeros(2), 3, 0, 0.1)
    with pytest.raises(ValueError, match="both be periodic"):
        BoundaryConditions.from_sides(left=Periodic(), right=Dirichlet(0.0))
