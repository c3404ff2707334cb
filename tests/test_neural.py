"""NeuralClosure: equivariance, reductions, any grid, conservation, gradients.

float64 throughout (the ``x64`` fixture and float64 arrays).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from oceanclosure.boundaries import BoundaryConditions, Neumann
from oceanclosure.closures.neural import NeuralClosure
from oceanclosure.grid import Grid
from oceanclosure.models import AdvectionDiffusion, Burgers
from oceanclosure.simulation import Simulation, advance

pytestmark = pytest.mark.usefixtures("x64")

INPUTS = ("u", "u_x", "u_xx", "nu", "dx")
SCALES = {"u_x": 5.0, "u_xx": 20.0, "nu": 0.01, "dx": 0.1}
PHYSICS = {"nu": 0.02}
PERIODIC = BoundaryConditions.periodic(1)
GRID = Grid.uniform(48, [0.0, 2 * np.pi])
X = GRID.centers()
U0 = 0.3 + np.sin(X) + 0.2 * np.cos(3 * X + 0.4)


def _net(flux_form=False, inputs=INPUTS, **kwargs):
    """The paper's network (docs/reference_problems.md §3) with fixed input scales."""
    options = dict(parameters=("nu",), output_scale="abs_u", scales=SCALES, seed=0)
    options.update(kwargs)
    return NeuralClosure(inputs, flux_form=flux_form, **options)


def _tendency(closure, u, grid, physics=PHYSICS):
    """The closure's tendency (jitted: compiled once per grid and network shape)."""
    return np.asarray(_jitted_tendency(closure, jnp.asarray(u), physics, grid))


@jax.jit(static_argnums=3)
def _jitted_tendency(closure, u, physics, grid):
    return closure(u, (), grid, 0.0, physics)[0]


FORMS = pytest.mark.parametrize("flux_form", [False, True], ids=["pointwise", "flux"])


# --- structure ---------------------------------------------------------------------


@FORMS
def test_translation_equivariance_on_a_periodic_grid(flux_form):
    closure = _net(flux_form)
    tendency = _tendency(closure, U0, GRID)
    shifted = _tendency(closure, np.roll(U0, 7), GRID)
    assert np.max(np.abs(tendency)) > 1e-3
    np.testing.assert_allclose(shifted, np.roll(tendency, 7), rtol=1e-12, atol=1e-15)


def test_pointwise_form_in_2d_is_equivariant_along_both_axes():
    grid = Grid.uniform((16, 12), [[0.0, 2 * np.pi], [0.0, 1.0]])
    x, y = grid.mesh()
    u = np.sin(x) * np.cos(2 * np.pi * y) + 0.1 * x
    closure = NeuralClosure(["u", "u_x", "u_y", "u_xy", "dx", "dy"], output_scale="u_yy")
    tendency = _tendency(closure, u, grid)
    assert tendency.shape == grid.array_shape and np.max(np.abs(tendency)) > 1e-3
    shifted = _tendency(closure, np.roll(u, (3, 5), axis=(0, 1)), grid)
    np.testing.assert_allclose(shifted, np.roll(tendency, (3, 5), axis=(0, 1)), rtol=1e-12, atol=1e-14)
    assert closure.stencil_width == 1


def test_flux_form_refuses_2d_grids():
    grid = Grid.uniform((8, 8), [[0.0, 1.0], [0.0, 1.0]])
    closure = NeuralClosure(["u", "u_x"], flux_form=True)
    with pytest.raises(ValueError, match="flux_form supports 1D grids only, got a 2D grid"):
        closure(jnp.zeros(grid.array_shape), (), grid, 0.0, {})


@pytest.mark.parametrize(
    "inputs, flux_form, width",
    [(("u",), False, 0), (("u", "u_x", "u_xx"), False, 1), (("u", "u_xxxx"), False, 2),
     (("u", "u_xx"), True, 2), (("u",), True, 1)],
)
def test_stencil_width_follows_the_derivative_orders(inputs, flux_form, width):
    assert NeuralClosure(inputs, flux_form=flux_form).stencil_width == width


def test_initialisation_is_deterministic_in_the_seed():
    leaves = [np.asarray(a) for a in jax.tree_util.tree_leaves(_net(seed=3))]
    same = [np.asarray(a) for a in jax.tree_util.tree_leaves(_net(seed=3))]
    other = [np.asarray(a) for a in jax.tree_util.tree_leaves(_net(seed=4))]
    from_rngs = [np.asarray(a) for a in jax.tree_util.tree_leaves(_net(rngs=nnx.Rngs(3)))]
    assert all(np.array_equal(a, b) for a, b in zip(leaves, same))
    assert all(np.array_equal(a, b) for a, b in zip(leaves, from_rngs))
    assert not all(np.array_equal(a, b) for a, b in zip(leaves, other))
    assert [a.shape for a in leaves if a.ndim == 2] == [(5, 10), (10, 7), (7, 5), (5, 5), (5, 3), (3, 1)]


