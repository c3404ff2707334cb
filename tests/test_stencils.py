"""Finite-difference features: order of accuracy, exactness, one-sided wall stencils."""

import jax.numpy as jnp
import numpy as np
import pytest

from oceanclosure.grid import Grid
from oceanclosure.stencils import FeatureError, derivative, feature_names, features, fd_weights, half_width

EXACT = {1: np.cos, 2: lambda x: -np.sin(x), 3: lambda x: -np.cos(x), 4: np.sin}


@pytest.fixture(autouse=True)
def _x64(x64_for_one_test):
    """Every test here in 64-bit JAX (conftest's fixture restores the flag)."""


def _orders(bounded, accuracy):
    errors = []
    for n in (40, 80, 160):
        grid = Grid.uniform(n, [0.0, 2 * np.pi]).with_bounded([bounded])
        (x,) = grid.mesh()
        u = jnp.asarray(np.sin(x))
        errors.append([float(jnp.max(jnp.abs(derivative(u, grid, 0, m, accuracy) - EXACT[m](x)))) for m in (1, 2, 3, 4)])
    errors = np.array(errors)
    return np.log2(errors[:-1] / errors[1:])


@pytest.mark.parametrize("bounded", [False, True])
@pytest.mark.parametrize("accuracy", [2, 4])
def test_order_of_accuracy_in_the_max_norm(bounded, accuracy):
    orders = _orders(bounded, accuracy)
    assert orders.min() > accuracy - 0.25, orders


def test_one_sided_stencils_are_exact_for_polynomials_at_walls():
    grid = Grid.uniform(12, [0.0, 1.0]).with_bounded([True])
    (x,) = grid.mesh()
    u = jnp.asarray(3 * x**3 - x**2 + 2 * x - 1)
    np.testing.assert_allclose(derivative(u, grid, 0, 1, 2), 9 * x**2 - 2 * x + 2, atol=0.05)  # not exact: O(dx^2)
    np.testing.assert_allclose(derivative(u, grid, 0, 2, 4), 18 * x - 2, atol=1e-9)
    np.testing.assert_allclose(derivative(u, grid, 0, 3, 2), np.full_like(x, 18.0), atol=1e-8)


def test_periodic_derivative_is_translation_equivariant():
    grid = Grid.uniform(32, [0.0, 3.0])
    u = jnp.asarray(np.random.default_rng(0).normal(size=32))
    for order in (1, 2, 3):
        np.testing.assert_allclose(derivative(jnp.roll(u, 5), grid, 0, order), jnp.roll(derivative(u, grid, 0, order), 5),
                                   rtol=1e-12, atol=1e-9)


def test_weights_and_half_width():
    np.testing.assert_allclose(fd_weights((-1, 0, 1), 2), [1.0, -2.0, 1.0])
    np.testing.assert_allclose(fd_weights((-1, 0, 1), 1), [-0.5, 0.0, 0.5])
    assert [half_width(m, 2) for m in (0, 1, 2, 3, 4)] == [0, 1, 1, 2, 2]
    with pytest.raises(ValueError, match="more than"):
        fd_weights((0, 1), 2)


def test_2d_features_and_parameters():
    grid = Grid.uniform((48, 64), [[0.0, 2 * np.pi], [0.0, 2 * np.pi]])
    x, y = grid.mesh()
    u = jnp.asarray(np.sin(x) * np.cos(2 * y))
    f = features({"u": u}, grid, ["u", "u_x", "u_yy", "u_xy", "dx", "dy", "nu"], {"nu": 0.1})
    np.testing.assert_allclose(f["u_x"], np.cos(x) * np.cos(2 * y), atol=0.03)
    np.testing.assert_allclose(f["u_yy"], -4 * u, atol=0.15)
    np.testing.assert_allclose(f["u_xy"], -2 * np.cos(x) * np.sin(2 * y), atol=0.1)
    assert float(f["dx"][0, 0]) == grid.dx and float(f["dy"][3, 2]) == grid.dy
    assert f["nu"].shape == u.shape and float(f["nu"][1, 1]) == 0.1
    with pytest.raises(FeatureError, match="unknown feature 'v_x'"):
        features({"u": u}, grid, ["v_x"], {})
    with pytest.raises(FeatureError, match="grid's dims are"):
        features({"u": u[0]}, Grid.uniform(64, [0.0, 1.0]), ["u_xy"], {})
    assert "u_xy" in feature_names(["u"], 2, 2) and "u_xy" not in feature_names(["u"], 1, 2)


def test_too_few_cells_is_a_clear_error():
    grid = Grid.uniform(3, [0.0, 1.0]).with_bounded([True])
    with pytest.raises(ValueError, match="needs 5 cells"):
        derivative(jnp.zeros(3), grid, 0, 3)
