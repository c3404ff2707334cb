"""LibraryClosure: evaluation, equations, constraints, stability, reductions, grid independence."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy

from oceanclosure.boundaries import BoundaryConditions
from oceanclosure.closures import NoClosure
from oceanclosure.closures.library import LibraryClosure
from oceanclosure.grid import Grid
from oceanclosure.models import Burgers
from oceanclosure.simulation import Simulation
from oceanclosure.timestepping import StabilityError


@pytest.fixture(autouse=True)
def _leaves_precision_as_it_found_it():
    """Every test here must restore JAX's 64-bit flag: later modules run in the mode they expect."""
    before = bool(jax.config.jax_enable_x64)
    yield
    assert bool(jax.config.jax_enable_x64) == before, "this test left jax_enable_x64 changed"


@pytest.fixture
def x64_here(x64_for_one_test):
    """64-bit JAX for one test, restored after it (conftest's)."""


def _wave(n, length=2 * np.pi, dtype=np.float32):
    grid = Grid.uniform(n, [0.0, length])
    (x,) = grid.mesh()
    return grid, jnp.asarray(np.sin(2 * np.pi * x / length) + 0.3, dtype)


def test_tendency_is_the_weighted_sum_of_terms(x64_here):
    grid, u = _wave(400, dtype=np.float64)
    (x,) = grid.mesh()
    closure = LibraryClosure(["u_xx", "u*u_x", "dx*u_x**2", "nu*u"], [0.5, -2.0, 3.0, 1.5], parameters=["nu"])
    tendency, state = closure(u, (), grid, 0.0, {"nu": 0.2})
    s, c = np.sin(x), np.cos(x)
    expected = 0.5 * (-s) - 2.0 * (s + 0.3) * c + 3.0 * grid.dx * c**2 + 1.5 * 0.2 * (s + 0.3)
    np.testing.assert_allclose(tendency, expected, atol=1e-4)
    assert state == ()


def test_equations_drop_zero_terms_and_give_latex(x32):
    closure = LibraryClosure(["u_xx", "u_xxx", "u*u_x", "u**2*u_x"], [0.0, -1.0103, -4.9688, 0.0])
    eq = closure.equations()["u"][0]
    u, u_x, u_xxx = sympy.symbols("u u_x u_xxx")
    assert eq["sympy"].coeff(u_xxx) == pytest.approx(-1.0103, rel=1e-6)
    assert eq["sympy"].coeff(u * u_x) == pytest.approx(-4.9688, rel=1e-6)
    assert eq["sympy"].free_symbols == {u, u_x, u_xxx}
    assert "u_xx " not in eq["text"] and "u**2" not in eq["text"]
    assert "u_{xxx}" in eq["latex"]
    # coefficients are stored in JAX's default float32: the table gives them back exactly
    assert closure.coefficient_table()["u"] == {"u_xx": 0.0, "u_xxx": float(np.float32(-1.0103)),
                                                "u*u_x": pytest.approx(-4.9688), "u**2*u_x": 0.0}


def test_constraints_tie_outputs_together(x64_here):  # float64: Z's tendency is -0.27 + 0.3
    grid = Grid.uniform(8, [0.0, 1.0])
    fields = {name: jnp.full(8, value) for name, value in zip("NPZD", (1.0, 2.0, 3.0, 4.0))}
    closure = LibraryClosure(["Z**2", "Z"], [[0.0, 0.0], [-0.03, 0.1], [0.03, 0.0]], variables="NPZD",
                             outputs="NPZD", constraints={"N": {"P": -1, "Z": -1, "D": -1}})
    out, _ = closure(fields, (), grid, 0.0, {})
    total = sum(out[k] for k in "NPZD")
    np.testing.assert_allclose(total, 0.0, atol=1e-6)
    np.testing.assert_allclose(out["Z"], -0.03 * 9 + 0.3, rtol=1e-6)
    assert closure.coefficient_table()["N"]["Z**2"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="not free outputs"):
        LibraryClosure(["Z"], variables="NZ", constraints={"N": {"N": 1.0}})


