"""Safe parsing and evaluation of user math expressions.

Case files (TOML) carry small formulas as text, e.g. ``"sin(x) + 0.5"``,
``"exp(-(x-0.5)**2/0.01)"``, ``"where(x < 0.5, 1.0, 0.0)"`` or ``"u*u_xx"``.
This module turns such text into an :class:`Expression` that can be evaluated
with :mod:`numpy` or :mod:`jax.numpy` (inside ``jax.jit`` and under
``jax.grad``) and converted to :mod:`sympy` / LaTeX.

Safety rule
-----------
The text is parsed with ``ast.parse(text, mode="eval")`` and every node of the
tree is checked against the whitelist below; anything else raises
:class:`ExpressionError`.  Evaluation walks the validated tree with a small
recursive interpreter.  ``eval``/``exec``, ``sympy.sympify`` and
``sympy.parse_expr`` are never applied to the text (they can run code).

Grammar (whitelist)
-------------------
::

    expr    := number | name | "(" expr ")"
             | ("+" | "-") expr
             | expr ("+" | "-" | "*" | "/" | "**") expr
             | func "(" expr ("," expr)* ")"
             | "where" "(" compare "," expr "," expr ")"
    compare := expr ("<" | "<=" | ">" | ">=" | "==" | "!=") expr
    number  := int or float literal (no complex, bool, string or bytes)
    name    := one of the given variables, or the constants pi, e
    func    := sin cos tan arcsin arccos arctan arctan2 sinh cosh tanh exp log
               log10 sqrt abs sign floor ceil minimum maximum heaviside where
             | a user function given to parse_expression with its arity

Surrounding whitespace is stripped.  Variables shadow the constants ``pi``
and ``e``; a variable may not be named
like a function.  Comparisons are allowed only as the condition (first
argument) of ``where`` and cannot be chained.  Calls take positional arguments
only, to plain function names.

User functions
--------------
``parse_expression(text, names, functions={"M": 1})`` also accepts calls of
``M`` with one argument, e.g. ``"0.1 + 8*exp((z - M(t))/10)"`` where ``M`` is
a named time table.  A user function name must differ from the variables, the
constants and the builtin functions.  :meth:`Expression.evaluate` then needs
``functions={"M": callable}``; the callable receives the evaluated arguments
(``xp`` arrays or Python floats) and must return an ``xp``-compatible value.
The name ``functions`` is reserved and cannot be a variable.

Limits
------
Texts longer than :data:`MAX_LENGTH`
characters, nesting deeper than :data:`MAX_DEPTH`, and constant exponents
larger than :data:`MAX_EXPONENT` in magnitude (e.g. ``9**9**9``) are refused.

Broadcasting
------------
:meth:`Expression.evaluate` broadcasts its result to the common shape of the
result and *all* values passed in (used or not), and casts it to their common
result type, so ``"1.0"`` or ``"1.0 + 0*x"`` evaluated with an array ``x``
give an array shaped like ``x``.
"""

from __future__ import annotations

import ast
import keyword
import math
import operator
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from .errors import InputError, InputTypeError

__all__ = [
    "ExpressionError",
    "Expression",
    "parse_expression",
    "to_sympy",
    "to_latex",
    "FUNCTIONS",
    "CONSTANTS",
    "MAX_LENGTH",
    "MAX_DEPTH",
    "MAX_EXPONENT",
]

MAX_LENGTH = 2000
"""Longest accepted expression text, in characters."""

MAX_DEPTH = 200
"""Deepest accepted nesting of the syntax tree."""

MAX_EXPONENT = 1000
"""Largest accepted magnitude of a constant exponent."""

FUNCTIONS: Mapping[str, int] = {
    # name -> number of positional arguments
    "sin": 1, "cos": 1, "tan": 1,
    "arcsin": 1, "arccos": 1, "arctan": 1, "arctan2": 2,
    "sinh": 1, "cosh": 1, "tanh": 1,
    "exp": 1, "log": 1, "log10": 1, "sqrt": 1,
    "abs": 1, "sign": 1, "floor": 1, "ceil": 1,
    "minimum": 2, "maximum": 2, "heaviside": 2, "where": 3,
}
"""Whitelisted functions and their arity; each is looked up by name on the
array namespace (``numpy`` or ``jax.numpy``) at evaluation time."""

