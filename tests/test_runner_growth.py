"""Runs that stop honestly, and say what they used.

The growth bound (``time.growth_bound``) stops a run whose field grows past a factor
of the largest |value| of its initial state and truth, as a blow-up does; an
untrained closure is said so; the run file records the closure parameters used.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import oceanclosure
from oceanclosure import cli, runner
from oceanclosure.cases.base import CaseError
from oceanclosure.closures.checkpoint import save_parameters
from oceanclosure.factory import build_closures

ANTI_DIFFUSION = """
[grid]
domain = [0.0, 1.0]
nx = 32

[physics]
model = "advection_diffusion"
velocity = 1.0
diffusivity = 0.01
scheme = "upwind"

[initial_condition]
expression = "sin(2*pi*x)"

[time]
stop = 1.0
output_interval = 0.01

[[closure]]
kind = "library"
terms = ["u_xx"]
coefficients = [-1.0]
"""


def _growth_case(rate: float, stop: float, extra: str = "") -> str:
    """du/dt = rate u from u = 1: u(t) = exp(rate t), exactly, on a uniform field."""
    return f"""
[grid]
domain = [0.0, 1.0]
nx = 8
precision = "float64"

[physics]
model = "advection_diffusion_reaction"
variables = {{ u = {{ units = "1" }} }}
diffusivity = 0.0
velocity = {{ u = 0.0 }}
reactions = {{ u = "{rate} * u" }}

[initial_condition]
expression = "1 + 0*x"

[time]
stop = {stop}
output_interval = 0.5
dt = 0.01
stepper = "rk4"
{extra}
"""


def _case_dir(tmp_path: Path, text: str, name: str = "case") -> Path:
    directory = tmp_path / name
    directory.mkdir()
    (directory / "case.toml").write_text(text)
    return directory


def _open(path) -> xr.Dataset:
    with xr.open_dataset(path, decode_times=False) as ds:
        return ds.load()


# --- the growth bound ----------------------------------------------------------------


def test_anti_diffusive_library_closure_stops_with_rc_1_naming_the_time_and_the_term(tmp_path, capsys):
    """The issue's case: a u_xx coefficient of -1 (anti-diffusion) used to run to |u| ~ 340 with rc 0."""
    out = tmp_path / "run.nc"
    assert cli.main(["run", str(_case_dir(tmp_path, ANTI_DIFFUSION)), "--out", str(out), "--no-plot"]) == 1
    err = capsys.readouterr().err
    ds = _open(out)
    last = float(ds.time[-1])
    assert last < 1.0 and "grew past the growth bound (time.growth_bound)" in ds.attrs["incomplete"]
    assert f"ends at t = {last:g} of 1" in ds.attrs["incomplete"]
    assert "time.growth_bound" in err and f"t = {last + 0.01:g}" in err and "the term 'u_xx'" in err
    assert "Traceback" not in err
    bound = 1000 * float(np.abs(ds["u"].isel(time=0)).max())
    assert np.all(np.isfinite(ds["u"].values)) and float(np.abs(ds["u"]).max()) <= bound


def test_the_bound_stops_exponential_growth_at_the_first_output_past_it(tmp_path):
    """u = exp(t) crosses 10 x max|u0| = 10 at t = ln 10 = 2.30: the output at 2.5 is refused, 2.0 kept."""
    case = oceanclosure.load_case(_case_dir(tmp_path, _growth_case(1.0, 4.0, "growth_bound = 10")))
    with pytest.raises(runner.RunBlowUpError, match=r"at t = 2.5, above 10 x 1 = 10") as info:
        oceanclosure.run(case)
    partial = info.value.dataset
    np.testing.assert_array_equal(partial.time.values, [0.0, 0.5, 1.0, 1.5, 2.0])
    np.testing.assert_allclose(partial["u"].values[:, 0], np.exp(partial.time.values), rtol=1e-9)
    assert "there is no closure" in str(info.value)
    assert info.value.t == 2.0 and "growth_bound" in partial.attrs["incomplete"]


def test_a_bloom_of_twenty_times_is_not_stopped_by_the_default(tmp_path):
    case = oceanclosure.load_case(_case_dir(tmp_path, _growth_case(1.0, 3.0)))
    ds = oceanclosure.run(case)
    assert math.exp(3.0) > 20 and float(ds["u"].max()) == pytest.approx(math.exp(3.0), rel=1e-9)
    assert "incomplete" not in ds.attrs and ds.attrs["growth_bound"] == 1000.0


