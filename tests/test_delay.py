"""Delay closures: method-of-steps solutions, convergence of the buffer, reductions
(τ → 0, zero weights), restart, equivariance, grids, gradients, validation.

float64 throughout (the ``x64`` fixture and float64 arrays).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from oceanclosure import io
from oceanclosure.boundaries import BoundaryConditions
from oceanclosure.closures import ClosureSum, NoClosure
from oceanclosure.closures.delay import DelayState, DiscreteDelayClosure, DistributedDelayClosure, _integral_weights
from oceanclosure.closures.library import LibraryClosure
from oceanclosure.grid import Grid
from oceanclosure.models import AdvectionDiffusion, Burgers
from oceanclosure.simulation import SimState, Simulation, advance
from oceanclosure.timestepping import ButcherTableau

pytestmark = pytest.mark.usefixtures("x64")

PERIODIC = BoundaryConditions.periodic(1)
# A still tracer: du/dt is the closure alone, the same in every cell.
STILL = AdvectionDiffusion(Grid.uniform(8, [0.0, 1.0]), PERIODIC, "upwind", 0.0, 0.0)
BURGERS_GRID = Grid.uniform(32, [0.0, 2 * np.pi])
BURGERS = Burgers(BURGERS_GRID, PERIODIC, "upwind", nu=0.05)
X = BURGERS_GRID.centers()
U0 = 0.3 + np.sin(X) + 0.2 * np.cos(3 * X + 0.4)


def minus_u():
    return LibraryClosure(["u"], [-1.0], trainable=False)


def smooth_library(coefficients=(0.02, -0.1), trainable=False):
    return LibraryClosure(["u_xx", "u*u_x"], list(coefficients), trainable=trainable)


def method_of_steps(t):
    """u' = −u(t − 1), u = 1 on [−1, 0]."""
    t = np.asarray(t)
    first, second = 1 - t, 1 - t + (t - 1) ** 2 / 2
    return np.where(t <= 1, first, np.where(t <= 2, second, second - (t - 2) ** 3 / 6))


def still_run(closure, dt, stop, interval, start=None):
    sim = Simulation(STILL, closure, stepper="rk4", dt=dt)
    return sim.run(np.ones(8) if start is None else start, stop=stop, output_interval=interval)


def max_error(trajectory, exact):
    return float(np.max(np.abs(trajectory.fields["u"] - exact(trajectory.times)[:, None])))


# --- exact solutions ------------------------------------------------------------------


def test_method_of_steps_at_the_default_buffer_spacing():
    closure = DiscreteDelayClosure(minus_u(), delay=1.0)
    trajectory = still_run(closure, 0.01, 3.0, 1 / 16)
    assert trajectory.times[-1] == 3.0
    assert max_error(trajectory, method_of_steps) <= 1e-3  # measured 1.06e-4


def test_method_of_steps_converges_at_second_order_in_buffer_dt(order_of):
    """With dt dividing buffer_dt the levels sit at multiples of buffer_dt; the error
    is the interpolation of the quadratic u on [1, 2], buffer_dt²/12 (measured)."""
    spacings = [1 / 8, 1 / 16, 1 / 32]
    errors = []
    for h in spacings:
        closure = DiscreteDelayClosure(minus_u(), delay=1.0, buffer_dt=h)
        errors.append(max_error(still_run(closure, 1 / 256, 3.0, 1 / 8), method_of_steps))
    assert np.all(np.diff(errors) < 0)
    assert 1.8 <= order_of(spacings, errors) <= 2.2
    np.testing.assert_allclose(errors, np.square(spacings) / 12, rtol=0.05)