def test_inputs_are_divided_by_their_scales():
    plain = NeuralClosure(["u", "u_x"], seed=1)
    scaled = NeuralClosure(["u", "u_x"], scales={"u": 2.0, "u_x": 2.0}, seed=1)
    np.testing.assert_allclose(_tendency(scaled, U0, GRID), _tendency(plain, U0 / 2, GRID), rtol=1e-13)
    assert not np.allclose(_tendency(scaled, U0, GRID), _tendency(plain, U0, GRID))


def test_output_scales_multiply_the_network_output():
    plain = NeuralClosure(["u", "u_x"], seed=1)
    by_dx = NeuralClosure(["u", "u_x"], output_scale="dx", seed=1)
    by_abs_u = NeuralClosure(["u", "u_x"], output_scale="abs_u", seed=1)
    np.testing.assert_allclose(_tendency(by_dx, U0, GRID), GRID.dx * _tendency(plain, U0, GRID), rtol=1e-13)
    np.testing.assert_allclose(_tendency(by_abs_u, U0, GRID), np.abs(U0) * _tendency(plain, U0, GRID), rtol=1e-13)


@pytest.mark.parametrize("activation", ["swish", "silu", "tanh", "relu", "gelu", "identity"])
def test_activations_give_finite_outputs(activation):
    tendency = _tendency(_net(activation=activation), U0, GRID)
    assert np.all(np.isfinite(tendency)) and np.max(np.abs(tendency)) > 0


def test_identity_activation_without_hidden_layers_is_affine():
    closure = NeuralClosure(["u", "u_x"], hidden=(), activation="identity", seed=2)
    kernel, bias = (np.asarray(closure.layers[0].kernel[...]), np.asarray(closure.layers[0].bias[...]))
    u_x = (np.roll(U0, -1) - np.roll(U0, 1)) / (2 * GRID.dx)
    expected = kernel[0, 0] * U0 + kernel[1, 0] * u_x + bias[0]
    np.testing.assert_allclose(_tendency(closure, U0, GRID), expected, rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(inputs=["u", "nu"]), "parameter listed in parameters"),
        (dict(inputs=["u", "uxx"]), "unknown input"),
        (dict(inputs=[]), "at least one input"),
        (dict(inputs=["u"], activation="sigmoid"), "activation must be one of"),
        (dict(inputs=["u"], output_scale="abs"), "output_scale must be"),
        (dict(inputs=["u"], scales={"u_x": 2.0}), "not inputs"),
        (dict(inputs=["u"], scales={"u": 0.0}), "finite and non-zero"),
        (dict(inputs=["u"], hidden=(4, 0)), "widths must be >= 1"),
        (dict(inputs=["u"], init_last_layer="ones"), "init_last_layer"),
    ],
)
def test_constructor_validates_loudly(kwargs, message):
    inputs = kwargs.pop("inputs")
    with pytest.raises(ValueError, match=message):
        NeuralClosure(inputs, **kwargs)


# --- reductions --------------------------------------------------------------------


@pytest.fixture(scope="module")
def burgers():
    return Burgers(GRID, PERIODIC, "muscl_vanleer", nu=PHYSICS["nu"])


@pytest.mark.parametrize("bounded", [False, True], ids=["periodic", "bounded"])
@FORMS
def test_zero_last_layer_gives_an_exactly_zero_tendency(flux_form, bounded):
    grid = GRID.with_bounded((bounded,))
    zeroed = _net(flux_form)
    assert np.max(np.abs(_tendency(zeroed, U0, grid))) > 1e-3
    zeroed.zero_last_layer()
    assert np.array_equal(_tendency(zeroed, U0, grid), np.zeros_like(U0))
    assert np.array_equal(_tendency(_net(flux_form, init_last_layer="zeros"), U0, grid), np.zeros_like(U0))


@FORMS
def test_zero_last_layer_is_bit_identical_to_no_closure(flux_form):
    """Compiled, through `Simulation.run`, against the bare model.

    The simulation pins the model tendency behind an optimisation barrier, so that
    adding an exactly-zero closure cannot change XLA's fusion (and FMA contraction)
    of the model's own arithmetic.
    """
    model = Burgers(GRID, PERIODIC, "upwind", nu=PHYSICS["nu"])

    def run(closure):
        return Simulation(model, closure=closure, stepper="ssprk3", cfl=0.5).run(U0, stop=0.1, output_interval=0.05)

    reference = run(None)
    small = dict(hidden=(5,), inputs=("u", "u_x", "nu"), scales={"nu": 0.01})
    zero_run = run(_net(flux_form, init_last_layer="zeros", **small))
    live_run = run(_net(flux_form, **small))
    assert reference.steps >= 4
    assert np.array_equal(zero_run.fields["u"], reference.fields["u"])
    assert not np.array_equal(live_run.fields["u"], reference.fields["u"])


