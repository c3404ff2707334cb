"""Tests for oceanclosure.expressions: safe parsing, evaluation, sympy."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy

from oceanclosure.errors import InputError
from oceanclosure.expressions import (
    Expression,
    ExpressionError,
    parse_expression,
    to_latex,
    to_sympy,
)

X = np.linspace(0.05, 0.95, 8)  # avoids the where() boundary x == 0.5
Y = np.linspace(-0.3, 0.8, 8)

NUMERIC_CASES = [
    ("sin(x) + 0.5", ["x"], lambda x: np.sin(x) + 0.5),
    ("x*(1-x)", ["x"], lambda x: x * (1 - x)),
    ("exp(-(x-0.5)**2/0.01)", ["x"], lambda x: np.exp(-((x - 0.5) ** 2) / 0.01)),
    (
        "-sin(pi*x)*cos(pi*y)",
        ["x", "y"],
        lambda x, y: -np.sin(np.pi * x) * np.cos(np.pi * y),
    ),
    ("where(x < 0.5, 1.0, 0.0)", ["x"], lambda x: np.where(x < 0.5, 1.0, 0.0)),
    ("where(x >= y, x, y)", ["x", "y"], lambda x, y: np.maximum(x, y)),
    ("u*u_xx", ["u", "u_xx"], lambda u, u_xx: u * u_xx),
    ("Z**2/(1+Z)", ["Z"], lambda Z: Z**2 / (1 + Z)),
    ("sqrt(abs(y)) + log(x) - log10(x)", ["x", "y"],
     lambda x, y: np.sqrt(np.abs(y)) + np.log(x) - np.log10(x)),
    ("arctan2(y, x) + tanh(x) * sinh(y) / cosh(x)", ["x", "y"],
     lambda x, y: np.arctan2(y, x) + np.tanh(x) * np.sinh(y) / np.cosh(x)),
    ("minimum(x, y) + maximum(x, 0.5) + sign(y)", ["x", "y"],
     lambda x, y: np.minimum(x, y) + np.maximum(x, 0.5) + np.sign(y)),
    ("heaviside(y, 0.5) + floor(3*x) + ceil(3*y)", ["x", "y"],
     lambda x, y: np.heaviside(y, 0.5) + np.floor(3 * x) + np.ceil(3 * y)),
    ("arcsin(x) + arccos(x) + arctan(y) + tan(x)", ["x", "y"],
     lambda x, y: np.arcsin(x) + np.arccos(x) + np.arctan(y) + np.tan(x)),
    ("e**x - +x + 2**-1", ["x"], lambda x: np.e**x - x + 0.5),
]


def _values(names):
    pool = {"x": X, "y": Y, "u": X, "u_xx": Y, "Z": X}
    return {name: pool[name] for name in names}


@pytest.mark.parametrize("text, names, reference", NUMERIC_CASES)
def test_numpy_evaluation_matches_reference(text, names, reference):
    expr = parse_expression(text, names)
    values = _values(names)
    np.testing.assert_allclose(expr(**values), reference(**values), rtol=1e-12)


@pytest.mark.parametrize("text, names, reference", NUMERIC_CASES)
def test_jax_evaluation_under_jit_matches_numpy(text, names, reference):
    expr = parse_expression(text, names)
    values = {k: jnp.asarray(v) for k, v in _values(names).items()}
    result = jax.jit(lambda **kw: expr.evaluate(jnp, **kw))(**values)
    np.testing.assert_allclose(
        np.asarray(result), reference(**_values(names)), rtol=1e-5, atol=1e-6
    )


def test_variables_are_the_used_names_in_allowed_order():
    expr = parse_expression("y + sin(x) + pi", ["x", "y", "t"])
    assert expr.variables == ("x", "y")
    assert isinstance(expr, Expression) and expr.text == "y + sin(x) + pi"
    assert parse_expression("2*pi", ["x"]).is_constant


def test_variable_shadows_constant():
    expr = parse_expression("e * 2", ["e"])
    assert expr.variables == ("e",)
    assert expr(e=3.0) == pytest.approx(6.0)
    assert parse_expression("e", ["x"])() == pytest.approx(np.e)


def test_extra_values_are_ignored_and_missing_ones_raise():
    expr = parse_expression("x + 1", ["x", "y"])
    assert expr(x=1.0, y=np.zeros(3), t=5.0).tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(ExpressionError, match="missing values for x"):
        expr(y=1.0)


@pytest.mark.parametrize("text", ["1.0", "1.0 + 0*x", "2*pi - pi", "3"])
def test_constant_expressions_broadcast_to_input_shape(text):
    x = np.zeros((4, 5))
    expected = float(np.pi) if "pi" in text else float(text[0])
    out = parse_expression(text, ["x"])(x=x)
    assert out.shape == (4, 5)
    np.testing.assert_allclose(out, expected)
    out[0, 0] = -1.0  # numpy result must be writable
    jout = parse_expression(text, ["x"]).evaluate(jnp, x=jnp.zeros((4, 5)))
    assert jout.shape == (4, 5)


def test_broadcast_combines_shapes_and_dtypes():
    expr = parse_expression("x + y", ["x", "y"])
    assert expr(x=np.zeros((3, 1)), y=np.zeros((1, 2))).shape == (3, 2)
    const = parse_expression("1.0", ["x"])
    assert const(x=np.zeros(3, dtype=np.float32)).dtype == np.float32
    assert np.shape(const(x=2.0)) == ()


def test_constant_expression_inside_jit():
    expr = parse_expression("0.25", ["x"])
    out = jax.jit(lambda x: expr.evaluate(jnp, x=x))(jnp.ones(6))
    np.testing.assert_allclose(np.asarray(out), 0.25 * np.ones(6))


def test_jax_grad_of_sin_squared():
    expr = parse_expression("sin(x)**2", ["x"])
    grad = jax.grad(lambda x: expr.evaluate(jnp, x=x))
    for x in [0.0, 0.3, 1.2, -2.0]:
        assert float(grad(x)) == pytest.approx(2 * np.sin(x) * np.cos(x), rel=1e-5)


def test_jax_vmap_grad_of_two_variable_expression():
    expr = parse_expression("x*y**2 + exp(-x)", ["x", "y"])
    gx = jax.vmap(jax.grad(lambda x, y: expr.evaluate(jnp, x=x, y=y)))
    xs, ys = jnp.asarray(X), jnp.asarray(Y)
    np.testing.assert_allclose(
        np.asarray(gx(xs, ys)), Y**2 - np.exp(-X), rtol=1e-5, atol=1e-6
    )


def test_constant_arithmetic_is_ieee_not_python():
    assert np.isnan(parse_expression("(-1)**0.5", [])())
    assert parse_expression("2**10", [])() == 1024.0
    assert parse_expression("where(1 > 0, 2, 1/0)", [])() == 2.0  # no ZeroDivisionError on the way


@pytest.mark.parametrize(("text", "piece", "point"), [
    ("x/0", "'x/0'", "at x = 0.25, giving inf"),
    ("1 + 1/(x - 0.5)", "'1/(x - 0.5)'", "at x = 0.5, giving inf"),
    ("(x - 0.5)/(x - 0.5)", "'(x - 0.5)/(x - 0.5)'", "at x = 0.5, giving nan"),
    ("2*(x - 0.5)**-1", "'(x - 0.5)**-1'", "at x = 0.5, giving inf"),
    ("1/0", "'1/0'", ", giving inf"),
])
def test_division_by_zero_is_named_with_its_origin_and_point_without_warnings(text, piece, point):
    x = np.array([0.25, 0.5, 0.75])
    expression = parse_expression(text, ["x"], what="initial_condition.expression")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ExpressionError) as err:
            expression(x=x)
    message = str(err.value)
    assert isinstance(err.value, InputError)
    assert message.startswith(f"expression {text!r} for initial_condition.expression divides by zero in {piece}")
    assert point in message and "denominator" in message


def test_discarded_divisions_and_other_non_finite_values_pass_quietly():
    x = np.array([0.0, 0.5, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(parse_expression("where(x > 0, 1/x, 0)", ["x"])(x=x), [0.0, 2.0, 1.0])
        assert parse_expression("log(x)", ["x"])(x=x)[0] == -np.inf  # not a division: the caller judges it
        assert np.isinf(parse_expression("exp(1000*x)", ["x"])(x=x)[-1])


def test_division_by_zero_in_an_initial_condition_is_an_input_error(tmp_path):
    from oceanclosure import load_case
    from oceanclosure.build import build_grid, initial_fields

    (tmp_path / "case.toml").write_text("""
