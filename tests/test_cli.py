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
    assert "time-mean RMS error" in stdout
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
    np.testing.assert_allclose(ds["u"].isel(time=0), ds.x * (1.25 - ds.x), rtol=1e-6)
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


def test_blow_up_keeps_the_finite_output(tmp_path, capsys):
    case = tmp_path / "anti"
    case.mkdir()
    (case / "case.toml").write_text(
        '[grid]\ndomain = [0.0, 1.0]\nnx = 64\n'
        '[physics]\nmodel = "advection_diffusion"\nvelocity = 1.0\ndiffusivity = "-0.01"\nscheme = "upwind"\n'
        '[initial_condition]\nexpression = "sin(2*pi*x) + 0.01*sin(64*pi*x)"\n'
        '[time]\nstop = 5.0\noutput_interval = 0.05\n'
    )
    code, _, stderr = _run(capsys, "run", str(case), "--no-plot")
    assert code == cli.EXIT_RUN_FAILED
    assert "stopped being finite" in stderr and "Traceback" not in stderr
    ds = analysis.open_run(case / "output" / "run.nc")
    assert np.all(np.isfinite(ds["u"].values))
    assert 0 < float(ds.time[-1]) < 5.0


def test_debug_flag_shows_the_traceback(tmp_path):
    with pytest.raises(ValueError, match="stability limit"):
        cli.main(["--debug", "run", str(SHOCK), "--out", str(tmp_path / "r.nc"), "--set", "time.dt=1.0"])
