"""The multi-tracer advection–diffusion–reaction model: conservation, exact decay, orders, walls.

float64 throughout (the ``x64`` fixture and float64 initial fields).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import oceanclosure
from oceanclosure.boundaries import (
    BoundaryConditions,
    BoundaryValue,
    Dirichlet,
    Flux,
    Neumann,
)
from oceanclosure.closures import NoClosure
from oceanclosure.coefficients import ExpressionCoefficient
from oceanclosure.grid import Grid
from oceanclosure.models import AdvectionDiffusionReaction, Variable
from oceanclosure.models.reactions import ExpressionReactions
from oceanclosure.quadrature import cell_average
from oceanclosure.simulation import Simulation
from tests.columns import column

pytestmark = pytest.mark.usefixtures("x64")

DECAY_CASE = column((-100.0, 0.0), nz=20) + """
[physics]
model = "advection_diffusion_reaction"
variables = { A = { units = "mmol m-3", long_name = "tracer A" }, B = { units = "mmol m-3" } }
diffusivity = 0.5
velocity = { A = 0.0, B = -1.0 }
reactions = { A = "-k*A", B = "k*A" }
parameters = { k = 0.1 }

[initial_condition.A]
expression = "1 + cos(pi*z/100)"
[initial_condition.B]
expression = "0"