[grid]
domain = [-1.0, 1.0]
nx = 16
[boundary]
kind = "periodic"
[physics]
model = "burgers"
nu = 0.01
[initial_condition]
expression = "x/0"
sampling = "point"
[time]
stop = 0.1
output_interval = 0.05
""")
    case = load_case(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match=r"'x/0' for initial_condition.expression divides by zero in 'x/0' "
                                             r"at x = -0.9375, giving -inf") as err:
            initial_fields(case, build_grid(case), np.float64)
    assert err.value.exit_code == 2


UNSAFE = [
    ("__import__('os').system('ls')", "attribute access"),
    ("x.__class__", "attribute access 'x.__class__'"),
    ("().__class__.__bases__", "attribute access"),
    ("open('f')", "function 'open'"),
    ("lambda: 1", "lambda"),
    ("[x for x in y]", "comprehension"),
    ("'abc'", "str constant"),
    ("b'abc'", "bytes constant"),
    ("x[0]", "subscript 'x[0]'"),
    ("eval('1')", "function 'eval'"),
    ("__import__('os')", "function '__import__'"),
    ("9**9**9", "exponent"),
    ("x**10000", "exponent"),
    ("y", "unknown name 'y'"),
    ("sin(x", "syntax error"),
    ("x +", "syntax error"),
    ("f'{x}'", "f-string"),
    ("(x := 1)", "assignment expression"),
    ("x if x else 1", "conditional expression"),
    ("x and 1", "boolean operator"),
    ("x % 2", "operator"),
    ("x // 2", "operator"),
    ("not x", "unary operator"),
    ("~x", "unary operator"),
    ("x < 1", "only allowed as the first argument of where"),
    ("where(0 < x < 1, 1, 0)", "chained comparison"),
    ("sin(x, x)", "sin takes 1 argument"),
    ("sin(x=1)", "keyword arguments"),
    ("sin(*x)", "starred argument"),
    ("sin", "must be called"),
    ("x(1)", "is a variable, not a function"),
    ("1j", "complex constant"),
    ("True", "bool constant"),
    ("None", "NoneType constant"),
    ("1e400", "not finite"),
    ("(x, 1)", "tuple"),
    ("{}", "dict"),
    ("-" * 1500 + "x", "nested deeper"),
    ("x" + "+x" * 1200, "too long"),
    ("", "empty"),
]


@pytest.mark.parametrize("text, fragment", UNSAFE)
def test_unsafe_or_invalid_text_is_rejected(text, fragment):
    with pytest.raises(ExpressionError) as info:
        parse_expression(text, ["x"], what="initial_condition.expression")
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert fragment in message
    assert "initial_condition.expression" in message
    if text and len(text) <= 80:
        assert repr(text) in message  # names the offending text


def test_error_message_lists_allowed_names():
    with pytest.raises(ExpressionError) as info:
        parse_expression("z + 1", ["x", "y"])
    message = str(info.value)
    assert "unknown name 'z'" in message
    assert "allowed variables: x, y" in message
    assert "sin" in message and "pi" in message


def test_rejection_never_runs_code(monkeypatch):
    import builtins
    import os

    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(("system", a)))
    monkeypatch.setattr(builtins, "open", lambda *a: calls.append(("open", a)))
    for text in ["__import__('os').system('ls')", "open('f')", "sin(open('f'))"]:
        with pytest.raises(ExpressionError):
            parse_expression(text, ["x"])
    assert calls == []


def test_invalid_variable_names_are_rejected():
    with pytest.raises(ExpressionError, match="invalid variable name"):
        parse_expression("x", ["sin"])
    with pytest.raises(ExpressionError, match="invalid variable name"):
        parse_expression("x", ["not an identifier"])
    with pytest.raises(TypeError):
        parse_expression("x", "x")


def test_numbers_are_accepted_as_text():
    assert parse_expression(0.5, ["x"])(x=np.ones(2)).tolist() == [0.5, 0.5]


def test_to_sympy_builds_expected_objects():
    dx, u_x = sympy.Symbol("dx"), sympy.Symbol("u_x")
    assert to_sympy(parse_expression("dx*u_x**2", ["dx", "u_x"])) == dx * u_x**2
    x = sympy.Symbol("x")
    assert to_sympy(parse_expression("-sin(pi*x)", ["x"])) == -sympy.sin(sympy.pi * x)
    assert to_sympy(parse_expression("exp(e)", ["x"])) == sympy.exp(sympy.E)
    assert to_sympy(parse_expression("where(x < 0.5, 1, 0)", ["x"])) == (
        sympy.Piecewise((1, x < sympy.Float(0.5)), (0, True))
    )
    assert to_sympy(parse_expression("maximum(x, 1) - minimum(x, 0)", ["x"])) == (
        sympy.Max(x, 1) - sympy.Min(x, 0)
    )
    assert to_sympy(parse_expression("heaviside(x, 1)", ["x"])) == sympy.Heaviside(x, 1)


def test_to_sympy_agrees_numerically_with_evaluate():
    for text, names, _ in NUMERIC_CASES:
        if "heaviside" in text:  # sympy's Heaviside(0) convention differs
            continue
        expr = parse_expression(text, names)
        symbols = [sympy.Symbol(n) for n in expr.variables]
        func = sympy.lambdify(symbols, to_sympy(expr), modules="numpy")
        values = _values(expr.variables)
        np.testing.assert_allclose(
            func(*values.values()), expr(**values), rtol=1e-10, err_msg=text
        )


def test_to_latex():
    latex = to_latex(parse_expression("dx*u_x**2", ["dx", "u_x"]))
    assert latex == "dx u_{x}^{2}"
    assert "u_{xx}" in to_latex(parse_expression("u*u_xx", ["u", "u_xx"]))
    assert r"\sin" in to_latex(parse_expression("sin(x)", ["x"]))


# --------------------------------------------------------------------------
# user functions (e.g. named time tables)

MIXED_LAYER = "0.1 + 8*exp((z - M(t))/10)"


def _depth(t):
    return -20.0 - 5.0 * t


def test_user_function_is_parsed_and_reported():
    expr = parse_expression(MIXED_LAYER, ["z", "t"], functions={"M": 1})
    assert expr.functions == ("M",)
    assert expr.variables == ("z", "t")
    assert not expr.is_constant
    assert parse_expression("z", ["z"], functions={"M": 1}).functions == ()
    assert not parse_expression("M(1.0)", [], functions={"M": 1}).is_constant


def test_user_function_is_called_with_numpy_and_jax():
    expr = parse_expression(MIXED_LAYER, ["z", "t"], functions={"M": 1})
    z = np.linspace(-50.0, 0.0, 6)
    expected = 0.1 + 8 * np.exp((z - _depth(2.0)) / 10)
    np.testing.assert_allclose(expr(functions={"M": _depth}, z=z, t=2.0), expected)
    run = jax.jit(lambda z, t: expr.evaluate(jnp, functions={"M": _depth}, z=z, t=t))
    np.testing.assert_allclose(np.asarray(run(jnp.asarray(z), 2.0)), expected, rtol=1e-5)


def test_user_function_is_differentiable_in_its_argument():
    expr = parse_expression("M(t)**2", ["t"], functions={"M": 1})
    grad = jax.grad(lambda t: expr.evaluate(jnp, functions={"M": jnp.sin}, t=t))
    assert float(grad(0.4)) == pytest.approx(2 * np.sin(0.4) * np.cos(0.4), rel=1e-5)


def test_user_functions_of_several_arities_and_extra_callables():
    expr = parse_expression("F(x, 2) + G() + sin(x)", ["x"], functions={"F": 2, "G": 0})
    out = expr(functions={"F": np.multiply, "G": lambda: 1.0, "sin": np.cos}, x=0.5)
    assert float(out) == pytest.approx(1.0 + 1.0 + np.sin(0.5))  # builtin sin kept


def test_missing_or_bad_callable_is_named():
    expr = parse_expression(MIXED_LAYER, ["z", "t"], functions={"M": 1})
    with pytest.raises(ExpressionError, match="missing callables for user function.*M"):
        expr(z=0.0, t=0.0)
    with pytest.raises(ExpressionError, match="'M' must be callable, got float"):
        expr(functions={"M": 1.0}, z=0.0, t=0.0)
    with pytest.raises(ExpressionError, match="functions must map names"):
        expr(functions=[_depth], z=0.0, t=0.0)


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("sin", "collides with the builtin function"),
        ("where", "collides with the builtin function"),
        ("z", "collides with the variable"),
        ("pi", "collides with the constant"),
        ("not a name", "names must be identifiers"),
        ("lambda", "names must be identifiers"),
    ],
)
def test_colliding_user_function_names_are_rejected(name, fragment):
    with pytest.raises(ExpressionError) as info:
        parse_expression("z", ["z", "t"], functions={name: 1}, what="physics.K")
    message = str(info.value)
    assert fragment in message and repr(name) in message and "physics.K" in message


def test_bad_arity_and_mapping_are_rejected():
    with pytest.raises(ExpressionError, match="expected an int >= 0, got -1"):
        parse_expression("z", ["z"], functions={"M": -1})
    with pytest.raises(ExpressionError, match="expected an int >= 0, got True"):
        parse_expression("z", ["z"], functions={"M": True})
    with pytest.raises(TypeError, match="must map names to arities"):
        parse_expression("z", ["z"], functions=["M"])


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("M(t, t)", "M takes 1 argument(s), got 2"),
        ("M", "function 'M' must be called"),
        ("M(t=1)", "keyword arguments"),
        ("N(t)", "function 'N' in 'N(t)' is not allowed"),
        ("M(t < 1)", "only allowed as the first argument of where"),
    ],
)
def test_misused_user_function_is_rejected(text, fragment):
    with pytest.raises(ExpressionError) as info:
        parse_expression(text, ["t"], functions={"M": 1})
    assert fragment in str(info.value)
    assert "user functions (name/arity): M/1" in str(info.value)


def test_user_function_in_exponent_is_not_a_constant_exponent():
    expr = parse_expression("2**M(3)", [], functions={"M": 1})
    assert float(expr(functions={"M": lambda s: s})) == 8.0


def test_functions_is_a_reserved_variable_name():
    with pytest.raises(ExpressionError, match="'functions'.*reserved"):
        parse_expression("functions", ["functions"])


def test_to_sympy_renders_user_function_calls():
    expr = parse_expression(MIXED_LAYER, ["z", "t"], functions={"M": 1})
    z, t = sympy.Symbol("z"), sympy.Symbol("t")
    M = sympy.Function("M")
    assert to_sympy(expr) == sympy.Float(0.1) + 8 * sympy.exp((z - M(t)) / 10)
    assert "M{\\left(t \\right)}" in to_latex(expr)
