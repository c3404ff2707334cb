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


def pytest_configure(config):
    """One persistent compilation cache per test session, shared by its xdist workers and the subprocesses
    its tests start (JAX_COMPILATION_CACHE_DIR): the suite compiles each distinct program once, and a
    warm per-user cache never flatters its time (a new folder every session)."""
    import os
    import tempfile

    if not os.environ.get("OCEANCLOSURE_TEST_JAX_CACHE"):  # the controller (xdist workers inherit it)
        os.environ["OCEANCLOSURE_TEST_JAX_CACHE"] = tempfile.mkdtemp(prefix="oceanclosure-test-jax-cache-")
        config._oceanclosure_made_cache = os.environ["OCEANCLOSURE_TEST_JAX_CACHE"]
    cache = os.environ["OCEANCLOSURE_TEST_JAX_CACHE"]
    os.environ["JAX_COMPILATION_CACHE_DIR"] = cache
    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


def pytest_unconfigure(config):
    """Remove the session's compilation cache (only the process that made it does)."""
    import shutil

    made = getattr(config, "_oceanclosure_made_cache", None)
    if made:
        shutil.rmtree(made, ignore_errors=True)