CONSTANTS: Mapping[str, float] = {"pi": math.pi, "e": math.e}
"""Whitelisted named constants (shadowed by variables of the same name)."""

_BINOPS: Mapping[type, tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv),
    ast.Pow: ("**", operator.pow),
}

_UNARYOPS: Mapping[type, Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}

_COMPARISONS: Mapping[type, Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}

_NODE_NAMES: Mapping[type, str] = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscript",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehension",
    ast.SetComp: "comprehension",
    ast.DictComp: "comprehension",
    ast.GeneratorExp: "generator expression",
    ast.JoinedStr: "f-string",
    ast.FormattedValue: "f-string",
    ast.NamedExpr: "assignment expression (:=)",
    ast.BoolOp: "boolean operator (and/or)",
    ast.IfExp: "conditional expression (use where(cond, a, b))",
    ast.List: "list",
    ast.Tuple: "tuple",
    ast.Set: "set",
    ast.Dict: "dict",
    ast.Starred: "starred argument",
    ast.Slice: "slice",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}


class ExpressionError(InputError):
    """An expression text is invalid, unsafe, or cannot be evaluated."""


@dataclass(frozen=True)
class Expression:
    """A validated expression.

    Attributes:
        text: the source text.
        variables: the variable names the expression actually uses, in the
            order they were allowed in :func:`parse_expression`.
        tree: the validated ``ast.Expression`` (excluded from ``==``/hash).
        functions: the user function names the expression actually calls, in
            the order they were given to :func:`parse_expression`.
        what: where the text came from (``parse_expression``'s ``what``), for
            error messages.

    Build instances with :func:`parse_expression` only.
    """

    text: str
    variables: tuple[str, ...]
    tree: ast.Expression = field(compare=False, repr=False)
    functions: tuple[str, ...] = ()
    what: str = field(default="expression", compare=False, repr=False)

    def __str__(self) -> str:
        return self.text

    @property
    def is_constant(self) -> bool:
        """True when the expression uses neither variables nor user functions."""
        return not self.variables and not self.functions

    def evaluate(
        self,
        xp: Any,
        /,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        **values: Any,
    ) -> Any:
        """Evaluate with array namespace ``xp`` (``numpy`` or ``jax.numpy``).

        ``values`` maps variable names to scalars or arrays; extra names are
        ignored, missing ones raise :class:`ExpressionError`.  ``functions``
        maps user function names to callables; extra ones are ignored, a
        missing or non-callable one raises :class:`ExpressionError`.  The
        result is an ``xp`` array broadcast to the common shape of the result
        and all ``values`` and cast to their common result type (see module
        doc).  Works inside ``jax.jit`` and under ``jax.grad`` with
        ``jax.numpy`` (when the user callables do).

        With :mod:`numpy`, floating-point errors never warn; a result that a
        division by zero (``a/0``, ``0**-1``) makes infinite or NaN somewhere
        raises :class:`ExpressionError` naming the division and the point.
        Other non-finite results (``log(0)``) are returned for the caller to
        judge, and a division by zero that ``where`` discards is harmless.
        """
        missing = [name for name in self.variables if name not in values]
        if missing:
            raise ExpressionError(
                f"expression {_short(self.text)}: missing values for "
                f"{', '.join(missing)} (needs {', '.join(self.variables)})"
            )
        used = {name: values[name] for name in self.variables}
        calls = self._callables(functions)
        if xp is not np:
            return _broadcast_like(xp, _evaluate(self.tree.body, xp, used, calls), list(values.values()))
        with np.errstate(all="ignore"):
            result = _broadcast_like(np, _evaluate(self.tree.body, np, used, calls), list(values.values()))
            _check_divisions(self, result, used, calls)
        return result

    def __call__(
        self, /, functions: Mapping[str, Callable[..., Any]] | None = None, **values: Any
    ) -> np.ndarray:
        """Evaluate with :mod:`numpy`; see :meth:`evaluate`."""
        return self.evaluate(np, functions, **values)

    def _callables(
        self, functions: Mapping[str, Callable[..., Any]] | None
    ) -> dict[str, Callable[..., Any]]:
        """The callables of the user functions this expression calls."""
        functions = {} if functions is None else functions
        if not isinstance(functions, Mapping):
            raise ExpressionError(
                f"expression {_short(self.text)}: functions must map names to "
                f"callables, got {type(functions).__name__}"
            )
        missing = [name for name in self.functions if name not in functions]
        if missing:
            raise ExpressionError(
                f"expression {_short(self.text)}: missing callables for user "
                f"function(s) {', '.join(missing)} (needs {', '.join(self.functions)})"
            )
        for name in self.functions:
            if not callable(functions[name]):
                raise ExpressionError(
                    f"expression {_short(self.text)}: user function {name!r} must "
                    f"be callable, got {type(functions[name]).__name__}"
                )
        return {name: functions[name] for name in self.functions}


