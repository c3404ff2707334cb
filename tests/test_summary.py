"""The run summary's budget line: Δ∫u dx against the boundary inflow and the sources over the run."""

import math

import numpy as np
import pytest

from oceanclosure import runner, summary
from oceanclosure.cases import load_case
from oceanclosure.closures import NoClosure

pytestmark = pytest.mark.usefixtures("x64")

PERIODIC = """
[grid]
domain = [0.0, 6.283185307179586]
nx = 32
precision = "float64"

[boundary]
kind = "periodic"

[physics]
model = "burgers"
nu = 0.01

[initial_condition]
expression = "0.5 + sin(x)"

[time]
stop = 1.0
output_interval = 0.25
stepper = "ssprk3"
cfl = 0.4
"""

#: Diffusion on [0, 1] with a time-varying inflow at the left wall and none at the right:
#: ∫u dx grows by ∫₀ᵀ (1 + sin 3t) dt exactly, whatever the state does.
FLUX_WALL = """
[grid]
domain = [0.0, 1.0]
nx = 16
precision = "float64"

[boundary]
left = { kind = "flux", flux = "1 + sin(3*t)" }
right = { kind = "flux" }

[physics]
model = "advection_diffusion"
velocity = 0.0
diffusivity = 0.05
scheme = "upwind"

[initial_condition]
expression = "cos(pi*x)"

[time]
stop = 2.0
output_interval = 0.2
stepper = "rk4"
dt = 0.002
"""

#: Diffusion between a hot left wall (u = 1) and a cold right one (u = 0): the wall fluxes
#: follow the state, so only the summary's own evaluation of the physics can give them.
DIRICHLET = """
[grid]
domain = [0.0, 1.0]
nx = 16
precision = "float64"

[boundary]
left = { kind = "dirichlet", value = 1.0 }
right = { kind = "dirichlet", value = 0.0 }

[physics]
model = "advection_diffusion"
velocity = 0.5
diffusivity = 0.05
scheme = "upwind"

[initial_condition]
expression = "1 - x"

[time]
stop = 1.0
output_interval = 0.2
stepper = "rk4"
dt = 0.001
"""


#: The same column between no-flux walls, from a state with a nonzero integral.
NO_FLUX = FLUX_WALL.replace('"1 + sin(3*t)"', "0.0").replace('"cos(pi*x)"', '"1 + cos(pi*x)"')


def _budget(tmp_path, text, overrides=(), closure=None):
    (tmp_path / "case.toml").write_text(text)
    case = load_case(tmp_path, list(overrides))
    ds = runner.run(case, closure=closure)
    return summary.budgets(case, ds, closure)["u"], ds


def test_a_periodic_run_has_no_inflow_and_keeps_its_integral(tmp_path):
    budget, ds = _budget(tmp_path, PERIODIC)
    assert budget.inflow == 0.0 and budget.sources == 0.0 and budget.closure_sources is None
    scale = float(abs(ds["u"]).sum("x")[0]) * 2 * math.pi / 32
    assert abs(budget.change) < 1e-13 * scale
    assert budget.outputs == 5 and budget.integral == "∫u dx"


def test_a_prescribed_inflow_is_integrated_exactly_up_to_the_trapezoid(tmp_path):
    """The imbalance is the trapezoid's error over the outputs: second order in the output interval."""
    exact = 2.0 + (1 - math.cos(6.0)) / 3  # ∫₀² (1 + sin 3t) dt
    imbalances = []
    for interval in (0.2, 0.1, 0.05):
        budget, _ = _budget(tmp_path, FLUX_WALL, [f"time.output_interval={interval}"])
        assert budget.change == pytest.approx(exact, rel=1e-9)  # the run itself conserves
        assert budget.imbalance == pytest.approx(budget.change - budget.inflow, abs=0)
        imbalances.append(abs(budget.imbalance))
    ratios = np.array(imbalances[:-1]) / np.array(imbalances[1:])
    np.testing.assert_allclose(ratios, 4.0, rtol=0.05)


