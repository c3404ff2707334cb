"""Export of library closures: the NumPy and C code reproduce the closure's tendency; text formats read back."""

import ctypes
import importlib.util
import shutil
import subprocess

import jax.numpy as jnp
import numpy as np
import pytest
import sympy

from oceanclosure.closures import ClosureSum, NoClosure, SmagorinskyClosure
from oceanclosure.closures.library import LibraryClosure
from oceanclosure.export import FORMATS, export, feature_arguments, tendency_expressions
from oceanclosure.grid import Grid
from oceanclosure.stencils import features

pytestmark = pytest.mark.usefixtures("x64")

TERMS = ["u_xx", "u_xxx", "u*u_x", "u**2*u_x", "dx**2*u_x**2", "nu*u_xx"]
COEFFICIENTS = [0.3, -0.0123456789012345, -1.2, 0.0, 0.7, 2.5]
PHYSICS = {"nu": 0.02}


def _burgers_library():
    return LibraryClosure(TERMS, COEFFICIENTS, parameters=("nu",))


def _field(n=64, length=2 * np.pi, seed=0):
    """A random smooth periodic field: a few Fourier modes with random amplitudes and phases."""
    grid = Grid.uniform(n, [0.0, length])
    (x,) = grid.mesh()
    rng = np.random.default_rng(seed)
    k = 2 * np.pi / length
    u = 0.3 + sum(rng.normal() / m * np.sin(m * k * x + rng.uniform(0, 2 * np.pi)) for m in (1, 2, 3))
    return grid, {"u": jnp.asarray(u, dtype=jnp.float64)}


def _features(closure, grid, fields, physics):
    feats = features(fields, grid, closure.feature_names, physics, closure.accuracy)
    return {k: np.asarray(v) for k, v in feats.items()}


def _import(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _numpy_module(closure, tmp_path, name="exported_closure"):
    path = tmp_path / f"{name}.py"
    path.write_text(export(closure, "numpy"))
    return _import(path, name)


def _close(got, expected, rtol=1e-6):
    """Relative agreement, measured against the field's magnitude (a tendency crosses zero)."""
    expected = np.asarray(expected)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * np.max(np.abs(expected)))


def _as_double(expr):
    """Every Float rounded to float64 (text read back carries fewer bits than the 17-digit original)."""
    return expr.xreplace({f: sympy.Float(float(f), 17) for f in expr.atoms(sympy.Float)})


# --- NumPy ------------------------------------------------------------------


def test_numpy_export_gives_the_closure_tendency(tmp_path):
    closure = _burgers_library()
    grid, fields = _field()
    expected = closure.tendencies(fields, grid, PHYSICS)["u"]
    feats = _features(closure, grid, fields, PHYSICS)
    module = _numpy_module(closure, tmp_path)
    assert module.FEATURES == {"u": ("dx", "nu", "u", "u_x", "u_xx", "u_xxx")}
    got = module.tendency_u(**{k: feats[k] for k in module.FEATURES["u"]})
    assert isinstance(got, np.ndarray) and got.shape == expected.shape
    _close(got, expected)
    # scalars for the step and the parameter broadcast; extra features only shape the result
    scalar = module.tendency_u(dx=grid.dx, nu=PHYSICS["nu"], **{k: feats[k] for k in ("u", "u_x", "u_xx", "u_xxx")})
    _close(scalar, expected)