def test_distributed_delay_gives_one_minus_sine():
    """u' = −∫_{t−1}^{t} u ds, u = 1 on [−1, 0]: u'' = −u + 1, u(0) = 1, u'(0) = −1."""
    closure = DistributedDelayClosure(minus_u(), tau1=1.0)
    trajectory = still_run(closure, 0.01, 1.0, 1 / 32)
    assert max_error(trajectory, lambda t: 1 - np.sin(t)) <= 1e-3  # measured 1.9e-5
    coarse = DistributedDelayClosure(minus_u(), tau1=1.0, buffer_dt=1 / 8)
    assert max_error(still_run(coarse, 0.01, 1.0, 1 / 32), lambda t: 1 - np.sin(t)) > 4 * max_error(
        trajectory, lambda t: 1 - np.sin(t))


def _cosine_history_solution(t):
    """u' = −u(t − 1) with u = cos t on [−1, 0]: u = 1 − ∫₀ᵗ cos(s − 1) ds on [0, 1]."""
    return 1 - np.sin(np.asarray(t) - 1) - np.sin(1.0)


def test_a_callable_history_is_used_before_the_start():
    closure = DiscreteDelayClosure(minus_u(), delay=1.0, history=lambda t: np.full(8, np.cos(t)))
    trajectory = still_run(closure, 0.01, 1.0, 1 / 16)
    assert max_error(trajectory, _cosine_history_solution) <= 1e-4  # constant history: 0.46 off


def test_init_from_samples_fills_the_buffer_from_snapshots():
    closure = DiscreteDelayClosure(minus_u(), delay=1.0)
    times = np.linspace(-1.2, 0.0, 121)
    values = np.cos(times)[:, None] * np.ones(8)
    state = SimState({"u": jnp.asarray(values[-1])}, jnp.asarray(0.0),
                     closure.init_from_samples(STILL.grid, times, {"u": values}))
    trajectory = still_run(closure, 0.01, 1.0, 1 / 16, start=state)
    assert max_error(trajectory, _cosine_history_solution) <= 1e-4


def test_a_constant_history_holds_d_of_the_initial_state_and_needs_physics_for_it():
    """The simulation passes the model's physics; without them a D in ν is a clear error."""
    inner = LibraryClosure(["nu*u_xx", "u*u_x"], [3.0, -0.2], parameters=["nu"], trainable=False)
    closure = DistributedDelayClosure(inner, tau1=0.3)
    sim = Simulation(BURGERS, closure, stepper="ssprk3", dt=1 / 64)
    state = sim.initial_state(jnp.asarray(U0)).closure_state
    expected = inner(jnp.asarray(U0), (), BURGERS_GRID, 0.0, BURGERS.physics)[0]
    for level in np.asarray(state.values["u"]):
        np.testing.assert_allclose(level, expected, rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="physics"):
        closure.init(BURGERS_GRID, jnp.asarray(U0), 0.0)
    with pytest.raises(ValueError, match="physics"):
        DistributedDelayClosure(inner, tau1=0.3, history=lambda t: U0).init(BURGERS_GRID, jnp.asarray(U0))


# --- the buffer -------------------------------------------------------------------------


def test_buffer_levels_are_spaced_and_cover_the_delay():
    dt, h = 0.01, 1 / 32
    closure = DiscreteDelayClosure(minus_u(), delay=1.0, buffer_dt=h)
    buffer = still_run(closure, dt, 3.0, 0.5).final_state.closure_state
    order = (int(buffer.head) + 1 + np.arange(closure.length)) % closure.length
    times = np.asarray(buffer.times)[order]
    assert times[-1] == pytest.approx(3.0 - dt, abs=1e-12)  # the last first-stage call
    gaps = np.diff(times)
    frozen = gaps[:-1] if times[-1] != float(buffer.committed_time) else gaps
    assert np.all(frozen >= h - 1e-12) and np.all(frozen < h + dt + 1e-12)
    assert 0 < gaps[-1] < h + dt
    assert times[0] <= 3.0 - dt - 1.0  # the next call (t = 3) still reads inside the buffer