# --------------------------------------------------------------------------
# parsing and validation


def parse_expression(
    text: str,
    variables: Iterable[str],
    *,
    what: str = "expression",
    functions: Mapping[str, int] | None = None,
) -> Expression:
    """Parse and validate ``text`` against the whitelist (see module doc).

    Args:
        text: the expression text; an int or float is accepted as a constant.
        variables: names the expression may use (must not be a plain str).
        what: where the text came from, e.g. ``"initial_condition.expression"``,
            used in error messages.
        functions: user function names and their number of positional
            arguments, e.g. ``{"M": 1}``; each name must differ from the
            variables, the constants and the builtin functions.

    Raises:
        ExpressionError: on a syntax error, a colliding user function name or
            any construct outside the whitelist, with one message naming the
            offending piece.
    """
    allowed = _check_variables(variables, what)
    user = _check_functions(functions, allowed, what)
    text = _check_text(text, what)
    context = _Context(text, what, allowed, user)
    tree = _parse(context)
    used: set[str] = set()
    _validate(tree.body, context, used, depth=0)
    return Expression(
        text,
        tuple(n for n in allowed if n in used),
        tree,
        tuple(n for n in user if n in used),
        what,
    )


@dataclass(frozen=True)
class _Context:
    text: str
    what: str
    variables: tuple[str, ...]
    functions: Mapping[str, int] = field(default_factory=dict)

    def arity(self, name: str) -> int | None:
        """Number of arguments of a builtin or user function; None if unknown."""
        return FUNCTIONS.get(name, self.functions.get(name))

    def fail(self, problem: str, node: ast.AST | None = None) -> ExpressionError:
        """Build the single error message for a problem (optionally at node)."""
        where = "" if self.what == "expression" else f" for {self.what}"
        if node is not None:
            problem = problem.format(piece=_short(self.segment(node)))
        return ExpressionError(
            f"expression {_short(self.text)}{where}: {problem}; "
            f"{_allowed_names(self.variables, self.functions)}"
        )

    def segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or ast.unparse(node)


def _short(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _allowed_names(
    variables: tuple[str, ...], functions: Mapping[str, int] | None = None
) -> str:
    consts = [c for c in CONSTANTS if c not in variables]
    user = [f"{name}/{arity}" for name, arity in (functions or {}).items()]
    return (
        f"allowed variables: {', '.join(variables) or '(none)'}; "
        f"constants: {', '.join(consts)}; functions: {', '.join(FUNCTIONS)}"
        + (f"; user functions (name/arity): {', '.join(user)}" if user else "")
    )


def _check_variables(variables: Iterable[str], what: str) -> tuple[str, ...]:
    if isinstance(variables, str):
        raise InputTypeError("variables must be an iterable of names, not a str")
    names = tuple(dict.fromkeys(variables))
    for name in names:
        bad = not isinstance(name, str) or not name.isidentifier()
        if bad or keyword.iskeyword(name) or name in FUNCTIONS:
            raise ExpressionError(
                f"invalid variable name {name!r} for {what}: names must be "
                f"identifiers other than keywords and function names"
            )
        if name == "functions":
            raise ExpressionError(
                f"invalid variable name 'functions' for {what}: it is reserved "
                f"for the user functions passed to Expression.evaluate"
            )
    return names


def _check_functions(
    functions: Mapping[str, int] | None, variables: tuple[str, ...], what: str
) -> dict[str, int]:
    """Validate user function names and arities; return them as a dict."""
    if functions is None:
        return {}
    if not isinstance(functions, Mapping):
        raise InputTypeError(
            f"functions for {what} must map names to arities, "
            f"got {type(functions).__name__}"
        )
    for name, arity in functions.items():
        _check_function_name(name, variables, what)
        if isinstance(arity, bool) or not isinstance(arity, int) or arity < 0:
            raise ExpressionError(
                f"invalid arity for user function {name!r} for {what}: "
                f"expected an int >= 0, got {arity!r}"
            )
    return dict(functions)


def _check_function_name(name: Any, variables: tuple[str, ...], what: str) -> None:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        problem = "names must be identifiers other than keywords"
    elif name in FUNCTIONS:
        problem = "it collides with the builtin function of that name"
    elif name in variables:
        problem = "it collides with the variable of that name"
    elif name in CONSTANTS:
        problem = "it collides with the constant of that name"
    else:
        return
    raise ExpressionError(
        f"invalid user function name {name!r} for {what}: {problem} "
        f"(variables: {', '.join(variables) or '(none)'}; constants: "
        f"{', '.join(CONSTANTS)}; builtin functions: {', '.join(FUNCTIONS)})"
    )


def _check_text(text: Any, what: str) -> str:
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        text = repr(text)
    if not isinstance(text, str):
        raise ExpressionError(
            f"{what} must be a string expression, got {type(text).__name__}"
        )
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"expression {_short(text)} for {what} is too long "
            f"({len(text)} characters, limit {MAX_LENGTH})"
        )
    if not text.strip():
        raise ExpressionError(f"expression for {what} is empty")
    return text.strip()


