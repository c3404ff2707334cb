"""An initial condition from a file with a time axis: ``initial_condition.time`` picks the time; a file
with several times and no such key is refused, naming them; nothing takes the first time silently."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import oceanclosure
from oceanclosure import cli
from oceanclosure.build import build_grid, initial_fields
from oceanclosure.cases import CaseError
from oceanclosure.errors import DataFileError

CASE = """
[grid]
domain = [0.0, 1.0]
nx = 8
precision = "float64"
[boundary]
kind = "periodic"
[physics]
model = "advection_diffusion"
velocity = 1.0
diffusivity = 0.0
[initial_condition]
file = "ic.nc"
@time@
[time]
stop = 0.1
output_interval = 0.1
dt = 0.05
"""
NX = 8
CENTRES = (np.arange(NX) + 0.5) / NX


def _snapshot(t: float) -> np.ndarray:
    """A different field at every time: sin(2πx) + t."""
    return np.sin(2 * np.pi * CENTRES) + t


def _case(tmp_path: Path, times, time_line: str = "", dtype=np.float64, time_axis: bool = True):
    if time_axis:
        u = xr.DataArray(np.stack([_snapshot(t) for t in times]), dims=("time", "x"),
                         coords={"time": np.asarray(times, dtype=dtype), "x": CENTRES})
    else:
        u = xr.DataArray(_snapshot(0.0), dims=("x",), coords={"x": CENTRES})
    xr.Dataset({"u": u}).to_netcdf(tmp_path / "ic.nc")
    (tmp_path / "case.toml").write_text(CASE.replace("@time@", time_line))
    return oceanclosure.load_case(tmp_path)


def _u0(case) -> np.ndarray:
    return initial_fields(case, build_grid(case), np.float64)["u"]


def test_the_time_key_picks_that_time(tmp_path):
    case = _case(tmp_path, [0.0, 0.5, 1.0], "time = 0.5")
    np.testing.assert_array_equal(_u0(case), _snapshot(0.5))
    np.testing.assert_array_equal(_u0(case.with_overrides(["initial_condition.time=1"])), _snapshot(1.0))


def test_several_times_and_no_key_are_refused_naming_the_times(tmp_path):
    case = _case(tmp_path, [0.0, 0.5, 1.0])
    with pytest.raises(DataFileError, match=r"has 3 times \(0, 0\.5, 1\); set initial_condition\.time"):
        _u0(case)


def test_a_time_the_file_does_not_have_is_refused_naming_the_times(tmp_path):
    case = _case(tmp_path, [0.0, 0.5, 1.0], "time = 0.7")
    with pytest.raises(DataFileError, match=r"has no time 0\.7: its times are 0, 0\.5, 1; set initial_condition"):
        _u0(case)


def test_many_times_are_named_by_the_first_and_last(tmp_path):
    case = _case(tmp_path, np.arange(20) * 0.5)
    with pytest.raises(DataFileError, match=r"has 20 times \(0, 0\.5, 1, \.\.\., 9, 9\.5\)"):
        _u0(case)


def test_float32_times_match_the_decimal_time(tmp_path):
    """0.1 stored as float32 is 0.100000001...: it is the time 0.1 (within fieldfile.TIME_TOLERANCE)."""
    case = _case(tmp_path, [0.0, 0.1, 0.2], "time = 0.1", dtype=np.float32)
    np.testing.assert_array_equal(_u0(case), _snapshot(0.1))


def test_one_time_needs_no_key_and_no_time_axis_takes_no_key(tmp_path):
    np.testing.assert_array_equal(_u0(_case(tmp_path, [2.0])), _snapshot(2.0))
    with pytest.raises(DataFileError, match="has no time dimension.*remove initial_condition.time"):
        _u0(_case(tmp_path, [], "time = 0.0", time_axis=False))


def test_the_time_key_goes_only_with_a_file(tmp_path):
    (tmp_path / "case.toml").write_text(CASE.replace('file = "ic.nc"', 'expression = "sin(x)"')
                                        .replace("@time@", "time = 0.5"))
    with pytest.raises(CaseError, match=r"initial_condition\.time: only allowed together with file"):
        oceanclosure.load_case(tmp_path)


def test_another_source_by_override_drops_the_time_and_another_file_keeps_it(tmp_path):
    """``--set initial_condition.expression=...`` replaces the file, its variable and its time; a new
    ``file`` keeps the time (as it keeps the variable)."""
    case = _case(tmp_path, [0.0, 0.5, 1.0], "time = 0.5")
    swapped = case.with_overrides(['initial_condition.expression="sin(2*pi*x)"'])
    assert swapped.initial_condition.time is None and swapped.initial_condition.file is None
    (tmp_path / "ic.nc").rename(tmp_path / "other.nc")
    moved = case.with_overrides(['initial_condition.file="other.nc"'])
    assert moved.initial_condition.time == 0.5
    np.testing.assert_array_equal(_u0(moved), _snapshot(0.5))


def test_the_command_line_refuses_with_exit_2_and_the_times(tmp_path, capsys):
    _case(tmp_path, [0.0, 0.5, 1.0])
    code = cli.main(["run", str(tmp_path), "--out", str(tmp_path / "run.nc"), "--no-plot"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_BAD_INPUT, err
    assert "(0, 0.5, 1)" in err and "initial_condition.time" in err and "Traceback" not in err
    assert not (tmp_path / "run.nc").exists()
