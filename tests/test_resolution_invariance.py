"""Resolution-invariant neural flux closures (`oceanclosure.closures.neural`, module docstring).

The dx-scaled flux vanishes at second order on a smooth field (and exactly on a linear
one), the dimensionless face features converge under refinement, `rates` is the exact
Gershgorin bound of the closure's Jacobian and feeds the stable dt, and bad values of
the new network keys are refused with one message naming the key. float64 throughout.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import fitted_order

import oceanclosure as oc
from oceanclosure.boundaries import BoundaryConditions
from oceanclosure.closures.neural import ClosureStabilityError, NeuralClosure
from oceanclosure.grid import Grid
from oceanclosure.models import Burgers
from oceanclosure.simulation import Simulation

pytestmark = pytest.mark.usefixtures("x64")

PHYSICS = {"nu": 0.005}
CASE = Path(__file__).resolve().parents[1] / "cases" / "burgers_random_waves"


def _net(seed=3, **kwargs):
    """An invariant flux-form network with random (non-trivial) weights."""
    options = dict(flux_form=True, face_inputs=("jumps", "direction", "reynolds"), jump_width=2, parameters=("nu",),
                   flux_scale="jump", smooth_reference=True, bound=0.5, stability_rates=True, hidden=(8, 8),
                   seed=seed)
    options.update(kwargs)
    return NeuralClosure((), **options)


def _smooth(x):
    return 0.3 + np.sin(x) + 0.3 * np.cos(2 * x + 1.0)


def _periodic(n):
    grid = Grid.uniform(n, [0.0, 2 * np.pi])
    return grid, jnp.asarray(_smooth(grid.centers()))


def _flux(net, grid, u):
    """The closure's face fluxes (jitted: one compile per grid instead of one per primitive and shape)."""
    return np.asarray(jax.jit(lambda v: net.fluxes(v, (), grid, 0.0, PHYSICS)["u"][0])(u))


NS = (32, 64, 128, 256)


def test_flux_vanishes_at_second_order_on_a_smooth_field():
    net = _net()
    sizes = [np.max(np.abs(_flux(net, *_periodic(n)))) for n in NS]
    order = fitted_order([2 * np.pi / n for n in NS], sizes)
    assert 1.8 < order < 2.3, (order, sizes)


def test_flux_without_the_reference_vanishes_at_first_order_only():
    """The jump scale alone is O(dx): the linear-field reference buys the second order."""
    net = _net(smooth_reference=False)
    fine = (256, 512, 1024)
    sizes = [np.max(np.abs(_flux(net, *_periodic(n)))) for n in fine]
    assert 0.8 < fitted_order([2 * np.pi / n for n in fine], sizes) < 1.5, sizes


def test_dx_power_scales_the_output_by_dx_to_the_power():
    grid, u = _periodic(64)
    plain = NeuralClosure(("u", "u_x"), flux_form=True, hidden=(4,), seed=1)
    scaled = NeuralClosure(("u", "u_x"), flux_form=True, hidden=(4,), seed=1, dx_power=2.0, length_scale=0.5)
    np.testing.assert_allclose(_flux(scaled, grid, u), _flux(plain, grid, u) * (grid.dx / 0.5) ** 2, rtol=1e-12)


def test_flux_is_exactly_zero_on_a_linear_field():
    grid = Grid.uniform(40, [0.0, 1.0]).with_bounded((True,))
    u = jnp.asarray(2.0 * grid.centers() - 0.7)
    np.testing.assert_allclose(_flux(_net(), grid, u), 0.0, atol=1e-15)


def test_reynolds_gate_multiplies_the_flux_by_re2_over_1_plus_re2():
    """G = Re²/(1 + Re²) face by face (Re from the jumps, independently), so the gated flux dies faster."""
    grid, u = _periodic(64)
    gated, plain = _flux(_net(gate="reynolds"), grid, u), _flux(_net(), grid, u)
    jumps = np.stack([np.roll(np.asarray(u) - np.roll(np.asarray(u), 1), -k) for k in range(-2, 3)], axis=-1)
    re = np.sum(np.abs(jumps), axis=-1) * grid.dx / (5 * PHYSICS["nu"])
    gate = np.append(re**2 / (1 + re**2), re[0] ** 2 / (1 + re[0] ** 2))
    np.testing.assert_allclose(gated, plain * gate, rtol=1e-10, atol=1e-300)
    assert 0.05 < np.min(gate) and np.max(gate) < 0.95  # the gate is neither 0 nor 1 here: the test can fail


def _faces_at(net, n, where):
    """Face features at the faces x = where (they exist on every grid with n a multiple of 8)."""
    grid, u = _periodic(n)
    features, _, _ = net.face_terms({"u": u}, grid, PHYSICS)
    return np.asarray(features)[np.round(np.asarray(where) / grid.dx).astype(int) % n]


def test_face_features_converge_under_refinement():
    net = _net()
    where = np.array([np.pi / 4, 3 * np.pi / 4])  # faces where |u| >> dx |u_x| (direction is then sharp)
    values = [_faces_at(net, n, where) for n in (64, 128, 256, 512)]
    # jumps and direction: grid-invariant, converging at first order (halving per refinement)
    gaps = [np.max(np.abs(a[:, :6] - b[:, :6])) for a, b in zip(values[:-1], values[1:])]
    assert gaps[-1] < 0.04 and gaps[0] / gaps[-1] > 3.0, gaps
    # reynolds, the resolution indicator: Re = O(dx²) on a smooth field, so Re/(1+Re) → 0 at second order
    reynolds_levels = [np.max(v[:, 6]) for v in values]
    assert reynolds_levels[-2] / reynolds_levels[-1] > 3.0, reynolds_levels
    jumps, direction, reynolds = values[-1][:, :5], values[-1][:, 5], values[-1][:, 6]
    slope = np.gradient(_smooth(np.linspace(0, 2 * np.pi, 4097)), 2 * np.pi / 4096)[(where / (2 * np.pi) * 4096).astype(int)]
    np.testing.assert_allclose(jumps, np.broadcast_to(np.sign(slope)[:, None] / 5, jumps.shape), atol=0.03)
    np.testing.assert_allclose(direction, np.sign(_smooth(where)), atol=0.15)
    assert np.all(reynolds < 0.1) and np.all(reynolds > 0)


