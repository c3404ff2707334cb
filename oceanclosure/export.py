"""Discovered library closures as LaTeX, sympy text, NumPy, C or Fortran source.

    ∂ₜv += Σ_k c_k T_k(u, u_x, u_xx, …, dx, p)        for each output v

A `LibraryClosure` (or the library members of a `ClosureSum`, whose
contributions to one output are summed) is turned into one sympy expression per
output, Σ c_k T_k with the zero (pruned) coefficients dropped; a constrained
output (``N = −(P + Z)``) gets the combination of the free outputs'
coefficients. Sympy's own printers then write it out:

* ``"latex"``: one ``\\partial_t v = …`` line per output (`sympy.latex`);
* ``"sympy"``: one ``v = <expression>`` line per output (`sympy.sstr`), readable
  back with ``sympy.sympify(rhs, locals={name: sympy.Symbol(name) …})``;
* ``"numpy"``: a Python module importing only numpy, with one function
  ``tendency_<v>(*, <features>)`` per output (`NumPyPrinter`) and ``FEATURES``;
* ``"c"``: C99 with one ``double tendency_<v>(const double …)`` per output,
  evaluated point by point, arguments in sorted feature-name order (`sympy.ccode`);
* ``"fortran"``: a free-form module with one elemental (pure when it takes no
  argument) ``real(8)`` function per output (`sympy.fcode`).

The features are the closure's inputs, named as in the library
(`oceanclosure.stencils`): the states (``u``, ``N``, …), their finite-difference
derivatives at the model grid (``u_x``, ``u_xx``, ``u_xy``, …), the cell widths
``dx``, ``dy`` and physical parameters (``nu``). The caller computes them the way
the closure was trained (same accuracy, same grid). Coefficients are printed as
``sympy.Float(c, digits)``; the default 17 digits reproduce each float64 exactly.

Closures other than libraries (networks, delay and transfer closures) are not an
expression of the instantaneous features and are not exported; a sum keeps
its library members and names the others in the header.
"""

from __future__ import annotations

import numbers
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import sympy
from sympy.printing.numpy import NumPyPrinter

from .closures.base import ClosureSum
from .closures.library import LibraryClosure
from .errors import InputError
from .expressions import to_sympy
from .stencils import LETTERS, parse_feature

__all__ = ["FORMATS", "export", "feature_arguments", "tendency_expressions"]

FORMATS = ("latex", "sympy", "numpy", "c", "fortran")
"""The export formats, in the order the docs list them."""

#: Names the generated NumPy module defines itself, which a feature may not take.
_NUMPY_RESERVED = ("numpy", "FEATURES", "_like", "others")
#: The result variable of each generated Fortran function.
_FORTRAN_RESULT = "tendency"


