"""Stability rates of derivative stencils against the eigenvalues of the assembled operators."""

import jax.numpy as jnp
import numpy as np
import pytest

from oceanclosure.boundaries import BoundaryConditions
from oceanclosure.closures.library import LibraryClosure
from oceanclosure.grid import Grid
from oceanclosure.models import Burgers
from oceanclosure.simulation import Simulation
from oceanclosure.stencils import derivative, fd_weights, half_width, stencil_radius
from oceanclosure.timestepping import STEPPERS, StabilityError, max_stable_dt

pytestmark = pytest.mark.usefixtures("x64")

ORDERS_ACCURACIES = [(m, p) for p in (2, 4, 6) for m in (1, 2, 3, 4)]


def _matrix(n, order, accuracy, bounded, length=None):
    """The assembled derivative operator on n cells (columns: derivatives of the unit vectors)."""
    grid = Grid.uniform(n, [0.0, float(n) if length is None else length]).with_bounded([bounded])
    return np.asarray(derivative(jnp.eye(n), grid, 0, order, accuracy)).T, grid.dx


def _symbol_max_on_fine_grid(order, accuracy, points=200_001):
    r = half_width(order, accuracy)
    w = fd_weights(tuple(range(-r, r + 1)), order)
    kappa = np.linspace(0.0, np.pi, points)
    return float(np.max(np.abs(np.exp(1j * np.outer(kappa, np.arange(-r, r + 1))) @ w)))


def test_radius_has_the_closed_forms():
    exact = {(1, 2): 1.0, (2, 2): 4.0, (3, 2): 1.5 * np.sqrt(3.0), (4, 2): 16.0, (2, 4): 16 / 3, (4, 4): 80 / 3}
    for (order, accuracy), value in exact.items():
        assert stencil_radius(order, accuracy) == pytest.approx(value, rel=1e-12)
    # u_xxx at accuracy 4, weights (1, −8, 13, 0, −13, 8, −1)/8 on offsets −3..3: not 3√3/2
    assert stencil_radius(3, 4) == pytest.approx(4.6087422, rel=1e-7)


@pytest.mark.parametrize(("order", "accuracy"), ORDERS_ACCURACIES)
def test_radius_is_the_maximum_of_the_symbol(order, accuracy):
    assert stencil_radius(order, accuracy) == pytest.approx(_symbol_max_on_fine_grid(order, accuracy), rel=1e-9)


@pytest.mark.parametrize(("order", "accuracy"), ORDERS_ACCURACIES)
def test_radius_bounds_the_periodic_operator_and_is_reached(order, accuracy):
    """A circulant's eigenvalues are its symbol at 2πm/n: the radius bounds them and n = 96 comes within 0.3%."""
    matrix, dx = _matrix(96, order, accuracy, bounded=False, length=3.0)
    largest = np.max(np.abs(np.linalg.eigvals(matrix))) * dx**order
    radius = stencil_radius(order, accuracy)
    assert radius * (1 - 3e-3) <= largest <= radius * (1 + 1e-9)


@pytest.mark.parametrize(("order", "accuracy"), ORDERS_ACCURACIES)
@pytest.mark.parametrize("n", [48])
def test_radius_bounds_the_bounded_operator_with_one_sided_wall_rows(order, accuracy, n):
    matrix, dx = _matrix(n, order, accuracy, bounded=True)
    largest = np.max(np.abs(np.linalg.eigvals(matrix))) * dx**order
    radius = stencil_radius(order, accuracy)
    assert radius * 0.95 <= largest <= radius * (1 + 1e-9)


@pytest.mark.parametrize(("order", "accuracy"), ORDERS_ACCURACIES)
def test_library_rate_of_a_derivative_term_is_its_operator_radius(order, accuracy):
    """c ∂ᵐu: the rate is |c| × spectral radius (halved for the even, diffusive orders)."""
    term = "u_" + "x" * order
    closure = LibraryClosure([term], [-0.7], accuracy=accuracy)
    matrix, dx = _matrix(96, order, accuracy, bounded=False, length=3.0)
    rates = closure.rates(Grid.uniform(96, [0.0, 3.0]), {})
    key = {1: "advective", 2: "diffusive", 3: "dispersive", 4: "diffusive"}[order]
    share = 0.5 if order % 2 == 0 else 1.0
    largest = 0.7 * np.max(np.abs(np.linalg.eigvals(matrix)))
    assert rates[key] == pytest.approx(share * 0.7 * stencil_radius(order, accuracy) / dx**order, rel=1e-12)
    assert share * largest * (1 - 3e-3) <= rates[key] <= share * largest * (1 + 3e-3)


def _rk4_growth(z):
    return np.abs(1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24)


def _kdv_like(accuracy, dt):
    """Burgers at rest-ish (u = 0.01 sin) on [-10, 10], nx = 800, with a learned −0.5 u_xxx, rk4."""
    grid = Grid.uniform(800, [-10.0, 10.0])
    (x,) = grid.mesh()
    model = Burgers(grid, BoundaryConditions.periodic(1), "muscl_vanleer", nu=0.0)
    closure = LibraryClosure(["u_xxx"], [-0.5], accuracy=accuracy)
    return Simulation(model, closure, stepper="rk4", dt=dt), jnp.asarray(0.01 * np.sin(np.pi * x / 10))


def test_fourth_order_u_xxx_refuses_the_dt_that_blows_up():
    """nx = 800, dt = 2e-5: the second-order radius gave a limit of 3.4e-5; the true one is 1.92e-5."""
    sim, u = _kdv_like(4, 2e-5)
    with pytest.raises(StabilityError, match="exceeds the stability limit"):
        sim.choose_dt(u)
    limit = sim.stable_dt(u)
    assert 1.90e-5 < limit < 1.92e-5
    second_order, _ = _kdv_like(2, 2e-5)
    assert second_order.choose_dt(u) == 2e-5  # its own stencil is stable there (limit 3.4e-5)

    # The limit is the true one: every eigenvalue of −0.5 D₃ (assembled) times dt is inside
    # rk4's region at the limit, and the largest leaves it 2% above.
    matrix, _ = _matrix(800, 3, 4, bounded=False, length=20.0)
    eigenvalues = -0.5 * np.linalg.eigvals(matrix)
    closure_only = max_stable_dt(LibraryClosure(["u_xxx"], [-0.5], accuracy=4).rates(sim.grid, {}), STEPPERS["rk4"])
    assert np.max(_rk4_growth(eigenvalues * closure_only)) <= 1 + 1e-9
    assert np.max(_rk4_growth(eigenvalues * closure_only * 1.02)) > 1

    # And the refused dt does blow up, while the limit does not.
    def final_max(dt, steps=400):
        run = Simulation(sim.model, sim.closure, stepper="rk4", dt=dt)
        state = run.advance(run.initial_state(u), steps * dt, steps)
        return float(jnp.max(jnp.abs(state.fields["u"])))

    assert not final_max(2e-5) < 1.0  # NaN or huge
    assert final_max(0.99 * limit) < 0.011