def _parse(context: _Context) -> ast.Expression:
    try:
        return ast.parse(context.text, mode="eval")
    except SyntaxError as exc:
        column = f" at column {exc.offset}" if exc.offset else ""
        raise context.fail(f"syntax error: {exc.msg}{column}") from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise context.fail(f"cannot parse: {exc}") from None


def _validate(node: ast.AST, ctx: _Context, used: set[str], depth: int) -> None:
    """Check ``node`` recursively against the whitelist; collect used names."""
    if depth > MAX_DEPTH:
        raise ctx.fail(f"nested deeper than {MAX_DEPTH} levels")
    depth += 1
    if isinstance(node, ast.Constant):
        _validate_constant(node, ctx)
    elif isinstance(node, ast.Name):
        _validate_name(node, ctx, used)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARYOPS:
            raise ctx.fail("unary operator in {piece} is not allowed", node)
        _validate(node.operand, ctx, used, depth)
    elif isinstance(node, ast.BinOp):
        _validate_binop(node, ctx, used, depth)
    elif isinstance(node, ast.Call):
        _validate_call(node, ctx, used, depth)
    elif isinstance(node, ast.Compare):
        raise ctx.fail(
            "comparison {piece} is only allowed as the first argument of where",
            node,
        )
    else:
        kind = _NODE_NAMES.get(type(node), f"construct {type(node).__name__}")
        raise ctx.fail(f"{kind} {{piece}} is not allowed", node)


def _validate_constant(node: ast.Constant, ctx: _Context) -> None:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = type(value).__name__
        raise ctx.fail(f"{kind} constant {{piece}} is not allowed", node)
    try:
        finite = math.isfinite(float(value))
    except OverflowError:
        finite = False
    if not finite:
        raise ctx.fail("number {piece} is not finite", node)


def _validate_name(node: ast.Name, ctx: _Context, used: set[str]) -> None:
    name = node.id
    if name in ctx.variables:
        used.add(name)
    elif ctx.arity(name) is not None:
        raise ctx.fail(f"function {name!r} must be called, e.g. {name}(x)")
    elif name not in CONSTANTS:
        raise ctx.fail(f"unknown name {name!r}")


def _validate_binop(node: ast.BinOp, ctx: _Context, used: set[str], depth: int):
    if type(node.op) not in _BINOPS:
        raise ctx.fail("operator in {piece} is not allowed (use + - * / **)", node)
    _validate(node.left, ctx, used, depth)
    _validate(node.right, ctx, used, depth)
    if isinstance(node.op, ast.Pow):
        _check_exponent(node, ctx)


def _check_exponent(node: ast.BinOp, ctx: _Context) -> None:
    """Refuse constant exponents larger than MAX_EXPONENT in magnitude."""
    names = {n.id for n in ast.walk(node.right) if isinstance(n, ast.Name)}
    if names & (set(ctx.variables) | set(ctx.functions)):
        return  # not a constant exponent
    with np.errstate(all="ignore"):
        exponent = float(_evaluate(node.right, np, {}))
    if not abs(exponent) <= MAX_EXPONENT and not math.isnan(exponent):
        raise ctx.fail(
            f"exponent {exponent:g} in {{piece}} is too large "
            f"(limit {MAX_EXPONENT})",
            node,
        )


