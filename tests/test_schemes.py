"""Advection schemes: order of accuracy, conservation, TVD, jax-cfd cross-checks.

All in float64 (the ``x64`` fixture and float64 initial arrays).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest

from oceanclosure import analytic, cfd
from oceanclosure.boundaries import BoundaryConditions, Dirichlet, Neumann
from oceanclosure.fluxes import SCHEMES
from oceanclosure.grid import Grid
from oceanclosure.models import AdvectionDiffusion, Burgers
from oceanclosure.simulation import Simulation

pytestmark = pytest.mark.usefixtures("x64")

TWO_PI = 2 * math.pi


def _cell_averages(grid: Grid, f):
    """Cell averages of ``f(x)`` (1D) or ``f(x, y)`` (2D), our layout."""
    fx = grid.faces(0)
    if grid.ndim == 1:
        return analytic.cell_average(f, fx[:-1], fx[1:])
    fy = grid.faces(1)
    return analytic.cell_average_2d(f, fx[None, :-1], fx[None, 1:], fy[:-1, None], fy[1:, None])


def _run(sim: Simulation, u0, t_end: float, dt: float):
    """Advance from t = 0 to exactly t_end in steps no longer than dt."""
    assert dt <= sim.stable_dt(u0) * (1 + 1e-12), "the test's own dt must be stable"
    state = sim.advance(sim.initial_state(jnp.asarray(u0)), t_end, max(1, math.ceil(t_end / dt)))
    return np.asarray(state.fields["u"])


# --- order of accuracy -----------------------------------------------------------

VELOCITY, T_ORDER = 1.0, 0.5

# (scheme, stepper, diffusivity, nxs, dt exponent p: dt = 0.4 dx0 (dx/dx0)^p, bounds)
ORDER_CASES = [
    # measured slope 0.94 (errors 0.169 .. 0.024)
    ("upwind", "ssprk3", 0.0, (32, 64, 128, 256), 1.0, (0.8, 1.2)),
    # measured 1.88 (0.0105 .. 2.1e-4); minmod clips smooth extrema to first order
    ("muscl_minmod", "ssprk3", 0.0, (64, 128, 256, 512), 1.0, (1.8, 2.6)),
    # measured 2.32 (0.0152 .. 1.2e-4) with kappa = 1e-3, pre-asymptotic local
    # orders 2.1-2.4 (1.99 with kappa = 0)
    ("muscl_vanleer", "ssprk3", 1e-3, (32, 64, 128, 256), 1.0, (1.8, 2.6)),
    # measured 5.00 (3.1e-4 .. 9.5e-9); dt ~ dx^(5/4) keeps rk4's time error below
    ("weno5", "rk4", 0.0, (16, 32, 64, 128), 1.25, (4.0, 5.6)),
]


def _sine(t, diffusivity, ndim=1):
    if ndim == 1:
        return lambda x: analytic.advected_diffused_sine(
            x, t, velocity=VELOCITY, diffusivity=diffusivity, wavenumber=TWO_PI, offset=0.5
        )
    return lambda x, y: analytic.advected_diffused_sine_2d(
        x, y, t, velocity=(VELOCITY, 0.5), diffusivity=diffusivity, kx=TWO_PI, ky=TWO_PI, offset=0.5
    )


def _advected_sine_error(scheme, stepper, diffusivity, nx, dt, ndim=1):
    grid = Grid.uniform((nx,) * ndim, [[0.0, 1.0]] * ndim)
    velocity = (VELOCITY, 0.5)[:ndim]
    model = AdvectionDiffusion(grid, BoundaryConditions.periodic(ndim), scheme, velocity, diffusivity)
    sim = Simulation(model, stepper=stepper)
    u0 = _cell_averages(grid, _sine(0.0, diffusivity, ndim))
    u_end = _run(sim, u0, T_ORDER, dt(sim, u0, grid.dx))
    return np.mean(np.abs(u_end - _cell_averages(grid, _sine(T_ORDER, diffusivity, ndim))))


@pytest.mark.parametrize(
    "scheme, stepper, diffusivity, nxs, power, bounds", ORDER_CASES, ids=[c[0] for c in ORDER_CASES]
)
def test_order_of_accuracy_1d(scheme, stepper, diffusivity, nxs, power, bounds, order_of):
    dx0 = 1.0 / nxs[0]

    def dt(sim, u0, dx):
        return min(0.4 * dx0 * (dx / dx0) ** power, 0.5 * sim.stable_dt(u0))

    errors = [_advected_sine_error(scheme, stepper, diffusivity, nx, dt) for nx in nxs]
    observed = order_of(1.0 / np.array(nxs), errors)
    low, high = bounds
    assert low <= observed <= high, f"{scheme}: observed order {observed:.3f}, L1 errors {errors}"


def test_order_of_accuracy_2d(order_of):
    """muscl_vanleer in 2D, velocity (1, 0.5), kappa = 1e-3: measured 2.01."""
    nxs = (16, 32, 64)
    errors = [
        _advected_sine_error("muscl_vanleer", "ssprk3", 1e-3, nx, lambda sim, u0, dx: 0.5 * sim.stable_dt(u0), ndim=2)
        for nx in nxs
    ]
    observed = order_of(1.0 / np.array(nxs), errors)
    assert 1.8 <= observed <= 2.6, f"2D muscl_vanleer: observed order {observed:.3f}, L1 errors {errors}"


# --- conservation ---------------------------------------------------------------


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_periodic_burgers_conserves_mass(scheme):
    grid = Grid.uniform(64, [0.0, TWO_PI])
    x = grid.centers()
    u0 = 0.5 + 0.3 * np.sin(x) + 0.1 * np.cos(3 * x)
    sim = Simulation(Burgers(grid, BoundaryConditions.periodic(1), scheme, nu=0.05), stepper="ssprk3")
    dt = 0.5 * sim.stable_dt(u0)
    u_end = np.asarray(sim.advance(sim.initial_state(jnp.asarray(u0)), 1000 * dt, 1000).fields["u"])
    assert np.all(np.isfinite(u_end))
    assert not np.allclose(u_end, u0, atol=1e-3), "the run must actually change the field"
    assert abs(u_end.sum() - u0.sum()) <= 1e-12 * abs(u0.sum())


def test_periodic_advection_diffusion_2d_conserves_mass():
    grid = Grid.uniform((24, 16), [[0.0, 1.0], [0.0, 0.5]])
    x, y = grid.mesh()
    u0 = 1.0 + np.exp(-((x - 0.4) ** 2 + (y - 0.2) ** 2) / 0.01)
    model = AdvectionDiffusion(grid, BoundaryConditions.periodic(2), "weno5", (0.7, -0.4), 2e-3)
    sim = Simulation(model, stepper="ssprk3")
    dt = 0.5 * sim.stable_dt(u0)
    u_end = np.asarray(sim.advance(sim.initial_state(jnp.asarray(u0)), 1000 * dt, 1000).fields["u"])
    assert not np.allclose(u_end, u0, atol=1e-3)
    assert abs(u_end.sum() - u0.sum()) <= 1e-12 * abs(u0.sum())


def _boundary_flux_change(model, u0, dt):
    """(cell-volume-weighted change of sum u, -dt × net outward boundary flux) for one Euler step."""
    sim = Simulation(model, stepper="euler")
    u1 = np.asarray(sim.advance(sim.initial_state(jnp.asarray(u0)), dt, 1).fields["u"])
    grid, outflow = model.grid, 0.0
    for dim, flux in enumerate(model.face_fluxes({"u": jnp.asarray(u0)}, 0.0)["u"]):
        flux = np.asarray(flux)
        face_area = grid.cell_volume / grid.step[dim]
        outflow += face_area * np.sum(flux[..., -1] - flux[..., 0])
    return grid.cell_volume * np.sum(u1 - u0), -dt * outflow


@pytest.mark.parametrize("scheme", ["upwind", "muscl_vanleer", "weno5"])
def test_wall_mass_change_equals_boundary_flux_1d(scheme):
    grid = Grid.uniform(32, [0.0, 1.25])
    bc = BoundaryConditions.from_sides(left=Dirichlet(0.3), right=Neumann(-0.4))
    model = Burgers(grid, bc, scheme, nu=0.05)
    u0 = 0.5 + 0.4 * np.sin(3 * grid.centers())
    change, boundary = _boundary_flux_change(model, u0, dt=1e-3)
    assert abs(boundary) > 1e-5, "the walls must carry a flux for this test to mean anything"
    assert abs(change - boundary) <= 1e-14 * max(1.0, np.abs(u0).sum())


def test_wall_mass_change_equals_boundary_flux_2d():
    grid = Grid.uniform((20, 12), [[0.0, 1.0], [0.0, 0.6]])
    bc = BoundaryConditions.from_sides(
        left=Dirichlet(1.0), right=Neumann(0.5), bottom=Neumann(-0.2), top=Dirichlet(0.0)
    )
    model = AdvectionDiffusion(grid, bc, "muscl_minmod", (0.8, -0.3), 0.01)
    x, y = grid.mesh()
    u0 = np.cos(2 * x) * (1 + y)
    change, boundary = _boundary_flux_change(model, u0, dt=1e-3)
    assert abs(boundary) > 1e-5
    assert abs(change - boundary) <= 1e-14 * max(1.0, np.abs(u0).sum())


# --- TVD: no new extrema ----------------------------------------------------------


def _square_wave_snapshots(scheme, model_kind="advection"):
    grid = Grid.uniform(80, [0.0, 1.0])
    x = grid.centers()
    u0 = np.where((x > 0.2) & (x < 0.5), 1.0, 0.0) - np.where((x > 0.65) & (x < 0.8), 0.5, 0.0)
    bc = BoundaryConditions.periodic(1)
    if model_kind == "advection":
        model = AdvectionDiffusion(grid, bc, scheme, velocity=1.0)
    else:
        model = Burgers(grid, bc, scheme, nu=0.0)
    sim = Simulation(model, stepper="ssprk3", cfl=0.5)
    dt = sim.choose_dt(u0)
    return u0, sim.run(u0, stop=40 * dt, output_interval=dt).fields["u"]  # one snapshot per step


def _total_variation(u):
    return np.sum(np.abs(np.diff(u, append=u[..., :1], axis=-1)), axis=-1)


@pytest.mark.parametrize("model_kind", ["advection", "burgers"])
@pytest.mark.parametrize("scheme", ["upwind", "muscl_minmod", "muscl_vanleer"])
def test_tvd_schemes_create_no_new_extrema(scheme, model_kind):
    u0, snapshots = _square_wave_snapshots(scheme, model_kind)
    tv = _total_variation(snapshots)
    assert np.all(np.diff(tv) <= 1e-12), f"total variation grew: {np.max(np.diff(tv)):.3e}"
    assert snapshots.max() <= u0.max() + 1e-12 and snapshots.min() >= u0.min() - 1e-12
    assert not np.allclose(snapshots[-1], u0), "the wave must move"


def test_tvd_check_catches_a_non_tvd_scheme():
    """Control: central advection of the same square wave makes new extrema."""
    u0, snapshots = _square_wave_snapshots("central")
    tv = _total_variation(snapshots)
    assert np.max(np.diff(tv)) > 1e-3 or snapshots.max() > u0.max() + 1e-3


# --- cross-checks with jax-cfd ---------------------------------------------------

CFD_GRIDS = [Grid.uniform(24, [0.0, 2.0]), Grid.uniform((16, 12), [[0.0, 1.0], [0.0, 1.5]])]


def _smooth_field(grid):
    coords = grid.mesh()
    return np.exp(np.sin(TWO_PI * coords[0] / grid.length[0])) * (
        1 + (0.3 * np.cos(TWO_PI * coords[1] / grid.length[1]) if grid.ndim == 2 else 0)
    )


@pytest.mark.parametrize("grid", CFD_GRIDS, ids=["1d", "2d"])
def test_diffusive_tendency_matches_jax_cfd_laplacian(grid):
    nu = 0.37
    u = jnp.asarray(_smooth_field(grid))
    model = AdvectionDiffusion(grid, BoundaryConditions.periodic(grid.ndim), "upwind", 0.0, nu)
    ours = np.asarray(model.tendency({"u": u}, 0.0)["u"])
    reference = nu * np.asarray(cfd.periodic_laplacian(u, grid))
    assert np.max(np.abs(reference)) > 0.1
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-12)


@pytest.mark.parametrize("grid", CFD_GRIDS, ids=["1d", "2d"])
@pytest.mark.parametrize("scheme", ["muscl_vanleer", "weno5"])
def test_flux_divergence_matches_jax_cfd(grid, scheme):
    u = jnp.asarray(_smooth_field(grid))
    model = Burgers(grid, BoundaryConditions.periodic(grid.ndim), scheme, nu=0.1)
    fluxes = model.face_fluxes({"u": u}, 0.0)["u"]
    upper = [jnp.moveaxis(f[..., 1:], -1, grid.array_axis(d)) for d, f in enumerate(fluxes)]
    reference = np.asarray(cfd.periodic_divergence_of_faces(upper, grid))
    np.testing.assert_allclose(-np.asarray(model.tendency({"u": u}, 0.0)["u"]), reference, rtol=0, atol=1e-12)
