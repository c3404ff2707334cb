"""Multi-field case files: each bad input is one clear message naming the key and the fix."""

from __future__ import annotations

import pytest

import oceanclosure
import oceanclosure.analysis
from tests.columns import case_message, load_text

CASE = """
[grid]
dims = ["z"]
domain = [-100.0, 0.0]
nz = 10

[boundary]
bottom = { kind = "flux" }
top = { kind = "flux" }

[physics]
model = "advection_diffusion_reaction"
variables = { A = { units = "mmol m-3" }, B = { units = "mmol m-3" } }
diffusivity = 0.5
reactions = { A = "-k*A", B = "k*A" }
parameters = { k = 0.1 }

[initial_condition.A]
expression = "1 + cos(pi*z/100)"
[initial_condition.B]
expression = "0"

[time]
stop = 1.0
output_interval = 0.5
"""


def _load(tmp_path, overrides=(), text=CASE):
    return load_text(tmp_path, text, overrides)


def _message(tmp_path, overrides=(), text=CASE) -> str:
    return case_message(tmp_path, text, overrides)


BAD = {
    "unknown variable in an initial condition": (
        ['initial_condition.C={expression="1"}'], "initial_condition.C: not a field of the model (fields: A, B)"),
    "a field without an initial condition": (
        ["initial_condition={A={expression=\"1\"}}"], "initial_condition.B: missing: every field needs"),
    "flat initial condition for two fields": (
        ['initial_condition={expression="1"}'], "this model has the fields A, B: give each one a table"),
    "a reaction for an unknown variable": (
        ['physics.reactions={A="-k*A", C="k*A"}'], "physics.reactions: ['C'] are not variables"),
    "a reaction naming an unknown variable": (
        ['physics.reactions={A="-k*C"}'], "physics.reactions.A"),
    "a reaction naming an unknown parameter": (
        ['physics.reactions={A="-q*A"}'], "'q'"),
    "a boundary for a variable that does not exist": (
        ['boundary.C={top={kind="flux"}}'], "boundary.C: not a variable of the model and not a side (variables: A, B"),
    "mismatched table lengths": (
        ["physics.diffusivity={t=[0.0, 1.0, 2.0], values=[1.0, 2.0]}"], "physics.diffusivity"),
    "a negative tabulated diffusivity": (
        ["physics.diffusivity={t=[0.0, 1.0], values=[1.0, -2.0]}"], "must be nonnegative"),
    "a negative constant diffusivity per tracer": (
        ["physics.diffusivity={A=0.5, B=-1.0}"], "physics.diffusivity.B must be nonnegative"),
    "a diffusivity for an unknown tracer": (
        ["physics.diffusivity={A=0.5, C=1.0}"], "['C'] are not variables"),
    "a boundary expression with an unknown name": (
        ['boundary.top={kind="dirichlet", value="z*t"}'], "boundary.top.value"),
    "a velocity for an unknown tracer": (
        ["physics.velocity={C=-1.0}"], "physics.velocity: ['C'] are not variables"),
    "a parameter that shadows a variable": (
        ["physics.parameters={k=0.1, A=2.0}"], "physics.parameters.A: is also a variable or coordinate name"),
    "a z grid given nx": (["grid.nx=10"], "grid.nx: not allowed: the grid's dims are ['z']"),
    "an x side on a z column": (['boundary.left={kind="flux"}'], "boundary.left: not a side of a grid with dims ['z']"),
    "an unknown reaction set": (['physics.reactions="npzzz"'], "unknown reaction set 'npzzz'"),
}


@pytest.mark.parametrize("overrides, message", BAD.values(), ids=BAD.keys())
def test_bad_multi_field_input_is_one_clear_message(tmp_path, overrides, message):
    text = _message(tmp_path, overrides)
    assert message in text, text
    assert "Traceback" not in text


def test_the_boundary_expression_may_use_t_and_physics_parameters(tmp_path):
    case = _load(tmp_path, ['boundary.A={top={kind="dirichlet", value="2*k*(1 + t)"}}'])
    ds = oceanclosure.run(case)
    assert ds.attrs["boundary"] == "A: bottom=flux, top=dirichlet; B: bottom=flux, top=flux"
    same = oceanclosure.run(_load(tmp_path, ['boundary.A={top={kind="dirichlet", value="0.2*(1 + t)"}}']))
    assert (ds["A"].values == same["A"].values).all()  # k = 0.1 reached the boundary value
    other = oceanclosure.run(_load(tmp_path, ['boundary.A={top={kind="dirichlet", value="2*k*(1 + t)"}}',
                                              "physics.parameters.k=0.3"]))
    assert abs(float(other["A"].values[-1, -1] - ds["A"].values[-1, -1])) > 1e-3
    fixed = oceanclosure.run(_load(tmp_path, ['boundary.A={top={kind="dirichlet", value=0.2}}']))
    assert abs(float(fixed["A"].values[-1, -1] - ds["A"].values[-1, -1])) > 1e-4  # t reached it too


