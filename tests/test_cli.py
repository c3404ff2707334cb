"""The command line as a user meets it: exit codes, one-line errors, no lost output."""

from pathlib import Path

import numpy as np
import pytest

from oceanclosure import analysis, cli

REPO = Path(__file__).resolve().parents[1]
SHOCK = REPO / "cases" / "burgers_advecting_shock"


def _run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_writes_netcdf_png_and_summary(tmp_path, capsys):
    out = tmp_path / "run.nc"
    code, stdout, stderr = _run(capsys, "run", str(SHOCK), "--out", str(out), "--set", "time.stop=0.5")
    assert code == 0, stderr
    ds = analysis.open_run(out)
    assert {"u", "u_truth"} <= set(ds.data_vars)
    assert out.with_suffix(".png").exists()
    assert "time-mean RMS error" in stdout and "against analytic 'advecting_shock'" in stdout
    reported = float(stdout.split("time-mean RMS error")[1].split()[0])
    assert reported == pytest.approx(analysis.time_mean_rms(ds["u"], ds["u_truth"]), rel=1e-3)
    assert float(ds.time[-1]) == 0.5


def test_set_overrides_reach_the_run(tmp_path, capsys):
    out = tmp_path / "run.nc"
    code, _, stderr = _run(capsys, "run", str(SHOCK), "--out", str(out), "--no-plot",
                           "--set", "grid.nx=64", "--set", "physics.nu=0.004", "--set", "time.stop=0.2",
                           "--set", "initial_condition.expression=x*(1.25-x)")
    assert code == 0, stderr
    ds = analysis.open_run(out)
    assert ds.sizes["x"] == 64
    assert 'nu = 0.004' in ds.attrs["case_toml"]
    dx = 1.25 / 64  # the initial state holds cell averages: those of x(1.25 - x) are f(x) - dx²/12
    np.testing.assert_allclose(ds["u"].isel(time=0), ds.x * (1.25 - ds.x) - dx**2 / 12, rtol=1e-6)
    assert not out.with_suffix(".png").exists()


def test_refuses_to_overwrite_without_flag(tmp_path, capsys):
    out = tmp_path / "run.nc"
    args = ("run", str(SHOCK), "--out", str(out), "--no-plot", "--set", "time.stop=0.2")
    assert _run(capsys, *args)[0] == 0
    before = out.read_bytes()
    code, _, stderr = _run(capsys, *args)
    assert code == cli.EXIT_BAD_INPUT
    assert "--overwrite" in stderr and "Traceback" not in stderr
    assert out.read_bytes() == before
    assert _run(capsys, *args, "--overwrite")[0] == 0


@pytest.mark.parametrize(
    "override, needle",
    [
        ("physics.nu=-0.1", "physics.nu"),
        ("grid.nx=12.5", "grid.nx"),
        ("physics.viscosity=0.1", "physics.viscosity"),
        ("initial_condition.expression=__import__('os').system('true')", "initial_condition.expression"),
        ("initial_condition.expression=sin(x", "initial_condition.expression"),
        ("initial_condition.file=missing.nc", "initial_condition.file"),
        ("time.dt=1.0", "stability limit"),
    ],
)
def test_bad_input_is_one_clear_message(tmp_path, capsys, override, needle):
    code, stdout, stderr = _run(capsys, "run", str(SHOCK), "--out", str(tmp_path / "r.nc"), "--set", override)
    assert code == cli.EXIT_BAD_INPUT
    assert needle in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "r.nc").exists()


def test_missing_case_directory(tmp_path, capsys):
    code, _, stderr = _run(capsys, "run", str(tmp_path / "nowhere"))
    assert code == cli.EXIT_BAD_INPUT and "case.toml" in stderr


def test_blow_up_keeps_the_finite_output(tmp_path, capsys, blow_up_case):
    case = blow_up_case
    code, _, stderr = _run(capsys, "run", str(case), "--no-plot")
    assert code == cli.EXIT_RUN_FAILED
    assert "stopped being finite" in stderr and "Traceback" not in stderr
    ds = analysis.open_run(case / "output" / "run.nc")
    assert np.all(np.isfinite(ds["u"].values))
    assert 0 < float(ds.time[-1]) < 5.0


def test_debug_flag_shows_the_traceback(tmp_path):
    with pytest.raises(ValueError, match="stability limit"):
        cli.main(["--debug", "run", str(SHOCK), "--out", str(tmp_path / "r.nc"), "--set", "time.dt=1.0"])


def test_blow_up_says_how_far_it_got_and_marks_the_file(tmp_path, capsys, blow_up_case):
    case = blow_up_case
    out = tmp_path / "run.nc"
    code, _, stderr = _run(capsys, "run", str(case), "--out", str(out), "--no-plot")
    assert code == cli.EXIT_RUN_FAILED
    ds = analysis.open_run(out)
    reached = float(ds.time[-1])
    assert f"t = {reached:g} of 5" in stderr and str(out) in stderr and "incomplete" in stderr
    assert "stopped being finite" in ds.attrs["incomplete"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


class _Interrupting:
    """Stands in for the progress bar and presses Ctrl-C after two outputs."""

    def __enter__(self):
        self.calls = 0
        return self

    def __call__(self, t, stop):
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt

    def __exit__(self, *exc):
        return False


def test_interrupt_exits_130_and_keeps_the_part_computed(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "_progress", _Interrupting)
    out = tmp_path / "run.nc"
    code, stdout, stderr = _run(capsys, "run", str(SHOCK), "--out", str(out), "--set", "time.stop=0.5")
    assert code == cli.EXIT_INTERRUPTED == 130
    assert "t = 0.2 of 0.5" in stderr and str(out) in stderr and "Traceback" not in stderr
    ds = analysis.open_run(out)
    np.testing.assert_allclose(ds["time"].values, [0.0, 0.1, 0.2])
    assert "interrupted (SIGINT)" in ds.attrs["incomplete"]
    assert not out.with_suffix(".png").exists() and "wrote" not in stdout


def test_summary_reads_the_streamed_file(tmp_path, capsys):
    out = tmp_path / "run.nc"
    code, stdout, stderr = _run(capsys, "run", str(SHOCK), "--out", str(out), "--no-plot", "--set", "time.stop=0.3")
    assert code == 0, stderr
    ds = analysis.open_run(out)
    assert "u_baseline" in ds
    base = float(stdout.split("no closure  time-mean RMS error")[1].split(";")[0])
    assert base == pytest.approx(analysis.time_mean_rms(ds["u_baseline"], ds["u_truth"]), rel=1e-3)
    u = ds["u"]
    assert f"[{float(u.min()):.4g}, {float(u.max()):.4g}]" in stdout
