"""Baseline closures: Smagorinsky, eddy diffusivity, the upwind truncation correction.

float64 throughout (the ``x64`` fixture and float64 arrays).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from oceanclosure import analytic
from oceanclosure.boundaries import BoundaryConditions, Dirichlet, Neumann
from oceanclosure.closures.baselines import EddyDiffusivityClosure, SmagorinskyClosure, UpwindCorrectionClosure
from oceanclosure.grid import Grid
from oceanclosure.models import AdvectionDiffusion, Burgers
from oceanclosure.simulation import Simulation
from oceanclosure.timestepping import get_stepper, max_stable_dt

pytestmark = pytest.mark.usefixtures("x64")

PERIODIC = BoundaryConditions.periodic(1)
GRID = Grid.uniform(64, [0.0, 2 * np.pi])
X = GRID.centers()
U0 = 0.3 + np.sin(X) + 0.2 * np.cos(3 * X + 0.4)


def _tendency(closure, u, grid, physics=None):
    """The closure's tendency (jitted once per grid and closure structure)."""
    return np.asarray(_jitted_tendency(closure, jnp.asarray(u), physics or {}, grid))


@jax.jit(static_argnums=3)
def _jitted_tendency(closure, u, physics, grid):
    return closure(u, (), grid, 0.0, physics)[0]


BASELINES = {
    "smagorinsky": lambda: SmagorinskyClosure(1.0),
    "eddy": lambda: EddyDiffusivityClosure(0.05),
    "upwind_flux": lambda: UpwindCorrectionClosure(form="flux"),
    "upwind_pointwise": lambda: UpwindCorrectionClosure(form="pointwise"),
}


@pytest.mark.parametrize("name", BASELINES)
def test_translation_equivariance_on_a_periodic_grid(name):
    closure = BASELINES[name]()
    tendency = _tendency(closure, U0, GRID)
    assert np.max(np.abs(tendency)) > 1e-3
    np.testing.assert_allclose(_tendency(closure, np.roll(U0, 11), GRID), np.roll(tendency, 11), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["smagorinsky", "eddy", "upwind_flux"])