def test_observe_buffers_D_and_tendency_only_reads_the_buffer():
    """Discrete delay 0.01, levels D(u0) at t = 0, −0.05, …; observe (0.04, u1); stages read."""
    inner = smooth_library()  # nonlinear (u u_x): D of an interpolated u would differ
    closure = DiscreteDelayClosure(inner, delay=0.01, buffer_dt=0.05)
    u0, u1, stage_u = (jnp.asarray(U0) * f for f in (1.0, 1.1, 0.9))
    state = closure.init(BURGERS_GRID, u0, 0.0)

    def inner_of(u):
        return np.asarray(inner(u, (), BURGERS_GRID, 0.0, {})[0])

    carried = closure.observe(u1, state, BURGERS_GRID, 0.04, {})
    assert float(carried.times[carried.head]) == 0.04 and int(carried.head) == 0  # the ring wrapped
    np.testing.assert_array_equal(np.asarray(carried.values[carried.head]), inner_of(u1))  # D values are buffered
    again = closure.observe(u1, carried, BURGERS_GRID, 0.04, {})  # idempotent
    for a, b in zip(jax.tree_util.tree_leaves(carried), jax.tree_util.tree_leaves(again)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # at t = 0.04 the delayed time 0.03 lies between the levels 0 and 0.04: D values interpolated
    expected = 0.25 * inner_of(u0) + 0.75 * inner_of(u1)
    k1 = closure.tendency(u1, carried, BURGERS_GRID, 0.04, {})
    np.testing.assert_allclose(np.asarray(k1), expected, rtol=0, atol=1e-15)
    k_call, called = closure(u1, state, BURGERS_GRID, 0.04, {})  # standalone: observe, then tendency
    np.testing.assert_allclose(np.asarray(k_call), expected, rtol=0, atol=1e-15)
    for a, b in zip(jax.tree_util.tree_leaves(called), jax.tree_util.tree_leaves(carried)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # a stage reads the buffer only: its own u does not matter ...
    k_stage = closure.tendency(stage_u, carried, BURGERS_GRID, 0.045, {})
    np.testing.assert_allclose(np.asarray(k_stage), 0.125 * inner_of(u0) + 0.875 * inner_of(u1), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(np.asarray(closure.tendency(u1, carried, BURGERS_GRID, 0.045, {})),
                                  np.asarray(k_stage))
    # ... and past the newest level (0.06 − 0.01 > 0.04) the newest D value is held
    k_late = closure.tendency(stage_u, carried, BURGERS_GRID, 0.06, {})
    np.testing.assert_allclose(np.asarray(k_late), inner_of(u1), rtol=0, atol=1e-15)


def test_integral_weights_hold_the_newest_value_after_the_last_node():
    nodes = jnp.asarray([0.0, 1.0, 2.0])
    np.testing.assert_allclose(np.asarray(_integral_weights(nodes, 1.5, 3.0)), [0.0, 0.125, 1.375], rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.asarray(_integral_weights(nodes, 2.5, 3.0)), [0.0, 0.0, 0.5], rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.asarray(_integral_weights(nodes, -1.0, 0.5)), [1.375, 0.125, 0.0], rtol=0, atol=1e-15)


class CountingLibrary(LibraryClosure):
    """A library closure that counts how often it is traced."""

    calls = 0

    def __call__(self, u, state, grid, t, physics):
        type(self).calls += 1
        return super().__call__(u, state, grid, t, physics)


@pytest.mark.parametrize("make", [lambda inner: DiscreteDelayClosure(inner, delay=0.1),
                                  lambda inner: DistributedDelayClosure(inner, tau1=0.1, tau2=0.02)],
                         ids=["discrete", "distributed"])
def test_D_is_evaluated_once_per_step_not_once_per_stage(make):
    closure = make(CountingLibrary(["u_xx", "u*u_x"], [0.02, -0.1], trainable=False))
    sim = Simulation(BURGERS, closure, stepper="rk4", dt=1 / 64)  # four stages
    state = sim.initial_state(jnp.asarray(U0))
    CountingLibrary.calls = 0
    jax.make_jaxpr(lambda s: sim.step(s, 1 / 64, BURGERS.physics, closure))(state)
    assert CountingLibrary.calls == 1


# --- reductions ---------------------------------------------------------------------------


def _burgers_run(closure, stop=0.5, interval=0.25, dt=1 / 128):
    sim = Simulation(BURGERS, closure, stepper="ssprk3", dt=dt)
    return sim.run(U0, stop=stop, output_interval=interval).fields["u"]


def test_zero_delay_equals_the_markovian_closure():
    markovian = _burgers_run(smooth_library())
    np.testing.assert_allclose(_burgers_run(DiscreteDelayClosure(smooth_library(), delay=0.0)), markovian,
                               rtol=0, atol=1e-14)
    delayed = _burgers_run(DiscreteDelayClosure(smooth_library(), delay=0.2))
    assert np.max(np.abs(delayed - markovian)) > 1e-4  # the delay does change the run


def test_a_tiny_delay_approaches_the_markovian_closure_at_first_order_in_dt():
    """0 < τ < dt: the stages read the held D(uₙ) (D once per step), an O(dt) error.

    Measured max |Δu| on [0, 0.5]: 4.3e-4 at dt = 1/128, 2.2e-4 at dt = 1/256
    (τ = 1e-9; τ = 0 itself is exact, above).
    """
    differences = []
    for dt in (1 / 128, 1 / 256):
        tiny = _burgers_run(DiscreteDelayClosure(smooth_library(), delay=1e-9), dt=dt)
        differences.append(np.max(np.abs(tiny - _burgers_run(smooth_library(), dt=dt))))
    assert differences[0] <= 5e-4
    assert 1.8 <= differences[0] / differences[1] <= 2.2


@pytest.mark.parametrize("make", [lambda inner: DiscreteDelayClosure(inner, delay=0.1),
                                  lambda inner: DistributedDelayClosure(inner, tau1=0.1, tau2=0.02)],
                         ids=["discrete", "distributed"])
def test_zero_coefficients_equal_no_closure(make):
    closure = make(smooth_library((0.0, 0.0)))
    assert not closure.is_null
    assert np.array_equal(_burgers_run(closure), _burgers_run(NoClosure()))


def test_an_empty_window_adds_nothing():
    closure = DistributedDelayClosure(smooth_library(), tau1=0.3, tau2=0.3)
    assert closure.is_null
    state = closure.init(BURGERS_GRID, jnp.asarray(U0), 0.0, physics={})
    tendency, _ = closure(jnp.asarray(U0), state, BURGERS_GRID, 0.0, {})
    assert np.array_equal(np.asarray(tendency), np.zeros_like(U0))


# --- restart, symmetry, grids, gradients ---------------------------------------------------


def both_delays(discrete=(0.02, -0.1), distributed=(0.5, -1.0), trainable=False):
    """A sum of both kinds (one compiled run tests both, and their sum)."""
    return ClosureSum([
        DiscreteDelayClosure(smooth_library(discrete, trainable), delay=0.15, buffer_dt=1 / 64),
        DistributedDelayClosure(smooth_library(distributed, trainable), tau1=0.2, tau2=0.05),
    ])


def test_restart_with_saved_buffers_equals_one_run(tmp_path):
    closure = both_delays()
    sim = Simulation(BURGERS, closure, stepper="ssprk3", dt=1 / 64)
    state0 = sim.initial_state(jnp.asarray(U0))
    whole = sim.advance(state0, 1.0, 64)
    half = sim.advance(state0, 0.5, 32)
    path = io.save_state(half, tmp_path / "half.npz")
    restored = io.load_state(path, like=state0)
    assert all(isinstance(s, DelayState) for s in restored.closure_state)
    rest = sim.advance(restored, 1.0, 32)
    for a, b in zip(jax.tree_util.tree_leaves(rest), jax.tree_util.tree_leaves(whole)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-12)
    # the buffers matter: restarting from the same u with other buffers differs
    other = closure.init(BURGERS_GRID, {"u": jnp.asarray(U0) * 0.5})
    other = (other[0], closure.closures[1].init(BURGERS_GRID, {"u": jnp.asarray(U0) * 0.5}, physics=BURGERS.physics))
    for k in range(2):
        buffers = tuple(other[j] if j == k else restored.closure_state[j] for j in range(2))
        changed = sim.advance(restored._replace(closure_state=buffers), 1.0, 32)
        assert np.max(np.abs(np.asarray(changed.fields["u"]) - np.asarray(whole.fields["u"]))) > 1e-5


def test_translation_equivariance_on_a_periodic_grid():
    sim = Simulation(BURGERS, both_delays(), stepper="ssprk3", dt=1 / 64)
    shift = 5

    def final(u0):
        return np.asarray(sim.advance(sim.initial_state(jnp.asarray(u0)), 0.5, 32).fields["u"])

    np.testing.assert_allclose(final(np.roll(U0, shift)), np.roll(final(U0), shift), rtol=0, atol=1e-13)
    assert not np.allclose(final(U0), np.asarray(Simulation(BURGERS, stepper="ssprk3", dt=1 / 64).advance(
        Simulation(BURGERS).initial_state(jnp.asarray(U0)), 0.5, 32).fields["u"]), atol=1e-4)  # the closures act


def test_the_same_closure_runs_on_any_grid():
    closure = both_delays()
    for nx, domain in [(32, (0.0, 2 * np.pi)), (50, (0.0, 2 * np.pi)), (200, (-3.0, 7.0)), (1000, (0.0, 2 * np.pi))]:
        grid = Grid.uniform(nx, domain)
        sim = Simulation(Burgers(grid, PERIODIC, "upwind", nu=0.05), closure, stepper="euler", cfl=0.5)
        u0 = 0.3 + np.sin(2 * np.pi * (grid.centers() - domain[0]) / (domain[1] - domain[0]))
        dt = sim.choose_dt(u0)
        final = sim.advance(sim.initial_state(jnp.asarray(u0)), 8 * dt, 8)
        assert final.fields["u"].shape == (nx,) and np.all(np.isfinite(np.asarray(final.fields["u"])))
        assert [s.values["u"].shape for s in final.closure_state] == [(c.length, nx) for c in closure.closures]


HEUN = ButcherTableau("heun", a=((), (1.0,)), b=(0.5, 0.5), c=(0.0, 1.0), real_extent=2.0, imaginary_extent=0.0)


def test_gradient_with_respect_to_the_inner_coefficients_matches_finite_differences():
    """The trainer's path: split the closure, merge inside the loss, init inside too."""
    closure = both_delays((0.05, -0.3), (0.5, -1.0), trainable=True)
    sim = Simulation(BURGERS, closure, stepper=HEUN, dt=1 / 64)  # two stages: quicker to compile
    graphdef, params, rest = nnx.split(closure, nnx.Param, ...)
    u0 = jnp.asarray(U0)

    def loss(params):
        model = nnx.merge(graphdef, params, rest)
        state = SimState({"u": u0}, jnp.asarray(0.0), model.init(BURGERS_GRID, {"u": u0}, 0.0))
        return jnp.mean(advance(sim.step, state, 0.3, 20, BURGERS.physics, model).fields["u"] ** 2)

    value_and_grad = jax.jit(jax.value_and_grad(loss))  # one compilation for all evaluations
    grads = value_and_grad(params)[1]
    eps = 1e-6
    for j in range(2):
        grad = np.asarray(grads["closures"][j]["inner"]["coefficients"][...])
        assert np.all(np.isfinite(grad))
        for k in range(2):
            def shifted(step, j=j, k=k):
                out = jax.tree_util.tree_map(lambda p: p, params)
                coefficients = out["closures"][j]["inner"]["coefficients"]
                coefficients[...] = coefficients[...].at[0, k].add(step)
                return out

            plus, minus = (float(value_and_grad(shifted(step))[0]) for step in (eps, -eps))
            finite_difference = (plus - minus) / (2 * eps)
            assert abs(finite_difference) > 1e-5
            assert abs(grad[0, k] - finite_difference) <= 1e-6 * abs(finite_difference)
    assert float(params["closures"][0]["inner"]["coefficients"][0, 0]) == 0.05  # params untouched


def test_a_float32_run_keeps_float32_buffers():
    """float64 coefficients (x64) with a float32 state: the buffers stay float32 in the carry."""
    sim = Simulation(BURGERS, both_delays(), stepper="ssprk3", dt=1 / 64)
    trajectory = sim.run(U0.astype(np.float32), stop=0.25, output_interval=0.25)
    assert trajectory.fields["u"].dtype == np.float32 and np.all(np.isfinite(trajectory.fields["u"]))
    for buffer in trajectory.final_state.closure_state:
        assert buffer.values["u"].dtype == buffer.times.dtype == buffer.committed_time.dtype == jnp.float32
        assert buffer.head.dtype == jnp.int32


# --- stability and validation -------------------------------------------------------------


def test_stability_rates_delegate_to_the_inner_closure():
    inner = LibraryClosure(["u_xx"], [0.1], trainable=False)
    rates = inner.rates(BURGERS_GRID, BURGERS.physics)
    assert DiscreteDelayClosure(inner, delay=0.5).rates(BURGERS_GRID, BURGERS.physics) == rates
    scaled = DistributedDelayClosure(inner, tau1=0.5, tau2=0.1).rates(BURGERS_GRID, BURGERS.physics)
    assert scaled["diffusive"] == pytest.approx(0.4 * rates["diffusive"]) and scaled["diffusive"] > 0
    assert DiscreteDelayClosure(inner, delay=0.5).stencil_width == inner.stencil_width == 1


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: DiscreteDelayClosure(minus_u(), delay=-0.1), "delay must be a finite number >= 0"),
        (lambda: DiscreteDelayClosure(minus_u(), delay=float("nan")), "delay"),
        (lambda: DiscreteDelayClosure(minus_u(), delay=1.0, buffer_dt=0.0), "buffer_dt must be a finite number > 0"),
        (lambda: DiscreteDelayClosure(minus_u(), delay=1.0, buffer_dt=-0.1), "buffer_dt"),
        (lambda: DistributedDelayClosure(minus_u(), tau1=0.1, tau2=0.2), "tau1 must be >= tau2"),
        (lambda: DistributedDelayClosure(minus_u(), tau1=0.3, tau2=-0.1), "tau2 must be a finite number >= 0"),
        (lambda: DistributedDelayClosure(minus_u(), tau1=0.3, buffer_dt=-1.0), "buffer_dt"),
        (lambda: DiscreteDelayClosure(minus_u(), delay=1.0, history="linear"), "history must be 'constant'"),
    ],
)
def test_bad_parameters_raise_naming_the_parameter(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_bad_inputs_to_init_raise():
    closure = DiscreteDelayClosure(minus_u(), delay=1.0, history=lambda t: np.ones(3))
    with pytest.raises(ValueError, match="history"):
        closure.init(STILL.grid, jnp.ones(8))
    with pytest.raises(ValueError, match="ascending"):
        DiscreteDelayClosure(minus_u(), delay=1.0).init_from_samples(STILL.grid, [0.0, -1.0], np.ones((2, 8)))
    with pytest.raises(ValueError, match="Markovian"):
        DiscreteDelayClosure(DiscreteDelayClosure(minus_u(), delay=0.5), delay=1.0).init(STILL.grid, jnp.ones(8))
