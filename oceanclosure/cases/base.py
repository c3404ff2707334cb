"""Shared pieces of the case schema: constants, problems and their messages, the validation context, value types."""

from __future__ import annotations

import dataclasses
import math
import types
from pathlib import Path
from typing import (
    Annotated,
    Any,
    Callable,
    ClassVar,
    Iterable,
    Literal,
    Mapping,
    NamedTuple,
    Sequence,
    get_args,
    get_origin,
)

from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    model_validator,
)

from ..analytic import ANALYTIC
from ..errors import InputError
from ..expressions import parse_expression
from ..fluxes import SCHEMES as _SCHEME_REGISTRY
from ..grid import SIDES as GRID_SIDES
from ..timestepping import STEPPERS as _STEPPER_REGISTRY

CASE_FILE = "case.toml"
#: The case-file format this version writes (``format = 2`` at the top of case.toml); see cases.case.
CASE_FORMAT = 2
FORMAT_KEY = "format"
SCHEMES = tuple(_SCHEME_REGISTRY)  # the names are the solver registries' keys
STEPPERS = tuple(_STEPPER_REGISTRY)
PRECISIONS = ("float32", "float64")
IC_SOURCES = ("expression", "file", "truth", "family")
TRUTH_SOURCES = ("analytic", "fine", "file")
STATE_VARIABLES = ("u",)
TIME_STEP_CHOICES = ("dt", "cfl")
SPATIAL = {1: ("x",), 2: ("x", "y")}


class CaseError(InputError):
    """A case cannot be loaded; the message is complete and meant for the user."""


# --------------------------------------------------------------------------
# problems: (location, message, received value) collected across the file

_NO_VALUE = object()


class _Problem(NamedTuple):
    loc: tuple[str | int, ...]
    message: str
    value: Any = _NO_VALUE


class _Problems(ValueError):
    """Raised inside validators to report problems at locations below the field."""

    def __init__(self, problems: Iterable[_Problem]):
        self.problems = list(problems)
        super().__init__("; ".join(_format(p) for p in self.problems))


def _dotted(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f"{'.' if text else ''}{part}"
    return text


def _show(value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (tuple, types.MappingProxyType)):
        text = repr(_thaw(value))
    else:
        text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def _format(problem: _Problem) -> str:
    text = f"{_dotted(problem.loc)}: {problem.message}" if problem.loc else problem.message
    return text if problem.value is _NO_VALUE else f"{text} (got {_show(problem.value)})"


# --------------------------------------------------------------------------
# validation context: what a section needs to know about the rest of the case


@dataclasses.dataclass(frozen=True)
class _Context:
    ndim: int | None = None
    dims: tuple[str, ...] | None = None
    variables: tuple[str, ...] | None = None
    directory: Path | None = None
    analytic: Mapping[str, Callable] | None = None
    has_truth: bool | None = None
    analytic_truth: bool | None = None
    shape: tuple[int, ...] | None = None
    parse: Callable | None = None

    @classmethod
    def of(cls, info: ValidationInfo) -> "_Context":
        context = info.context
        if isinstance(context, dict) and isinstance(context.get("case"), _Context):
            return context["case"]
        return cls(parse=_expression_parser())

    def spatial(self) -> tuple[str, ...]:
        """Spatial variable names; both x and y when the grid is unknown or invalid."""
        return self.dims or SPATIAL.get(self.ndim, ("x", "y"))

    def sides(self) -> tuple[str, ...]:
        """The side names of the case's grid (all of them when the grid is unknown)."""
        return tuple(s for d in (self.dims or ("x", "y")) for s in GRID_SIDES[d])


def _expression_parser() -> Callable:
    return parse_expression


def _analytic_registry(given: Mapping[str, Callable] | None) -> Mapping:
    return ANALYTIC if given is None else given


def _expression_problem(text: Any, variables: Sequence[str], what: str, ctx: _Context,
                        loc: tuple = ()) -> list[_Problem]:
    """Parse ``text`` as an expression in ``variables``; problems if it is invalid."""
    if ctx.parse is None:
        return []
    try:
        ctx.parse(text, variables, what=what)
    except ValueError as exc:  # ExpressionError is a ValueError
        return [_Problem(loc, str(exc))]
    return []


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return types.MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


# --------------------------------------------------------------------------
# value types

Number = Annotated[float, Strict(), AllowInfNan(False)]
"""A finite float; ints are accepted, strings and booleans are not."""
NonNegative = Annotated[Number, Field(ge=0)]
Positive = Annotated[Number, Field(gt=0)]
Text = Annotated[str, Strict()]
Flag = Annotated[bool, Strict()]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _coefficient(value: Any, what: str, variables: Sequence[str], ctx: _Context,
                 loc: tuple = (), minimum: float | None = None) -> tuple[Any, list[_Problem]]:
    """A number or an expression string; returns (value, problems)."""
    if _is_number(value):
        if not math.isfinite(value):
            return value, [_Problem(loc, "must be a finite number", value)]
        if minimum is not None and value < minimum:
            return value, [_Problem(loc, f"must be >= {minimum:g}", value)]
        return float(value), []
    if isinstance(value, str):
        return value, _expression_problem(value, variables, what, ctx, loc)
    return value, [_Problem(loc, "expected a number or an expression string", value)]


class _Model(BaseModel):
    """Base of all case models: frozen, unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: ``{name: table}`` fields that the case file writes one level up (``[boundary.<name>]``,
    #: not ``[boundary.variables.<name>]``): dumps and error locations leave the key out.
    flattened_keys: ClassVar[tuple[str, ...]] = ()

    def model_dump(self, **kwargs):
        """As pydantic's, with the `flattened_keys` tables lifted into this table, as they are written."""
        out = super().model_dump(**kwargs)
        for key in self.flattened_keys:
            out.update(out.pop(key, {}) or {})
        return out

    def _problems(self, ctx: _Context) -> list[_Problem]:
        """Cross-field checks, run after the fields are valid."""
        return []

    @model_validator(mode="after")
    def check_case_rules(self, info: ValidationInfo):
        problems = self._problems(_Context.of(info))
        if problems:
            raise _Problems(problems)
        return self


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _tags(model: type[BaseModel], key: str | None = None) -> set:
    """Values of the model's Literal fields (only field ``key`` if given)."""
    fields = [f for k, f in model.model_fields.items() if key in (None, k)]
    return {v for f in fields if get_origin(f.annotation) is Literal
            for v in get_args(f.annotation)}


def _report(toml_path: Path, overrides: tuple[str, ...], problems: list[_Problem]) -> str:
    count = f"{len(problems)} error{'s' if len(problems) != 1 else ''}"
    applied = f" with --set {' '.join(overrides)}" if overrides else ""
    lines = [f"invalid case {toml_path}{applied} ({count}):"]
    return "\n".join(lines + [f"  {_format(p)}" for p in problems])
