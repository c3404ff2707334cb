"""`run` compares with the case's truth whatever its source, and says when an override made it inapplicable."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import tomli_w
import xarray as xr

from oceanclosure import analysis, cli, runner, truth
from oceanclosure.cases import load_case
from tests.columns import reacting_pair

NU = 0.01
SHOCK = {  # viscous Burgers' advecting shock on 16 cells, against its analytic solution
    "grid": {"domain": [0.0, 1.25], "nx": 16},
    "boundary": {"left": {"kind": "dirichlet", "value": 0.0}, "right": {"kind": "neumann"}},
    "physics": {"model": "burgers", "nu": NU, "scheme": "upwind"},
    "truth": {"analytic": "advecting_shock"},
    "initial_condition": {"truth": True},
    "time": {"stop": 0.2, "output_interval": 0.1},
    "output": {"plot": False},
}
SHOCK_IC = "x / (1 + exp(25*x**2 - 6.25))"  # the solution at t = 0 for nu = 0.01
X = (np.arange(16) + 0.5) * 1.25 / 16  # the cell centres
TWO_FIELDS = reacting_pair(nz=8, stop=1.0) + """
[output]
plot = false
"""


def _case_dir(tmp_path: Path, name: str = "shock", **sections) -> Path:
    data = copy.deepcopy(SHOCK)
    data.update(sections)
    directory = tmp_path / name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "case.toml").write_text(tomli_w.dumps(data))
    return directory


def _fine_dir(tmp_path: Path) -> Path:
    return _case_dir(tmp_path, "fine", initial_condition={"expression": SHOCK_IC}, truth={"fine": {"refine": 4}})


def _file_dir(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A case whose truth is data.nc: values t + x every 0.05 (the case outputs every 0.1)."""
    directory = _case_dir(tmp_path, "file", initial_condition={"expression": SHOCK_IC},
                          truth={"file": "data.nc", "variable": "w"})
    times = np.linspace(0.0, 0.4, 9)
    values = times[:, None] + X[None, :]
    xr.Dataset({"w": (("time", "x"), values, {"units": "m s-1"})},
               coords={"x": X, "time": times}).to_netcdf(directory / "data.nc")
    return directory, values[::2][:3]  # at t = 0, 0.1, 0.2