def test_translation_equivariance_in_2d(name):
    grid = Grid.uniform((16, 12), [[0.0, 2 * np.pi], [0.0, 1.0]])
    x, y = grid.mesh()
    u = 0.2 + np.sin(x) * np.cos(2 * np.pi * y)
    closure = BASELINES[name]()
    tendency = _tendency(closure, u, grid)
    assert tendency.shape == grid.array_shape and np.max(np.abs(tendency)) > 1e-4
    shifted = _tendency(closure, np.roll(u, (3, 5), axis=(0, 1)), grid)
    np.testing.assert_allclose(shifted, np.roll(tendency, (3, 5), axis=(0, 1)), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: SmagorinskyClosure(-1.0), "cs must be >= 0"),
        (lambda: SmagorinskyClosure(walls="ghost"), "walls must be one of"),
        (lambda: EddyDiffusivityClosure(-0.1), "kappa must be >= 0"),
        (lambda: UpwindCorrectionClosure(form="central"), "form must be"),
    ],
)
def test_constructors_validate_loudly(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# --- eddy diffusivity -------------------------------------------------------------------


def test_zero_eddy_diffusivity_is_bit_identical_to_no_closure():
    """Compiled, through `Simulation.run` (see test_neural for why this is exact)."""
    assert np.array_equal(_tendency(EddyDiffusivityClosure(0.0), U0, GRID), np.zeros_like(U0))
    model = Burgers(GRID, PERIODIC, "upwind", nu=0.02)

    def run(closure):
        return Simulation(model, closure=closure, stepper="ssprk3", cfl=0.5).run(U0, stop=0.1, output_interval=0.05)

    reference, zero_run, live_run = run(None), run(EddyDiffusivityClosure(0.0)), run(EddyDiffusivityClosure(0.01))
    assert reference.steps >= 4
    assert np.array_equal(zero_run.fields["u"], reference.fields["u"])
    assert not np.array_equal(live_run.fields["u"], reference.fields["u"])


@pytest.mark.parametrize("ndim", [1, 2])
def test_eddy_diffusivity_adds_to_the_viscosity(ndim):
    nu, kappa = 0.02, 0.03
    if ndim == 1:
        grid, u = GRID, U0
    else:
        grid = Grid.uniform((16, 12), [[0.0, 2 * np.pi], [0.0, 1.0]])
        x, y = grid.mesh()
        u = 0.2 + np.sin(x) * np.cos(2 * np.pi * y)
    bc = BoundaryConditions.periodic(ndim)
    closure = EddyDiffusivityClosure(kappa)
    split = np.asarray(Burgers(grid, bc, "upwind", nu=nu).tendency({"u": jnp.asarray(u)}, 0.0)["u"]) + _tendency(closure, u, grid)
    merged = np.asarray(Burgers(grid, bc, "upwind", nu=nu + kappa).tendency({"u": jnp.asarray(u)}, 0.0)["u"])
    np.testing.assert_allclose(split, merged, rtol=1e-12, atol=1e-13)
    assert closure.rates(grid, {}, {"u": u}) == pytest.approx({"diffusive": sum(2 * kappa / h**2 for h in grid.step)})


def test_eddy_diffusivity_run_equals_the_more_viscous_run():
    nu, kappa = 0.02, 0.03
    merged = Simulation(Burgers(GRID, PERIODIC, "muscl_vanleer", nu=nu + kappa), cfl=0.5)
    split = Simulation(Burgers(GRID, PERIODIC, "muscl_vanleer", nu=nu), closure=EddyDiffusivityClosure(kappa), cfl=0.5)
    assert split.stable_dt(U0) == pytest.approx(merged.stable_dt(U0), rel=1e-12)
    dt = 0.5 * merged.stable_dt(U0)
    a = Simulation(merged.model, dt=dt).run(U0, stop=1.0, output_interval=0.5)
    b = Simulation(split.model, closure=split.closure, dt=dt).run(U0, stop=1.0, output_interval=0.5)
    assert a.steps == b.steps
    np.testing.assert_allclose(b.fields["u"], a.fields["u"], rtol=1e-11, atol=1e-13)


# --- walls ---------------------------------------------------------------------------------


def _one_sided_wall_gradients(u, h):
    return (-2 * u[0] + 3 * u[1] - u[2]) / h, (2 * u[-1] - 3 * u[-2] + u[-3]) / h


@pytest.mark.parametrize("name", ["smagorinsky", "eddy"])
def test_wall_fluxes_account_for_the_change_of_mass(name):
    """Σ tendency·dx = F_0 − F_n: zero with no-flux walls, the one-sided wall fluxes otherwise."""
    grid = GRID.with_bounded((True,))
    u = 0.2 * X**2 + np.sin(X)
    g_left, g_right = _one_sided_wall_gradients(u, grid.dx)
    if name == "smagorinsky":
        flux = lambda g: -(grid.dx**2) * abs(g) * g  # noqa: E731  (cs = 1)
        one_sided, no_flux = SmagorinskyClosure(1.0), SmagorinskyClosure(1.0, walls="no_flux")
    else:
        flux = lambda g: -0.05 * g  # noqa: E731
        one_sided, no_flux = EddyDiffusivityClosure(0.05), EddyDiffusivityClosure(0.05, walls="no_flux")
    total = np.sum(_tendency(one_sided, u, grid)) * grid.dx
    np.testing.assert_allclose(total, flux(g_left) - flux(g_right), rtol=1e-10)
    assert abs(total) > 1e-3
    tendency = _tendency(no_flux, u, grid)
    assert abs(np.sum(tendency) * grid.dx) <= 1e-14 * np.sum(np.abs(tendency)) * grid.dx


# --- Smagorinsky ---------------------------------------------------------------------------


@pytest.mark.parametrize("a", [0.7, -1.3])
def test_smagorinsky_is_exact_on_a_quadratic_profile(a):
    """u = a x² on x > 0: ∂ₓ((C_s dx)² |uₓ| uₓ) = 8 a |a| (C_s dx)² x, in every cell.

    Face gradients of a quadratic are exact, and so is the one-sided wall
    gradient; with no-flux walls only the interior cells are.
    """
    cs = 0.8
    grid = Grid(shape=(30,), domain=((0.5, 2.0),), bounded=(True,))
    x = grid.centers()
    expected = 8 * a * abs(a) * (cs * grid.dx) ** 2 * x
    np.testing.assert_allclose(_tendency(SmagorinskyClosure(cs), a * x**2, grid), expected, rtol=1e-9)
    no_flux = _tendency(SmagorinskyClosure(cs, walls="no_flux"), a * x**2, grid)
    np.testing.assert_allclose(no_flux[1:-1], expected[1:-1], rtol=1e-9)
    assert not np.allclose(no_flux[[0, -1]], expected[[0, -1]], rtol=1e-3)


def test_smagorinsky_alone_dissipates_energy():
    """A zero model (no velocity, no diffusivity) plus Smagorinsky: Σu² falls, Σu stays."""
    closure = SmagorinskyClosure(1.0)
    model = AdvectionDiffusion(GRID, PERIODIC, "upwind", velocity=0.0, diffusivity=0.0)
    u0 = np.where(X < np.pi, 1.0, -0.5) + 0.1 * np.sin(3 * X)
    rates = closure.rates(GRID, {}, u0)
    assert rates["diffusive"] == pytest.approx(4 * np.max(np.abs(np.diff(u0, append=u0[:1]))) / GRID.dx)
    dt = 0.5 * max_stable_dt(rates, get_stepper("ssprk3"))
    run = Simulation(model, closure=closure, dt=dt).run(u0, stop=0.5, output_interval=0.1)
    energy, mass = np.sum(run.fields["u"]**2, axis=1), np.sum(run.fields["u"], axis=1)
    assert np.all(np.diff(energy) < 0) and energy[-1] < 0.99 * energy[0]
    np.testing.assert_allclose(mass, mass[0], rtol=0, atol=1e-12)


def test_smagorinsky_dissipates_energy_in_inviscid_burgers():
    """Shock-forming u0, ν = 0, central fluxes (no numerical diffusion of their own)."""
    closure = SmagorinskyClosure(1.0)
    model = Burgers(GRID, PERIODIC, "central", nu=0.0)
    u0 = 0.2 + np.sin(X)
    bare = Simulation(model, stepper="ssprk3", cfl=0.3).run(u0, stop=2.0, output_interval=0.25)
    run = Simulation(model, closure=closure, stepper="ssprk3", cfl=0.3).run(u0, stop=2.0, output_interval=0.25)
    energy = np.sum(run.fields["u"]**2, axis=1)
    assert np.all(np.diff(energy) < 0)
    assert np.all(energy[1:] < np.sum(bare.fields["u"][1:] ** 2, axis=1))
    production = [float(np.sum(u * _tendency(closure, u, GRID))) for u in run.fields["u"]]
    assert max(production) < 0


# --- upwind truncation correction -----------------------------------------------------------


def test_pointwise_upwind_correction_is_minus_half_dx_abs_u_uxx():
    closure = UpwindCorrectionClosure(form="pointwise")
    h = GRID.dx
    u_xx = (np.roll(U0, -1) - 2 * U0 + np.roll(U0, 1)) / h**2
    np.testing.assert_allclose(_tendency(closure, U0, GRID), -(h / 2) * np.abs(U0) * u_xx, rtol=1e-11, atol=1e-14)
    bounded = GRID.with_bounded((True,))
    u_xx[0] = (2 * U0[0] - 5 * U0[1] + 4 * U0[2] - U0[3]) / h**2
    u_xx[-1] = (2 * U0[-1] - 5 * U0[-2] + 4 * U0[-3] - U0[-4]) / h**2
    np.testing.assert_allclose(_tendency(closure, U0, bounded), -(h / 2) * np.abs(U0) * u_xx, rtol=1e-10, atol=1e-13)


def test_flux_upwind_correction_turns_upwind_into_central():
    """Godunov + (dx/2)|ū| g equals the central flux (u_{j-1}² + u_j²)/4 where u > 0."""
    u = 1.2 + np.sin(X)
    upwind = Burgers(GRID, PERIODIC, "upwind", nu=0.01)
    central = Burgers(GRID, PERIODIC, "central", nu=0.01)
    corrected = np.asarray(upwind.tendency({"u": jnp.asarray(u)}, 0.0)["u"]) + _tendency(UpwindCorrectionClosure(form="flux"), u, GRID)
    np.testing.assert_allclose(corrected, np.asarray(central.tendency({"u": jnp.asarray(u)}, 0.0)["u"]), rtol=1e-12, atol=1e-13)
    h = GRID.dx
    u_x, u_xx = np.cos(X), -np.sin(X)
    truncation = -(h / 2) * (np.abs(u) * u_xx + np.sign(u) * u_x**2)
    error = _tendency(UpwindCorrectionClosure(form="flux"), u, GRID) - truncation
    assert np.max(np.abs(error)) < 0.02 * np.max(np.abs(truncation))


def _advecting_shock_error(nx, re, stop, closure):
    nu = 1.0 / re
    grid = Grid.uniform(nx, [0.0, 1.25])
    bc = BoundaryConditions.from_sides(left=Dirichlet(0.0), right=Neumann(0.0))
    faces = grid.faces()

    def averages(t):
        return analytic.cell_average(lambda x: analytic.advecting_shock(x, t, nu=nu), faces[:-1], faces[1:])

    run = Simulation(Burgers(grid, bc, "upwind", nu=nu), closure=closure, cfl=0.5).run(
        averages(0.0), stop=stop, output_interval=stop / 5)
    truth = np.stack([averages(t) for t in run.times])
    return float(np.mean(np.sqrt(np.mean((run.fields["u"] - truth) ** 2, axis=1))))


def test_upwind_correction_reduces_the_advecting_shock_error():
    """Nx = 200, Re = 250, t in [0, 0.5], first-order upwind + central diffusion.

    Measured time-mean spatial RMS error: upwind 2.41e-3; with the flux-form
    correction 1.59e-4 (15x lower); with the pointwise −(dx/2)|u|u_xx alone
    3.81e-3 (higher: it leaves the +(dx/2)u_x² part of the truncation error).
    """
    bare = _advecting_shock_error(200, 250, 0.5, None)
    flux = _advecting_shock_error(200, 250, 0.5, UpwindCorrectionClosure(form="flux"))
    pointwise = _advecting_shock_error(200, 250, 0.5, UpwindCorrectionClosure(form="pointwise"))
    assert 1.5e-3 < bare < 4e-3
    assert flux < 0.15 * bare
    assert pointwise > 1.2 * bare


def test_smagorinsky_state_rate_tightens_the_chosen_dt():
    from oceanclosure.simulation import Simulation

    model = Burgers(GRID, PERIODIC, "upwind", nu=0.0)
    bare = Simulation(model).stable_dt(U0)
    strong = Simulation(model, SmagorinskyClosure(5.0)).stable_dt(U0)
    assert strong < 0.5 * bare