def test_state_dependent_wall_fluxes_balance_as_the_outputs_get_denser(tmp_path, order_of):
    """The imbalance falls towards second order in the output interval (the trapezoid's order)."""
    intervals, imbalances = (0.2, 0.1, 0.05), []
    for interval in intervals:
        budget, _ = _budget(tmp_path, DIRICHLET, [f"time.output_interval={interval}"])
        assert budget.change > 0.1 and budget.inflow > 0.1
        imbalances.append(abs(budget.imbalance))
    assert imbalances[2] < imbalances[1] < imbalances[0]
    assert order_of(intervals, imbalances) > 1.5
    assert imbalances[2] < 2e-3 * abs(budget.change)


def test_a_markovian_source_closure_is_in_the_budget(tmp_path):
    """u_t = κ u_xx − 0.5 u between no-flux walls: ∫u changes only through the closure's source."""
    text = NO_FLUX + """
[[closure]]
kind = "library"
terms = ["u"]
coefficients = [-0.5]
"""
    budget, _ = _budget(tmp_path, text, ["time.output_interval=0.05"])
    assert budget.inflow == 0.0 and budget.closure_sources is not None
    assert budget.closure_sources == pytest.approx(budget.change, rel=1e-3)
    assert budget.change < -0.1 and not budget.excluded
    assert abs(budget.imbalance) < 1e-3 * abs(budget.change)
    baseline, _ = _budget(tmp_path, text, ["time.output_interval=0.05"], closure=NoClosure())
    assert baseline.closure_sources is None and abs(baseline.change) < 1e-12


def test_a_closure_with_memory_is_named_as_not_included(tmp_path):
    text = NO_FLUX + """
[[closure]]
kind = "discrete_delay"
delay = 0.5
terms = ["u"]
coefficients = [-0.5]
"""
    budget, _ = _budget(tmp_path, text)
    assert budget.closure_sources is None and "memory" in budget.excluded
    line = budget.describe("u")
    assert "not included" in line and "imbalance" in line
    assert budget.change < -0.1 and budget.imbalance == pytest.approx(budget.change, abs=1e-12)


def test_the_budget_reads_the_file_a_block_at_a_time(tmp_path, monkeypatch):
    whole, ds = _budget(tmp_path, DIRICHLET)
    case = load_case(tmp_path)
    monkeypatch.setattr(summary, "SUMMARY_BLOCK_BYTES", 1)  # one snapshot per block
    blocks = summary.budgets(case, ds)["u"]
    assert blocks.inflow == pytest.approx(whole.inflow, rel=1e-14)
    assert blocks.change == whole.change
    numbers = summary.summary_numbers(ds, "u")
    assert numbers["integral_last"] - numbers["integral_first"] == pytest.approx(whole.change, rel=1e-14)


def test_the_line_says_what_was_integrated_and_how(tmp_path):
    budget, _ = _budget(tmp_path, FLUX_WALL)
    line = budget.describe("u")
    assert line.startswith("∫u dx changed by ") and "net boundary inflow" in line
    assert "(trapezoid over 11 outputs)" in line and "imbalance" in line


def test_a_2d_wall_inflow_is_the_flux_times_the_wall_length(tmp_path):
    """A unit inflow through the left wall of [0, 1] × [0, 2] adds 2 to ∫u dx dy per unit time."""
    text = """
[grid]
domain = [[0.0, 1.0], [0.0, 2.0]]
nx = 8
ny = 12
precision = "float64"

[boundary]
left = { kind = "flux", flux = 1.0 }
right = { kind = "flux" }
bottom = { kind = "flux" }
top = { kind = "flux" }

[physics]
model = "advection_diffusion"
velocity = [0.0, 0.3]
diffusivity = 0.02
scheme = "upwind"

[initial_condition]
expression = "1 + 0*x*y"

[time]
stop = 0.5
output_interval = 0.25
stepper = "rk4"
dt = 0.005
"""
    budget, _ = _budget(tmp_path, text)
    assert budget.integral == "∫u dx dy"
    assert budget.inflow == pytest.approx(1.0, rel=1e-12) and budget.change == pytest.approx(1.0, rel=1e-12)
