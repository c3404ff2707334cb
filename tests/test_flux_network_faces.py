"""The flux network's face flux: F_j = s̄_j N(q_{j−1} ⊕ q_j), s̄_j the mean of the two cells' output scales."""

import jax.numpy as jnp
import numpy as np
import pytest

from oceanclosure.closures.neural import NeuralClosure
from oceanclosure.grid import Grid

pytestmark = pytest.mark.usefixtures("x64")

INPUTS = ("u", "u_x", "u_xx", "nu", "dx")
SCALES = {"u_x": 5.0, "u_xx": 20.0, "nu": 0.01, "dx": 0.1}
PHYSICS = {"nu": 0.02}


def _fluxes(output_scale, u, grid):
    closure = NeuralClosure(INPUTS, parameters=("nu",), flux_form=True, output_scale=output_scale,
                            scales=SCALES, seed=3)
    (flux,) = closure.fluxes(jnp.asarray(u), (), grid, 0.0, PHYSICS)["u"]
    return np.asarray(flux)


@pytest.mark.parametrize("bounded", [False, True], ids=["periodic", "bounded"])
@pytest.mark.parametrize(("output_scale", "cell_scale"), [
    ("abs_u", lambda u, grid: np.abs(u)),
    ("u_xx", lambda u, grid: (np.roll(u, -1) - 2 * u + np.roll(u, 1)) / grid.dx**2),
])
def test_face_scale_is_the_mean_of_the_two_cells(bounded, output_scale, cell_scale):
    """Same weights with and without the scale: their ratio at face j is (s_{j−1} + s_j)/2, never s_j alone."""
    grid = Grid.uniform(24, [0.0, 2 * np.pi]).with_bounded((bounded,))
    x = grid.centers()
    u = 0.3 + np.sin(x) + 0.8 * (np.arange(24) % 3 == 0)  # neighbours' scales differ strongly
    plain, scaled = _fluxes(None, u, grid), _fluxes(output_scale, u, grid)
    s = cell_scale(u, grid)
    left, right = np.roll(s, 1), s  # face j (0 .. n−1) lies between cells j − 1 and j
    interior = slice(1, 24) if bounded else slice(0, 24)
    if output_scale == "u_xx" and bounded:
        interior = slice(2, 23)  # u_xx is one-sided next to the walls: compare where it is the centred stencil
    np.testing.assert_allclose(scaled[:24][interior], (plain[:24] * (left + right) / 2)[interior], rtol=1e-12)
    assert np.max(np.abs(scaled[:24] - plain[:24] * right)[interior]) > 1e-2 * np.max(np.abs(scaled))
    if bounded:
        assert scaled[0] == 0.0 and scaled[24] == 0.0  # no cell beyond the wall
    else:
        assert scaled[24] == scaled[0]  # face n is face 0