# --- any grid ----------------------------------------------------------------------


@FORMS
def test_the_same_parameters_run_on_any_grid(flux_form):
    closure = _net(flux_form)
    before = [np.asarray(a).copy() for a in jax.tree_util.tree_leaves(closure)]
    grids = [Grid.uniform(nx, [0.0, 2 * np.pi]) for nx in (32, 50, 200, 1000)] + [Grid.uniform(50, [-1.0, 0.25])]
    for grid in grids:
        u = 0.3 + np.sin(2 * np.pi * grid.centers() / grid.length[0])
        tendency = _tendency(closure, u, grid)
        assert tendency.shape == (grid.nx,) and np.all(np.isfinite(tendency)) and np.max(np.abs(tendency)) > 0
    after = [np.asarray(a) for a in jax.tree_util.tree_leaves(closure)]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    grid = grids[-1]
    run = Simulation(Burgers(grid, PERIODIC, "upwind", nu=0.02), closure=closure, cfl=0.5).run(
        0.3 + np.sin(2 * np.pi * grid.centers() / grid.length[0]), stop=0.2, output_interval=0.1)
    assert np.all(np.isfinite(run.fields["u"])) and run.steps > 1


# --- conservation ------------------------------------------------------------------


@pytest.mark.parametrize("bounded", [False, True], ids=["periodic", "bounded"])
def test_flux_form_tendency_sums_to_zero(bounded):
    grid = GRID.with_bounded((bounded,))
    flux, pointwise = _net(True), _net(False)
    tendency = _tendency(flux, U0, grid)
    assert abs(np.sum(tendency) * grid.dx) <= 1e-15 * np.sum(np.abs(tendency)) * grid.dx * grid.nx
    other = _tendency(pointwise, U0, grid)
    assert abs(np.sum(other)) > 1e-3 * np.sum(np.abs(other))
    far = U0.copy()
    far[-1] += 1.0  # the wall face between the last and the first cell exists only when periodic
    changed = _tendency(flux, far, grid)[0] != tendency[0]
    assert changed != bounded


def test_flux_form_conserves_mass_in_a_periodic_burgers_run(burgers):
    run = Simulation(burgers, closure=_net(True), stepper="ssprk3", cfl=0.5).run(U0, stop=2.0, output_interval=0.5)
    mass = run.fields["u"].sum(axis=1) * GRID.dx
    assert np.max(np.abs(mass - mass[0])) <= 1e-13 * np.sum(np.abs(U0)) * GRID.dx


def test_flux_form_conserves_mass_between_no_flux_walls():
    """A zero model (no velocity, no diffusivity) with walls: only the closure acts."""
    bc = BoundaryConditions.from_sides(left=Neumann(0.0), right=Neumann(0.0))
    model = AdvectionDiffusion(GRID, bc, "upwind", velocity=0.0, diffusivity=0.0)
    closure = _net(True, inputs=("u", "u_x", "u_xx", "dx"), parameters=(), scales={"u_x": 5.0, "u_xx": 20.0})
    run = Simulation(model, closure=closure, stepper="ssprk3", dt=0.01).run(U0, stop=2.0, output_interval=0.5)
    mass = run.fields["u"].sum(axis=1) * GRID.dx
    assert np.max(np.abs(run.fields["u"][-1] - U0)) > 1e-3
    assert np.max(np.abs(mass - mass[0])) <= 1e-13 * np.sum(np.abs(U0)) * GRID.dx


# --- gradients ---------------------------------------------------------------------


@FORMS
def test_gradient_through_a_rollout_matches_finite_differences(flux_form):
    """d(loss)/d(one weight) through `simulation.advance`, against a central difference."""
    grid = Grid.uniform(24, [0.0, 2 * np.pi])
    sim = Simulation(Burgers(grid, PERIODIC, "upwind", nu=PHYSICS["nu"]), closure=_net(flux_form), stepper="euler")
    state = sim.initial_state(jnp.asarray(0.3 + np.sin(grid.centers())))

    @jax.jit
    @jax.value_and_grad
    def loss(closure):
        final = advance(sim.step, state, 0.3, 8, PHYSICS, closure)
        return jnp.sum(final.fields["u"]**2)

    closure = _net(flux_form)
    grad = float(loss(closure)[1].layers[-1].kernel[...][1, 0])
    eps = 1e-5

    def perturbed(delta):
        copy = nnx.clone(closure)
        copy.layers[-1].kernel[...] = copy.layers[-1].kernel[...].at[1, 0].add(delta)
        return float(loss(copy)[0])

    finite_difference = (perturbed(eps) - perturbed(-eps)) / (2 * eps)
    assert np.isfinite(grad) and abs(grad) > 1e-4
    assert abs(grad - finite_difference) <= 1e-6 * abs(finite_difference)