def _small_net(**kwargs):
    """Stencil half-width 3 (jump_width 1): 7 colors, so the Jacobian tests stay small."""
    return _net(jump_width=1, hidden=(4, 4), **kwargs)


def test_rates_are_the_gershgorin_bound_of_the_dense_jacobian():
    """Periodic n = 14 (two cells per color) and bounded n = 9 (colors 0, 1 repeat): probing must not alias."""
    net = _small_net()
    for n, bounded in ((14, False), (9, True)):
        grid = Grid.uniform(n, [0.0, 2 * np.pi]).with_bounded((bounded,))
        u = jnp.asarray(_smooth(grid.centers()))
        dense = jax.jit(jax.jacfwd(lambda v: net(v, (), grid, 0.0, PHYSICS)[0]))(u)
        expected = float(jnp.max(jnp.sum(jnp.abs(dense), axis=1)))
        assert net.rates(grid, PHYSICS, {"u": u})["advective"] == pytest.approx(expected, rel=1e-10)


def test_rates_enter_the_stable_dt_and_are_off_by_default():
    grid, u = _periodic(14)
    model = Burgers(grid, BoundaryConditions.periodic(1), "muscl_vanleer", nu=PHYSICS["nu"])
    bare = Simulation(model, None).stable_dt(u)
    assert Simulation(model, _small_net(stability_rates=False)).stable_dt(u) == bare
    assert Simulation(model, _small_net(bound=50.0)).stable_dt(u) < bare


def test_a_closure_with_a_non_finite_jacobian_is_refused_naming_it():
    grid, u = _periodic(14)
    net = _small_net()
    last = net.layers[-1]
    last.kernel[...] = jnp.full_like(last.kernel[...], jnp.nan)
    model = Burgers(grid, BoundaryConditions.periodic(1), "muscl_vanleer", nu=PHYSICS["nu"])
    with pytest.raises(ClosureStabilityError, match="NeuralClosure"):
        Simulation(model, net).choose_dt(u)


def test_shipped_closure_runs_stably_at_eight_times_its_nx():
    case = oc.load_case(CASE, ["grid.nx=256", "time.stop=0.25", "grid.precision=float64"])
    setup = oc.resolve(case)
    trajectory = setup.simulation.run(setup.fields0, case.time.stop, case.time.output_interval)
    assert np.all(np.isfinite(trajectory.fields["u"]))


@pytest.mark.parametrize("key, value, message", [
    ("face_inputs", '["jumps", "slope"]', "face_inputs"),
    ("bound", "-1.0", "bound"),
    ("jump_width", "-2", "jump_width"),
    ("flux_scale", '"dx"', "flux_scale"),
    ("smooth_reference", '"yes"', "smooth_reference"),
    ("dx_power", "-1", "dx_power"),
    ("gate", '"dx"', "gate"),
])
def test_bad_network_values_give_one_message_naming_the_key(tmp_path, key, value, message):
    with pytest.raises(oc.CaseError) as info:
        oc.load_case(_variant(tmp_path, key, value))
    assert message in str(info.value)


def _variant(tmp_path, key, value):
    """The shipped case with ``key = value`` in its [[closure]] table (replacing the key's line)."""
    lines = []
    for line in (CASE / "case.toml").read_text().splitlines():
        if line.startswith(f"{key} = "):
            continue
        lines.append(line)
        if line == "[[closure]]":
            lines.append(f"{key} = {value}")
    (tmp_path / "case.toml").write_text("\n".join(lines) + "\n")
    return tmp_path


@pytest.mark.parametrize("options, message", [
    (dict(face_inputs=("jumps",), flux_form=False), "flux_form"),
    (dict(smooth_reference=True, face_inputs=("direction",)), "smooth_reference"),
    (dict(flux_scale="jump", face_inputs=(), flux_form=False), "flux_scale"),
    (dict(bound=0.0), "bound"),
    (dict(length_scale=float("inf")), "length_scale"),
    (dict(gate="reynolds", face_inputs=(), flux_form=False), "gate"),
    (dict(gate="smooth"), "gate"),
])
def test_bad_constructor_values_are_refused(options, message):
    base = dict(flux_form=True, face_inputs=("jumps",), parameters=("nu",))
    base.update(options)
    with pytest.raises(ValueError, match=message):
        NeuralClosure(("u",), **base)


def test_reynolds_needs_the_viscosity_listed(tmp_path):
    with pytest.raises(oc.CaseError, match="viscosity"):
        oc.load_case(_variant(tmp_path, "parameters", "[]"))


def test_default_network_dump_has_no_new_keys():
    """Specs of closures trained before these keys (their checkpoints) stay valid."""
    from oceanclosure.cases.closures import INVARIANCE_DEFAULTS, NetworkConfig

    dumped = NetworkConfig(inputs=("u",)).model_dump(mode="json")
    assert not set(INVARIANCE_DEFAULTS) & set(dumped)
    assert NetworkConfig(inputs=("u",), bound=1.0).model_dump(mode="json")["bound"] == 1.0