[time]
stop = 10.0
output_interval = 0.5
dt = 0.01
"""


def _case(tmp_path, text: str, overrides=()):
    (tmp_path / "case.toml").write_text(text)
    return oceanclosure.load_case(tmp_path, list(overrides))


def test_decay_chain_conserves_the_total_and_decays_exactly(tmp_path):
    """A → B with diffusion, sinking of B and no-flux walls, over 1000 steps (dt = 0.01)."""
    ds = oceanclosure.run(_case(tmp_path, DECAY_CASE))
    assert ds.attrs["steps"] == 1000
    a, b = ds["A"].values.sum(axis=1), ds["B"].values.sum(axis=1)
    np.testing.assert_allclose(a + b, a[0] + b[0], rtol=1e-14, atol=0)
    np.testing.assert_allclose(a / a[0], np.exp(-0.1 * ds["time"].values), rtol=1e-6, atol=0)
    still = oceanclosure.run(_case(tmp_path, DECAY_CASE, ["physics.velocity.B=0.0"]))
    z = ds["z"].values
    depth = [float(np.sum(z * d["B"].values[-1]) / np.sum(d["B"].values[-1])) for d in (ds, still)]
    assert depth[0] < depth[1] - 3.0  # B sank (about 1 m/day for ~5 days on average)
    assert ds["A"].attrs == {"units": "mmol m-3", "long_name": "tracer A"}
    assert ds["z"].attrs["positive"] == "up" and ds["z"].attrs["units"] == "m"


def test_a_zero_state_stays_zero(tmp_path):
    case = _case(tmp_path, DECAY_CASE, ['initial_condition.A.expression="0"', "time.stop=1.0"])
    ds = oceanclosure.run(case)
    assert np.all(ds["A"].values == 0) and np.all(ds["B"].values == 0)


def test_the_reactive_rate_limits_dt(tmp_path):
    """Without diffusion and sinking the only rate is k: ssprk3 needs dt <= 2.51/k."""
    case = _case(tmp_path, DECAY_CASE, ["physics.diffusivity=0.0", "physics.velocity={}", "physics.parameters.k=50.0",
                                         "time.cfl=1.0"])
    from oceanclosure.build import build_simulation, initial_fields

    sim = build_simulation(case)
    fields = initial_fields(case, sim.grid, np.float64)
    assert sim.stable_dt(fields) == pytest.approx(2.5127453266183286 / 50.0, rel=1e-10)


# --- mixing coefficients ---------------------------------------------------------------

MIXING = {
    "periodic table": '{ t = [0.0, 50.0, 100.0], values = [5.0, 20.0, 5.0], period = 100.0 }',
    "expression with a table": '{ expression = "5.0 + 5*exp((z - M(t))/10)", tables = { M = { t = [0, 25, 175, 365], '
                               'values = [-80, -25, -25, -80], period = 365 } } }',
}


@pytest.mark.parametrize("diffusivity", MIXING.values(), ids=MIXING.keys())
def test_mixing_relaxes_to_the_depth_mean_and_conserves_mass(tmp_path, diffusivity):
    text = DECAY_CASE.replace("diffusivity = 0.5", f"diffusivity = {diffusivity}").replace(
        'reactions = { A = "-k*A", B = "k*A" }', "").replace("velocity = { A = 0.0, B = -1.0 }", "")
    case = _case(tmp_path, text, ["time.stop=3000.0", "time.output_interval=1000.0", "time.cfl=0.5"])
    ds = oceanclosure.run(case)
    a = ds["A"].values
    # round-off only: at most a few ulps of the total per step
    np.testing.assert_allclose(a.sum(axis=1), a[0].sum(), rtol=4e-16 * ds.attrs["steps"])
    assert np.ptp(a[0]) > 1.9
    assert np.ptp(a[-1]) < 1e-3 * np.ptp(a[0])
    np.testing.assert_allclose(a[-1], a[0].mean(), atol=1e-3)


# --- orders of accuracy ------------------------------------------------------------------

Z, T = sympy.symbols("z t")
LENGTH = 100.0


def _manufactured_diffusion(n: int) -> float:
    """q = 1 + cos(π z/L) e^{-t/50} with κ(z, t) = 5 + 3 sin(t/20)(1 + z/L); source from sympy."""
    q = 1 + sympy.cos(sympy.pi * Z / LENGTH) * sympy.exp(-T / 50)
    kappa_text = "5 + 3*sin(t/20)*(1 + z/100)"
    kappa = 5 + 3 * sympy.sin(T / 20) * (1 + Z / LENGTH)
    source = sympy.diff(q, T) - sympy.diff(kappa * sympy.diff(q, Z), Z)
    grid = Grid.uniform(n, [-LENGTH, 0.0], dims=("z",))
    bc = BoundaryConditions.from_sides(dims=("z",), bottom=Flux(), top=Flux())  # q_z = 0 at both walls
    reactions = ExpressionReactions({"q": sympy.sstr(source)}, ["q"], ("z",))
    model = AdvectionDiffusionReaction(grid, bc, variables=[Variable("q")],
                                       diffusivity=ExpressionCoefficient(kappa_text, ("z",)), reactions=reactions)
    exact = sympy.lambdify((Z, T), q, "numpy")
    return _final_error(model, exact, stop=20.0)


def _final_error(model, exact, stop: float) -> float:
    grid = model.grid
    (z,) = grid.mesh()
    sim = Simulation(model, stepper="rk4", cfl=0.4)
    fields = {model.variable_names[0]: np.asarray(exact(z, 0.0), dtype=np.float64)}
    run = sim.run(fields, stop=stop, output_interval=stop)
    return float(np.max(np.abs(run.fields[model.variable_names[0]][-1] - exact(z, stop))))


def test_variable_diffusivity_is_second_order(order_of):
    ns = (16, 32, 64)
    errors = [_manufactured_diffusion(n) for n in ns]
    assert errors[-1] < 1e-3
    assert order_of([LENGTH / n for n in ns], errors) > 1.9


def _dirichlet_in_time(n: int) -> float:
    """q = sin(x + t) on [0, 1], κ = 0.1, both walls follow it in time (expression values)."""
    kappa = 0.1
    grid = Grid.uniform(n, [0.0, 1.0])
    bc = BoundaryConditions.from_sides(left=Dirichlet(BoundaryValue("sin(t)")),
                                       right=Dirichlet(BoundaryValue("sin(1 + t)")))
    reactions = ExpressionReactions({"q": f"cos(x + t) + {kappa}*sin(x + t)"}, ["q"], ("x",))
    model = AdvectionDiffusionReaction(grid, bc, variables=[Variable("q")], diffusivity=kappa, reactions=reactions)
    return _final_error(model, lambda x, t: np.sin(x + t), stop=1.0)


def test_time_dependent_dirichlet_wall_is_second_order(order_of):
    ns = (16, 32, 64)
    errors = [_dirichlet_in_time(n) for n in ns]
    assert errors[-1] < 1e-4
    assert order_of([1 / n for n in ns], errors) > 1.9


def _sinking(n: int) -> float:
    """q_t + w q_z = 0, w = −1 (down): q = f(z + t); the top is a flux wall with the inflow w q(0, t)."""
    grid = Grid.uniform(n, [-1.0, 0.0], dims=("z",))
    bc = BoundaryConditions.from_sides(dims=("z",), bottom=Neumann(0.0),
                                       top=Flux(BoundaryValue("-(1 + 0.5*sin(2*(0 + t)))")))
    model = AdvectionDiffusionReaction(grid, bc, variables=[Variable("D")], velocity={"D": (-1.0,)})
    return _final_error(model, lambda z, t: 1 + 0.5 * np.sin(2 * (z + t)), stop=0.5)


def test_sinking_through_a_flux_wall_is_first_order_upwind(order_of):
    ns = (50, 100, 200, 400)
    errors = [_sinking(n) for n in ns]
    assert errors[-1] < 5e-3
    assert 0.9 < order_of([1 / n for n in ns], errors) < 1.2


# --- walls: the change of the total is the net boundary flux -------------------------------


@pytest.mark.parametrize("wall", ["dirichlet", "neumann", "flux"])
def test_total_changes_by_the_net_boundary_flux(wall):
    grid = Grid.uniform(24, [-1.0, 0.0], dims=("z",))
    side = {"dirichlet": Dirichlet(0.7), "neumann": Neumann(-0.3), "flux": Flux(0.25)}[wall]
    bc = BoundaryConditions.from_sides(dims=("z",), bottom=side, top=Flux(-0.1))
    model = AdvectionDiffusionReaction(grid, bc, variables=[Variable("q")], diffusivity=0.05,
                                       velocity={"q": (-0.4,)})
    (z,) = grid.mesh()
    fields = {"q": 1.0 + 0.3 * np.sin(3 * z)}
    (flux,) = model.face_fluxes(fields, 0.0)["q"]
    tendency = np.asarray(model.tendency(fields, 0.0)["q"])
    net_in = float(flux[0] - flux[-1])
    assert abs(net_in) > 1e-3
    assert np.sum(tendency) * grid.step[0] == pytest.approx(net_in, rel=1e-12, abs=1e-14)
    h, q0 = grid.step[0], fields["q"][0]
    expected = {  # upwind (w < 0 takes the cell above the wall face) plus the ghost-cell diffusive flux
        "dirichlet": -0.4 * q0 - 0.05 * (q0 - (2 * 0.7 - q0)) / h,  # ghost 2 q_wall − q0
        "neumann": -0.4 * q0 - 0.05 * (-0.3),                        # ghost q0 − g h
        "flux": 0.25,                                                 # the prescribed total
    }[wall]
    assert float(flux[0]) == pytest.approx(expected, rel=1e-12)
    assert float(flux[-1]) == pytest.approx(-0.1)


# --- the advecting shock on x ∈ [0, 1] with u(1, t) from the analytic solution --------------

U_RIGHT = "(1/(t + 1))/(1 + exp(0.5*log(t + 1) - 1/(16*nu) + 1/(4*nu*(t + 1))))"


def _shock_error(domain_end: float, right: str) -> float:
    case_dir = oceanclosure.load_case("cases/burgers_advecting_shock").directory
    nx = round(400 * domain_end)
    case = oceanclosure.load_case(case_dir, [f"grid.domain=[0.0, {domain_end}]", f"grid.nx={nx}", "physics.nu=0.02",
                                             "time.stop=1.0", "time.output_interval=0.5", f"boundary.right={right}",
                                             "grid.precision=\"float64\""])
    ds = oceanclosure.run(case, closure=NoClosure())
    from oceanclosure.analytic import advecting_shock

    grid = Grid.uniform(nx, [0.0, domain_end])
    exact = cell_average(lambda x: advecting_shock(x, 1.0, nu=0.02), grid)
    inside = grid.centers() <= 1.0
    return float(np.sqrt(np.mean((ds["u"].values[-1] - exact)[inside] ** 2)))


def test_time_dependent_dirichlet_on_the_unit_domain_is_as_good_as_the_shipped_domain():
    unit = _shock_error(1.0, '{ kind = "dirichlet", value = "' + U_RIGHT + '" }')
    shipped = _shock_error(1.25, '{ kind = "neumann", gradient = 0.0 }')
    held_at_zero = _shock_error(1.0, '{ kind = "dirichlet", value = 0.0 }')
    assert unit <= 1.1 * shipped
    assert held_at_zero > 1.5 * unit  # the old workaround was measurably worse


def test_oscillating_reactions_use_the_imaginary_axis_and_refuse_euler():
    """A' = −w B, B' = w A: eigenvalues ±i w, a pure oscillation of constant amplitude."""
    from oceanclosure.timestepping import StabilityError

    grid = Grid.uniform(4, [0.0, 1.0])
    reactions = ExpressionReactions({"A": "-w*B", "B": "w*A"}, ["A", "B"], ("x",), ["w"])
    model = AdvectionDiffusionReaction(grid, BoundaryConditions.periodic(1), variables=[Variable("A"), Variable("B")],
                                       reactions=reactions, parameters={"w": 2.0})
    fields = {"A": np.ones(4), "B": np.zeros(4)}
    rates = model.rates(fields, model.physics, [0.0])
    assert rates["dispersive"] == pytest.approx(2.0) and rates["reactive"] == pytest.approx(0.0, abs=1e-12)
    run = Simulation(model, stepper="rk4", cfl=1.0).run(fields, stop=200.0, output_interval=50.0)
    assert np.max(np.hypot(run.fields["A"], run.fields["B"])) <= 1.0 + 1e-9  # bounded, not 1e26
    with pytest.raises(StabilityError, match="euler"):
        Simulation(model, stepper="euler", cfl=1.0).run(fields, stop=1.0, output_interval=0.5)
