"""Tests for the case.toml schema, --set overrides and error reporting."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import pydantic
import pytest
import tomli_w

from oceanclosure.cases import (
    Case,
    CaseError,
    DirichletSide,
    GridConfig,
    NeumannSide,
    PeriodicSide,
    apply_overrides,
    load_case,
    parse_override,
)

BASE_1D = {
    "grid": {"domain": [0.0, 1.0], "nx": 64},
    "physics": {"model": "burgers", "nu": 0.01},
    "initial_condition": {"expression": "sin(2*pi*x)"},
    "time": {"stop": 1.0, "output_interval": 0.1},
}

CASE_2D = """\
[grid]
domain = [[0.0, 1.0], [0.0, 2.0]]
nx = 32
ny = 16
precision = "float64"

[boundary]
left = {kind = "dirichlet", value = 1.5}
right = {kind = "neumann"}
bottom = {kind = "periodic"}
top = {kind = "periodic"}

[physics]
model = "advection_diffusion"
velocity = [1, "sin(2*pi*y) * t"]
diffusivity = "0.01 * (1 + x*y)"
scheme = "weno5"

[initial_condition]
file = "ic.nc"

[truth]
analytic = "demo"
parameters = {amplitude = 2}

[time]
start = 0.5
stop = 2.5
output_interval = 0.5
stepper = "rk4"
dt = 0.01

[output]
file = "out/result.nc"
plot = false

