"""`run --resume`: a run stopped by SIGINT continues from its restart checkpoint, bit-identically.

The interrupt is simulated deterministically (a progress callback that raises
KeyboardInterrupt at a chosen output), and once for real (SIGINT to a subprocess).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import oceanclosure
from oceanclosure import cli, runner
from oceanclosure.errors import DataFileError, InputError, MissingFileError
from tests.test_streaming import _long_case, sigint_long_run

REPO = Path(__file__).resolve().parents[1]
DELAY = REPO / "cases" / "delay_method_of_steps"  # du/dt = -u(t - 1): the delay buffer is the closure state
PLAIN = """
[grid]
domain = [0.0, 1.0]
nx = 32

[physics]
model = "burgers"
nu = 0.01
scheme = "muscl_vanleer"

[initial_condition]
expression = "sin(2*pi*x) + 0.5"

[time]
stop = 0.3
output_interval = 0.05
"""


def _open(path) -> xr.Dataset:
    with xr.open_dataset(path, decode_times=False) as ds:
        return ds.load()


def _interrupt_at(count: int):
    """A progress callback that raises KeyboardInterrupt at its ``count``-th call (after output ``count``)."""
    calls = []

    def progress(t, stop):
        calls.append(t)
        if len(calls) == count:
            raise KeyboardInterrupt

    return progress


def _assert_bit_identical(resumed: Path, uninterrupted: Path) -> None:
    a, b = _open(resumed), _open(uninterrupted)
    assert list(a.variables) == list(b.variables)
    for name in b.variables:
        assert a[name].dtype == b[name].dtype and np.array_equal(a[name].values, b[name].values), name
    for key in ("steps", "dt", "closure", "case_sha256"):
        assert a.attrs[key] == b.attrs[key], key
    assert "incomplete" not in a.attrs


def _plain(tmp_path) -> Path:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "case.toml").write_text(PLAIN)
    return tmp_path / "plain"


@pytest.mark.parametrize(("name", "overrides", "stop_at"), [
    ("delay", ["time.stop=2.0"], 12),   # stopped at t = 1.2, past the delay: the buffer holds u(t - 1)
    ("plain", [], 2),                   # no closure, no truth
])
def test_a_resumed_run_is_bit_identical_to_an_uninterrupted_one(tmp_path, name, overrides, stop_at):
    case = oceanclosure.load_case(DELAY if name == "delay" else _plain(tmp_path), overrides)
    whole = runner.run_to_file(case, tmp_path / "whole.nc")
    path = tmp_path / "run.nc"
    with pytest.raises(runner.RunInterrupted) as info:
        runner.run_to_file(case, path, progress=_interrupt_at(stop_at))
    stopped = _open(path)
    assert stopped.sizes["time"] == stop_at + 1 and "interrupted (SIGINT)" in stopped.attrs["incomplete"]
    assert runner.restart_path(path).is_file() and str(runner.restart_path(path)) in str(info.value)
    runner.run_to_file(case, path, resume=True)
    _assert_bit_identical(path, whole)
    assert not runner.restart_path(path).exists()


def test_a_run_interrupted_twice_still_ends_bit_identical(tmp_path):
    case = oceanclosure.load_case(DELAY, ["time.stop=2.0"])
    whole = runner.run_to_file(case, tmp_path / "whole.nc")
    path = tmp_path / "run.nc"
    with pytest.raises(runner.RunInterrupted):
        runner.run_to_file(case, path, progress=_interrupt_at(5))
    with pytest.raises(runner.RunInterrupted, match=r"t = 1.3 of 2"):
        runner.run_to_file(case, path, progress=_interrupt_at(8), resume=True)
    assert _open(path).sizes["time"] == 14
    runner.run_to_file(case, path, resume=True)
    _assert_bit_identical(path, whole)


def test_resume_refuses_another_case_naming_it_and_keeps_the_file(tmp_path):
    case = oceanclosure.load_case(DELAY, ["time.stop=2.0"])
    path = tmp_path / "run.nc"
    with pytest.raises(runner.RunInterrupted):
        runner.run_to_file(case, path, progress=_interrupt_at(3))
    before = path.read_bytes()
    other = oceanclosure.load_case(DELAY, ["time.stop=2.0", "time.dt=0.005"])
    with pytest.raises(InputError, match=r"the case differs from the stopped run's \(case.toml or the --set"):
        runner.run_to_file(other, path, resume=True)
    with pytest.raises(InputError, match=r"--no-baseline"):
        runner.run_to_file(case, path, resume=True, baseline=True)
    assert path.read_bytes() == before and runner.restart_path(path).is_file()


def test_resume_says_when_there_is_nothing_to_resume(tmp_path, blow_up_case):
    case = oceanclosure.load_case(DELAY, ["time.stop=0.3"])
    with pytest.raises(MissingFileError, match="no stopped run to resume"):
        runner.run_to_file(case, tmp_path / "none.nc", resume=True)
    done = runner.run_to_file(case, tmp_path / "done.nc")
    with pytest.raises(InputError, match="is complete: there is nothing to resume"):
        runner.run_to_file(case, done, resume=True)
    exploding = oceanclosure.load_case(blow_up_case)
    with pytest.raises(runner.RunBlowUpError):
        runner.run_to_file(exploding, tmp_path / "blown.nc")
    with pytest.raises(DataFileError, match="no restart checkpoint blown.restart.npz"):
        runner.run_to_file(exploding, tmp_path / "blown.nc", resume=True)


def test_cli_resume_continues_without_overwrite(tmp_path, capsys):
    case = oceanclosure.load_case(DELAY, ["time.stop=2.0"])
    whole = runner.run_to_file(case, tmp_path / "whole.nc", baseline=True)
    path = tmp_path / "run.nc"
    with pytest.raises(runner.RunInterrupted):
        runner.run_to_file(case, path, progress=_interrupt_at(7), baseline=True)
    assert "u_baseline" not in _open(path)  # the baseline follows the run: none yet
    args = ["run", str(DELAY), "--out", str(path), "--set", "time.stop=2.0", "--no-plot"]
    assert cli.main(args) == 2  # the file exists: a plain run refuses it
    assert cli.main([*args, "--resume"]) == 0
    _assert_bit_identical(path, whole)
    assert cli.main([*args, "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_resume_redraws_the_png_of_an_earlier_run_without_overwrite(tmp_path, capsys):
    """The printed continue command has no --overwrite: the PNG an earlier run left must not stop it."""
    path = tmp_path / "run.nc"
    args = ["run", str(DELAY), "--out", str(path), "--set", "time.stop=2.0", "--no-baseline"]
    assert cli.main(args) == 0 and path.with_suffix(".png").exists()
    case = oceanclosure.load_case(DELAY, ["time.stop=2.0"])
    with pytest.raises(runner.RunInterrupted):
        runner.run_to_file(case, path, progress=_interrupt_at(7), overwrite=True)
    path.with_suffix(".png").write_bytes(b"the earlier run's picture")
    capsys.readouterr()
    assert cli.main([*args, "--resume"]) == 0, capsys.readouterr().err
    assert path.with_suffix(".png").read_bytes().startswith(b"\x89PNG")  # drawn again, from the resumed file


# --- a real SIGINT --------------------------------------------------------------------


def test_sigint_says_how_far_it_got_and_the_command_that_continues_it(tmp_path):
    out = tmp_path / "results" / "run.nc"
    case = _long_case(tmp_path)
    proc = sigint_long_run(case, out, "--set", "physics.diffusivity=0.002")
    stderr = proc.stderr
    assert proc.returncode == 130, stderr
    reached = float(_open(out).time[-1])
    assert f"t = {reached:g} of 1000" in stderr and "Traceback" not in stderr
    expected = shlex.join(["oceanclosure", "run", str(case), "--out", str(out), "--set", "physics.diffusivity=0.002",
                           "--no-plot", "--resume"])
    assert f"to continue it: {expected}" in stderr
    meta = oceanclosure.io.read_state_metadata(runner.restart_path(out))
    assert meta["t"] == reached and meta["count"] == _open(out).sizes["time"]
