"""The sections of a case file and pydantic errors turned into problems."""

from __future__ import annotations

from typing import (
    Any,
    NamedTuple,
    Optional,
    get_origin,
)

from pydantic import (
    BaseModel,
    TypeAdapter,
    ValidationError,
)

from .base import _NO_VALUE, _Context, _models_in, _Problem, _Problems, _tags
from .boundary import BoundaryConfig
from .closures import ClosureConfig
from .evaluate import EvaluateConfig
from .grid import GridConfig
from .initial import InitialConditionConfig
from .observations import ObservationsConfig
from .physics import PhysicsConfig
from .time import OutputConfig, TimeConfig
from .training import TrainingConfig
from .truth import TruthConfig

# --------------------------------------------------------------------------
# sections


class _Section(NamedTuple):
    annotation: Any
    required: bool
    default: Any = None


_SECTIONS = {
    "grid": _Section(GridConfig, True),
    "boundary": _Section(BoundaryConfig, False, BoundaryConfig(kind="periodic")),
    "physics": _Section(PhysicsConfig, True),
    "initial_condition": _Section(InitialConditionConfig, True),
    "truth": _Section(Optional[TruthConfig], False),
    "time": _Section(TimeConfig, True),
    "output": _Section(OutputConfig, False, OutputConfig()),
    "closure": _Section(tuple[ClosureConfig, ...], False, ()),
    "observations": _Section(ObservationsConfig, False, ObservationsConfig()),
    "training": _Section(Optional[TrainingConfig], False),
    "evaluate": _Section(Optional[EvaluateConfig], False),
}
_ADAPTERS = {name: TypeAdapter(s.annotation) for name, s in _SECTIONS.items()}






def _walk(annotation: Any, loc: tuple) -> tuple[tuple, list[type[BaseModel]], list]:
    """Display location (union tags removed), the models at the last key, and inside it."""
    inside, parents, shown, keyed = _models_in(annotation), [], [], False
    for part in loc:
        if isinstance(part, int):
            shown.append(part)
            continue
        if isinstance(part, str) and part.startswith("tag:"):  # a callable discriminator's tag
            continue
        if keyed:  # a key of a {name: table} mapping: the tables' models are still inside
            shown.append(part)
            keyed = False
            continue
        fields = [m.model_fields[part] for m in inside if part in m.model_fields]
        tagged = [m for m in inside if part in _tags(m)]
        if not fields and tagged:  # a discriminated-union tag: hide it
            inside = tagged
            continue
        if not any(part in getattr(m, "flattened_keys", ()) for m in inside):
            shown.append(part)  # per-variable tables are written [boundary.<name>], not [boundary.variables.<name>]
        keyed = bool(fields) and get_origin(fields[0].annotation) is dict
        parents, inside = inside, (_models_in(fields[0].annotation) if fields else [])
    return tuple(shown), parents, inside


_MESSAGES = {
    "float_type": "expected a number", "float_parsing": "expected a number",
    "int_type": "expected an integer", "int_parsing": "expected an integer",
    "int_from_float": "expected an integer", "string_type": "expected a string",
    "bool_type": "expected true or false", "bool_parsing": "expected true or false",
    "finite_number": "must be a finite number", "model_type": "expected a table",
    "model_attributes_type": "expected a table", "dict_type": "expected a table",
    "list_type": "expected an array", "tuple_type": "expected an array",
}
_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<",
           "less_than_equal": "<="}


def _convert(error: dict, section: str) -> list[_Problem]:
    """One pydantic error as problems with dotted, tag-free locations."""
    loc, parents, inside = _walk(_SECTIONS[section].annotation, error["loc"])
    loc, kind, ctx = (section, *loc), error["type"], error.get("ctx", {})
    value = error.get("input", _NO_VALUE)
    if kind == "value_error" and isinstance(ctx.get("error"), _Problems):
        return [p._replace(loc=loc + p.loc) for p in ctx["error"].problems]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        key = ctx["discriminator"].strip("'")
        known = ", ".join(sorted(str(t) for m in inside for t in _tags(m, key)))
        what = f"unknown {key} (allowed: {known})" if kind == "union_tag_invalid" \
            else f"missing required key (one of: {known})"
        return [_Problem((*loc, key), what, ctx.get("tag", _NO_VALUE))]
    if kind == "missing":
        return [_Problem(loc, "missing required key")]
    if kind == "extra_forbidden":
        allowed = ", ".join(sorted({k for m in parents for k in m.model_fields}))
        return [_Problem(loc, f"unknown key (allowed: {allowed})")]
    if kind == "literal_error":
        return [_Problem(loc, f"expected one of {ctx['expected'].replace(' or ', ', ')}",
                         value)]
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()))
        return [_Problem(loc, f"must be {_BOUNDS[kind]} {bound:g}", value)]
    message = _MESSAGES.get(kind, error["msg"])
    return [_Problem(loc, message, value)]


def _validate_section(name: str, raw: Any, ctx: _Context) -> tuple[Any, list[_Problem]]:
    try:
        return _ADAPTERS[name].validate_python(raw, context={"case": ctx}), []
    except ValidationError as exc:
        return None, [p for error in exc.errors() for p in _convert(error, name)]