[[closure]]
kind = "none"
"""

REGISTRY = {"demo": lambda x, t: x}


def write_case(tmp_path: Path, data: dict | str, name: str = "demo") -> Path:
    """Write ``data`` (a dict or TOML text) to tmp_path/name/case.toml; return the dir."""
    directory = tmp_path / name
    directory.mkdir(parents=True, exist_ok=True)
    text = data if isinstance(data, str) else tomli_w.dumps(data)
    (directory / "case.toml").write_text(text)
    return directory


def case_2d_dir(tmp_path: Path) -> Path:
    directory = write_case(tmp_path, CASE_2D, name="two_d")
    (directory / "ic.nc").write_bytes(b"placeholder")
    return directory


def load_error(path, overrides=(), **kwargs) -> str:
    with pytest.raises(CaseError) as info:
        load_case(path, overrides, **kwargs)
    return str(info.value)


# --------------------------------------------------------------------------
# valid cases and defaults


def test_valid_1d_case_fills_defaults(tmp_path):
    directory = write_case(tmp_path, BASE_1D)
    case = load_case(directory)
    assert isinstance(case, Case)
    assert case.directory == directory.resolve()
    assert case.path == (directory / "case.toml").resolve()
    assert case.name == "demo"
    assert case.grid.ndim == 1 and case.grid.shape == (64,)
    assert case.grid.domain == (0.0, 1.0) and case.grid.bounds == ((0.0, 1.0),)
    assert case.grid.ny is None and case.grid.precision == "float32"
    assert case.boundary_sides() == {"left": PeriodicSide(), "right": PeriodicSide()}
    assert case.physics.model == "burgers" and case.physics.scheme == "muscl_vanleer"
    assert case.physics.params() == {"nu": 0.01}
    assert case.initial_condition.source == "expression"
    assert case.time.start == 0.0 and case.time.stepper == "ssprk3"
    assert case.time.cfl == 0.5 and case.time.dt is None
    assert case.output.file == "output/run.nc" and case.output.plot is True
    assert case.truth is None and case.closures == ()
    assert case.resolve_path(case.output.file) == directory.resolve() / "output/run.nc"


def test_valid_2d_case(tmp_path):
    directory = case_2d_dir(tmp_path)
    case = load_case(directory / "case.toml", analytic=REGISTRY)
    assert case.grid.ndim == 2 and case.grid.shape == (32, 16)
    assert case.grid.bounds == ((0.0, 1.0), (0.0, 2.0))
    assert case.grid.precision == "float64"
    assert case.boundary_sides() == {
        "left": DirichletSide(value=1.5),
        "right": NeumannSide(gradient=0.0),
        "bottom": PeriodicSide(),
        "top": PeriodicSide(),
    }
    assert case.physics.params() == {
        "velocity": [1.0, "sin(2*pi*y) * t"],
        "diffusivity": "0.01 * (1 + x*y)",
    }
    assert case.physics.scheme == "weno5"
    ic = case.initial_condition
    assert ic.source == "file" and ic.variable == "u"
    assert case.resolve_path(ic.file) == directory.resolve() / "ic.nc"
    assert case.truth.analytic == "demo" and case.truth.parameters == {"amplitude": 2.0}
    assert case.time.dt == 0.01 and case.time.cfl is None and case.time.stepper == "rk4"
    assert case.output.plot is False
    assert [c.kind for c in case.closures] == ["none"]


def test_physics_params_exclude_model_and_scheme(tmp_path):
    data = copy.deepcopy(BASE_1D)
    data["physics"] = {"model": "kdv_burgers", "b": 1, "scheme": "upwind"}
    case = load_case(write_case(tmp_path, data))
    assert case.physics.params() == {"a": 1.0, "b": 1.0, "nu": 0.0}
    data["physics"] = {"model": "advection_diffusion"}
    case = load_case(write_case(tmp_path, data))
    assert case.physics.params() == {"velocity": 0.0, "diffusivity": 0.0}


def test_case_pickles(tmp_path):
    case = load_case(case_2d_dir(tmp_path), analytic=REGISTRY)
    again = pickle.loads(pickle.dumps(case))
    assert again == case and again.raw == case.raw
    assert copy.deepcopy(case) == case


def test_case_is_immutable(tmp_path):
    case = load_case(write_case(tmp_path, BASE_1D))
    with pytest.raises(AttributeError):
        case.grid = None
    with pytest.raises(pydantic.ValidationError):
        case.physics.nu = 1.0
    with pytest.raises(TypeError):
        case.raw["grid"]["nx"] = 3


def test_truth_initial_condition_with_default_registry(tmp_path):
    data = copy.deepcopy(BASE_1D)
    data["initial_condition"] = {"truth": True}
    data["truth"] = {"analytic": "advecting_shock"}
    case = load_case(write_case(tmp_path, data))
    assert case.initial_condition.source == "truth"
    data["truth"] = {"analytic": "no_such_solution"}
    message = load_error(write_case(tmp_path, data))
    assert "truth.analytic: unknown analytic solution" in message
    assert "advecting_shock" in message


def test_direct_construction_is_validated():
    with pytest.raises(pydantic.ValidationError, match=r"ny: not allowed: the grid's dims are \['x'\]"):
        GridConfig(domain=[0.0, 1.0], nx=8, ny=8)
    assert GridConfig(domain=[[0, 1], [0, 2]], nx=8, ny=4).shape == (8, 4)


# --------------------------------------------------------------------------
# bad inputs: each names the key


def _set(path: str, value):
    def patch(data):
        *parents, key = path.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[key] = value
    return patch


def _drop(path: str):
    def patch(data):
        *parents, key = path.split(".")
        node = data
        for part in parents:
            node = node[part]
        del node[key]
    return patch


def _both(*patches):
    def patch(data):
        for p in patches:
            p(data)
    return patch


BAD = {
    "unknown section": (_set("grdi.nx", 3), "grdi: unknown section (allowed: grid,"),
    "unknown nested key": (
        _set("grid.nxx", 5), "grid.nxx: unknown key (allowed: dims, domain, nx, ny, nz, precision)"),
    "unknown key in union member": (
        _set("physics.viscosity", 0.1), "physics.viscosity: unknown key (allowed: model, nu,"),
    "unknown key in side": (
        _set("boundary", {"left": {"kind": "dirichlet", "valeu": 1.0},
                          "right": {"kind": "dirichlet"}}),
        "boundary.left.valeu: unknown key (allowed: kind, value)"),
    "string for nu": (_set("physics.nu", "0.1"), "physics.nu: expected a number (got '0.1')"),
    "bool for nu": (_set("physics.nu", True), "physics.nu: expected a number (got true)"),
    "float for nx": (_set("grid.nx", 64.0), "grid.nx: expected an integer (got 64.0)"),
    "small nx": (_set("grid.nx", 2), "grid.nx: must be >= 3 (got 2)"),
    "negative viscosity": (_set("physics.nu", -0.1), "physics.nu: must be >= 0 (got -0.1)"),
    "missing nu": (_drop("physics.nu"), "physics.nu: missing required key"),
    "unknown model": (
        _set("physics.model", "navier_stokes"),
        "physics.model: unknown model (allowed: advection_diffusion, advection_diffusion_reaction, burgers, kdv_burgers, npz_oa, npzd_oa) "
        "(got 'navier_stokes')"),
    "missing model": (_drop("physics.model"), "physics.model: missing required key"),
    "bad scheme": (_set("physics.scheme", "weno7"), "physics.scheme: expected one of 'upwind'"),
    "missing IC file": (
        _set("initial_condition", {"file": "ic.nc"}),
        "initial_condition.file: file not found: "),
    "unparsable expression": (
        _set("initial_condition.expression", "x*(1-x))"), "initial_condition.expression: "),
    "code in expression": (
        _set("initial_condition.expression", "__import__('os').system('x')"),
        "initial_condition.expression: "),
    "y in a 1D expression": (
        _set("initial_condition.expression", "x + y"), "initial_condition.expression: "),
    "bad velocity expression": (
        _set("physics", {"model": "advection_diffusion", "velocity": "x +* t"}),
        "physics.velocity: "),
    "bad velocity component": (
        _set("physics", {"model": "advection_diffusion", "velocity": ["open('f')"]}),
        "physics.velocity[0]: "),
    "velocity of wrong length": (
        _set("physics", {"model": "advection_diffusion", "velocity": [1.0, 2.0]}),
        "physics.velocity: expected 1 component(s), one per dimension (got [1.0, 2.0])"),
    "negative diffusivity": (
        _set("physics", {"model": "advection_diffusion", "diffusivity": -1}),
        "physics.diffusivity: must be >= 0 (got -1)"),
    "no IC source": (
        _set("initial_condition", {}), "initial_condition: give exactly one source"),
    "two IC sources": (
        _both(_set("initial_condition.truth", True), _set("truth.analytic", "demo")),
        "initial_condition: give exactly one source: expression, file, truth = true, or family "
        "(got expression, truth)"),
    "IC truth without [truth]": (
        _set("initial_condition", {"truth": True}),
        "initial_condition.truth: requires a [truth] section"),
    "variable without file": (
        _set("initial_condition.variable", "v"),
        "initial_condition.variable: only allowed together with file (got 'v')"),
    "unknown analytic": (
        _set("truth.analytic", "nope"),
        "truth.analytic: unknown analytic solution (allowed: demo) (got 'nope')"),
    "both cfl and dt": (
        _both(_set("time.cfl", 0.5), _set("time.dt", 0.01)),
        "time.dt: cannot be given together with cfl"),
    "cfl above 1": (_set("time.cfl", 1.5), "time.cfl: must be <= 1 (got 1.5)"),
    "stop before start": (_set("time.start", 2.0), "time.stop: must be > start (2)"),
    "string stop": (_set("time.stop", "soon"), "time.stop: expected a number (got 'soon')"),
    "output interval too long": (
        _set("time.output_interval", 2.0),
        "time.output_interval: must be <= stop - start (1) (got 2.0)"),
    "bad stepper": (_set("time.stepper", "rk45"), "time.stepper: expected one of 'euler'"),
    "missing stop": (_drop("time.stop"), "time.stop: missing required key"),
    "unpaired periodic": (
        _set("boundary", {"left": {"kind": "periodic"}, "right": {"kind": "dirichlet"}}),
        "boundary.left: periodic must be paired: right must be periodic too"),
    "missing side": (
        _set("boundary", {"left": {"kind": "neumann"}}), "boundary.right: missing"),
    "bottom in 1D": (
        _set("boundary", {"left": {"kind": "neumann"}, "right": {"kind": "neumann"},
                          "bottom": {"kind": "neumann"}}),
        "boundary.bottom: not a side of a grid with dims ['x'] (sides: left, right)"),
    "shorthand mixed with sides": (
        _set("boundary", {"kind": "periodic", "left": {"kind": "periodic"}}),
        "boundary.kind: cannot be combined with per-side tables (left)"),
    "unknown side kind": (
        _set("boundary", {"left": {"kind": "robin"}, "right": {"kind": "neumann"}}),
        "boundary.left.kind: unknown kind (allowed: dirichlet, flux, neumann, periodic)"),
    "ny in 1D": (_set("grid.ny", 8), "grid.ny: not allowed: the grid's dims are ['x']; remove it"),
    "missing ny in 2D": (
        _set("grid.domain", [[0.0, 1.0], [0.0, 1.0]]), "grid.ny: missing required key"),
    "reversed domain": (
        _set("grid.domain", [1.0, 0.0]),
        "grid.domain: upper bound must be > lower bound (got [1.0, 0.0])"),
    "malformed domain": (_set("grid.domain", [0.0, 1.0, 2.0]), "grid.domain: expected [x0, x1]"),
    "bad precision": (
        _set("grid.precision", "float16"), "grid.precision: expected one of 'float32', 'float64'"),
    "missing required section": (_drop("physics"), "physics: missing required section"),
    "section not a table": (_set("time", 5), "time: expected a table (got 5)"),
    "unknown closure kind": (
        _set("closure", [{"kind": "neurall"}]),
        "closure[0].kind: unknown kind (allowed: discrete_delay, distributed_delay, eddy_diffusivity, "
        "library, neural, none, smagorinsky, transfer, upwind_correction) (got 'neurall')"),
    "plot not a bool": (_set("output.plot", "yes"), "output.plot: expected true or false"),
}


@pytest.mark.parametrize("patch, expected", BAD.values(), ids=BAD.keys())
def test_bad_input_names_the_key(tmp_path, patch, expected):
    data = copy.deepcopy(BASE_1D)
    patch(data)
    directory = write_case(tmp_path, data)
    message = load_error(directory, analytic=REGISTRY)
    assert message.startswith(f"invalid case {directory / 'case.toml'} (")
    assert f"\n  {expected}" in message, message


def test_several_errors_reported_at_once(tmp_path):
    data = copy.deepcopy(BASE_1D)
    data["physics"]["nu"] = -0.1
    data["grid"]["nxx"] = 5
    data["time"]["stop"] = "soon"
    directory = write_case(tmp_path, data, name="foo")
    message = load_error(directory)
    assert message == (
        f"invalid case {directory / 'case.toml'} (3 errors):\n"
        "  grid.nxx: unknown key (allowed: dims, domain, nx, ny, nz, precision)\n"
        "  physics.nu: must be >= 0 (got -0.1)\n"
        "  time.stop: expected a number (got 'soon')"
    )


def test_expressions_checked_against_domain_even_if_grid_has_errors(tmp_path):
    data = copy.deepcopy(BASE_1D)
    data["grid"]["nx"] = 64.0
    data["initial_condition"]["expression"] = "x * y"
    message = load_error(write_case(tmp_path, data))
    assert "(2 errors)" in message
    assert "\n  grid.nx: expected an integer" in message
    assert "\n  initial_condition.expression: " in message


def test_malformed_toml_names_file_and_line(tmp_path):
    directory = write_case(tmp_path, "[grid]\nnx = 64\ndomain [0.0, 1.0]\n")
    message = load_error(directory)
    assert str(directory / "case.toml") in message
    assert "malformed TOML" in message and "line 3" in message


def test_missing_case_toml(tmp_path):
    (tmp_path / "empty").mkdir()
    message = load_error(tmp_path / "empty")
    assert f"no case.toml in case directory {tmp_path / 'empty'}" in message
    message = load_error(tmp_path / "nowhere")
    assert f"{tmp_path / 'nowhere'} does not exist" in message


# --------------------------------------------------------------------------
# --set overrides


@pytest.mark.parametrize("text, key, value", [
    ("physics.nu=0.02", ("physics", "nu"), 0.02),
    ("grid.nx=128", ("grid", "nx"), 128),
    ("grid.domain=[0.0, 2.0]", ("grid", "domain"), [0.0, 2.0]),
    ('boundary.left={kind="dirichlet", value=0.0}', ("boundary", "left"),
     {"kind": "dirichlet", "value": 0.0}),
    ("initial_condition.expression=x*(1-x)", ("initial_condition", "expression"), "x*(1-x)"),
    ('initial_condition.expression="x"', ("initial_condition", "expression"), "x"),
    ("output.plot=false", ("output", "plot"), False),
    (" time.stop = 3 ", ("time", "stop"), 3),
    ("output.file=a=b.nc", ("output", "file"), "a=b.nc"),
])
def test_parse_override(text, key, value):
    parsed_key, parsed_value = parse_override(text)
    assert parsed_key == key
    assert parsed_value == value and type(parsed_value) is type(value)


def test_overrides_are_typed_and_validated(tmp_path):
    directory = write_case(tmp_path, BASE_1D)
    case = load_case(directory, [
        "physics.nu=0.02",
        "grid.nx=128",
        "grid.domain=[0.0, 2.0]",
        'boundary.left={kind="dirichlet", value=0.0}',
        'boundary.right={kind="neumann", gradient=1}',
        "initial_condition.expression=x*(1-x)",
    ])
    assert case.physics.nu == 0.02
    assert case.grid.nx == 128 and case.grid.domain == (0.0, 2.0)
    assert case.boundary_sides() == {"left": DirichletSide(value=0.0),
                                     "right": NeumannSide(gradient=1.0)}
    assert case.initial_condition.expression == "x*(1-x)"
    assert case.overrides[0] == "physics.nu=0.02"
    assert load_case(directory).physics.nu == 0.01  # the file is untouched


def test_override_replaces_derived_initial_condition(tmp_path):
    directory = case_2d_dir(tmp_path)
    case = load_case(directory, ["initial_condition.expression=x*(1-x)*y"],
                     analytic=REGISTRY)
    ic = case.initial_condition
    assert ic.source == "expression" and ic.expression == "x*(1-x)*y"
    assert ic.file is None and ic.variable is None
    case = case.with_overrides(["initial_condition.truth=true"], analytic=REGISTRY)
    assert case.initial_condition.source == "truth"
    assert case.initial_condition.expression is None


def test_override_creates_sections_validated_like_the_file(tmp_path):
    directory = write_case(tmp_path, BASE_1D)
    case = load_case(directory, ["output.plot=false", "truth.analytic=demo"],
                     analytic=REGISTRY)
    assert case.output == type(case.output)(plot=False)
    assert case.truth.analytic == "demo"
    message = load_error(directory, ["output.plot=maybe", "outputs.plot=false",
                                     "physics.nu=-1"])
    assert message.startswith(
        f"invalid case {directory / 'case.toml'} with --set output.plot=maybe "
        "outputs.plot=false physics.nu=-1 (3 errors):")
    assert "\n  outputs: unknown section" in message
    assert "\n  output.plot: expected true or false (got 'maybe')" in message
    assert "\n  physics.nu: must be >= 0 (got -1)" in message


@pytest.mark.parametrize("text, expected", [
    ("physics.nu", "expected key.path=value"),
    ("=1", "empty key"),
    ("physics..nu=1", "empty key"),
    ("physics.nu.x=1", "physics.nu is 0.01, not a table"),
    ("closure.3.kind=none", "use an index 0..1"),
    ("closure.x.kind=none", "use an index 0..1"),
])
def test_malformed_override(tmp_path, text, expected):
    data = {**BASE_1D, "closure": [{"kind": "none"}]}
    message = load_error(write_case(tmp_path, data), [text])
    assert f"override {text!r}" in message and expected in message


def test_override_into_array_of_tables():
    raw = apply_overrides({"closure": [{"kind": "none"}]},
                          ["closure.0.kind=neural", "closure.1.kind=none"])
    assert raw == {"closure": [{"kind": "neural"}, {"kind": "none"}]}


def test_with_overrides_returns_a_new_validated_case(tmp_path):
    case = load_case(write_case(tmp_path, BASE_1D))
    changed = case.with_overrides(["physics.nu=0.5"])
    assert changed.physics.nu == 0.5 and case.physics.nu == 0.01
    assert changed != case and changed.overrides == ("physics.nu=0.5",)
    with pytest.raises(CaseError, match="physics.nu: must be >= 0"):
        case.with_overrides(["physics.nu=-0.5"])


# --------------------------------------------------------------------------
# round trip


@pytest.mark.parametrize("which", ["1d", "2d"])
def test_to_toml_round_trip(tmp_path, which):
    directory = write_case(tmp_path, BASE_1D) if which == "1d" else case_2d_dir(tmp_path)
    case = load_case(directory, analytic=REGISTRY)
    text = case.to_toml()
    (directory / "case.toml").write_text(text)
    again = load_case(directory, analytic=REGISTRY)
    assert again == case
    assert again.to_toml() == text


def test_to_toml_writes_defaults(tmp_path):
    text = load_case(write_case(tmp_path, BASE_1D)).to_toml()
    for line in ['precision = "float32"', "cfl = 0.5", 'stepper = "ssprk3"',
                 'scheme = "muscl_vanleer"', 'file = "output/run.nc"', 'kind = "periodic"']:
        assert line in text


def test_override_of_dt_replaces_cfl_and_back(tmp_path):
    text = (
        '[grid]\ndomain = [0.0, 1.0]\nnx = 16\n[physics]\nmodel = "burgers"\nnu = 0.01\n'
        '[initial_condition]\nexpression = "sin(x)"\n[time]\nstop = 1.0\noutput_interval = 0.5\ncfl = 0.3\n'
    )
    (tmp_path / "case.toml").write_text(text)
    case = load_case(tmp_path, ["time.dt=0.001"])
    assert case.time.dt == 0.001 and "cfl" not in case.raw["time"]
    back = case.with_overrides(["time.cfl=0.2"])
    assert back.time.cfl == 0.2 and back.time.dt is None


def test_override_can_add_the_first_array_entry(tmp_path):
    text = (
        '[grid]\ndomain = [0.0, 1.0]\nnx = 16\n[physics]\nmodel = "burgers"\nnu = 0.01\n'
        '[initial_condition]\nexpression = "sin(x)"\n[time]\nstop = 1.0\noutput_interval = 0.5\n'
    )
    (tmp_path / "case.toml").write_text(text)
    case = load_case(tmp_path, ['closure.0={kind="smagorinsky", cs=0.5}'])
    assert [c.kind for c in case.closures] == ["smagorinsky"]
    case = load_case(tmp_path, ['closure.0.kind="eddy_diffusivity"', "closure.0.kappa=0.1"])
    assert case.closures[0].kappa == 0.1


# --- format versions -------------------------------------------------------------


def test_case_files_carry_their_format_version(tmp_path):
    case = load_case(write_case(tmp_path, BASE_1D))
    assert case.to_toml().startswith("format = 2")
    again = load_case(write_case(tmp_path, {**BASE_1D, "format": 2}, "again"))
    assert again.grid == case.grid and again.physics == case.physics
    assert load_case(write_case(tmp_path, {**BASE_1D, "format": 1}, "one")).physics == case.physics


@pytest.mark.parametrize("version, message", [
    (3, "format: case format 3 is newer than this oceanclosure reads (1 to 2): upgrade oceanclosure"),
    ("2", "format: expected an integer case format version"),
    (0, "format: unknown case format version"),
])
def test_an_unknown_case_format_is_refused_with_what_to_change(tmp_path, version, message):
    with pytest.raises(CaseError) as err:
        load_case(write_case(tmp_path, {**BASE_1D, "format": version, "physics": {"model": "burgers", "nu": -1.0}}))
    assert message in str(err.value)
    assert "nu" not in str(err.value)  # only the version is reported: the rest may mean something else


def test_a_case_remembers_its_file_without_re_reading_it(tmp_path):
    directory = write_case(tmp_path, BASE_1D)
    case = load_case(directory, ["physics.nu=0.5"])
    (directory / "case.toml").write_text("this is no longer TOML")
    base = case.without_overrides()
    assert base.physics.nu == 0.01 and not base.overrides
    assert case.with_overrides(["grid.nx=32"]).without_overrides().physics.nu == 0.01
