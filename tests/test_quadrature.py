"""Tests for oceanclosure.quadrature: cell averages by adaptive Gauss–Legendre."""

import numpy as np
import pytest

from oceanclosure import quadrature
from oceanclosure.grid import Grid
from oceanclosure.quadrature import DEFAULT_POINTS, cell_average, point_values

FRONT_RATE = 1500 / 2  # tanh((x - c) * 750): width 1/750 on a domain of length 1


def _relative(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def _front(centre):
    return lambda x: np.tanh((x - centre) * FRONT_RATE)


def _logcosh(u):
    u = np.abs(u)
    return u + np.log1p(np.exp(-2 * u)) - np.log(2.0)


def _front_average(grid, centre):
    """Exact cell averages of tanh(a (x - c)): [log cosh(a (x - c))] / (a dx)."""
    faces = grid.faces(0) - centre
    return np.diff(_logcosh(FRONT_RATE * faces)) / (FRONT_RATE * grid.dx)


@pytest.mark.parametrize("points", [1, 2, 3, 5])
@pytest.mark.parametrize("max_level", [0, None])
def test_exact_for_polynomials_of_degree_2p_minus_1(points, max_level):
    grid = Grid.uniform(7, [-0.3, 1.1])
    degree = 2 * points - 1
    coefficients = np.arange(1.0, degree + 2) * (-1.0) ** np.arange(degree + 1)
    poly = np.polynomial.Polynomial(coefficients)
    faces = grid.faces(0)
    exact = np.diff(poly.integ()(faces)) / grid.dx
    got = cell_average(lambda x: poly(x), grid, points, max_level=max_level)
    np.testing.assert_allclose(got, exact, rtol=1e-13, atol=1e-13)


def test_plain_rule_is_not_exact_one_degree_higher():
    grid = Grid.uniform(4, [0.0, 1.0])
    got = cell_average(lambda x: x**6, grid, 3, max_level=0)
    exact = np.diff(grid.faces(0) ** 7 / 7) / grid.dx
    assert np.max(np.abs(got - exact)) > 1e-9


def test_exact_for_tensor_polynomials_in_2d():
    grid = Grid.uniform((5, 3), [[0.0, 1.0], [-1.0, 2.0]])
    got = cell_average(lambda x, y: x**5 * y**5 + y**2, grid, 3, max_level=0)
    ix = np.diff(grid.faces(0) ** 6 / 6) / grid.dx  # (nx,)
    iy5 = np.diff(grid.faces(1) ** 6 / 6) / grid.dy  # (ny,)
    iy2 = np.diff(grid.faces(1) ** 3 / 3) / grid.dy
    exact = iy5[:, None] * ix[None, :] + iy2[:, None]
    assert got.shape == grid.array_shape == (3, 5)
    np.testing.assert_allclose(got, exact, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("n", [8, 50, 333])
def test_sin_average_equals_cos_difference(n):
    grid = Grid.uniform(n, [0.0, 2 * np.pi])
    k = 3.0
    a, b = grid.faces(0)[:-1], grid.faces(0)[1:]
    # (cos(k a) - cos(k b)) / (k (b - a)), in product form to avoid cancellation
    exact = 2 * np.sin(k * (a + b) / 2) * np.sin(k * (b - a) / 2) / (k * (b - a))
    got = cell_average(lambda x: np.sin(k * x), grid)
    # round-off: arguments k x reach 6 pi, whose ulp is 3.6e-15
    np.testing.assert_allclose(got, exact, rtol=0, atol=1e-14)


def test_2d_average_of_separable_trigonometric_field():
    grid = Grid.uniform((12, 10), [[0.0, 1.0], [0.0, 2.0]])
    got = cell_average(lambda x, y: np.sin(2 * np.pi * x) * np.cos(np.pi * y), grid)
    ax = -np.diff(np.cos(2 * np.pi * grid.faces(0))) / (2 * np.pi * grid.dx)
    ay = np.diff(np.sin(np.pi * grid.faces(1))) / (np.pi * grid.dy)
    np.testing.assert_allclose(got, ay[:, None] * ax[None, :], rtol=0, atol=2e-15)


SHIFTS = [0.0, 3.1e-4, -0.0047, 0.00911]


@pytest.mark.parametrize("n", [50, 73, 100, 200, 400])
@pytest.mark.parametrize("shift", SHIFTS)
def test_doubling_points_changes_a_steep_front_only_by_round_off(n, shift):
    grid = Grid.uniform(n, [0.0, 1.0])
    f = _front(0.5 + shift)
    base = cell_average(f, grid)
    doubled = cell_average(f, grid, 2 * DEFAULT_POINTS)
    assert _relative(base, doubled) < 1e-12
    assert _relative(base, _front_average(grid, 0.5 + shift)) < 1e-12


def test_a_fixed_rule_is_not_enough_for_the_front():
    """Why cell_average bisects: the plain 8-point rule misses the front by far."""
    grid = Grid.uniform(50, [0.0, 1.0])
    f = _front(0.5 - 0.0047)
    base = cell_average(f, grid, 8, max_level=0)
    doubled = cell_average(f, grid, 16, max_level=0)
    assert _relative(base, doubled) > 1e-6


def test_doubling_points_on_a_steep_radial_front_in_2d():
    grid = Grid.uniform((64, 48), [[0.0, 1.0], [0.0, 0.75]])

    def f(x, y):
        return np.tanh((np.hypot(x - 0.5, y - 0.4) - 0.25) * FRONT_RATE)

    base = cell_average(f, grid)
    assert base.shape == (48, 64)
    assert _relative(base, cell_average(f, grid, 2 * DEFAULT_POINTS)) < 1e-12


def test_average_equals_mean_of_fine_point_values():
    grid = Grid.uniform((16, 8), [[0.0, 1.0], [0.0, 0.5]])
    refine = 32

    def f(x, y):
        return np.exp(np.sin(2 * np.pi * x)) * (1 + y**2)

    fine = point_values(f, grid.with_shape((16 * refine, 8 * refine)))
    aggregated = fine.reshape(8, refine, 16, refine).mean(axis=(1, 3))
    # midpoint rule on the fine grid: error O((dx / refine)^2)
    np.testing.assert_allclose(cell_average(f, grid), aggregated, rtol=0, atol=1e-4)
    assert np.max(np.abs(cell_average(f, grid) - point_values(f, grid))) > 1e-3


def test_discontinuous_step_is_averaged_to_round_off_in_1d():
    grid = Grid.uniform(50, [0.0, 1.0])
    jump = 0.51234
    got = cell_average(lambda x: np.where(x < jump, 1.0, 0.0), grid)
    exact = np.clip((jump - grid.faces(0)[:-1]) / grid.dx, 0.0, 1.0)
    np.testing.assert_allclose(got, exact, rtol=0, atol=1e-11)


def test_discontinuous_disk_in_2d_is_close():
    grid = Grid.uniform((32, 32), [[0.0, 1.0], [0.0, 1.0]])
    got = cell_average(lambda x, y: np.where(np.hypot(x - 0.5, y - 0.45) < 0.3, 1.0, 0.0), grid)
    assert got.mean() == pytest.approx(np.pi * 0.09, abs=1e-5)
    assert got.min() >= 0.0 and got.max() <= 1.0 + 1e-15


def test_point_values_and_constant_functions():
    grid = Grid.uniform((4, 3), [[0.0, 1.0], [0.0, 3.0]])
    np.testing.assert_array_equal(point_values(lambda x, y: x + 10 * y, grid),
                                  grid.coordinates()["x"] + 10 * grid.coordinates()["y"])
    const = point_values(lambda x, y: 2.5, grid)
    assert const.shape == (3, 4) and const.dtype == np.float64
    const[0, 0] = 0.0  # writable
    np.testing.assert_allclose(cell_average(lambda x, y: 2.5, grid), 2.5, rtol=1e-15)


def test_dimension_names_follow_the_grid():
    grid = Grid.uniform(10, [-50.0, 0.0], dims=("z",))
    got = cell_average(lambda z: z**2, grid)
    exact = np.diff(grid.faces(0) ** 3 / 3) / grid.dx
    np.testing.assert_allclose(got, exact, rtol=1e-14)


def test_chunked_evaluation_gives_the_same_averages(monkeypatch):
    grid = Grid.uniform((20, 12), [[0.0, 1.0], [0.0, 1.0]])

    def f(x, y):
        return np.tanh((x + 0.3 * y - 0.61) * 200.0)

    whole = cell_average(f, grid)
    monkeypatch.setattr(quadrature, "CHUNK_POINTS", 1000)
    sizes = []

    def counted(x, y):
        sizes.append(x.size)
        return f(x, y)

    np.testing.assert_allclose(cell_average(counted, grid), whole, rtol=0, atol=1e-15)
    assert max(sizes) <= 1000


def test_non_finite_values_are_reported_with_their_point():
    grid = Grid.uniform(4, [-1.0, 1.0])
    with pytest.raises(ValueError, match=r"must be finite inside the cells, got .*nan.* at x="):
        cell_average(lambda x: np.where(x < 0, np.nan, x), grid)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"points": 0}, "points must be an int >= 1, got 0"),
        ({"points": 2.5}, "points must be an int >= 1, got 2.5"),
        ({"rtol": -1.0}, "rtol must be a number >= 0, got -1.0"),
        ({"max_level": -1}, "max_level must be an int >= 0, got -1"),
    ],
)
def test_invalid_options_are_rejected(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        cell_average(lambda x: x, Grid.uniform(4, [0.0, 1.0]), **kwargs)
