"""Interpretable Markovian closures: a linear combination of named candidate terms.

    ∂u/∂t += Σ_k c_k T_k(u, u_x, u_xx, …, p, dx)

Each term T_k is an expression over stencil features (`oceanclosure.stencils`),
e.g. ``"dx*u_x**2"``, ``"u*u_xx"``, ``"u_xxx"``, ``"Z**2/(1+Z)"``. Terms are parsed
safely (`oceanclosure.expressions`: the syntax tree is checked against a whitelist
before anything is evaluated, and sympy objects are built from the checked tree,
never from text), so `equations` can print the learned closure as readable text,
sympy and LaTeX.

There is one coefficient per term per output variable. Linear constraints tie
outputs together: ``constraints = {"N": {"P": -1, "Z": -1, "D": -1}}`` makes the
N tendency equal −(P + Z + D) tendencies (mass conservation); a constrained output
has no coefficients of its own. Coefficients are `nnx.Param` when trainable and
plain `nnx.Variable` otherwise.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import jax.numpy as jnp
import numpy as np
import sympy
from flax import nnx

from ..errors import InputError
from ..expressions import Expression, parse_expression, to_sympy
from ..stencils import (
    LETTERS,
    feature_half_width,
    feature_names,
    features,
    parse_feature,
    stencil_radius,
)
from .base import Closure, as_fields, like_state

#: Highest derivative order a term may use.
MAX_DERIVATIVE = 4


class LibraryClosure(Closure):
    """Σ_k c_k T_k for each output variable.

    Args:
      terms: candidate term expressions over features.
      coefficients: ``(n_terms,)`` for one output, or ``(n_free_outputs, n_terms)``;
        zeros if omitted.
      variables: state variable names (a single array state is ``variables[0]``).
      outputs: the variables that receive a tendency (default: all ``variables``).
      parameters: physical parameter names the terms may use (``nu``, …).
      constraints: ``{output: {other_output: weight}}`` (module docstring).
      trainable: coefficients are trainable `nnx.Param` (else fixed).
      accuracy: finite-difference accuracy of the derivative features.
    """

    def __init__(self, terms: Sequence[str], coefficients=None, *, variables: Sequence[str] = ("u",),
                 outputs: Sequence[str] | None = None, parameters: Sequence[str] = (),
                 constraints: Mapping[str, Mapping[str, float]] | None = None, trainable: bool = True,
                 accuracy: int = 2):
        if not terms:
            raise InputError("LibraryClosure: give at least one term")
        self.variables = tuple(variables)
        self.outputs = tuple(outputs) if outputs is not None else self.variables
        self.parameters = tuple(parameters)
        self.constraints = _check_constraints(constraints or {}, self.outputs)
        self.free_outputs = tuple(o for o in self.outputs if o not in self.constraints)
        vocabulary = feature_names(self.variables, LETTERS, MAX_DERIVATIVE, self.parameters)
        self.terms = tuple(str(t) for t in terms)
        self._expressions = tuple(parse_expression(t, vocabulary, what=f"closure term '{t}'") for t in self.terms)
        self.feature_names = tuple(sorted({v for e in self._expressions for v in e.variables}))
        self.accuracy = accuracy
        self.stencil_width = max((feature_half_width(n, accuracy) for n in self.feature_names), default=0)
        values = _coefficients(coefficients, len(self.free_outputs), len(self.terms))
        self.coefficients = nnx.Param(values) if trainable else nnx.Variable(values)

    # --- evaluation ---------------------------------------------------------

    def term_values(self, fields: Mapping, grid, physics) -> list:
        """Each term evaluated on the grid, in order."""
        feats = features(fields, grid, self.feature_names, physics, self.accuracy)
        return [e.evaluate(jnp, **{k: feats[k] for k in e.variables}) if e.variables
                else jnp.full_like(next(iter(fields.values())), float(e())) for e in self._expressions]

    def tendencies(self, fields: Mapping, grid, physics) -> dict:
        """Tendency per output variable."""
        terms = self.term_values(fields, grid, physics)
        coefficients = self.coefficients[...]
        out = {}
        for row, name in enumerate(self.free_outputs):
            out[name] = sum(coefficients[row, k] * term for k, term in enumerate(terms))
        for name, combination in self.constraints.items():
            out[name] = sum(weight * out[other] for other, weight in combination.items())
        return out

    def __call__(self, u, state, grid, t, physics):
        fields = as_fields(u, self.variables)
        tendencies = self.tendencies(fields, grid, physics)
        return like_state(u, tendencies, self.variables), state

    def contributions(self, u, state, grid, t, physics) -> dict:
        """Each term's part c_k T_k of the tendency (constrained outputs included), by term."""
        terms = self.term_values(as_fields(u, self.variables), grid, physics)
        coefficients = self.coefficients[...]
        parts = {}
        for k, term in enumerate(self.terms):
            out = {name: coefficients[row, k] * terms[k] for row, name in enumerate(self.free_outputs)}
            out.update({name: sum(w * out[o] for o, w in combination.items())
                        for name, combination in self.constraints.items()})
            parts[f"the term '{term}'"] = like_state(u, out, self.variables)
        return parts

    @property
    def conserves(self) -> dict[str, float] | None:
        """One constraint S_n = Σ c_k S_k gives S_n − Σ c_k S_k = 0: ``{n: 1, k: −c_k}``."""
        if len(self.constraints) != 1:
            return None
        (name, combination), = self.constraints.items()
        return {name: 1.0, **{k: -w for k, w in combination.items()}}

    # --- reading it back ----------------------------------------------------

    def coefficient_table(self) -> dict[str, dict[str, float]]:
        """``{output: {term: coefficient}}``, pruned terms included as 0.0."""
        values = np.asarray(self.coefficients[...], dtype=float)
        table = {o: {t: float(values[r, k]) for k, t in enumerate(self.terms)} for r, o in enumerate(self.free_outputs)}
        for name, combination in self.constraints.items():
            table[name] = {t: float(sum(w * table[o][t] for o, w in combination.items())) for t in self.terms}
        return table

    def equations(self, digits: int = 6) -> dict[str, list[dict[str, object]]]:
        """The closure per output as text, sympy and LaTeX, zero terms dropped (a list of one, as the contract)."""
        out = {}
        for name, row in self.coefficient_table().items():
            expr = sympy.Integer(0)
            for term, expression in zip(self.terms, self._expressions):
                c = row[term]
                if c != 0.0:
                    expr = expr + sympy.Float(c, digits) * to_sympy(expression)
            out[name] = [{"text": f"d{name}/dt += {sympy.sstr(expr)}", "sympy": expr,
                          "latex": rf"\partial_t {name} \mathrel{{+}}= {sympy.latex(expr)}"}]
        return out

    # --- stability ----------------------------------------------------------

    def rates(self, grid, physics, fields=None) -> dict[str, float]:
        """Rates of the terms that are a constant times one state or pure derivative.

        ``c u`` adds a real eigenvalue |c| (a reactive rate |c|). A derivative of order m
        adds |c| ρ_m/dx^m, ρ_m = `stencils.stencil_radius` (m, accuracy) the spectral
        radius of its stencil: ``c u_x`` as an advective rate (ρ_1 = 1 at accuracy 2,
        1.372 at 4), ``c u_xxx`` as a dispersive one (3√3/2, 4.609), and ``c u_xx``,
        ``c u_xxxx`` as diffusive rates ρ_m/2 (the diffusive rate is half the spectral
        radius: 2|c|/dx² and 8|c|/dx⁴ at accuracy 2). The factor may contain ``dx``,
        ``dy`` and physical parameters. State-dependent factors (``u*u_xx``) are not
        estimated: fix dt for those.
        """
        rates = {"advective": 0.0, "diffusive": 0.0, "dispersive": 0.0, "reactive": 0.0}
        values = np.asarray(self.coefficients[...], dtype=float)
        known = {f"d{d}": h for d, h in zip(grid.dims, grid.step)}
        known.update({k: float(v) for k, v in (physics or {}).items() if v is not None and np.ndim(v) == 0})
        for k, expression in enumerate(self._expressions):
            found = _linear_term(expression, known, self.variables)
            if found is None or not values.size:
                continue
            factor, letter, order = found
            if order and LETTERS[letter] not in grid.dims:
                continue  # a derivative along a dimension this grid lacks: features() refuses it
            dim = grid.dims.index(LETTERS[letter]) if order else 0
            c = float(np.max(np.abs(values[:, k]))) * abs(factor)
            rates[_RATE_KEYS[order]] += c * derivative_rate(order, self.accuracy, grid.step[dim])
        return rates