def test_zero_coefficients_are_bit_identical_to_no_closure():
    grid, u = _wave(64)
    model = Burgers(grid, BoundaryConditions.periodic(1), "muscl_vanleer", nu=0.02)
    base = Simulation(model, NoClosure(), dt=0.01).advance(Simulation(model).initial_state(u), 0.5, 50)
    zero = LibraryClosure(["u_xx", "u*u_x", "dx*u_x**2"])
    sim = Simulation(model, zero, dt=0.01)
    run = sim.advance(sim.initial_state(u), 0.5, 50)
    assert np.array_equal(np.asarray(run.fields["u"]), np.asarray(base.fields["u"]))


def test_translation_equivariance_and_any_grid():
    closure = LibraryClosure(["u*u_x", "dx*u_x**2", "u_xxx", "dx**2*u_x*u_xx"], [0.3, 0.2, 0.01, -0.5])
    grid, u = _wave(50)
    t1, _ = closure(jnp.roll(u, 7), (), grid, 0.0, {})
    t2, _ = closure(u, (), grid, 0.0, {})
    np.testing.assert_allclose(t1, jnp.roll(t2, 7), rtol=1e-5, atol=1e-6)
    for n, length in ((32, 2 * np.pi), (50, 2 * np.pi), (200, 2 * np.pi), (1000, 2 * np.pi), (64, 10.0)):
        grid, u = _wave(n, length)
        out, _ = closure(u, (), grid, 0.0, {})
        assert out.shape == (n,) and bool(jnp.all(jnp.isfinite(out)))


def test_learned_diffusion_and_dispersion_tighten_dt():
    grid, u = _wave(100)
    model = Burgers(grid, BoundaryConditions.periodic(1), "muscl_vanleer", nu=0.0)
    free = Simulation(model).stable_dt(u)
    diffusive = Simulation(model, LibraryClosure(["u_xx"], [0.05])).stable_dt(u)
    dispersive = Simulation(model, LibraryClosure(["u_xxx"], [-1.0])).stable_dt(u)
    assert dispersive < diffusive < free
    assert Simulation(model, LibraryClosure(["u_xx"], [0.05])).stable_dt(u) == pytest.approx(
        1 / (1.3 / grid.dx + 2 * 2 * 0.05 / grid.dx**2 / 2.5127453266183286), rel=1e-3)
    with pytest.raises(StabilityError, match="stability limit"):
        Simulation(model, LibraryClosure(["u_xxx"], [-1.0]), dt=free).choose_dt(u)


def test_gradient_with_respect_to_coefficients_matches_finite_differences(x64_here):
    grid, u = _wave(32, dtype=np.float64)
    model = Burgers(grid, BoundaryConditions.periodic(1), "muscl_vanleer", nu=0.05)

    def loss(c):
        closure = LibraryClosure(["u_xx", "u*u_x"], jnp.stack([c, 0.1]))
        sim = Simulation(model, closure, dt=0.01)
        return jnp.mean(sim.advance(sim.initial_state(u), 0.2, 20).fields["u"] ** 2)

    grad = jax.grad(loss)(0.02)
    eps = 1e-6
    fd = (loss(0.02 + eps) - loss(0.02 - eps)) / (2 * eps)
    assert float(grad) == pytest.approx(float(fd), rel=1e-5)


def test_bad_terms_and_shapes():
    with pytest.raises(ValueError, match="not allowed"):
        LibraryClosure(["__import__('os')"])
    with pytest.raises(ValueError, match="shape"):
        LibraryClosure(["u", "u_x"], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="at least one term"):
        LibraryClosure([])


def test_reaction_and_advection_terms_report_their_rates():
    grid = Grid.uniform(50, [0.0, 1.0])
    rates = LibraryClosure(["u", "u_x", "nu*u_xx", "u*u_xx"], [-2.0, 3.0, 1.0, 5.0], parameters=["nu"]).rates(
        grid, {"nu": 0.1})
    assert rates["advective"] == pytest.approx(3.0 / grid.dx)
    assert rates["reactive"] == pytest.approx(2.0)
    assert rates["diffusive"] == pytest.approx(2 * 0.1 / grid.dx**2)  # u*u_xx is state-dependent: not counted
    assert rates["dispersive"] == 0.0
