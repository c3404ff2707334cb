"""The NPZD-OA / NPZ-OA columns: exact 0-D dynamics, conservation, positivity, mixing, NPZ vs NPZD."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from oceanclosure.biogeochem.initial import alkalinity, initial_column, salinity
from oceanclosure.biogeochem.mixing import MixingProfile, mixed_layer_table
from oceanclosure.biogeochem.model import PlanktonColumn
from oceanclosure.biogeochem.parameters import DEFAULTS
from oceanclosure.biogeochem.reactions import Plankton
from oceanclosure.boundaries import BoundaryConditions, Flux
from oceanclosure.closures import LibraryClosure
from oceanclosure.grid import Grid
from oceanclosure.models import AdvectionDiffusionReaction, Variable
from oceanclosure.simulation import SimState, Simulation, make_step
from oceanclosure.timestepping import STEPPERS, StabilityError

pytestmark = pytest.mark.usefixtures("x64")

NO_FLUX = BoundaryConditions.from_sides(dims=("z",), bottom=Flux(), top=Flux())
POOLS = ("N", "P", "Z", "D")


def _column(nz=20, depth=100.0, detritus=True, mixing=None, **changes):
    grid = Grid.uniform(nz, [-depth, 0.0], dims=("z",))
    if mixing is None:
        mixing = MixingProfile(8.64, 0.0864, 0.1, -depth, mixed_layer_table(
            [0, 25, 175, 365], [-80, -25, -25, -80], 365.0)) if depth >= 80 else 0.0
    return PlanktonColumn(grid, NO_FLUX, reactions=Plankton(detritus), mixing=mixing,
                          parameters={**DEFAULTS, **changes})


def _reference_rhs(p, z):
    """The NPZD-OA equations, written out independently of the package (docs/biogeochemistry.md)."""
    def rhs(t, y):
        n, ph, zo, d, _dic, _ta = y
        light = (158.075 - 50.0 * np.sin(2 * np.pi * (t + 365 / 6) / 365)) * np.exp(p["k_W"] * z)
        f_t = np.exp(-p["a"] * abs(p["T"] - p["T_opt"]))
        f_i = (1 - np.exp(-p["alpha"] * light / p["mu_max"])) * np.exp(-p["beta"] * light / p["mu_max"])
        uptake = p["mu_max"] * n / (p["K_N"] + n) * f_i * f_t * ph
        grazing = p["g_max"] * f_t * zo * ph**2 / (ph**2 + p["K_P"] ** 2)
        dn = -uptake + p["lambda"] * grazing + p["eps"] * f_t * d
        dp = uptake - grazing - f_t * p["m_p"] * ph
        dz = p["gamma"] * grazing - f_t * p["m_z"] * zo - p["q"] * p["m_z"] * zo**2
        dd = ((1 - p["gamma"] - p["lambda"]) * grazing + f_t * p["m_p"] * ph + f_t * p["m_z"] * zo
              + p["q"] * p["m_z"] * zo**2 - p["eps"] * f_t * d)
        ddic = -p["C_P"] * dp - p["C_Z"] * dz - p["C_D"] * dd - p["gamma_c"] * p["C_P"] * uptake
        dta = (-dn - 2 * p["gamma_c"] * p["C_P"] * uptake) / p["rho"]
        return [dn, dp, dz, dd, ddic, dta]
    return rhs


def test_a_single_cell_matches_solve_ivp_over_60_days():
    """No mixing, one cell at z = -1 m (T = 15 °C so f_T < 1, q = 1): the FV solver is the ODE."""
    p = {**DEFAULTS, "q": 1.0, "T": 15.0}
    model = _column(nz=1, depth=2.0, mixing=0.0, **p)
    y0 = {"N": 6.0, "P": 0.4, "Z": 0.3, "D": 1.0, "DIC": 2000.0, "TA": 2.2}
    reference = solve_ivp(_reference_rhs(p, -1.0), (0, 60), list(y0.values()), method="DOP853",
                          rtol=1e-12, atol=1e-14, dense_output=True)
    sim = Simulation(model, stepper="ssprk3", dt=0.002)
    run = sim.run({k: np.array([v]) for k, v in y0.items()}, stop=60.0, output_interval=10.0)
    expected = reference.sol(run.times)
    for i, name in enumerate(y0):
        got = run.fields[name][:, 0]
        assert np.max(np.abs(got - expected[i]) / np.abs(expected[i])) < 1e-6, name
    assert np.max(np.abs(run.fields["Z"][-1] - y0["Z"])) > 0.05  # it moved: the comparison is not trivial


def _nitrogen(fields, dz):
    return float(sum(np.sum(np.asarray(fields[k], dtype=np.float64)) for k in POOLS if k in fields) * dz)


def _mirrored_z2(coefficient=-0.03):
    return LibraryClosure(["Z**2"], variables=["N", "P", "Z", "D", "DIC", "TA"], outputs=["Z", "D"],
                          coefficients=[[coefficient]], constraints={"D": {"Z": -1.0}})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("closure", [None, "trained"])
def test_total_nitrogen_is_conserved_over_1000_steps(dtype, closure):
    model = _column(q=0.0)
    z = model.grid.centers(0)
    fields = initial_column(model.reactions, z, 100.0, model.physics, 10.0, 20.0, days=0.0)
    fields = {k: v.astype(dtype) for k, v in fields.items()}
    sim = Simulation(model, closure=_mirrored_z2() if closure else None, stepper="ssprk3", cfl=1.0)
    dt = sim.choose_dt(fields)
    state = sim.initial_state(fields)
    end = sim.advance(state, 1000 * dt, 1000)
    before, after = _nitrogen(fields, 5.0), _nitrogen(end.fields, 5.0)
    tolerance = 2e-6 if dtype == np.float32 else 1e-13
    assert abs(after - before) / before < tolerance
    moved = max(np.max(np.abs(np.asarray(end.fields[k], np.float64) - fields[k])) for k in POOLS)
    assert moved > 1e-3  # the pools exchanged nitrogen


def test_the_closure_moves_dic_and_ta_by_the_carbonate_budget():
    """A closure on Z and D alone changes DIC by -C_Z c_Z - C_D c_D and TA not at all (no N tendency)."""
    model = _column(q=0.0)
    fields = initial_column(model.reactions, model.grid.centers(0), 100.0, model.physics, 10.0, 20.0, days=0.0)
    fields = {k: jnp.asarray(v) for k, v in fields.items()}
    closure = _mirrored_z2()
    raw = closure.tendency(fields, (), model.grid, 0.0, model.physics)
    coupled = model.coupled(raw)
    z2 = np.asarray(fields["Z"]) ** 2
    np.testing.assert_allclose(coupled["DIC"] - raw["DIC"], -(5.625 * -0.03 + 7.5 * 0.03) * z2, rtol=1e-12)
    np.testing.assert_allclose(coupled["TA"], raw["TA"], atol=0)
    # a closure on Z and N (2b's mirror) moves TA by -c_N / rho and DIC by -C_Z c_Z
    to_n = LibraryClosure(["Z**2"], variables=["N", "P", "Z", "D", "DIC", "TA"], outputs=["Z", "N"],
                          coefficients=[[-0.03]], constraints={"N": {"Z": -1.0}})
    coupled = model.coupled(to_n.tendency(fields, (), model.grid, 0.0, model.physics))
    np.testing.assert_allclose(coupled["TA"], -(0.03 * z2) / 1028.13, rtol=1e-12)
    np.testing.assert_allclose(coupled["DIC"], -5.625 * (-0.03 * z2), rtol=1e-12)


def test_a_zero_state_stays_zero():
    model = _column()
    zero = {k: np.zeros(20) for k in model.variable_names}
    sim = Simulation(model, stepper="ssprk3", dt=0.05)
    run = sim.run(zero, stop=30.0, output_interval=10.0)
    for name in model.variable_names:
        assert np.all(run.fields[name] == 0.0), name


def _bloom():
    """Nutrient-rich, light-rich shallow water with a small seed population: P grows ~ 50x."""
    model = _column(nz=10, depth=100.0, q=1.0, g_max=2.0, K_N=0.05, K_P=0.05)
    fields = {"N": np.full(10, 20.0), "P": np.full(10, 1e-3), "Z": np.full(10, 1e-3), "D": np.zeros(10),
              "DIC": np.full(10, 2000.0), "TA": np.full(10, 2.2)}
    return model, fields


def test_positivity_holds_under_a_strong_bloom():
    model, fields = _bloom()
    sim = Simulation(model, stepper="ssprk3", cfl=1.0)
    run = sim.run(fields, stop=60.0, output_interval=0.5)
    assert run.fields["P"].max() > 50 * fields["P"].max()  # a bloom
    assert run.fields["N"][:, -1].min() < 1.0  # the surface nutrient (the top cell) is exhausted
    for name in POOLS:
        assert run.fields[name].min() >= 0.0, name


def test_a_step_past_the_positivity_bound_is_refused_and_would_go_negative():
    model, fields = _bloom()
    sim = Simulation(model, stepper="ssprk3", cfl=1.0)
    limit = sim.stable_dt(fields)
    with pytest.raises(StabilityError, match="stability limit"):
        Simulation(model, stepper="ssprk3", dt=10 * limit).run(fields, stop=1.0, output_interval=1.0)
    with pytest.raises(StabilityError, match="not strong-stability preserving"):
        Simulation(model, stepper="rk4").run(fields, stop=1.0, output_interval=1.0)
    # the bound is not idle: stepping the bloom at 30x the bound drives a pool negative
    closure = Simulation(model).closure
    step = jax.jit(lambda s: make_step(model, closure, STEPPERS["ssprk3"])(s, 30 * limit, model.physics, closure))
    state = SimState({k: jnp.asarray(v) for k, v in fields.items()}, jnp.asarray(0.0), ())
    lowest = np.inf
    for _ in range(400):
        state = step(state)
        lowest = min(lowest, min(float(jnp.min(state.fields[k])) for k in POOLS))
    assert lowest < 0.0


def test_mixing_alone_relaxes_to_the_depth_mean_and_conserves_mass():
    grid = Grid.uniform(20, [-100.0, 0.0], dims=("z",))
    kz = MixingProfile(8.64, 2.0, 0.1, -100.0, mixed_layer_table([0, 25, 175, 365], [-80, -25, -25, -80], 365.0))
    model = AdvectionDiffusionReaction(grid, NO_FLUX, variables=[Variable("c")], diffusivity=kz)
    z = grid.centers(0)
    c0 = 1.0 + np.cos(np.pi * z / 100.0) + 0.3 * np.sin(3 * np.pi * z / 100.0)
    run = Simulation(model, stepper="ssprk3", cfl=0.9).run({"c": c0}, stop=8000.0, output_interval=1000.0)
    final = run.fields["c"][-1]
    assert abs(final.sum() - c0.sum()) < 1e-11 * c0.sum()
    assert np.max(np.abs(final - c0.mean())) < 1e-6
    assert np.max(np.abs(run.fields["c"][1] - c0.mean())) > 1e-3  # relaxation takes time: not instant


def test_the_mixing_profile_runs_from_k_z0_at_the_surface_to_k_zb_at_the_bottom():
    kz = MixingProfile(8.64, 0.0864, 0.1, -100.0, mixed_layer_table([0, 25, 175, 365], [-80, -25, -25, -80], 365.0))
    z = np.linspace(-100.0, 0.0, 101)
    for t in (0.0, 25.0, 100.0, 300.0):
        k = kz.evaluate(np, {"z": z}, t)
        assert k[0] == pytest.approx(0.0864, rel=1e-12) and k[-1] == pytest.approx(8.64, rel=1e-12)
        assert np.all(np.diff(k) > 0)
    deep, shallow = kz.evaluate(np, {"z": np.array(-50.0)}, 0.0), kz.evaluate(np, {"z": np.array(-50.0)}, 100.0)
    assert deep > 4 and shallow < 1  # at 50 m: inside the winter mixed layer (80 m), below the summer one (25 m)


@pytest.mark.parametrize("eps", [0.015, 0.5])
def test_npz_oa_is_npzd_oa_with_n_plus_d_lumped_when_k_n_is_zero(eps):
    """With K_N = 0, f_N = 1 for N > 0: uptake no longer reads N, so P, Z and N + D of NPZD-OA follow
    NPZ-OA's P, Z and N exactly, whatever the remineralisation rate ε (docs/biogeochemistry.md)."""
    changes = {"K_N": 0.0, "eps": eps, "q": 1.0}
    full, lumped = _column(detritus=True, **changes), _column(detritus=False, **changes)
    z = full.grid.centers(0)
    start = initial_column(full.reactions, z, 100.0, full.physics, 10.0, 20.0, days=0.0)
    start["P"] = np.full(20, 0.01)  # a small population, so that the nutrient lasts: with K_N = 0 uptake
    #                                 does not slow as N runs out
    lumped_start = {"N": start["N"] + start["D"], "P": start["P"], "Z": start["Z"], "DIC": start["DIC"],
                    "TA": start["TA"]}
    a = Simulation(full, stepper="ssprk3", dt=0.01).run(start, stop=3.0, output_interval=0.5)
    b = Simulation(lumped, stepper="ssprk3", dt=0.01).run(lumped_start, stop=3.0, output_interval=0.5)
    assert a.fields["N"].min() > 0  # f_N = N/N needs N > 0
    np.testing.assert_allclose(a.fields["N"] + a.fields["D"], b.fields["N"], rtol=1e-11)
    np.testing.assert_allclose(a.fields["P"], b.fields["P"], rtol=1e-11)
    np.testing.assert_allclose(a.fields["Z"], b.fields["Z"], rtol=1e-11)
    assert np.max(np.abs(a.fields["D"][-1] - start["D"])) > 0.01  # D itself moved: the lumping is not trivial
    assert np.max(np.abs(a.fields["P"][-1] - start["P"])) > 0.01