def test_numpy_export_imports_only_numpy_and_drops_zero_terms():
    text = export(_burgers_library(), "numpy")
    imports = [line for line in text.splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["import numpy"]
    assert "u**2*u_x" not in text  # the zero term is absent from the code and the term list
    assert "0.3 * u_xx" in text.split('"""')[1]  # the docstring lists the terms


def test_constant_only_tendency_is_shaped_like_any_array_given(tmp_path):
    closure = LibraryClosure(["1.0", "u"], [0.5, 0.0])
    module = _numpy_module(closure, tmp_path, "constant_closure")
    assert module.FEATURES == {"u": ()}
    assert module.tendency_u() == 0.5 and isinstance(module.tendency_u(), float)
    out = module.tendency_u(u=np.zeros((3, 4)))
    assert out.shape == (3, 4) and np.all(out == 0.5)


def test_a_sum_of_libraries_adds_their_contributions(tmp_path):
    first = LibraryClosure(["u_xx", "u*u_x"], [0.1, -0.5])
    second = LibraryClosure(["u_xx", "u_xxx"], [0.2, 0.03])
    total = ClosureSum([first, NoClosure(), second])
    grid, fields = _field(seed=1)
    expected = first.tendencies(fields, grid, {})["u"] + second.tendencies(fields, grid, {})["u"]
    module = _numpy_module(total, tmp_path, "summed_closure")
    feats = _features(LibraryClosure(["u_xx", "u*u_x", "u_xxx"]), grid, fields, {})
    _close(module.tendency_u(**feats), expected)
    u_xx = sympy.Symbol("u_xx")
    assert float(tendency_expressions(total)["u"].coeff(u_xx)) == pytest.approx(0.3, rel=1e-15)


def test_other_members_of_a_sum_are_named_not_exported():
    total = ClosureSum([_burgers_library(), SmagorinskyClosure(0.1)])
    assert "Not exported (not library closures): SmagorinskyClosure" in export(total, "c")
    assert "Not exported" not in export(_burgers_library(), "c")


# --- C ----------------------------------------------------------------------


def _compile(source: str, tmp_path) -> ctypes.CDLL:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler")
    src, lib = tmp_path / "closure.c", tmp_path / "libclosure.so"
    src.write_text(source)
    subprocess.run([compiler, "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-O2", "-shared", "-fPIC",
                    "-o", str(lib), str(src), "-lm"], check=True, capture_output=True, text=True)
    return ctypes.CDLL(str(lib))


def _call_pointwise(function, args, feats):
    function.argtypes = [ctypes.c_double] * len(args)
    function.restype = ctypes.c_double
    shape = np.broadcast_shapes(*(np.shape(v) for v in feats.values()))
    columns = [np.broadcast_to(feats[a], shape).ravel() for a in args]
    return np.array([function(*map(float, point)) for point in zip(*columns)])


def test_c_export_gives_the_closure_tendency(tmp_path):
    closure = _burgers_library()
    grid, fields = _field(seed=2)
    expected = closure.tendencies(fields, grid, PHYSICS)["u"]
    source = export(closure, "c")
    assert "#include <math.h>" in source
    assert "double tendency_u(const double dx, const double nu, const double u, const double u_x," in source
    lib = _compile(source, tmp_path)
    feats = _features(closure, grid, fields, PHYSICS)
    got = _call_pointwise(lib.tendency_u, feature_arguments(closure)["u"], feats)
    _close(got, expected)


def test_c_export_of_a_constrained_multi_variable_closure(tmp_path):
    closure = _npz_library()
    grid, fields = _npz_fields()
    expected = closure.tendencies(fields, grid, {})
    lib = _compile(export(closure, "c"), tmp_path)
    feats = _features(closure, grid, fields, {})
    for output in "NPZ":
        got = _call_pointwise(getattr(lib, f"tendency_{output}"), feature_arguments(closure)[output], feats)
        _close(got, expected[output])


# --- constraints ------------------------------------------------------------


def _npz_library():
    terms = ["Z**2", "P*Z", "Z_x", "P_xx"]
    coefficients = [[0.0, 0.4, 0.1, 0.02], [-0.03, 0.0, -0.2, 0.0]]  # rows: P, Z
    return LibraryClosure(terms, coefficients, variables=("N", "P", "Z"), constraints={"N": {"P": -1, "Z": -1}})


def _npz_fields():
    grid, u = _field(seed=3)
    _, v = _field(seed=4)
    return grid, {"N": 1.0 + 0 * u["u"], "P": 1.5 + u["u"], "Z": 1.2 + v["u"]}


def test_constrained_output_is_exported_as_its_combination(tmp_path):
    closure = _npz_library()
    grid, fields = _npz_fields()
    expected = closure.tendencies(fields, grid, {})
    module = _numpy_module(closure, tmp_path, "npz_closure")
    assert set(module.FEATURES) == {"P", "Z", "N"}
    assert module.FEATURES["N"] == ("P", "P_xx", "Z", "Z_x")
    feats = _features(closure, grid, fields, {})
    for output in "NPZ":
        _close(getattr(module, f"tendency_{output}")(**feats), expected[output])
    _close(module.tendency_N(**feats), -(module.tendency_P(**feats) + module.tendency_Z(**feats)))
    assert "N: constrained, dN/dt = -1.0*dP/dt + -1.0*dZ/dt" in export(closure, "sympy")


# --- text formats -----------------------------------------------------------


def _read_sympy(text):
    """{output: expression} from the sympy export, read the documented way (symbols as locals)."""
    rows = [line.split(" = ", 1) for line in text.splitlines() if line and not line.startswith("#")]
    symbols = {s: sympy.Symbol(s) for s in ("N", "P", "Z", "P_xx", "Z_x", "u", "u_x", "u_xx", "u_xxx", "dx", "nu")}
    return {name: sympy.sympify(rhs, locals=symbols) for name, rhs in rows}


def test_sympy_export_round_trips_through_sympify():
    for closure in (_burgers_library(), _npz_library()):
        expressions = tendency_expressions(closure)
        read = _read_sympy(export(closure, "sympy"))
        assert list(read) == list(expressions)
        for name, expr in expressions.items():
            assert _as_double(read[name]) == _as_double(expr)
    u_xxx = sympy.Symbol("u_xxx")
    read = _read_sympy(export(_burgers_library(), "sympy"))["u"]
    assert float(read.coeff(u_xxx)) == pytest.approx(COEFFICIENTS[1], rel=1e-15)  # 17 digits: exact


def test_latex_export_has_one_line_per_output():
    text = export(_burgers_library(), "latex")
    equations = [line for line in text.splitlines() if not line.startswith("%")]
    assert len(equations) == 1 and equations[0].startswith(r"\partial_t u = ")
    assert r"\nu u_{xx}" in equations[0] and "u_{xxx}" in equations[0] and "dx^{2} u_{x}^{2}" in equations[0]
    assert "u^{2}" not in equations[0]  # the zero term is dropped
    lines = export(_npz_library(), "latex").splitlines()
    assert [line.split(" = ")[0] for line in lines if not line.startswith("%")] == [
        r"\partial_t P", r"\partial_t Z", r"\partial_t N"]


def test_fortran_export_is_a_free_form_module_of_elemental_functions():
    text = export(_burgers_library(), "fortran")
    assert "module oceanclosure_closure" in text and "end module oceanclosure_closure" in text
    assert "elemental function tendency_u(dx, nu, u, u_x, u_xx, u_xxx) result(tendency)" in text
    assert "real(8), intent(in) :: u_xxx" in text and "end function tendency_u" in text
    assert "2.5d0*nu*u_xx" in text and "u**2*u_x" not in text.split("contains")[1]
    assert all(len(line) <= 132 for line in text.splitlines())
    constant = export(LibraryClosure(["1.0"], [0.5]), "fortran")
    assert "pure function tendency_u() result(tendency)" in constant and "tendency = 0.5" in constant


def test_feature_arguments_lists_each_outputs_sorted_features():
    assert feature_arguments(_burgers_library()) == {"u": ("dx", "nu", "u", "u_x", "u_xx", "u_xxx")}
    assert feature_arguments(_npz_library()) == {"P": ("P", "P_xx", "Z", "Z_x"), "Z": ("Z", "Z_x"),
                                                 "N": ("P", "P_xx", "Z", "Z_x")}


# --- errors -----------------------------------------------------------------


def test_unknown_format_names_the_allowed_ones():
    with pytest.raises(ValueError, match="unknown format 'matlab'; expected one of latex, sympy, numpy, c, fortran"):
        export(_burgers_library(), "matlab")
    assert FORMATS == ("latex", "sympy", "numpy", "c", "fortran")


def test_a_closure_without_a_library_part_is_refused():
    with pytest.raises(ValueError, match="no library part"):
        export(NoClosure(), "numpy")
    with pytest.raises(ValueError, match="digits must be an int >= 1"):
        export(_burgers_library(), "c", digits=0)


def test_numpy_export_of_a_two_dimensional_library(tmp_path):
    grid = Grid.uniform((24, 20), [[0.0, 2 * np.pi], [0.0, 2 * np.pi]])
    x, y = grid.mesh()
    fields = {"u": jnp.asarray(np.sin(x) * np.cos(2 * y) + 0.2 * np.cos(y))}
    closure = LibraryClosure(["u_xy", "u*u_y", "dy**2*u_yy", "u_xx + u_yy"], [0.3, -0.7, 1.1, 0.05])
    module = _numpy_module(closure, tmp_path, "closure_2d")
    assert module.FEATURES == {"u": ("dy", "u", "u_xx", "u_xy", "u_y", "u_yy")}
    got = module.tendency_u(**_features(closure, grid, fields, {}))
    assert got.shape == (20, 24)
    _close(got, closure.tendencies(fields, grid, {})["u"])
