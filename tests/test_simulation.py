"""The simulation loop: equivalences, restart, vmap, gradients, stability, dtypes.

float64 unless a test says otherwise (the ``x64`` fixture and float64 arrays).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from oceanclosure.boundaries import BoundaryConditions, Dirichlet, Neumann
from oceanclosure.closures import Closure, ClosureSum, NoClosure
from oceanclosure.grid import Grid
from oceanclosure.models import AdvectionDiffusion, Burgers, KdVBurgers
from oceanclosure.simulation import BlowUpError, Simulation
from oceanclosure.timestepping import StabilityError, output_times

pytestmark = pytest.mark.usefixtures("x64")

PERIODIC = BoundaryConditions.periodic(1)
GRID = Grid.uniform(32, [0.0, 2 * np.pi])
X = GRID.centers()
U0 = 0.3 + np.sin(X) + 0.2 * np.cos(3 * X + 0.4)


@pytest.fixture(scope="module")
def burgers():
    return Burgers(GRID, PERIODIC, "muscl_vanleer", nu=0.05)


@pytest.fixture(scope="module")
def sim(burgers):
    return Simulation(burgers, stepper="ssprk3", cfl=0.5)


# --- equivalences ----------------------------------------------------------------


class ZeroClosure(Closure):
    """A closure that is not flagged null but adds exactly zero."""

    def __call__(self, u, state, grid, t, physics):
        return jax.tree_util.tree_map(jnp.zeros_like, u), state


@pytest.fixture(scope="module")
def reference_run(sim):
    return sim.run(U0, stop=1.0, output_interval=0.25)


@pytest.mark.parametrize(
    "closure",
    [NoClosure(), ClosureSum([NoClosure(), NoClosure()]), [NoClosure(), NoClosure()]],
    ids=["NoClosure", "ClosureSum", "list"],
)
def test_null_closures_are_bit_identical_to_no_closure(burgers, reference_run, closure):
    sim = Simulation(burgers, closure=closure, stepper="ssprk3", cfl=0.5)
    trajectory = sim.run(U0, stop=1.0, output_interval=0.25)
    assert np.array_equal(trajectory.fields["u"], reference_run.fields["u"])
    np.testing.assert_array_equal(trajectory.times, reference_run.times)


def test_a_zero_closure_equals_no_closure(burgers, reference_run):
    """Not skipped like a null closure: it adds zeros, which changes no bit."""
    sim = Simulation(burgers, closure=ZeroClosure(), stepper="ssprk3", cfl=0.5)
    trajectory = sim.run(U0, stop=1.0, output_interval=0.25)
    assert np.array_equal(trajectory.fields["u"], reference_run.fields["u"])


def test_restart_from_sim_state_is_bitwise(sim):
    """N steps to t = 1 equal N/2 steps to t = 1/2 then N/2 more from the returned state."""
    state0 = sim.initial_state(jnp.asarray(U0))
    whole = sim.advance(state0, 1.0, 80)
    half = sim.advance(state0, 0.5, 40)
    assert float(half.t) == 0.5
    rest = sim.advance(half, 1.0, 40)
    assert float(rest.t) == 1.0 and float(whole.t) == 1.0
    assert np.array_equal(np.asarray(rest.fields["u"]), np.asarray(whole.fields["u"]))


def test_run_continues_from_its_final_state(sim, reference_run):
    first = sim.run(U0, stop=0.5, output_interval=0.25)
    second = sim.run(first.final_state, stop=1.0, output_interval=0.25)
    np.testing.assert_array_equal(second.times, [0.5, 0.75, 1.0])
    assert np.array_equal(np.concatenate([first.fields["u"], second.fields["u"][1:]]), reference_run.fields["u"])


def test_vmap_over_initial_conditions_equals_a_loop(sim):
    shifts = np.linspace(0.0, 1.0, 4)
    batch = jnp.asarray(np.stack([0.3 + np.sin(X + s) * (1 + 0.2 * s) for s in shifts]))

    def final(u0):
        return sim.advance(sim.initial_state(u0), 0.7, 30).fields["u"]

    batched = np.asarray(jax.vmap(final)(batch))
    looped = np.stack([np.asarray(final(u0)) for u0 in batch])
    np.testing.assert_allclose(batched, looped, rtol=0, atol=1e-14)  # measured: bitwise equal
    assert not np.allclose(looped[0], looped[-1])


# --- gradients ---------------------------------------------------------------------


def _rollout_loss(sim, u0, nu, n_steps=40, t_end=0.8):
    state = sim.advance(sim.initial_state(u0), t_end, n_steps, physics={"nu": nu})
    return jnp.mean(state.fields["u"]**2)


def test_gradient_with_respect_to_viscosity_matches_finite_differences(sim):
    nu, eps = 0.05, 1e-6
    grad = float(jax.grad(lambda n: _rollout_loss(sim, jnp.asarray(U0), n))(jnp.asarray(nu)))
    plus = float(_rollout_loss(sim, jnp.asarray(U0), jnp.asarray(nu + eps)))
    minus = float(_rollout_loss(sim, jnp.asarray(U0), jnp.asarray(nu - eps)))
    finite_difference = (plus - minus) / (2 * eps)
    assert abs(grad) > 1e-3
    assert abs(grad - finite_difference) <= 1e-5 * abs(finite_difference)


def test_gradient_with_respect_to_initial_condition_matches_finite_differences(sim):
    direction = np.cos(2 * X + 0.3) * np.exp(-0.1 * X)
    nu, eps = jnp.asarray(0.05), 1e-6
    grad = np.asarray(jax.grad(lambda u: _rollout_loss(sim, u, nu))(jnp.asarray(U0)))
    directional = float(grad @ direction)
    plus = float(_rollout_loss(sim, jnp.asarray(U0 + eps * direction), nu))
    minus = float(_rollout_loss(sim, jnp.asarray(U0 - eps * direction), nu))
    finite_difference = (plus - minus) / (2 * eps)
    assert abs(directional) > 1e-3
    assert abs(directional - finite_difference) <= 1e-5 * abs(finite_difference)


@pytest.mark.parametrize("scheme", ["muscl_vanleer", "muscl_minmod", "weno5"])
def test_gradients_are_finite_on_flat_data(scheme):
    """Constant blocks make every limiter ratio 0/0; the gradient must stay finite."""
    u0 = jnp.asarray(np.where((X > 2.0) & (X < 4.0), 1.0, 0.0))
    model = Burgers(GRID, PERIODIC, scheme, nu=0.05)
    flat_sim = Simulation(model, stepper="ssprk3", cfl=0.5)
    grad_u, grad_nu = jax.grad(lambda u, nu: _rollout_loss(flat_sim, u, nu, n_steps=20, t_end=0.2), argnums=(0, 1))(
        u0, jnp.asarray(0.05)
    )
    assert np.all(np.isfinite(np.asarray(grad_u))) and np.isfinite(float(grad_nu))
    assert np.any(np.asarray(grad_u) != 0)


# --- stability and blow-up -------------------------------------------------------------


def test_a_given_dt_above_the_limit_raises(burgers):
    limit = Simulation(burgers, stepper="ssprk3").stable_dt(U0)
    too_big = Simulation(burgers, stepper="ssprk3", dt=1.5 * limit)
    with pytest.raises(StabilityError, match="exceeds the stability limit") as caught:
        too_big.run(U0, stop=0.1, output_interval=0.05)
    assert f"{limit:g}" in str(caught.value)
    assert Simulation(burgers, stepper="ssprk3", dt=limit).choose_dt(U0) == limit  # the limit itself is allowed


def test_euler_with_dispersion_raises():
    grid = Grid.uniform(40, [-10.0, 10.0])
    sim = Simulation(KdVBurgers(grid, PERIODIC, "central", a=6.0, b=1.0), stepper="euler")
    with pytest.raises(StabilityError, match="'euler' is unstable for dispersion"):
        sim.run(np.exp(-grid.centers() ** 2), stop=0.1, output_interval=0.05)


def test_blow_up_raises_with_the_finite_snapshots(burgers, monkeypatch):
    sim = Simulation(Burgers(GRID, PERIODIC, "upwind", nu=0.0), stepper="ssprk3")
    huge = 4.0 * sim.stable_dt(U0)
    monkeypatch.setattr(sim, "choose_dt", lambda *args, **kwargs: huge)
    with pytest.raises(BlowUpError, match="stopped being finite") as caught:
        sim.run(U0, stop=100 * huge, output_interval=huge)  # measured: non-finite at step 4
    partial = caught.value.trajectory
    assert len(partial.times) == len(partial.fields["u"]) >= 2
    assert np.all(np.isfinite(partial.fields["u"]))
    np.testing.assert_array_equal(partial.times, output_times(0.0, 100 * huge, huge)[: len(partial.times)])
    assert float(partial.final_state.t) == partial.times[-1]


@pytest.mark.parametrize(
    "stop, interval, requested, steps",
    [(0.9, 0.2, [0.0, 0.2, 0.4, 0.6, 0.8, 0.9], 4 * 50 + 25), (0.9, 0.3, [0.0, 0.3, 0.6, 0.9], 3 * 75)],
)
def test_output_times_are_hit_exactly(stop, interval, requested, steps):
    """Diffusion of a discrete Laplacian eigenmode: u(t) = exp(λ t) u0 exactly in
    space, so each snapshot tells the time it was taken at."""
    kappa = 0.2
    grid = Grid.uniform(16, [0.0, 1.0])
    u0 = np.sin(2 * np.pi * grid.centers())
    rate = -4 * kappa / grid.dx**2 * np.sin(np.pi * grid.dx) ** 2
    sim = Simulation(AdvectionDiffusion(grid, PERIODIC, "upwind", 0.0, kappa), stepper="rk4", dt=0.004)
    trajectory = sim.run(u0, stop=stop, output_interval=interval)
    np.testing.assert_array_equal(trajectory.times, output_times(0.0, stop, interval))
    np.testing.assert_allclose(trajectory.times, requested, rtol=0, atol=1e-15)
    assert trajectory.times[-1] == stop and float(trajectory.final_state.t) == stop
    assert trajectory.dt <= 0.004 and trajectory.steps == steps
    expected = np.exp(rate * trajectory.times)[:, None] * u0
    # rk4's own error is 2.6e-9 here; a snapshot one step (0.004) off would be ~3e-2 off
    np.testing.assert_allclose(trajectory.fields["u"], expected, rtol=0, atol=1e-7)


@pytest.mark.parametrize("stepper, tolerance", [("ssprk3", 1e-6), ("rk4", 1e-8)])
def test_stages_see_their_own_times(stepper, tolerance):
    """κ(t) = κ0 (1 + t) on a discrete eigenmode: u(t) = exp(λ κ0 (t + t²/2)) u0.

    Measured max errors 1.0e-7 (ssprk3) and 8.3e-10 (rk4), dt = 0.004;
    evaluating every stage at the step's start time instead makes them first
    order in time.
    """
    kappa0 = 0.2
    grid = Grid.uniform(16, [0.0, 1.0])
    u0 = np.sin(2 * np.pi * grid.centers())
    rate = -4 / grid.dx**2 * np.sin(np.pi * grid.dx) ** 2
    model = AdvectionDiffusion(grid, PERIODIC, "upwind", 0.0, lambda t, x: kappa0 * (1 + t) + 0 * x)
    sim = Simulation(model, stepper=stepper)
    u_end = np.asarray(sim.advance(sim.initial_state(jnp.asarray(u0)), 0.5, 125).fields["u"])
    expected = np.exp(rate * kappa0 * (0.5 + 0.5**2 / 2)) * u0
    np.testing.assert_allclose(u_end, expected, rtol=0, atol=tolerance)


@pytest.mark.parametrize("start, stop, interval", [(0.0, 0.9, 0.3), (0.0, 0.7, 0.1), (0.2, 1.0, 0.25), (0.0, 1.0, 0.3)])
def test_output_times_end_exactly_at_stop(start, stop, interval):
    times = output_times(start, stop, interval)
    assert times[0] == start and times[-1] == stop
    assert np.all(np.diff(times) > 0) and np.all(np.diff(times) <= interval * (1 + 1e-12))


# --- dtypes ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["default", "x64"])
def test_float32_stays_float32(mode, request):
    if mode == "default":
        request.getfixturevalue("x32")
    grid = Grid.uniform(16, [0.0, 1.0])
    bc = BoundaryConditions.from_sides(left=Dirichlet(0.0), right=Neumann(0.0))
    sim = Simulation(Burgers(grid, bc, "weno5", nu=0.01), stepper="ssprk3")
    u0 = np.sin(np.pi * grid.centers()).astype(np.float32)
    trajectory = sim.run(u0, stop=0.1, output_interval=0.05)
    assert trajectory.fields["u"].dtype == np.float32
    assert trajectory.final_state.fields["u"].dtype == jnp.float32 and trajectory.final_state.t.dtype == jnp.float32
    assert np.all(np.isfinite(trajectory.fields["u"]))


def test_a_blow_up_with_a_closure_points_at_it_too():
    """An anti-diffusive closure on a linear model: the message names the closure as a suspect."""
    from oceanclosure.closures import LibraryClosure

    model = AdvectionDiffusion(GRID, PERIODIC, "upwind", velocity=1.0, diffusivity=0.0)
    sim = Simulation(model, LibraryClosure(["u_xx"], [-5.0]), stepper="ssprk3", dt=1e-3)
    with pytest.raises(BlowUpError, match=r"--closure none\) stays finite, the closure drives") as caught:
        sim.run(U0, stop=50.0, output_interval=0.5)
    assert "time.cfl" in str(caught.value)
    bare = Simulation(Burgers(GRID, PERIODIC, "upwind", nu=0.0), stepper="ssprk3")
    assert "--closure none" not in bare._blow_up_hint()