def _validate_call(node: ast.Call, ctx: _Context, used: set[str], depth: int):
    if not isinstance(node.func, ast.Name):
        _validate(node.func, ctx, used, depth)  # reports attributes etc.
        raise ctx.fail("only named functions may be called, not {piece}", node)
    name = node.func.id
    if name in ctx.variables:
        raise ctx.fail(f"{name!r} in {{piece}} is a variable, not a function", node)
    arity = ctx.arity(name)
    if arity is None:
        raise ctx.fail(f"function {name!r} in {{piece}} is not allowed", node)
    if name in ctx.functions:
        used.add(name)
    if node.keywords:
        raise ctx.fail("keyword arguments in {piece} are not allowed", node)
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise ctx.fail("starred argument in {piece} is not allowed", node)
    if len(node.args) != arity:
        raise ctx.fail(
            f"{name} takes {arity} argument(s), got "
            f"{len(node.args)} in {{piece}}",
            node,
        )
    args = node.args
    if name == "where" and isinstance(args[0], ast.Compare):
        _validate_compare(args[0], ctx, used, depth)
        args = args[1:]
    for arg in args:
        _validate(arg, ctx, used, depth)


def _validate_compare(node: ast.Compare, ctx: _Context, used: set[str], depth):
    if len(node.ops) != 1:
        raise ctx.fail("chained comparison {piece} is not allowed", node)
    if type(node.ops[0]) not in _COMPARISONS:
        raise ctx.fail("comparison operator in {piece} is not allowed", node)
    _validate(node.left, ctx, used, depth)
    _validate(node.comparators[0], ctx, used, depth)


# --------------------------------------------------------------------------
# evaluation (only ever applied to validated trees)


def _evaluate(
    node: ast.AST,
    xp: Any,
    values: Mapping[str, Any],
    functions: Mapping[str, Callable[..., Any]] = MappingProxyType({}),
) -> Any:
    """Recursive interpreter for validated trees; ``functions`` holds the
    callables of the user functions (builtins are looked up on ``xp``)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return values[node.id] if node.id in values else CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp):
        return _UNARYOPS[type(node.op)](_evaluate(node.operand, xp, values, functions))
    if isinstance(node, ast.BinOp):
        left = _evaluate(node.left, xp, values, functions)
        right = _evaluate(node.right, xp, values, functions)
        return _binop(_BINOPS[type(node.op)][1], left, right)
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, xp, values, functions)
        right = _evaluate(node.comparators[0], xp, values, functions)
        return _COMPARISONS[type(node.ops[0])](left, right)
    if isinstance(node, ast.Call):
        args = [_evaluate(arg, xp, values, functions) for arg in node.args]
        name = node.func.id
        return functions[name](*args) if name in functions else getattr(xp, name)(*args)
    raise ExpressionError(f"cannot evaluate {ast.unparse(node)!r}")  # unreachable


def _binop(op: Callable[[Any, Any], Any], left: Any, right: Any) -> Any:
    """Apply op; two Python numbers are combined in float64 IEEE arithmetic
    (so ``1/0`` gives inf and ``(-1)**0.5`` nan instead of raising or
    producing a complex number) and returned as a Python float."""
    scalars = (int, float)
    if isinstance(left, scalars) and isinstance(right, scalars):
        with np.errstate(all="ignore"):
            return float(op(np.float64(left), np.float64(right)))
    return op(left, right)


def _check_divisions(expr: Expression, result: np.ndarray, values, functions) -> None:
    """Raise if a division by zero makes ``result`` non-finite at some point (call under errstate)."""
    if not np.issubdtype(result.dtype, np.inexact) or np.all(np.isfinite(result)):
        return
    bad = ~np.isfinite(result)
    for node in ast.walk(expr.tree.body):
        zero = _zero_denominator(node, values, functions)
        if zero is None:
            continue
        try:
            hit = bad & np.broadcast_to(zero, bad.shape)
        except ValueError:  # a user function changed the shape: cannot tell where
            continue
        if hit.any():
            at = np.unravel_index(int(np.argmax(hit)), hit.shape)
            point = ", ".join(f"{k} = {float(np.broadcast_to(v, bad.shape)[at]):g}" for k, v in values.items())
            where = "" if expr.what == "expression" else f" for {expr.what}"
            piece = ast.get_source_segment(expr.text, node) or ast.unparse(node)
            raise ExpressionError(
                f"expression {_short(expr.text)}{where} divides by zero in {_short(piece)}"
                + (f" at {point}" if point else "") + f", giving {result[at]}: change the expression so that "
                "the denominator is not zero where it is evaluated (or select the safe value with where(...))"
            )


def _zero_denominator(node: ast.AST, values, functions):
    """Where a division node divides by zero (a / 0, or 0 ** negative); None for other nodes."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return np.asarray(_evaluate(node.right, np, values, functions)) == 0
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        base = np.asarray(_evaluate(node.left, np, values, functions))
        return (base == 0) & (np.asarray(_evaluate(node.right, np, values, functions)) < 0)
    return None


