"""Shared fixtures for the numerical tests.

Our code casts to the dtype of the initial array, so a float64 test needs both
64-bit mode (the ``x64`` fixture) and float64 initial arrays.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest


def _set_x64(enabled: bool) -> bool:
    previous = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", enabled)
    return previous


@pytest.fixture(scope="module")
def x64():
    """64-bit JAX for a whole module (use ``pytestmark = pytest.mark.usefixtures("x64")``)."""
    previous = _set_x64(True)
    yield
    _set_x64(previous)


@pytest.fixture
def x64_for_one_test():
    """64-bit JAX for one test, restored after it."""
    previous = _set_x64(True)
    yield
    _set_x64(previous)


@pytest.fixture
def x32():
    """JAX's default 32-bit mode for one test, whatever the module uses."""
    previous = _set_x64(False)
    yield
    _set_x64(previous)


def fitted_order(dxs, errors) -> float:
    """Slope of log(error) against log(dx), by least squares."""
    return float(np.polyfit(np.log(np.asarray(dxs)), np.log(np.asarray(errors)), 1)[0])


@pytest.fixture(scope="session")
def order_of():
    """`fitted_order`, as a fixture: ``order_of(dxs, errors)``."""
    return fitted_order


BLOW_UP_CASE = """
[grid]
domain = [0.0, 1.0]
nx = 64

[physics]
model = "advection_diffusion_reaction"
variables = { u = { units = "1" } }
diffusivity = 0.001
velocity = { u = 1.0 }
reactions = { u = "u**2" }

[initial_condition]
expression = "1 + 0.5*sin(2*pi*x)"

[time]
stop = 5.0
output_interval = 0.05
"""


@pytest.fixture
def blow_up_case(tmp_path):
    """A case directory: u_t + u_x = 0.001 u_xx + u², valid input whose solution reaches infinity near t = 2/3."""
    case = tmp_path / "explosive"
    case.mkdir()
    (case / "case.toml").write_text(BLOW_UP_CASE)
    return case
