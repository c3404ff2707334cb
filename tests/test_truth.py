"""Truths: the [truth] schema, analytic / fine / file sources, load-or-generate, CLI."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import tomli_w
import xarray as xr

from oceanclosure import cli, truth
from oceanclosure.analytic import advecting_shock, cell_average
from oceanclosure.cases import CaseError, load_case
from oceanclosure.closures import NoClosure
from oceanclosure.io import OutputExistsError
from oceanclosure.runner import run

NU = 0.01  # Re = 100: a smooth shock that nx = 25 resolves roughly
SHOCK = {
    "grid": {"domain": [0.0, 1.25], "nx": 25},
    "boundary": {"left": {"kind": "dirichlet", "value": 0.0}, "right": {"kind": "neumann"}},
    "physics": {"model": "burgers", "nu": NU, "scheme": "upwind"},
    "truth": {"analytic": "advecting_shock"},
    "initial_condition": {"truth": True},
    "time": {"stop": 0.5, "output_interval": 0.1},
}
# the analytic solution at t = 0 as an expression (Re = 100: t0 = exp(Re/8))
SHOCK_IC = "x / (1 + exp(25*x**2 - 6.25))"


def write_case(directory: Path, data: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "case.toml").write_text(tomli_w.dumps(data))
    return directory


def shock_case(tmp_path: Path, **sections):
    data = copy.deepcopy(SHOCK)
    data.update(sections)
    return load_case(write_case(tmp_path / "shock", data))


def case_error(tmp_path: Path, data: dict, name: str = "bad") -> str:
    with pytest.raises(CaseError) as info:
        load_case(write_case(tmp_path / name, data))
    return str(info.value)


def rms(a, b) -> float:
    return float(np.sqrt(((np.asarray(a) - np.asarray(b)) ** 2).mean(axis=-1)).mean())


# --------------------------------------------------------------------------
# schema


def test_truth_schema_defaults(tmp_path):
    case = shock_case(tmp_path)
    assert case.truth.source == "analytic" and case.truth.output == "truth/truth.nc"
    assert case.truth.fine is None and case.truth.file is None and case.truth.variable is None
    fine = shock_case(tmp_path, truth={"fine": {}},
                      initial_condition={"expression": SHOCK_IC}).truth
    assert fine.source == "fine" and fine.fine.refine == 8
    assert (fine.fine.scheme, fine.fine.stepper, fine.fine.cfl, fine.fine.dt) == (None,) * 4
    assert fine.fine.physics == {}
    (tmp_path / "shock" / "data.nc").write_bytes(b"x")
    from_file = shock_case(tmp_path, truth={"file": "data.nc"},
                           initial_condition={"expression": SHOCK_IC}).truth
    assert from_file.source == "file" and from_file.variable == "u"
    assert load_case(tmp_path / "shock").to_toml().count('variable = "u"') == 1


def _with(**changes):
    data = copy.deepcopy(SHOCK)
    data["initial_condition"] = {"expression": SHOCK_IC}
    for dotted, value in changes.items():
        section, _, key = dotted.partition("__")
        if key:
            data.setdefault(section, {})[key] = value
        else:
            data[section] = value
    return data


BAD_TRUTH = {
    "two sources": (_with(truth__fine={}), ("truth: give exactly one source: analytic, fine or "
                                            "file (got analytic, fine)")),
    "no source": (_with(truth={"output": "t.nc"}), "truth: give exactly one source"),
    "missing file": (_with(truth={"file": "nope.nc"}), "truth.file: file not found: "),
    "parameters with fine": (_with(truth={"fine": {}, "parameters": {"a": 1}}),
                             "truth.parameters: only allowed together with analytic"),
    "variable without file": (_with(truth__variable="v"),
                              "truth.variable: only allowed together with file (got 'v')"),
    "refine below 1": (_with(truth={"fine": {"refine": 0}}), "truth.fine.refine: must be >= 1 (got 0)"),
    "refine not an int": (_with(truth={"fine": {"refine": 2.5}}),
                          "truth.fine.refine: expected an integer (got 2.5)"),
    "bad fine scheme": (_with(truth={"fine": {"scheme": "weno7"}}),
                        "truth.fine.scheme: expected one of 'upwind'"),
    "bad fine stepper": (_with(truth={"fine": {"stepper": "rk45"}}),
                         "truth.fine.stepper: expected one of 'euler'"),
    "fine cfl above 1": (_with(truth={"fine": {"cfl": 2.0}}), "truth.fine.cfl: must be <= 1 (got 2.0)"),
    "fine cfl and dt": (_with(truth={"fine": {"cfl": 0.4, "dt": 0.01}}),
                        "truth.fine.dt: cannot be given together with cfl"),
    "fine physics unknown key": (
        _with(truth={"fine": {"physics": {"viscosity": 0.1}}}),
        "truth.fine.physics.viscosity: unknown key (allowed: model, nu, scheme)"),
    "fine physics bad value": (_with(truth={"fine": {"physics": {"nu": -1}}}),
                               "truth.fine.physics.nu: must be >= 0 (got -1)"),
    "fine physics unknown model": (_with(truth={"fine": {"physics": {"model": "euler"}}}),
                                   "truth.fine.physics.model: unknown model"),
    "unknown truth key": (_with(truth__refine=8), "truth.refine: unknown key (allowed: analytic,"),
    "fine truth with IC file": (
        _with(truth={"fine": {}}, initial_condition={"file": "case.toml"}),
        "truth.fine: cannot refine an initial condition read from a file"),
    "IC truth with fine truth": (
        _with(truth={"fine": {}}, initial_condition={"truth": True}),
        "initial_condition.truth: requires an analytic truth ([truth] analytic = ...)"),
    "output not a string": (_with(truth__output=3), "truth.output: expected a string (got 3)"),
    "unknown sampling": (_with(truth__sampling="midpoint"),
                         "truth.sampling: expected one of 'cell_average', 'point' (got 'midpoint')"),
    "sampling with fine": (_with(truth={"fine": {}, "sampling": "point"}),
                           "truth.sampling: only allowed together with analytic"),
}


@pytest.mark.parametrize("data, expected", BAD_TRUTH.values(), ids=BAD_TRUTH.keys())
def test_truth_schema_bad_input_names_the_key(tmp_path, data, expected):
    message = case_error(tmp_path, data)
    assert f"\n  {expected}" in message, message


def test_fine_physics_may_name_a_richer_model(tmp_path):
    case = shock_case(tmp_path, initial_condition={"expression": SHOCK_IC},
                      truth={"fine": {"refine": 2, "physics": {"model": "kdv_burgers", "b": 1e-4}}})
    fine = truth.fine_case(case)
    assert fine.physics.model == "kdv_burgers"
    assert (fine.physics.nu, fine.physics.b, fine.physics.a) == (NU, 1e-4, 1.0)
    assert fine.physics.scheme == "upwind" and fine.grid.nx == 50


# --------------------------------------------------------------------------
# sources


def test_analytic_truth_is_the_cell_average_of_the_solution(tmp_path):
    case = shock_case(tmp_path)
    assert case.truth.sampling == "cell_average"
    ds = truth.generate_truth(case)
    x = (np.arange(25) + 0.5) * 1.25 / 25
    faces = np.arange(26) * 1.25 / 25
    times = np.linspace(0.0, 0.5, 6)
    np.testing.assert_allclose(ds.time.values, times, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ds.x.values, x, rtol=1e-13)
    # Re = 100 on 25 cells: smooth, so 16 plain Gauss points per cell are exact to round-off
    expected = np.stack([cell_average(lambda x, t=t: advecting_shock(x, t, nu=NU), faces[:-1], faces[1:], order=16)
                         for t in times])
    np.testing.assert_allclose(ds["u"].values, expected, rtol=0, atol=1e-15)
    assert np.max(np.abs(ds["u"].values - np.stack([advecting_shock(x, t, nu=NU) for t in times]))) > 1e-3
    assert ds["u"].dims == ("time", "x") and ds["u"].dtype == np.float64
    assert ds.attrs["truth_source"] == "analytic" and ds.attrs["truth_analytic"] == "advecting_shock"
    assert ds.attrs["truth_sampling"] == "cell_average"
    assert ds.attrs["grid_nx"] == 25 and ds.attrs["grid_bounded"] == "1"
    assert {"oceanclosure_version", "git_revision", "jax_version", "case_toml"} <= set(ds.attrs)


def test_point_sampled_analytic_truth_is_the_solution_at_the_centres(tmp_path):
    case = shock_case(tmp_path, truth={"analytic": "advecting_shock", "sampling": "point"})
    ds = truth.generate_truth(case)
    x = (np.arange(25) + 0.5) * 1.25 / 25
    expected = np.stack([advecting_shock(x, t, nu=NU) for t in ds.time.values])
    np.testing.assert_allclose(ds["u"].values, expected, rtol=1e-12, atol=1e-15)
    assert ds.attrs["truth_sampling"] == "point"
    default = shock_case(tmp_path / "default")
    assert truth.truth_key(case) != truth.truth_key(default)  # a stored truth of the other sampling is refused


def test_fine_truth_is_closer_to_the_solution_than_the_coarse_run(tmp_path):
    case = shock_case(tmp_path, initial_condition={"expression": SHOCK_IC},
                      truth={"fine": {"refine": 8, "scheme": "muscl_vanleer", "cfl": 0.4}})
    assert truth.fine_overrides(case)[0] == "grid.nx=200"
    ds = truth.generate_truth(case)
    assert ds.attrs["truth_source"] == "fine" and ds.attrs["truth_refine"] == 8
    assert ds.attrs["truth_fine_scheme"] == "muscl_vanleer"
    assert ds.sizes == {"time": 6, "x": 25}
    grid = truth.case_grid(case)
    faces = grid.faces(0)
    exact = np.stack([cell_average(lambda x, t=t: advecting_shock(x, t, nu=NU), faces[:-1], faces[1:])
                      for t in ds.time.values])  # the truth is a cell average: compare like with like
    coarse = run(case, closure=NoClosure())["u"].values
    fine_error, coarse_error = rms(ds["u"].values, exact), rms(coarse, exact)
    assert fine_error < 2e-4, fine_error  # measured 1.9e-5, coarse 6.0e-3 (centre-value IC: 2.4e-5, 5.8e-3)
    assert fine_error < 0.05 * coarse_error, (fine_error, coarse_error)


def _truth_file(path: Path, x, times, values=None, name="u", **attrs) -> Path:
    values = np.zeros((len(times), len(x))) if values is None else values
    ds = xr.Dataset({name: (("time", "x"), values, attrs)}, coords={"x": x, "time": times})
    ds.to_netcdf(path)
    return path


def test_file_truth_is_read_on_the_case_grid_and_times(tmp_path):
    directory = tmp_path / "shock"
    directory.mkdir()
    x = (np.arange(25) + 0.5) * 0.05
    times = np.linspace(0.0, 1.0, 21)  # every 0.05: covers the case's outputs every 0.1
    values = times[:, None] + x[None, :]
    _truth_file(directory / "data.nc", x, times, values, name="w")
    case = shock_case(tmp_path, initial_condition={"expression": SHOCK_IC},
                      truth={"file": "data.nc", "variable": "w"})
    ds = truth.generate_truth(case)
    expected = np.linspace(0.0, 0.5, 6)[:, None] + x[None, :]
    np.testing.assert_allclose(ds["u"].values, expected, rtol=1e-12)
    assert ds.attrs["truth_source"] == "file" and ds.attrs["truth_variable"] == "w"


@pytest.mark.parametrize("change, needle", [
    ("shifted x", "x[0] = 0.035 is not the case grid's cell centre 0.025"),
    ("wrong nx", "has 24 cells along x, the case grid has 25 (grid.nx = 25)"),
    ("short times", "covers t in [0, 0.3], the case runs t in [0, 0.5]"),
    ("other times", "has no data at output time t = 0.1"),
    ("no variable", "has no variable 'u' (it has ['v']); set truth.variable"),
    ("corrupt", "cannot read"),
])
def test_file_truth_with_wrong_coordinates_gives_a_clear_error(tmp_path, change, needle):
    directory = tmp_path / "shock"
    directory.mkdir()
    x, times = (np.arange(25) + 0.5) * 0.05, np.linspace(0.0, 0.5, 6)
    if change == "shifted x":
        x = x + 0.01
    elif change == "wrong nx":
        x = (np.arange(24) + 0.5) * 1.25 / 24
    elif change == "short times":
        times = np.linspace(0.0, 0.3, 4)
    elif change == "other times":
        times = np.array([0.0, 0.15, 0.25, 0.35, 0.45, 0.5])
    _truth_file(directory / "data.nc", x, times, name="v" if change == "no variable" else "u")
    if change == "corrupt":
        (directory / "data.nc").write_bytes(b"not a netCDF file")
    case = shock_case(tmp_path, initial_condition={"expression": SHOCK_IC}, truth={"file": "data.nc"})
    with pytest.raises(truth.TruthError) as info:
        truth.generate_truth(case)
    assert needle in str(info.value) and str(directory / "data.nc") in str(info.value)


# --------------------------------------------------------------------------
# load or generate


def test_generate_load_round_trip(tmp_path, monkeypatch):
    case = shock_case(tmp_path)
    path = truth.truth_path(case)
    assert path == tmp_path / "shock" / "truth" / "truth.nc"
    written = truth.load_truth(case)
    assert path.is_file()
    assert not [p for p in path.parent.iterdir() if p.name != "truth.nc"]  # no temporary left
    monkeypatch.setattr(truth, "generate_truth", lambda *a, **k: pytest.fail("regenerated"))
    again = truth.load_truth(case)
    xr.testing.assert_identical(again["u"], written["u"])
    assert again.attrs["truth_key"] == truth.truth_key(case)
    assert "case_directory" not in again.attrs  # directories are passed explicitly, not in the dataset
    with pytest.raises(FileNotFoundError, match="oceanclosure truth"):
        truth.load_truth(case.with_overrides(["physics.nu=0.02"]), generate=False)


def test_overridden_case_gets_its_own_truth_file(tmp_path):
    case = shock_case(tmp_path)
    other = case.with_overrides(["physics.nu=0.02"])
    same = case.with_overrides(["physics.scheme=\"weno5\""])  # analytic truth: scheme is irrelevant
    assert truth.truth_path(same) == truth.truth_path(case)
    assert truth.truth_path(other).parent == truth.truth_path(case).parent
    assert truth.truth_path(other).name == f"truth-{truth.truth_key(other)}.nc"
    a, b = truth.load_truth(case), truth.load_truth(other)
    assert not np.allclose(a["u"].values[-1], b["u"].values[-1])


def test_stale_or_corrupt_truth_is_a_clear_error(tmp_path):
    case = shock_case(tmp_path)
    truth.load_truth(case)
    data = copy.deepcopy(SHOCK)
    data["physics"]["nu"] = 0.02
    changed = load_case(write_case(tmp_path / "shock", data))
    with pytest.raises(truth.TruthError, match=r"other case settings \(they differ in physics.nu\)"):
        truth.load_truth(changed)
    assert truth.load_truth(changed, overwrite=True).attrs["truth_key"] == truth.truth_key(changed)
    truth.truth_path(changed).write_bytes(b"garbage")
    with pytest.raises(truth.TruthError, match="cannot read .* as netCDF"):
        truth.load_truth(changed)


def test_no_truth_section_is_a_clear_error(tmp_path):
    data = copy.deepcopy(SHOCK)
    del data["truth"]
    data["initial_condition"] = {"expression": SHOCK_IC}
    case = load_case(write_case(tmp_path / "plain", data))
    with pytest.raises(truth.TruthError, match=r"has no \[truth\] section"):
        truth.load_truth(case)


# --------------------------------------------------------------------------
# CLI


def _cli(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_truth_writes_the_file_and_refuses_to_overwrite(tmp_path, capsys):
    directory = write_case(tmp_path / "shock", SHOCK)
    code, out, err = _cli(capsys, "truth", str(directory))
    assert code == 0, err
    path = directory / "truth" / "truth.nc"
    assert f"wrote       {path}" in out and "analytic: 'advecting_shock'" in out
    assert "25 cells" in out and "6 outputs, 0 -> 0.5" in out
    before = path.read_bytes()
    code, out, err = _cli(capsys, "truth", str(directory))
    assert code == cli.EXIT_BAD_INPUT and "--overwrite" in err and "Traceback" not in err
    assert path.read_bytes() == before
    assert _cli(capsys, "truth", str(directory), "--overwrite")[0] == 0
    code, out, err = _cli(capsys, "truth", str(directory), "--set", "physics.nu=0.02")
    assert code == 0, err
    assert len(list((directory / "truth").glob("truth-*.nc"))) == 1


@pytest.mark.parametrize("argv, needle", [
    (["--set", "physics.nu=-1"], "physics.nu: must be >= 0"),
    (["--set", "truth.analytic=nope"], "truth.analytic: unknown analytic solution"),
])
def test_cli_truth_bad_input_exits_2_without_traceback(tmp_path, capsys, argv, needle):
    directory = write_case(tmp_path / "shock", SHOCK)
    code, _, err = _cli(capsys, "truth", str(directory), *argv)
    assert code == cli.EXIT_BAD_INPUT
    assert needle in err and "Traceback" not in err and err.startswith("error: ")


def test_cli_truth_without_truth_section_exits_2(tmp_path, capsys):
    data = copy.deepcopy(SHOCK)
    del data["truth"]
    data["initial_condition"] = {"expression": SHOCK_IC}
    code, _, err = _cli(capsys, "truth", str(write_case(tmp_path / "plain", data)))
    assert code == cli.EXIT_BAD_INPUT and "[truth] section" in err


def test_refusal_to_overwrite_in_the_api(tmp_path):
    from oceanclosure.io import write_netcdf

    case = shock_case(tmp_path)
    truth.load_truth(case)
    with pytest.raises(OutputExistsError, match="--overwrite"):
        write_netcdf(truth.generate_truth(case), truth.truth_path(case))


def test_an_explicit_truth_output_is_used_as_is(tmp_path):
    case = shock_case(tmp_path)
    other = case.with_overrides(["physics.nu=0.02", "truth.output=truth/other.nc"])
    assert truth.truth_path(other) == tmp_path / "shock" / "truth" / "other.nc"


def test_2d_fine_truth_cell_averages_both_axes(tmp_path):
    data = {
        "grid": {"domain": [[0.0, 1.0], [0.0, 1.0]], "nx": 6, "ny": 4},
        "physics": {"model": "advection_diffusion", "velocity": [1.0, 0.5], "diffusivity": 0.01,
                    "scheme": "upwind"},
        "initial_condition": {"expression": "sin(2*pi*x) * cos(2*pi*y)"},
        "truth": {"fine": {"refine": 2}},
        "time": {"stop": 0.05, "output_interval": 0.025},
    }
    case = load_case(write_case(tmp_path / "two_d", data))
    ds = truth.generate_truth(case)
    assert ds["u"].dims == ("time", "y", "x") and ds["u"].shape == (3, 4, 6)
    fine = run(truth.fine_case(case), closure=NoClosure())["u"].values
    assert fine.shape == (3, 8, 12)
    np.testing.assert_allclose(ds["u"].values, fine.reshape(3, 4, 2, 6, 2).mean(axis=(2, 4)), rtol=1e-6,
                               atol=1e-7)
    np.testing.assert_allclose(ds.y.values, (np.arange(4) + 0.5) / 4, rtol=1e-12)
