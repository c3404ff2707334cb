"""Checks of an ``advection_diffusion_reaction`` physics table, and building its parts.

The same functions build the model's coefficients and reactions for the
validation (so every problem is reported when the case loads) and for the run
(`build.build_model`), so what validates is what runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..coefficients import Coefficient, coefficient_from_spec, require_nonnegative
from ..errors import InputError
from ..expressions import ExpressionError
from ..models.reactions import REACTION_SETS, ExpressionReactions, ReactionSet
from .base import _Context, _Problem

#: Errors that building a coefficient or a reaction set may raise for bad input.
BUILD_ERRORS = (ValueError, TypeError, FileNotFoundError, ExpressionError)


def adr_problems(physics, ctx: _Context) -> list[_Problem]:
    """Every problem of the tracers, diffusivity, velocities and reactions."""
    dims = ctx.spatial()
    names = tuple(physics.variables)
    problems = [_Problem(("variables", name), "a variable name must be letters, digits and _ (not starting "
                         "with a digit)", name) for name in names if not name.isidentifier()]
    if not names:
        problems.append(_Problem(("variables",), "give at least one variable, e.g. { A = { units = \"1\" } }"))
    reserved = {"x", "y", "z", "t", "time"}
    problems += [_Problem(("variables", name), "is a coordinate or time name; rename the field", name)
                 for name in names if name in reserved]
    problems += [_Problem(("variables", name), "ends like the run file's truth and baseline copies "
                          "(_truth, _baseline); rename the field", name)
                 for name in names if name.endswith(("_truth", "_baseline"))]
    clash = sorted(set(physics.parameters) & (set(names) | set(dims) | {"t"}))
    problems += [_Problem(("parameters", name), "is also a variable or coordinate name; rename it")
                 for name in clash]
    if problems:
        return problems
    for build in (_diffusivity_problems, _velocity_problems, _reaction_problems):
        problems += build(physics, dims, ctx.directory)
    return problems


def _try(loc: tuple, build) -> list[_Problem]:
    try:
        build()
    except BUILD_ERRORS as exc:
        text, prefix = str(exc), "physics." + ".".join(loc) + ":"
        return [_Problem(loc, text[len(prefix):].strip() if text.startswith(prefix) else text)]
    return []


def _diffusivity_problems(physics, dims, directory) -> list[_Problem]:
    return _try(("diffusivity",), lambda: diffusivities(physics, dims, directory))


def _velocity_problems(physics, dims, directory) -> list[_Problem]:
    return _try(("velocity",), lambda: velocities(physics, dims, directory))


def _reaction_problems(physics, dims, directory) -> list[_Problem]:
    return _try(("reactions",), lambda: reactions(physics, dims))


def per_tracer(value: Any, names: tuple[str, ...]) -> bool:
    """Whether a table is per tracer (its keys are variable names) rather than one coefficient."""
    return isinstance(value, Mapping) and bool(value) and all(k in names for k in value)


def _coefficient(spec, what: str, dims, parameters, directory) -> Coefficient:
    return coefficient_from_spec(spec, dims=dims, parameters=parameters, what=what, base_dir=directory)


def diffusivities(physics, dims, directory: Path | None) -> dict[str, Coefficient]:
    """``{tracer: κ}``: one coefficient shared by all, or per tracer; each ≥ 0 where that is known."""
    names = tuple(physics.variables)
    spec = physics.diffusivity
    if isinstance(spec, Mapping) and any(k in names for k in spec) and not per_tracer(spec, names):
        unknown = [k for k in spec if k not in names]
        raise InputError(f"physics.diffusivity: {unknown} are not variables (the variables are {list(names)})")
    if per_tracer(spec, names):
        out = {name: _coefficient(s, f"physics.diffusivity.{name}", dims, physics.parameters, directory)
               for name, s in spec.items()}
    else:
        shared = _coefficient(spec, "physics.diffusivity", dims, physics.parameters, directory)
        out = {name: shared for name in names}
    for name, kappa in out.items():
        require_nonnegative(kappa, f"physics.diffusivity{'.' + name if per_tracer(spec, names) else ''}")
    return out


def velocities(physics, dims, directory: Path | None) -> dict[str, tuple[Coefficient, ...]]:
    """``{tracer: (w per dimension)}`` for the tracers that move."""
    names = tuple(physics.variables)
    unknown = [k for k in physics.velocity if k not in names]
    if unknown:
        raise InputError(f"physics.velocity: {unknown} are not variables (the variables are {list(names)}); "
                         "give a velocity per tracer, e.g. velocity = { D = -1.0 }")
    out = {}
    for name, spec in physics.velocity.items():
        components = list(spec) if isinstance(spec, (list, tuple)) else [spec]
        if len(components) != len(dims):
            raise InputError(f"physics.velocity.{name}: expected {len(dims)} component(s), one per dimension "
                             f"{list(dims)}, got {len(components)}")
        out[name] = tuple(_coefficient(c, f"physics.velocity.{name}", dims, physics.parameters, directory)
                          for c in components)
    return out


def reactions(physics, dims) -> ReactionSet | None:
    """The reaction set: expressions per tracer, or a registered set by name."""
    names = tuple(physics.variables)
    spec = physics.reactions
    if spec is None:
        return None
    if isinstance(spec, str):
        if spec not in REACTION_SETS:
            known = ", ".join(sorted(REACTION_SETS)) or "none registered"
            raise InputError(f"physics.reactions: unknown reaction set {spec!r} (known: {known}); or give "
                             "{ name = \"expression\", ... }")
        return REACTION_SETS[spec](variables=names, dims=dims, parameters=tuple(physics.parameters))
    return ExpressionReactions(spec, names, dims, tuple(physics.parameters))