def export(closure, fmt: str, *, digits: int = 17) -> str:
    """The closure's tendencies as source text in format ``fmt`` (one of `FORMATS`).

    Args:
      closure: a `LibraryClosure`, or a `ClosureSum` with library members.
      fmt: ``"latex"``, ``"sympy"``, ``"numpy"``, ``"c"`` or ``"fortran"``.
      digits: significant digits of each coefficient (17 reproduces a float64).
    """
    if fmt not in _WRITERS:
        raise InputError(f"export: unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    parts, skipped = _library_parts(closure)
    tendencies = tendency_expressions(closure, digits=digits)
    header = _header(closure, fmt, parts, skipped, tendencies)
    return _WRITERS[fmt](tendencies, header)


def tendency_expressions(closure, *, digits: int = 17) -> dict[str, sympy.Expr]:
    """``{output: Σ c_k T_k}`` as sympy expressions, zero coefficients dropped, parts summed."""
    if isinstance(digits, bool) or not isinstance(digits, numbers.Integral) or digits < 1:
        raise InputError(f"export: digits must be an int >= 1, got {digits!r}")
    parts, _ = _library_parts(closure)
    if not parts:
        raise InputError(f"export: {closure.describe()} has no library part (LibraryClosure) to export; "
                         f"only library closures are expressions of the features")
    out: dict[str, sympy.Expr] = {}
    for part in parts:
        for output, expr in _part_tendencies(part, digits).items():
            out[output] = out.get(output, sympy.Integer(0)) + expr
    return out


def feature_arguments(closure) -> dict[str, tuple[str, ...]]:
    """``{output: features}``: the arguments of each exported function, sorted by name."""
    return {output: _arguments(expr) for output, expr in tendency_expressions(closure).items()}


# --- collecting the library -------------------------------------------------


def _library_parts(closure) -> tuple[list[LibraryClosure], list]:
    """(library members, other non-null members) of a closure or a nest of sums."""
    if isinstance(closure, LibraryClosure):
        return [closure], []
    if isinstance(closure, ClosureSum):
        parts, skipped = [], []
        for member in closure.closures:
            p, s = _library_parts(member)
            parts += p
            skipped += s
        return parts, skipped
    return [], ([] if closure.is_null else [closure])


def _coefficient_rows(part: LibraryClosure) -> dict[str, np.ndarray]:
    """One coefficient per term for each output; a constrained output gets the combination."""
    values = np.asarray(part.coefficients[...], dtype=float)
    rows = dict(zip(part.free_outputs, values))
    for name, combination in part.constraints.items():
        rows[name] = sum((w * rows[o] for o, w in combination.items()), np.zeros(len(part.terms)))
    for name, row in rows.items():
        bad = [t for t, c in zip(part.terms, row) if not np.isfinite(c)]
        if bad:
            raise InputError(f"export: output {name!r} has non-finite coefficients for terms {bad}")
    return rows


def _part_tendencies(part: LibraryClosure, digits: int) -> dict[str, sympy.Expr]:
    """Σ c_k T_k per output of one library, zero coefficients dropped."""
    symbolic = [to_sympy(e) for e in part._expressions]
    return {output: sympy.Add(*(sympy.Float(float(c), int(digits)) * t for c, t in zip(row, symbolic) if c != 0.0))
            for output, row in _coefficient_rows(part).items()}


def _arguments(expr: sympy.Expr) -> tuple[str, ...]:
    return tuple(sorted(str(s) for s in expr.free_symbols))


# --- the header (what the file is) --------------------------------------------


def _header(closure, fmt: str, parts, skipped, tendencies) -> list[str]:
    """Plain ASCII lines saying what the exported text is, its terms and its features."""
    accuracy = ", ".join(sorted({str(p.accuracy) for p in parts}))
    lines = [f"Library closure {closure.describe()} exported by oceanclosure.export ({fmt}).",
             "Each output v gets a closure tendency that the model adds: dv/dt += sum_k c_k T_k.",
             "Terms (coefficient * term), zero coefficients dropped:"]
    for part in parts:
        lines += _term_lines(part)
    names = sorted({n for expr in tendencies.values() for n in _arguments(expr)})
    lines.append(f"Features (derivatives: finite differences of accuracy {accuracy} on the model grid, "
                 "as in oceanclosure.stencils):")
    variables = {v for p in parts for v in p.variables}
    lines += [f"  {n}: {_describe_feature(n, variables)}" for n in names] or ["  (none)"]
    if skipped:
        lines.append("Not exported (not library closures): " + ", ".join(c.describe() for c in skipped))
    return lines


def _term_lines(part: LibraryClosure) -> list[str]:
    lines = []
    for output, row in _coefficient_rows(part).items():
        if output in part.constraints:
            combination = " + ".join(f"{w!r}*d{o}/dt" for o, w in part.constraints[output].items())
            lines.append(f"  {output}: constrained, d{output}/dt = {combination or '0'}")
        terms = [f"  {output}: {float(c)!r} * {t}" for c, t in zip(row, part.terms) if c != 0.0]
        lines += terms or [f"  {output}: no terms (all pruned)"]
    return lines


def _describe_feature(name: str, variables) -> str:
    if name in variables:
        return "state variable"
    parsed = parse_feature(name)
    if parsed is not None and parsed[0] in variables:
        var, orders = parsed
        total = sum(orders)
        wrt = "".join(f"d{letter}" + (str(o) if o > 1 else "") for letter, o in zip(LETTERS, orders) if o)
        return f"d{total if total > 1 else ''}{var}/{wrt}"
    if len(name) == 2 and name[0] == "d" and name[1] in LETTERS:
        return f"cell width along {name[1]}"
    return "physical parameter"


def _comment(lines: Sequence[str], prefix: str) -> list[str]:
    return [f"{prefix} {line}".rstrip() for line in lines]


# --- names ------------------------------------------------------------------


def _function_names(outputs: Sequence[str], *, fold_case: bool = False) -> dict[str, str]:
    """``{output: tendency_<output>}`` with non-identifier characters replaced by ``_``."""
    names = {o: "tendency_" + re.sub(r"[^0-9A-Za-z_]", "_", o) for o in outputs}
    keys = [n.lower() if fold_case else n for n in names.values()]
    if len(set(keys)) != len(keys):
        raise InputError(f"export: outputs {list(outputs)} give clashing function names {list(names.values())}")
    return names


def _check_names(names: Sequence[str], reserved: Sequence[str], fmt: str, *, fold_case: bool = False):
    """Refuse feature names the target language cannot take (non-ASCII, reserved, case clashes)."""
    bad = [n for n in names if not n.isascii() or n in reserved]
    keys = [n.lower() if fold_case else n for n in names]
    if bad or len(set(keys)) != len(keys):
        raise InputError(f"export: feature names {bad or list(names)} cannot be {fmt} identifiers "
                         f"(ASCII, distinct{' ignoring case' if fold_case else ''}, not in {list(reserved)})")


def _numeric_constants(expr: sympy.Expr) -> sympy.Expr:
    """pi and E as floats: the C and Fortran printers would emit M_PI or a parameter line."""
    return expr.xreplace({s: sympy.Float(s.evalf(20), 20) for s in expr.atoms(sympy.NumberSymbol)})


# --- writers ----------------------------------------------------------------


def _latex(tendencies: Mapping[str, sympy.Expr], header) -> str:
    lines = _comment(header, "%")
    lines += [rf"\partial_t {sympy.latex(sympy.Symbol(o))} = {sympy.latex(e)}" for o, e in tendencies.items()]
    return "\n".join(lines) + "\n"


def _sympy_text(tendencies: Mapping[str, sympy.Expr], header) -> str:
    symbols = sorted({n for e in tendencies.values() for n in _arguments(e)})
    notes = ["Not a Python module: one line 'output = expression' per output (sympy.sstr).",
             f"Symbols: {', '.join(symbols) or '(none)'}. Read a right-hand side back with",
             "  sympy.sympify(rhs, locals={name: sympy.Symbol(name) for name in symbols})",
             "(the locals keep names such as N, E, S or I from meaning sympy's own objects)."]
    lines = _comment([*header, *notes], "#")
    lines += [f"{o} = {sympy.sstr(e)}" for o, e in tendencies.items()]
    return "\n".join(lines) + "\n"


_NUMPY_HELPER = '''
def _like(value, *inputs):
    """``value`` broadcast to the inputs' common shape (a new array), or a float if all are scalars."""
    shape = numpy.broadcast_shapes(numpy.shape(value), *(numpy.shape(a) for a in inputs))
    return numpy.array(numpy.broadcast_to(value, shape)) if shape else float(value)
'''


def _numpy_module(tendencies: Mapping[str, sympy.Expr], header) -> str:
    names = _function_names(list(tendencies))
    arguments = {o: _arguments(e) for o, e in tendencies.items()}
    _check_names(sorted({a for args in arguments.values() for a in args}), _NUMPY_RESERVED, "numpy")
    notes = ["Each tendency_<v> takes its features as keyword-only arrays (or floats), listed in",
             "FEATURES[v]; further keyword arrays are accepted and only shape the result, so",
             "tendency_v(**features) works. The result is broadcast to the inputs' shape."]
    doc = "\n".join([*header, "", *notes])
    features = "".join(f"    {o!r}: {args!r},\n" for o, args in arguments.items())
    top = f'"""{doc}\n"""\n\nimport numpy\n\nFEATURES = {{\n{features}}}'
    functions = [_numpy_function(names[o], o, e, arguments[o]) for o, e in tendencies.items()]
    return "\n\n\n".join([top, _NUMPY_HELPER.strip(), *functions]) + "\n"


def _numpy_function(name: str, output: str, expr: sympy.Expr, args: Sequence[str]) -> str:
    printer = NumPyPrinter()
    code = printer.doprint(expr)
    foreign = set(printer.module_imports) - {"numpy"}
    if foreign:
        raise InputError(f"export: output {output!r} needs modules {sorted(foreign)} besides numpy")
    signature = ", ".join(["*", *args, "**others"] if args else ["**others"])
    inputs = "".join(f"{a}, " for a in args)
    return (f"def {name}({signature}):\n"
            f'    """Closure tendency of {output}: d{output}/dt += {sympy.sstr(expr)}."""\n'
            f"    return _like({code}, {inputs}*others.values())")


def _c_source(tendencies: Mapping[str, sympy.Expr], header) -> str:
    names = _function_names(list(tendencies))
    notes = ["One function per output, evaluated at one point; arguments are the features in",
             "sorted name order. Compile with a C99 compiler and link with -lm."]
    lines = ["/*", *_comment([*header, "", *notes], " *"), " */", "", "#include <math.h>"]
    for output, expr in tendencies.items():
        lines += ["", _c_function(names[output], output, expr)]
    return "\n".join(lines) + "\n"


def _c_function(name: str, output: str, expr: sympy.Expr) -> str:
    args = _arguments(expr)
    _check_names(args, (), "C")
    params = ", ".join(f"const double {sympy.ccode(sympy.Symbol(a))}" for a in args) or "void"
    code = sympy.ccode(_numeric_constants(expr), standard="C99")
    code = code.replace("\n", "\n    ")
    return (f"/* Closure tendency of {output}; arguments: {', '.join(args) or 'none'}. */\n"
            f"double {name}({params})\n{{\n    return {code};\n}}")


def _fortran_source(tendencies: Mapping[str, sympy.Expr], header) -> str:
    names = _function_names(list(tendencies), fold_case=True)
    notes = ["One elemental function per output (pure when it takes no argument), real(8)",
             "arguments: the features in sorted name order."]
    lines = [*_comment([*header, "", *notes], "!"), "module oceanclosure_closure",
             "  implicit none", "  private", *(f"  public :: {n}" for n in names.values()), "contains"]
    for output, expr in tendencies.items():
        lines += ["", _fortran_function(names[output], output, expr)]
    return "\n".join([*lines, "", "end module oceanclosure_closure"]) + "\n"


def _fortran_function(name: str, output: str, expr: sympy.Expr) -> str:
    args = _arguments(expr)
    _check_names([*args, _FORTRAN_RESULT, name], (), "Fortran", fold_case=True)
    kind = "elemental" if args else "pure"
    arg_list = textwrap.wrap(", ".join(args), 80)
    signature = " &\n      ".join(arg_list) if arg_list else ""
    code = sympy.fcode(_numeric_constants(expr), assign_to=_FORTRAN_RESULT, source_format="free", standard=95)
    lines = [f"  ! Closure tendency of {output}; arguments: {', '.join(args) or 'none'}.",
             f"  {kind} function {name}({signature}) result({_FORTRAN_RESULT})",
             *(f"    real(8), intent(in) :: {a}" for a in args),
             f"    real(8) :: {_FORTRAN_RESULT}",
             *(f"    {line}" for line in code.splitlines()),
             f"  end function {name}"]
    return "\n".join(lines)


_WRITERS: dict[str, Callable[[Mapping[str, sympy.Expr], list[str]], str]] = {
    "latex": _latex, "sympy": _sympy_text, "numpy": _numpy_module, "c": _c_source, "fortran": _fortran_source,
}
