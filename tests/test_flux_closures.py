"""Flux closures give face fluxes that the model adds before its one divergence, under its walls."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from oceanclosure.boundaries import BoundaryConditions, Dirichlet, Flux, Neumann
from oceanclosure.closures import DistributedDelayClosure, EddyDiffusivityClosure, NeuralClosure, SmagorinskyClosure
from oceanclosure.grid import Grid
from oceanclosure.models import Burgers
from oceanclosure.simulation import Simulation, make_rhs

pytestmark = pytest.mark.usefixtures("x64")

WALLS = {"dirichlet": Dirichlet(0.4), "neumann": Neumann(-0.5), "flux": Flux(0.3)}
GRID = Grid.uniform(32, [0.0, 1.0])
X = GRID.centers()
U0 = 0.6 + 0.3 * np.sin(3 * X) + 0.2 * X


def _net_inflow(model, closure, u):
    """F(left wall) − F(right wall) of the total flux the model's boundary conditions give."""
    extra = closure.fluxes({"u": u}, (), model.grid, 0.0, model.physics)
    (total,) = model.face_fluxes({"u": u}, 0.0, extra=extra)["u"]
    return float(total[0] - total[-1]), extra["u"][0], total


CLOSURES = {
    "eddy diffusivity": lambda: EddyDiffusivityClosure(0.05),
    "smagorinsky": lambda: SmagorinskyClosure(0.8),
    "neural flux form": lambda: NeuralClosure(["u", "u_x"], hidden=(4,), flux_form=True, seed=1),
}


@pytest.mark.parametrize("closure", CLOSURES.values(), ids=CLOSURES.keys())
@pytest.mark.parametrize("wall", WALLS, ids=WALLS)
def test_the_total_changes_by_the_net_boundary_flux(closure, wall):
    closure = closure()
    bc = BoundaryConditions.from_sides(left=WALLS[wall], right=Flux(-0.2) if wall != "flux" else Neumann(0.1))
    model = Burgers(GRID, bc, "upwind", nu=0.01)
    sim = Simulation(model, closure)
    u = jnp.asarray(U0)
    rhs = make_rhs(model, sim.closure)
    change = float(jnp.sum(rhs({"u": u}, (), 0.0, model.physics, sim.closure)["u"])) * GRID.dx
    inflow, closure_flux, total = _net_inflow(model, sim.closure, u)
    assert change == pytest.approx(inflow, rel=1e-12, abs=1e-13)
    (bare,) = model.face_fluxes({"u": u}, 0.0)["u"]
    if wall == "flux":
        assert float(total[0]) == 0.3  # the prescribed total, whatever the closure's own wall flux
    else:  # the closure's own wall flux is added to the model's
        assert float(total[0]) == pytest.approx(float(bare[0] + closure_flux[0]), rel=1e-12, abs=1e-15)
    interior = np.asarray(closure_flux)[1:-1]
    assert np.max(np.abs(interior)) > 1e-6  # the closure acts


def test_at_a_flux_wall_the_closure_flux_does_not_leak():
    """Eddy diffusivity with one-sided wall gradients has a non-zero wall flux; a flux wall drops it."""
    closure = EddyDiffusivityClosure(0.05)
    (own,) = closure.fluxes({"u": jnp.asarray(U0)}, (), GRID.with_bounded([True]), 0.0, {})["u"]
    assert abs(float(own[0])) > 1e-3
    model = Burgers(GRID, BoundaryConditions.from_sides(left=Flux(0.0), right=Flux(0.0)), "upwind", nu=0.01)
    sim = Simulation(model, closure, dt=1e-3)
    run = sim.run(U0, stop=0.5, output_interval=0.25)
    mass = run.fields["u"].sum(axis=1)
    np.testing.assert_allclose(mass, mass[0], rtol=1e-13)


def test_a_delayed_flux_closure_buffers_fluxes_and_is_a_flux_closure():
    inner = NeuralClosure(["u", "u_x"], hidden=(4,), flux_form=True, seed=2)
    delayed = DistributedDelayClosure(inner, tau1=0.05)
    assert delayed.has_fluxes and delayed.conserves == {"u": 1.0}
    model = Burgers(GRID, BoundaryConditions.from_sides(left=Flux(0.0), right=Flux(0.0)), "upwind", nu=0.01)
    sim = Simulation(model, delayed, dt=1e-3)
    state = sim.initial_state(U0, physics=model.physics)
    assert isinstance(state.closure_state.values["u"], tuple)  # per-dimension face fluxes in the buffer
    run = sim.run(U0, stop=0.2, output_interval=0.1)
    mass = run.fields["u"].sum(axis=1)
    np.testing.assert_allclose(mass, mass[0], rtol=1e-13)
    standalone, _ = delayed({"u": jnp.asarray(U0)}, delayed.init(GRID, {"u": jnp.asarray(U0)}), GRID, 0.0, {})
    assert np.isfinite(np.asarray(standalone["u"])).all()