def test_a_negative_expression_diffusivity_is_refused_at_the_first_evaluation(tmp_path):
    case = _load(tmp_path, ['physics.diffusivity="0.5 - 0.01*(z + 100)"'])  # < 0 above z = -50
    with pytest.raises(ValueError, match="physics.diffusivity must be nonnegative"):
        oceanclosure.run(case)


def test_the_cli_names_a_negative_expression_diffusivity_without_a_traceback(tmp_path, capsys):
    from oceanclosure import cli

    (tmp_path / "case.toml").write_text(CASE)
    code = cli.main(["run", str(tmp_path), "--no-plot", "--out", str(tmp_path / "o.nc"),
                     "--set", 'physics.diffusivity="0.5 - 0.01*(z + 100)"'])
    err = capsys.readouterr().err
    assert code != 0 and "physics.diffusivity must be nonnegative" in err and "Traceback" not in err
    assert not (tmp_path / "o.nc").exists()


def test_the_old_advection_diffusion_model_refuses_a_negative_expression_diffusivity(tmp_path):
    text = """
[grid]
domain = [0.0, 1.0]
nx = 16
[physics]
model = "advection_diffusion"
diffusivity = "-0.001*(1+x)"
[initial_condition]
expression = "sin(2*pi*x)"
[time]
stop = 0.1
output_interval = 0.05
"""
    case = _load(tmp_path, text=text)
    with pytest.raises(ValueError, match="physics.diffusivity must be nonnegative"):
        oceanclosure.run(case)


def test_the_cli_runs_a_multi_field_case_and_summarises_and_plots_every_field(tmp_path, capsys):
    from oceanclosure import cli

    (tmp_path / "case.toml").write_text(CASE)
    out = tmp_path / "o.nc"
    assert cli.main(["run", str(tmp_path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "A range" in printed and "B range" in printed
    assert out.with_suffix(".png").stat().st_size > 10_000
    ds = oceanclosure.analysis.open_run(out)
    assert oceanclosure.analysis.field_names(ds) == ["A", "B"]
    assert ds["A"].attrs["units"] == "mmol m-3" and ds["z"].attrs["positive"] == "up"


def test_a_coefficient_file_on_another_grid_is_refused(tmp_path):
    import numpy as np
    import xarray as xr

    z = -100 + 10 * (np.arange(10) + 0.5)  # 10 cells: the case has 10, but on [-100, 0] at other centres
    xr.Dataset({"K": (("z",), np.ones(10))}, coords={"z": z + 3.0}).to_netcdf(tmp_path / "k.nc")
    case = _load(tmp_path, ['physics.diffusivity={file="k.nc", variable="K"}'])
    with pytest.raises(ValueError, match="k.nc"):
        oceanclosure.run(case)
    xr.Dataset({"K": (("z",), np.ones(20))}, coords={"z": np.linspace(-97.5, -2.5, 20)}).to_netcdf(tmp_path / "k20.nc")
    case = _load(tmp_path, ['physics.diffusivity={file="k20.nc", variable="K"}'])
    with pytest.raises(ValueError, match="k20.nc"):
        oceanclosure.run(case)


def test_a_diffusivity_negative_between_the_old_nine_samples_is_refused(tmp_path):
    """cos(t) + 0.9 dips below 0 near t = π; sampling only t = 0, 2π, 4π, … would miss it."""
    case = _load(tmp_path, ['physics.diffusivity="cos(t) + 0.9"', f"time.stop={16 * 3.141592653589793}",
                            "time.output_interval=1.0"])
    with pytest.raises(ValueError, match="physics.diffusivity must be nonnegative"):
        oceanclosure.run(case)


@pytest.mark.parametrize("name, message", [
    ("z", "is a coordinate or time name"), ("t", "is a coordinate or time name"),
    ("A_truth", "ends like the run file's truth and baseline copies"),
])
def test_field_names_that_clash_with_coordinates_or_outputs_are_refused(tmp_path, name, message):
    text = CASE.replace('B = { units = "mmol m-3" }', f'{name} = {{ units = "mmol m-3" }}').replace(
        'reactions = { A = "-k*A", B = "k*A" }', "").replace("[initial_condition.B]", f"[initial_condition.{name}]")
    assert message in _message(tmp_path, text=text)


def test_a_one_field_baseline_closure_acts_on_the_named_tracer(tmp_path):
    case = _load(tmp_path, ['closure=[{kind="eddy_diffusivity", kappa=1.0, variable="B"}]'])
    ds = oceanclosure.run(case)
    plain = oceanclosure.run(case, closure=oceanclosure.NoClosure())
    assert not (ds["B"].values[-1] == plain["B"].values[-1]).all()
    assert (ds["A"].values[-1] == plain["A"].values[-1]).all()