#: The stability rate each derivative order adds to (`LibraryClosure.rates`).
_RATE_KEYS = {0: "reactive", 1: "advective", 2: "diffusive", 3: "dispersive", 4: "diffusive"}


def derivative_rate(order: int, accuracy: int, h: float) -> float:
    """The rate of a unit-coefficient derivative term: ρ/h^order, halved for even orders (diffusive)."""
    radius = stencil_radius(order, accuracy) / h**order
    return radius / 2 if order and order % 2 == 0 else radius


def _linear_term(expression: Expression, known: Mapping[str, float], variables: Sequence[str]):
    """(factor, dim, order) if the term is factor × one state or pure derivative, else None."""
    unknown = [v for v in expression.variables if v not in known]
    if len(unknown) != 1:
        return None
    name = unknown[0]
    parsed = parse_feature(name)
    if name in variables:
        dim, order = 0, 0
    elif parsed is not None and sum(1 for o in parsed[1] if o) == 1:
        dim = next(d for d, o in enumerate(parsed[1]) if o)
        order = parsed[1][dim]
    else:
        return None
    symbol = sympy.Symbol(name)
    expr = to_sympy(expression)
    if sympy.diff(expr, symbol, 2) != 0 or order > 4:
        return None
    factor = sympy.diff(expr, symbol).subs({sympy.Symbol(k): v for k, v in known.items()})
    return float(factor), dim, order



def _coefficients(values, n_outputs: int, n_terms: int):
    if values is None:
        return jnp.zeros((n_outputs, n_terms))
    array = jnp.asarray(values, dtype=float)
    if array.ndim == 1:
        array = array[None, :]
    if array.shape != (n_outputs, n_terms):
        raise InputError(
            f"LibraryClosure: coefficients must have shape ({n_outputs}, {n_terms}) "
            f"(free outputs × terms) or ({n_terms},) for one output, got {tuple(array.shape)}"
        )
    return array


def _check_constraints(constraints, outputs) -> dict:
    checked = {}
    for name, combination in constraints.items():
        if name not in outputs:
            raise InputError(f"LibraryClosure: constraint on unknown output {name!r} (outputs: {list(outputs)})")
        bad = [o for o in combination if o not in outputs or o in constraints]
        if bad:
            raise InputError(f"LibraryClosure: constraint for {name!r} refers to {bad}, which are not free outputs")
        checked[name] = {o: float(w) for o, w in combination.items()}
    return checked