def _broadcast_like(xp: Any, result: Any, inputs: list[Any]) -> Any:
    """Cast result to the inputs' result type and broadcast to their shape."""
    dtype = xp.result_type(result, *inputs)
    result = xp.asarray(result, dtype=dtype)
    shape = np.broadcast_shapes(np.shape(result), *(np.shape(v) for v in inputs))
    if tuple(np.shape(result)) == tuple(shape):
        return result
    out = xp.broadcast_to(result, shape)
    return out.copy() if isinstance(out, np.ndarray) else out  # writable


# --------------------------------------------------------------------------
# sympy / LaTeX


def to_sympy(expr: Expression):
    """Build the equivalent ``sympy`` expression by walking the validated tree.

    Variables become ``sympy.Symbol``; ``pi``/``e`` become ``sympy.pi`` /
    ``sympy.E`` (unless shadowed by a variable); ``where`` becomes
    ``Piecewise``, ``heaviside`` ``Heaviside``, ``minimum``/``maximum``
    ``Min``/``Max``; a user function call ``M(t)`` becomes
    ``sympy.Function("M")(t)``.  No text is ever sympified.
    """
    return _to_sympy(expr.tree.body, frozenset(expr.variables))


def to_latex(expr: Expression) -> str:
    """LaTeX for an expression, via ``sympy.latex(to_sympy(expr))``."""
    import sympy

    return sympy.latex(to_sympy(expr))


def _sympy_functions() -> dict[str, Callable[..., Any]]:
    import sympy

    return {
        "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan,
        "arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan,
        "arctan2": sympy.atan2,
        "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh,
        "exp": sympy.exp, "log": sympy.log,
        "log10": lambda a: sympy.log(a, 10), "sqrt": sympy.sqrt,
        "abs": sympy.Abs, "sign": sympy.sign,
        "floor": sympy.floor, "ceil": sympy.ceiling,
        "minimum": sympy.Min, "maximum": sympy.Max,
        "heaviside": sympy.Heaviside,
        "where": lambda c, a, b: sympy.Piecewise((a, c), (b, True)),
    }


def _to_sympy(node: ast.AST, variables: frozenset[str]):
    import sympy

    if isinstance(node, ast.Constant):
        value = node.value
        return sympy.Integer(value) if isinstance(value, int) else sympy.Float(value)
    if isinstance(node, ast.Name):
        if node.id in variables:
            return sympy.Symbol(node.id)
        return {"pi": sympy.pi, "e": sympy.E}[node.id]
    if isinstance(node, ast.UnaryOp):
        return _UNARYOPS[type(node.op)](_to_sympy(node.operand, variables))
    if isinstance(node, ast.BinOp):
        left = _to_sympy(node.left, variables)
        right = _to_sympy(node.right, variables)
        return _BINOPS[type(node.op)][1](left, right)
    if isinstance(node, ast.Compare):
        left = _to_sympy(node.left, variables)
        right = _to_sympy(node.comparators[0], variables)
        relations = {
            ast.Lt: sympy.Lt, ast.LtE: sympy.Le, ast.Gt: sympy.Gt,
            ast.GtE: sympy.Ge, ast.Eq: sympy.Eq, ast.NotEq: sympy.Ne,
        }
        return relations[type(node.ops[0])](left, right)
    if isinstance(node, ast.Call):
        args = [_to_sympy(arg, variables) for arg in node.args]
        builtins = _sympy_functions()
        if node.func.id in builtins:
            return builtins[node.func.id](*args)
        return sympy.Function(node.func.id)(*args)  # a user function
    raise ExpressionError(f"cannot convert {ast.unparse(node)!r}")  # unreachable