def test_the_bound_scales_with_the_truth_not_only_the_initial_state(tmp_path):
    """A truth growing as exp(2t) reaches e^8 at t = 4: 10 x that bounds the run's exp(t) (stopped above without it)."""
    truth = '[truth]\nfine = { refine = 1, stepper = "rk4", dt = 0.01, physics = { reactions = { u = "2.0 * u" } } }\n'
    case = oceanclosure.load_case(_case_dir(tmp_path, _growth_case(1.0, 4.0, "growth_bound = 10\n" + truth)))
    ds = oceanclosure.run(case)
    assert float(ds["u_truth"].max()) == pytest.approx(math.exp(8.0), rel=1e-6)
    assert float(ds["u"].max()) == pytest.approx(math.exp(4.0), rel=1e-9) and "incomplete" not in ds.attrs


@pytest.mark.parametrize("value", ["1", "0.5", "-3"])
def test_growth_bound_must_exceed_one(tmp_path, value):
    with pytest.raises(CaseError, match=r"time.growth_bound: must be > 1"):
        oceanclosure.load_case(_case_dir(tmp_path, _growth_case(1.0, 1.0, f"growth_bound = {value}")))


# --- untrained closures and the parameters used ------------------------------------------------

TRAINABLE_LIBRARY = ANTI_DIFFUSION.replace("coefficients = [-1.0]", "trainable = true").replace(
    "stop = 1.0", "stop = 0.05")

NEURAL = ANTI_DIFFUSION.replace('kind = "library"\nterms = ["u_xx"]\ncoefficients = [-1.0]',
                                'kind = "neural"\ninputs = ["u", "u_x"]\nhidden = [4]').replace(
    "stop = 1.0", "stop = 0.05")


def test_an_untrained_library_closure_is_said_so_in_the_file_and_on_stderr(tmp_path, capsys):
    out = tmp_path / "run.nc"
    assert cli.main(["run", str(_case_dir(tmp_path, TRAINABLE_LIBRARY)), "--out", str(out), "--no-plot"]) == 0
    ds = _open(out)
    assert "[[closure]] 1 (library) is untrained: coefficients at their initial values" in ds.attrs["closure_untrained"]
    assert ds.attrs["closure_member"] == "untrained" and ds.attrs["closure_parameters"] == "none"
    assert f"warning: {ds.attrs['closure_untrained']}" in capsys.readouterr().err


def test_a_neural_closure_at_its_random_weights_is_untrained(tmp_path):
    ds = oceanclosure.run(oceanclosure.load_case(_case_dir(tmp_path, NEURAL)))
    assert "(neural) is untrained: a network at its random initial weights" in ds.attrs["closure_untrained"]
    assert "oceanclosure train" in ds.attrs["closure_untrained"]


def test_fixed_coefficients_are_not_untrained(tmp_path):
    text = ANTI_DIFFUSION.replace("stop = 1.0", "stop = 0.05").replace("[-1.0]", "[0.001]")
    ds = oceanclosure.run(oceanclosure.load_case(_case_dir(tmp_path, text)))
    assert "closure_untrained" not in ds.attrs
    assert (ds.attrs["closure_parameters"], ds.attrs["closure_member"]) == ("none", "none")


def _train_fake(case, members: int, discovery: bool) -> Path:
    """closure/parameters.npz as `oceanclosure train` writes it, with a chosen coefficient and manifest."""
    closure = build_closures(case, trained=False)
    closure.coefficients.set_value(closure.coefficients.get_value() + 0.001)
    summary = {"discovery": {"members": members}} if discovery else {}
    spec = [c.model_dump(mode="json") for c in case.closures]
    return save_parameters(closure, case.directory / "closure" / "parameters.npz", spec=spec,
                           metadata={"training": {"ensemble": members}, "summary": summary})


@pytest.mark.parametrize(("members", "discovery", "member"),
                         [(1, False, "0"), (3, True, "mean of 3 members"), (3, False, "0 (of 3 members)")])
def test_the_run_file_records_the_parameters_their_sha256_and_the_member(tmp_path, members, discovery, member):
    case = oceanclosure.load_case(_case_dir(tmp_path, TRAINABLE_LIBRARY))
    path = _train_fake(case, members, discovery)
    out = runner.run_to_file(case, tmp_path / "run.nc")
    attrs = _open(out).attrs
    assert attrs["closure_parameters"] == "closure/parameters.npz"
    assert attrs["closure_parameters_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert attrs["closure_member"] == member and "closure_untrained" not in attrs
