"""Reaction sets: the pointwise sources S_q(fields, x, t; p) of a multi-tracer model.

A reaction set declares the variables it needs and returns a source per
variable (only those that have one). Sources are *pointwise*: the source in a
cell depends on the fields in that cell only (plus coordinates, t and the
parameters), as in a biogeochemical model. That is what lets `reactive_rate`
find the reactive eigenvalues cell by cell, from ``len(variables)`` Jacobian–
vector products.

* `ExpressionReactions`: safe expressions written in the case file,
  ``reactions = { A = "-k*A", B = "k*A" }``, in the variables, the grid's
  coordinates, t and named parameters;
* `REACTION_SETS`: registered Python reaction sets, built by name
  (``reactions = "npzd_oa"``); the biogeochemistry adds its own here.
"""

from __future__ import annotations

import abc
from typing import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError
from ..expressions import parse_expression


class ReactionSet(abc.ABC):
    """Pointwise sources of named fields.

    Attributes:
      variables: the fields the sources read (the model must have them).
      parameter_names: the named parameters they use (they travel in ``physics``).
    """

    variables: tuple[str, ...] = ()
    parameter_names: tuple[str, ...] = ()

    @abc.abstractmethod
    def sources(self, fields: Mapping, coords: Mapping, t, physics: Mapping) -> dict:
        """``{name: S_name}`` at the cell centres (``coords``: centre coordinates by name)."""


class ExpressionReactions(ReactionSet):
    """Sources from safe expressions, one per variable that has one.

    Args:
      reactions: ``{variable: expression}``, e.g. ``{"A": "-k*A", "B": "k*A"}``.
      variables: every field of the model (an expression may read any of them).
      dims: the grid's coordinate names (x, y or z), which expressions may use.
      parameters: the named parameters expressions may use.
    """

    def __init__(self, reactions: Mapping[str, str], variables: Sequence[str], dims: Sequence[str],
                 parameters: Sequence[str] = ()):
        self.variables = tuple(variables)
        self.parameter_names = tuple(parameters)
        self.dims = tuple(dims)
        unknown = [name for name in reactions if name not in self.variables]
        if unknown:
            raise InputError(f"physics.reactions: {unknown} are not variables (the variables are {list(self.variables)})")
        clash = sorted(set(self.parameter_names) & (set(self.variables) | set(self.dims) | {"t"}))
        if clash:
            raise InputError(f"physics.parameters: {clash} are also variable or coordinate names; rename them")
        allowed = self.variables + self.dims + ("t",) + self.parameter_names
        self.expressions = {name: parse_expression(text, allowed, what=f"physics.reactions.{name}")
                            for name, text in reactions.items()}

    def sources(self, fields, coords, t, physics):
        out = {}
        for name, expression in self.expressions.items():
            values = {}
            for used in expression.variables:
                if used in fields:
                    values[used] = fields[used]
                elif used in coords:
                    values[used] = jnp.asarray(coords[used], fields[name].dtype)
                elif used == "t":
                    values[used] = t
                else:
                    values[used] = physics[used]
            result = expression.evaluate(jnp, **values) if values else jnp.full_like(fields[name], float(expression()))
            out[name] = jnp.broadcast_to(result, jnp.shape(fields[name])).astype(fields[name].dtype)
        return out


#: Registered Python reaction sets: name -> factory(variables, dims, parameters) -> ReactionSet.
REACTION_SETS: dict[str, Callable[..., ReactionSet]] = {}


def register_reactions(name: str, factory: Callable[..., ReactionSet]) -> None:
    """Make ``reactions = "<name>"`` build ``factory(variables=…, dims=…, parameters=…)``."""
    REACTION_SETS[name] = factory


def reactive_rate(sources: Callable[[Mapping], Mapping], fields: Mapping) -> tuple[float, float]:
    """(max |Re λ|, max |Im λ|) over the eigenvalues λ of the pointwise Jacobians ∂S_i/∂q_j at ``fields``.

    The real parts are a decay or growth rate (the stepper's real-axis extent bounds
    dt), the imaginary parts an oscillation (its imaginary-axis extent does).

    ``sources(fields) -> {name: S}``. Pointwise sources make the Jacobian block
    diagonal over cells, so one Jacobian–vector product per variable (tangent 1
    in that variable, 0 elsewhere) gives column j of every cell's block.
    """
    names = list(fields)
    if not names:
        return 0.0, 0.0
    fields = {k: jnp.asarray(v) for k, v in fields.items()}
    columns = []
    for j in names:
        tangent = {k: jnp.ones_like(v) if k == j else jnp.zeros_like(v) for k, v in fields.items()}
        _, column = jax.jvp(lambda f: dict(sources(f)), (fields,), (tangent,))
        columns.append(column)
    if not any(columns):
        return 0.0, 0.0
    zeros = np.zeros(np.shape(fields[names[0]]))
    blocks = np.stack([np.stack([np.asarray(col.get(i, zeros), dtype=float) for col in columns], -1)
                       for i in names], -2)
    blocks = blocks.reshape(-1, len(names), len(names))
    if not np.all(np.isfinite(blocks)):
        raise InputError("the reactions' Jacobian is not finite at the initial state; check the reactions and the "
                         "initial condition (a division by a field that is zero?)")
    eigenvalues = np.linalg.eigvals(blocks)
    return (float(np.max(np.abs(eigenvalues.real), initial=0.0)),
            float(np.max(np.abs(eigenvalues.imag), initial=0.0)))
