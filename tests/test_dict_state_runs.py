"""A multi-field (dict) state driven through `Simulation` with closures, against single-field runs.

Two tracers A and B, advected and diffused alike, with closures that act on each
alone, are two copies of one single-field problem: the dict run must give, field by
field, what two single-field runs give (the closures' delay buffers, held per field
in the closure state, included).
"""

import numpy as np
import pytest

from oceanclosure import io
from oceanclosure.boundaries import BoundaryConditions
from oceanclosure.closures.delay import DiscreteDelayClosure
from oceanclosure.closures.library import LibraryClosure
from oceanclosure.grid import Grid
from oceanclosure.models import AdvectionDiffusionReaction, Variable
from oceanclosure.simulation import SimState, Simulation

pytestmark = pytest.mark.usefixtures("x64")

GRID = Grid.uniform(48, [0.0, 1.0])
X = GRID.centers()
INITIAL = {"A": 0.4 + np.sin(2 * np.pi * X), "B": 0.2 * np.cos(6 * np.pi * X) - 0.1}
DT, STOP, EVERY = 2e-3, 0.3, 0.05


def _simulation(names):
    """Upwind advection at speed 1 and κ = 0.005 for each field; closures: ν uₓₓ − u uₓ and −0.5 u(t − 0.02)."""
    model = AdvectionDiffusionReaction(GRID, BoundaryConditions.periodic(1), "muscl_vanleer",
                                       variables=[Variable(n) for n in names], diffusivity=0.005,
                                       velocity={n: (1.0,) for n in names})
    terms = [f"{n}_xx" for n in names] + [f"{n}*{n}_x" for n in names]
    k = len(names)
    local = np.zeros((k, 2 * k))
    for i in range(k):
        local[i, i], local[i, k + i] = 0.004, -0.3
    library = LibraryClosure(terms, local, variables=names)
    delayed = DiscreteDelayClosure(LibraryClosure(list(names), -0.5 * np.eye(k), variables=names), 0.02)
    return Simulation(model, [library, delayed], stepper="ssprk3", dt=DT)


def test_two_field_run_equals_two_single_field_runs():
    both = _simulation(("A", "B")).run(INITIAL, stop=STOP, output_interval=EVERY)
    assert set(both.fields) == {"A", "B"} and both.fields["A"].shape == (7, GRID.nx)
    for name in ("A", "B"):
        alone = _simulation((name,)).run({name: INITIAL[name]}, stop=STOP, output_interval=EVERY)
        np.testing.assert_array_equal(both.times, alone.times)
        np.testing.assert_allclose(both.fields[name], alone.fields[name], rtol=0, atol=1e-13)
    # the closures act: without them the fields differ by far more than that
    bare = Simulation(_simulation(("A", "B")).model, dt=DT).run(INITIAL, stop=STOP, output_interval=EVERY)
    assert np.max(np.abs(bare.fields["A"][-1] - both.fields["A"][-1])) > 1e-2
    assert np.max(np.abs(bare.fields["B"][-1] - both.fields["B"][-1])) > 1e-3


def test_two_field_restart_through_a_checkpoint_equals_the_straight_run(tmp_path):
    """Save the dict state (delay buffers of A and B included) half way, load it, finish: as one run.

    To round-off only: the resumed scan starts its clock at 0.1 instead of reaching it step by step,
    and the delayed read interpolates the buffer at t − 0.02.
    """
    sim = _simulation(("A", "B"))
    straight = sim.advance(sim.initial_state(INITIAL), 0.2, 100)
    io.save_state(sim.advance(sim.initial_state(INITIAL), 0.1, 50), tmp_path / "state.npz")
    half = io.load_state(tmp_path / "state.npz", like=sim.initial_state(INITIAL, t0=0.1))
    resumed = sim.advance(SimState(*half), 0.2, 50)
    assert float(resumed.t) == pytest.approx(0.2, abs=1e-15)
    for name in ("A", "B"):
        np.testing.assert_allclose(np.asarray(resumed.fields[name]), np.asarray(straight.fields[name]),
                                   rtol=0, atol=1e-14)