def _cli(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _reported_rms(stdout: str) -> float:
    return float(stdout.split("time-mean RMS error")[1].split()[0])


# --------------------------------------------------------------------------
# every source is compared


def test_fine_truth_is_generated_and_written_beside_the_run(tmp_path, capsys):
    directory = _fine_dir(tmp_path)
    out = tmp_path / "run.nc"
    code, stdout, stderr = _cli(capsys, "run", str(directory), "--out", str(out))
    assert code == 0, stderr
    case = load_case(directory)
    path = truth.truth_path(case)
    assert path.is_file()  # generated under the case, as `oceanclosure truth` writes it
    stored = truth.load_truth(case, generate=False)
    ds = analysis.open_run(out)
    np.testing.assert_array_equal(ds["u_truth"].values, stored["u"].values)
    assert ds["u_truth"].attrs["long_name"] == "truth, fine (refine 4)"
    assert "against fine (refine 4)" in stdout
    assert _reported_rms(stdout) == pytest.approx(analysis.time_mean_rms(ds["u"], ds["u_truth"]), rel=1e-3)
    assert "truth_not_compared" not in ds.attrs and "not compared" not in stdout


def test_an_existing_fine_truth_is_read_not_regenerated(tmp_path, monkeypatch):
    case = load_case(_fine_dir(tmp_path))
    stored = truth.load_truth(case)
    monkeypatch.setattr(truth, "generate_truth", lambda *a, **k: pytest.fail("regenerated"))
    ds = runner.run(case)
    np.testing.assert_array_equal(ds["u_truth"].values, stored["u"].values)


def test_the_truth_file_is_opened_lazily(tmp_path):
    case = load_case(_fine_dir(tmp_path))
    truth.load_truth(case)
    with truth.open_truth(case) as ds:
        assert not ds["u"]._in_memory  # read a snapshot at a time while the run streams


def test_file_truth_is_compared_at_the_output_times(tmp_path, capsys):
    directory, expected = _file_dir(tmp_path)
    out = tmp_path / "run.nc"
    code, stdout, stderr = _cli(capsys, "run", str(directory), "--out", str(out))
    assert code == 0, stderr
    ds = analysis.open_run(out)
    np.testing.assert_allclose(ds["u_truth"].values, expected, rtol=1e-12)
    assert ds["u_truth"].attrs == {"units": "1", "long_name": "truth, file 'data.nc'"}
    assert "against file 'data.nc'" in stdout


def test_every_field_of_a_multi_field_truth_is_written(tmp_path):
    directory = tmp_path / "two"
    directory.mkdir()
    (directory / "case.toml").write_text(TWO_FIELDS)
    case = load_case(directory)
    ds = runner.run(case)
    stored = truth.load_truth(case, generate=False)
    for name in ("A", "B"):
        np.testing.assert_array_equal(ds[f"{name}_truth"].values, stored[name].values)
        assert ds[f"{name}_truth"].attrs == {"units": "mmol m-3", "long_name": f"{name}: truth, fine (refine 2)"}
    assert [n for n in ds.data_vars] == ["A", "B", "A_truth", "B_truth"]


def test_run_and_run_to_file_agree_for_a_stored_truth(tmp_path):
    directory, _ = _file_dir(tmp_path)
    for overrides in ([], ["physics.nu=0.02"]):  # compared; not compared
        case = load_case(directory, overrides)
        memory = runner.run(case)
        memory.to_netcdf(tmp_path / "memory.nc")
        with xr.open_dataset(runner.run_to_file(case, tmp_path / "stream.nc", overwrite=True),
                             decode_times=False) as streamed:
            stream = streamed.load()
        with xr.open_dataset(tmp_path / "memory.nc", decode_times=False) as stored:
            memory = stored.load()
        for ds in (memory, stream):
            ds.attrs.pop("wall_seconds")
        xr.testing.assert_identical(stream, memory)
        assert ("u_truth" in stream) == (not overrides)


# --------------------------------------------------------------------------
# overrides


def test_a_changed_initial_condition_is_not_compared(tmp_path, capsys):
    out = tmp_path / "run.nc"
    code, stdout, stderr = _cli(capsys, "run", str(_case_dir(tmp_path)), "--out", str(out),
                                "--set", "initial_condition.expression=x*(1.25-x)")
    assert code == 0, stderr
    ds = analysis.open_run(out)
    assert "u_truth" not in ds
    reason = ds.attrs["truth_not_compared"]
    assert "initial_condition.expression=x*(1.25-x)" in reason and "'advecting_shock'" in reason
    assert f"vs truth    not compared: {reason}" in stdout.splitlines()
    assert "time-mean RMS error" not in stdout


def test_a_parameter_the_solution_takes_is_still_compared(tmp_path, capsys):
    directory = _case_dir(tmp_path)
    out = tmp_path / "run.nc"
    code, stdout, stderr = _cli(capsys, "run", str(directory), "--out", str(out), "--set", "physics.nu=0.02")
    assert code == 0, stderr
    ds = analysis.open_run(out)
    case = load_case(directory, ["physics.nu=0.02"])
    expected = truth.AnalyticTruth.from_case(case)
    assert expected.parameters == {"nu": 0.02}
    np.testing.assert_allclose(ds["u_truth"].values, np.stack([expected(t) for t in ds.time.values]))
    assert "truth_not_compared" not in ds.attrs and "truth_notes" not in ds.attrs
    assert "against analytic 'advecting_shock'" in stdout


@pytest.mark.parametrize("override, key", [
    ("grid.domain=[0.0, 2.0]", "grid.domain"),
    ('boundary.right={kind="dirichlet", value=0.0}', "boundary.right"),
])
def test_a_changed_domain_or_boundary_is_compared_with_a_note(tmp_path, capsys, override, key):
    out = tmp_path / "run.nc"
    code, stdout, stderr = _cli(capsys, "run", str(_case_dir(tmp_path)), "--out", str(out), "--set", override)
    assert code == 0, stderr
    ds = analysis.open_run(out)
    assert "u_truth" in ds and "truth_not_compared" not in ds.attrs
    note = ds.attrs["truth_notes"]
    assert note.startswith(f"{key} was overridden: ") and "compared as given" in note
    assert f"truth note  {note}" in stdout.splitlines()
    assert "time-mean RMS error" in stdout


def test_no_truth_means_no_comparison_and_no_note(tmp_path, capsys):
    data = {k: v for k, v in SHOCK.items() if k != "truth"}
    data["initial_condition"] = {"expression": SHOCK_IC}
    directory = tmp_path / "none"
    directory.mkdir()
    (directory / "case.toml").write_text(tomli_w.dumps(data))
    case = load_case(directory, ["initial_condition.expression=x"])
    assert truth.truth_inapplicable(case) == truth.NO_TRUTH and truth.truth_notes(case) == []
    ds = runner.run(case)
    assert "u_truth" not in ds and "truth_not_compared" not in ds.attrs and "truth_notes" not in ds.attrs


def test_an_inapplicable_analytic_truth_is_not_evaluated(tmp_path):
    """The solution would fail past its range; not compared, it is never evaluated."""
    directory = _case_dir(tmp_path, truth={"analytic": "distributed_delay_decay"},
                          initial_condition={"expression": "1.0 + 0*x"},
                          physics={"model": "advection_diffusion", "scheme": "upwind"},
                          time={"stop": 0.2, "output_interval": 0.1, "dt": 0.05})
    with pytest.raises(ValueError, match="closed form"):
        runner.run(load_case(directory, ["time.stop=1.5"]))
    ds = runner.run(load_case(directory, ["time.stop=1.5", "initial_condition.expression=2.0 + 0*x"]))
    assert "u_truth" not in ds and "initial condition" in ds.attrs["truth_not_compared"]


# --------------------------------------------------------------------------
# the rules


@pytest.mark.parametrize("overrides, needle", [
    ([], None),
    (["physics.nu=0.02"], None),  # advecting_shock takes nu
    (["physics.nu=0.01"], None),  # not a change
    (['physics.scheme="weno5"'], None),  # numerics: the same PDE
    (['physics={model="burgers", nu=0.01, scheme="muscl_vanleer"}'], None),
    (["grid.nx=32", "time.stop=0.3", "time.cfl=0.3", 'closure=[]'], None),
    (["initial_condition.truth=true"], None),
    (["initial_condition.expression=x"], "changed the initial condition"),
    (['physics={model="kdv_burgers", nu=0.01}'], "changed physics.model"),
])
def test_analytic_truth_rules(tmp_path, overrides, needle):
    case = load_case(_case_dir(tmp_path), overrides)
    reason = truth.truth_inapplicable(case)
    assert reason is None if needle is None else needle in reason


def test_an_expression_initial_condition_may_become_the_truth(tmp_path):
    directory = _case_dir(tmp_path, initial_condition={"expression": SHOCK_IC})
    assert truth.truth_inapplicable(load_case(directory, ["initial_condition.truth=true"])) is None
    case = load_case(directory, ["physics.nu=0.02"])  # the truth moves with nu, the initial state does not
    assert truth.truth_inapplicable(case) is None
    assert truth.truth_notes(case) == [("physics.nu was overridden and the initial condition is not "
                                        "initial_condition.truth = true: the analytic solution 'advecting_shock' "
                                        "for the new nu is compared as given")]


def test_a_parameter_the_solution_does_not_take_or_that_the_truth_fixes(tmp_path):
    kdv = _case_dir(tmp_path, "kdv", truth={"analytic": "kdv_two_soliton"},
                    physics={"model": "kdv_burgers", "a": 6.0, "b": 1.0, "scheme": "central"},
                    grid={"domain": [-10.0, 10.0], "nx": 16}, boundary={"kind": "periodic"})
    reason = truth.truth_inapplicable(load_case(kdv, ["physics.nu=0.01"]))
    assert reason.startswith("override 'physics.nu=0.01' changed physics.nu, which the analytic solution "
                             "'kdv_two_soliton' does not take")
    assert truth.truth_inapplicable(load_case(kdv, ["physics.nu=0.0"])) is None  # its default: no change
    fixed = _case_dir(tmp_path, "fixed", truth={"analytic": "advecting_shock", "parameters": {"nu": NU}})
    assert "truth.parameters fixes nu" in truth.truth_inapplicable(load_case(fixed, ["physics.nu=0.02"]))


def test_file_truth_rules(tmp_path):
    directory, _ = _file_dir(tmp_path)
    for overrides in ([], ['physics.scheme="weno5"'], ["time.stop=0.4"], ["time.output_interval=0.05"]):
        assert truth.truth_inapplicable(load_case(directory, overrides)) is None, overrides
    assert "a parameter of the PDE" in truth.truth_inapplicable(load_case(directory, ["physics.nu=0.02"]))
    assert "changed the initial condition" in truth.truth_inapplicable(
        load_case(directory, ["initial_condition.expression=x"]))
    for override, needle in (("grid.nx=32", "has 16 cells along x, the case grid has 32"),
                             ("time.stop=0.6", "covers t in [0, 0.4]")):
        reason = truth.truth_inapplicable(load_case(directory, [override]))
        assert reason.startswith(f"override '{override}' changed the grid or times, and the truth file "
                                 "'data.nc' does not fit them: ") and needle in reason
    case = load_case(directory, ['boundary.right={kind="dirichlet", value=1.0}'])
    assert truth.truth_inapplicable(case) is None
    assert truth.truth_notes(case) == [("boundary.right was overridden: the truth file 'data.nc' is compared as "
                                        "given (it need not satisfy the new boundary condition)")]


def test_a_file_truth_off_the_overridden_grid_is_not_compared(tmp_path, capsys):
    directory, _ = _file_dir(tmp_path)
    out = tmp_path / "run.nc"
    code, stdout, stderr = _cli(capsys, "run", str(directory), "--out", str(out), "--set", "grid.nx=32")
    assert code == 0, stderr
    ds = analysis.open_run(out)
    assert "u_truth" not in ds and "does not fit" in ds.attrs["truth_not_compared"]
    assert "vs truth    not compared: override 'grid.nx=32'" in stdout


def test_fine_truth_rules(tmp_path):
    directory = _fine_dir(tmp_path)
    for overrides in (["physics.nu=0.02"], ["initial_condition.expression=x*(1.25-x)"], ["grid.nx=8"],
                      ['boundary.right={kind="dirichlet", value=0.0}']):
        case = load_case(directory, overrides)
        assert truth.truth_inapplicable(case) is None and truth.truth_notes(case) == [], overrides
    two = tmp_path / "two"
    two.mkdir()
    (two / "case.toml").write_text(TWO_FIELDS)
    assert truth.truth_inapplicable(load_case(two, ["physics.diffusivity=1.0"])) is None
    reason = truth.truth_inapplicable(load_case(two, ['physics.reactions={A="-A", B="A"}']))
    assert "truth.fine.physics fixes reactions for the fine run" in reason


def test_an_overridden_fine_case_is_compared_with_its_own_fine_truth(tmp_path):
    case = load_case(_fine_dir(tmp_path), ["physics.nu=0.02"])
    ds = runner.run(case)
    path = truth.truth_path(case)
    assert path.name == f"truth-{truth.truth_key(case)}.nc" and path.is_file()
    np.testing.assert_array_equal(ds["u_truth"].values, truth.load_truth(case, generate=False)["u"].values)