def test_with_k_n_positive_the_two_models_differ():
    """The relation above is exact only at K_N = 0: with the reference K_N the nutrient matters."""
    full, lumped = _column(detritus=True), _column(detritus=False)
    z = full.grid.centers(0)
    start = initial_column(full.reactions, z, 100.0, full.physics, 10.0, 20.0, days=0.0)
    lumped_start = {"N": start["N"] + start["D"], "P": start["P"], "Z": start["Z"], "DIC": start["DIC"],
                    "TA": start["TA"]}
    a = Simulation(full, stepper="ssprk3", cfl=1.0).run(start, stop=30.0, output_interval=30.0)
    b = Simulation(lumped, stepper="ssprk3", cfl=1.0).run(lumped_start, stop=30.0, output_interval=30.0)
    assert np.max(np.abs(a.fields["P"][-1] - b.fields["P"][-1])) > 1e-3


def test_the_initial_column_follows_the_reference_recipe():
    reactions = Plankton(True)
    z = Grid.uniform(20, [-100.0, 0.0], dims=("z",)).centers(0)
    start = initial_column(reactions, z, 100.0, {**DEFAULTS, "q": 1.0}, 10.0, 20.0, days=0.0)
    total = 10.0 + 10.0 * (-z) / 100.0
    np.testing.assert_allclose(start["N"], 0.85 * total)
    np.testing.assert_allclose(start["P"], 0.05 * total)
    np.testing.assert_allclose(start["DIC"], 6.625 * start["N"])
    assert salinity(np.array([0.0]), 100.0)[0] == pytest.approx(31.4, abs=5e-3)  # the sigmoid's tails
    assert salinity(np.array([-100.0]), 100.0)[0] == pytest.approx(32.8, abs=5e-3)
    assert salinity(np.array([-50.0]), 100.0)[0] == pytest.approx(31.4 + 1.4 / np.sqrt(1.5), rel=1e-12)
    s = salinity(np.array([-60.0]), 100.0)[0]
    assert alkalinity(np.array([-60.0]), 100.0)[0] == pytest.approx((198.10 + 61.75 * s) / 1000, rel=1e-12)
    spun = initial_column(reactions, z, 100.0, {**DEFAULTS, "q": 1.0}, 10.0, 20.0, days=30.0)
    np.testing.assert_allclose(sum(spun[k] for k in POOLS), total, rtol=1e-9)  # the spin-up conserves N
    assert np.max(np.abs(spun["P"] - start["P"])) > 0.1
