"""Case directories: the ``case.toml`` schema, ``--set`` overrides and validation.

A case is a directory ``cases/<name>/`` holding ``case.toml`` (plus any files it
references, such as an initial-condition netCDF file). :func:`load_case` reads the
TOML, applies ``--set key.path=value`` overrides, and validates every section into
frozen, typed pydantic models. All problems in the file are reported together in
one :class:`CaseError`, one line each::

    invalid case cases/foo/case.toml (2 errors):
      physics.nu: must be >= 0 (got -0.1)
      grid.nxx: unknown key (allowed: domain, nx, ny, precision)

Sections (defaults in parentheses)::

    [grid]               domain = [x0, x1] | [[x0, x1], [y0, y1]], nx, ny (2D only),
                         precision ("float32")
    [boundary]           kind = "periodic" | per-side tables left, right (, bottom, top)
                         (periodic everywhere)
    [physics]            model = "advection_diffusion" | "burgers" | "kdv_burgers", its
                         parameters, scheme ("muscl_vanleer")
    [initial_condition]  exactly one of expression, file (+ variable "u"), truth = true
                         (truth = true needs an analytic truth)
    [truth]              exactly one source (optional section):
                           analytic, parameters ({});
                           fine = {refine (8), scheme, stepper, cfl | dt, precision,
                                   physics ({}: parameter overrides, may change model)};
                           file (+ variable "u");
                         output ("truth/truth.nc": where a generated truth is written)
    [time]               start (0.0), stop, output_interval, stepper ("ssprk3"),
                         cfl (0.5) or dt
    [output]             file ("output/run.nc"), plot (true)           (optional)
    [[closure]]          kind = "none"                                  (optional, [])
    [observations]       every (1), cells ("all" | stride | [i, ...] | [[j, i], ...]),
                         noise (0.0), seed (0), weights ({u = 1.0}), file   (optional)
    [training]           window (3), batch (8), steps (300), optimizer ("rmsprop" |
                         "adam"), learning_rate (0.075), decay_rate (0.97), decay_steps
                         (100), clip_norm (1.0), loss ("l1" | "mse" | "l1+mse"), l1 (0),
                         l2 (0), prune_threshold (0), seed (0), checkpoint_every (50),
                         train_times ([start, stop]), validation_times, configurations
                         ([[]]: lists of --set strings), max_failures (20), ensemble (1)
                                                                        (optional)

To add a physics model or a closure kind, define a model class with a ``Literal``
tag field (``model`` / ``kind``) and add it to ``PHYSICS_MODELS`` /
``CLOSURE_KINDS``; the discriminated unions, error messages and TOML output follow.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import tomllib
import types
from pathlib import Path
from typing import (
    Annotated,
    Any,
    Callable,
    Iterable,
    Literal,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Union,
    get_args,
    get_origin,
)

import tomli_w

from .analytic import ANALYTIC
from .closures.neural import ACTIVATIONS as _ACTIVATION_REGISTRY
from .expressions import parse_expression
from .stencils import feature_names
from .fluxes import SCHEMES as _SCHEME_REGISTRY
from .timestepping import STEPPERS as _STEPPER_REGISTRY
from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    Strict,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

__all__ = [
    "CaseError",
    "Case",
    "load_case",
    "apply_overrides",
    "parse_override",
    "GridConfig",
    "BoundaryConfig",
    "PeriodicSide",
    "DirichletSide",
    "NeumannSide",
    "SideSpec",
    "AdvectionDiffusionPhysics",
    "BurgersPhysics",
    "KdvBurgersPhysics",
    "PhysicsConfig",
    "PHYSICS_MODELS",
    "InitialConditionConfig",
    "TruthConfig",
    "FineTruthConfig",
    "ObservationsConfig",
    "TrainingConfig",
    "merged_physics",
    "check_training",
    "TimeConfig",
    "OutputConfig",
    "NoClosureConfig",
    "ClosureConfig",
    "CLOSURE_KINDS",
    "SCHEMES",
    "STEPPERS",
    "IC_SOURCES",
]

CASE_FILE = "case.toml"
SCHEMES = tuple(_SCHEME_REGISTRY)  # the names are the solver registries' keys
STEPPERS = tuple(_STEPPER_REGISTRY)
PRECISIONS = ("float32", "float64")
IC_SOURCES = ("expression", "file", "truth")
TRUTH_SOURCES = ("analytic", "fine", "file")
STATE_VARIABLES = ("u",)
TIME_STEP_CHOICES = ("dt", "cfl")
SIDES = {1: ("left", "right"), 2: ("left", "right", "bottom", "top")}
SPATIAL = {1: ("x",), 2: ("x", "y")}


class CaseError(ValueError):
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
        return SPATIAL.get(self.ndim, ("x", "y"))


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

    def _problems(self, ctx: _Context) -> list[_Problem]:
        """Cross-field checks, run after the fields are valid."""
        return []

    @model_validator(mode="after")
    def check_case_rules(self, info: ValidationInfo):
        problems = self._problems(_Context.of(info))
        if problems:
            raise _Problems(problems)
        return self


# --------------------------------------------------------------------------
# [grid]


def _domain(value: Any) -> tuple:
    """[x0, x1] or [[x0, x1], [y0, y1]], each with upper > lower."""
    def pair(v):
        ok = isinstance(v, (list, tuple)) and len(v) == 2 and all(map(_is_number, v))
        return tuple(float(a) for a in v) if ok and all(map(math.isfinite, v)) else None

    shape_error = _Problem((), "expected [x0, x1] (1D) or [[x0, x1], [y0, y1]] (2D) "
                           "with finite numbers", value)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise _Problems([shape_error])
    if all(map(_is_number, value)):
        bounds, loc = (pair(value),), ()
    else:
        bounds, loc = tuple(pair(v) for v in value), (0, 1)
    if None in bounds:
        raise _Problems([shape_error])
    bad = [_Problem(loc[i:i + 1], "upper bound must be > lower bound", list(b))
           for i, b in enumerate(bounds) if not b[1] > b[0]]
    if bad:
        raise _Problems(bad)
    return bounds[0] if loc == () else bounds


class GridConfig(_Model):
    """``[grid]``: a uniform cell-centred grid with ``shape`` (nx,) or (nx, ny)."""

    domain: Annotated[
        Union[tuple[float, float], tuple[tuple[float, float], tuple[float, float]]],
        PlainValidator(_domain),
        PlainSerializer(_thaw),
    ]
    nx: Annotated[int, Strict(), Field(ge=3)]
    ny: Optional[Annotated[int, Strict(), Field(ge=3)]] = None
    precision: Literal[PRECISIONS] = "float32"

    @property
    def ndim(self) -> int:
        return 1 if _is_number(self.domain[0]) else 2

    @property
    def bounds(self) -> tuple[tuple[float, float], ...]:
        """((x0, x1),) or ((x0, x1), (y0, y1))."""
        return (self.domain,) if self.ndim == 1 else self.domain

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.nx,) if self.ndim == 1 else (self.nx, self.ny)

    def _problems(self, ctx):
        if self.ndim == 1 and self.ny is not None:
            return [_Problem(("ny",), "not allowed in a 1D grid (domain is [x0, x1]); "
                             "remove it", self.ny)]
        if self.ndim == 2 and self.ny is None:
            return [_Problem(("ny",), "missing required key for a 2D grid")]
        return []


# --------------------------------------------------------------------------
# [boundary]


class PeriodicSide(_Model):
    """Periodic side; must be paired with the opposite side."""

    kind: Literal["periodic"] = "periodic"


class DirichletSide(_Model):
    """Fixed value u = value on the side."""

    kind: Literal["dirichlet"] = "dirichlet"
    value: Number = 0.0


class NeumannSide(_Model):
    """Fixed outward normal gradient ∂u/∂n = gradient on the side."""

    kind: Literal["neumann"] = "neumann"
    gradient: Number = 0.0


SideSpec = Annotated[Union[PeriodicSide, DirichletSide, NeumannSide], Field(discriminator="kind")]


class BoundaryConfig(_Model):
    """``[boundary]``: ``kind = "periodic"`` everywhere, or one table per side."""

    kind: Optional[Literal["periodic"]] = None
    left: Optional[SideSpec] = None
    right: Optional[SideSpec] = None
    bottom: Optional[SideSpec] = None
    top: Optional[SideSpec] = None

    def sides(self, ndim: int) -> dict[str, PeriodicSide | DirichletSide | NeumannSide]:
        """The condition on every side of an ``ndim``-dimensional grid."""
        if self.kind == "periodic":
            return {side: PeriodicSide() for side in SIDES[ndim]}
        missing = [side for side in SIDES[ndim] if getattr(self, side) is None]
        if missing:
            raise ValueError(f"boundary: no condition for side(s) {', '.join(missing)}")
        return {side: getattr(self, side) for side in SIDES[ndim]}

    def _problems(self, ctx):
        given = [s for s in SIDES[2] if getattr(self, s) is not None]
        if self.kind is not None and given:
            return [_Problem(("kind",), "cannot be combined with per-side tables "
                             f"({', '.join(given)}); use one or the other", self.kind)]
        if self.kind is not None:
            return []
        problems = []
        if ctx.ndim == 1:
            problems += [_Problem((s,), "not allowed in a 1D grid (sides: left, right)")
                         for s in ("bottom", "top") if s in given]
        expected = SIDES.get(ctx.ndim, ())
        problems += [_Problem((s,), "missing: give every side a table, or "
                              "kind = \"periodic\"") for s in expected if s not in given]
        for lo, hi in (("left", "right"), ("bottom", "top")):
            problems += self._pairing(lo, hi)
        return problems

    def _pairing(self, lo: str, hi: str) -> list[_Problem]:
        a, b = getattr(self, lo), getattr(self, hi)
        if a is None or b is None or (a.kind == "periodic") == (b.kind == "periodic"):
            return []
        side, other = (lo, hi) if a.kind == "periodic" else (hi, lo)
        return [_Problem((side,), f"periodic must be paired: {other} must be periodic too",
                         f"{other} kind {getattr(self, other).kind!r}")]


# --------------------------------------------------------------------------
# [physics]

Scheme = Literal[SCHEMES]


class _Physics(_Model):
    model: str
    scheme: Scheme = "muscl_vanleer"

    def params(self) -> dict[str, float | str | list]:
        """The physical parameters (without ``model`` and ``scheme``)."""
        return self.model_dump(mode="json", exclude={"model", "scheme"})


def _velocity(value: Any, info: ValidationInfo) -> float | str | tuple:
    """A number, an expression string, or one of those per dimension."""
    ctx = _Context.of(info)
    variables = ctx.spatial() + ("t",)
    if not isinstance(value, (list, tuple)):
        value, problems = _coefficient(value, "physics.velocity", variables, ctx)
    else:
        items = [_coefficient(v, f"physics.velocity[{i}]", variables, ctx, (i,))
                 for i, v in enumerate(value)]
        problems = [p for _, found in items for p in found]
        if ctx.ndim is not None and len(value) != ctx.ndim:
            problems.insert(0, _Problem((), f"expected {ctx.ndim} component(s), one per "
                                        "dimension", list(value)))
        value = tuple(v for v, _ in items)
    if problems:
        raise _Problems(problems)
    return value


def _diffusivity(value: Any, info: ValidationInfo) -> float | str:
    """A number >= 0 or an expression string."""
    ctx = _Context.of(info)
    value, problems = _coefficient(value, "physics.diffusivity", ctx.spatial() + ("t",),
                                   ctx, minimum=0.0)
    if problems:
        raise _Problems(problems)
    return value


class AdvectionDiffusionPhysics(_Physics):
    """uₜ + ∇·(v u) = ∇·(κ ∇u); v, κ numbers or expressions in x, (y,) t."""

    model: Literal["advection_diffusion"] = "advection_diffusion"
    velocity: Annotated[Union[float, str, tuple[Union[float, str], ...]],
                        PlainValidator(_velocity), PlainSerializer(_thaw)] = 0.0
    diffusivity: Annotated[Union[float, str], PlainValidator(_diffusivity)] = 0.0


class BurgersPhysics(_Physics):
    """uₜ + (u²/2)ₓ = ν uₓₓ."""

    model: Literal["burgers"] = "burgers"
    nu: NonNegative


class KdvBurgersPhysics(_Physics):
    """uₜ + a u uₓ + b uₓₓₓ = ν uₓₓ."""

    model: Literal["kdv_burgers"] = "kdv_burgers"
    a: Number = 1.0
    b: Number = 0.0
    nu: NonNegative = 0.0


PHYSICS_MODELS = (AdvectionDiffusionPhysics, BurgersPhysics, KdvBurgersPhysics)
PhysicsConfig = Annotated[Union[PHYSICS_MODELS], Field(discriminator="model")]


# --------------------------------------------------------------------------
# [initial_condition], [truth]


class InitialConditionConfig(_Model):
    """``[initial_condition]``: exactly one of ``expression``, ``file``, ``truth = true``."""

    expression: Optional[Text] = None
    file: Optional[Text] = None
    variable: Optional[Text] = None
    truth: Optional[Flag] = None

    @property
    def source(self) -> str:
        """Which source is used: "expression", "file" or "truth"."""
        return next(name for name in IC_SOURCES if getattr(self, name) not in (None, False))

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if _is_number(data.get("expression")):  # a constant is an expression too
                data = {**data, "expression": repr(data["expression"])}
            if "file" in data and "variable" not in data:
                data = {**data, "variable": "u"}
        return data

    @field_validator("expression")
    @classmethod
    def _parse(cls, text: str | None, info: ValidationInfo) -> str | None:
        ctx = _Context.of(info)
        if text is not None:
            problems = _expression_problem(text, ctx.spatial(), "initial_condition.expression",
                                           ctx)
            if problems:
                raise _Problems(problems)
        return text

    @field_validator("file")
    @classmethod
    def _exists(cls, file: str | None, info: ValidationInfo) -> str | None:
        directory = _Context.of(info).directory
        if file is not None and directory is not None and not (directory / file).is_file():
            raise _Problems([_Problem((), f"file not found: {directory / file} (paths are "
                                      "relative to the case directory)", file)])
        return file

    @field_validator("truth")
    @classmethod
    def _needs_truth(cls, truth: bool | None, info: ValidationInfo) -> bool | None:
        ctx = _Context.of(info)
        if truth and ctx.has_truth is False:
            raise _Problems([_Problem((), "requires a [truth] section (with analytic = ...)",
                                      truth)])
        if truth and ctx.analytic_truth is False:
            raise _Problems([_Problem((), "requires an analytic truth ([truth] analytic = "
                                      "...): a fine or file truth cannot give the initial "
                                      "state; use initial_condition.expression or file",
                                      truth)])
        return truth

    def _problems(self, ctx):
        sources = [n for n in IC_SOURCES if getattr(self, n) not in (None, False)]
        problems = []
        if len(sources) != 1:
            got = ", ".join(sources) if sources else "none"
            problems.append(_Problem((), "give exactly one source: expression, file, or "
                                     f"truth = true (got {got})"))
        if self.variable is not None and self.file is None:
            problems.append(_Problem(("variable",), "only allowed together with file",
                                     self.variable))
        return problems


def merged_physics(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The physics table ``base`` with ``changes`` applied (e.g. ``truth.fine.physics``).

    If ``changes`` switches ``model``, keys of ``base`` that the new model does not
    have are dropped (burgers -> kdv_burgers keeps nu and scheme, adds a and b).
    """
    merged = dict(base)
    if "model" in changes and changes["model"] != base.get("model"):
        fields = next((m.model_fields for m in PHYSICS_MODELS
                       if changes["model"] in _tags(m, "model")), None)
        if fields is not None:
            merged = {k: v for k, v in merged.items() if k in fields}
    merged.update(_thaw(changes))
    return merged


class FineTruthConfig(_Model):
    """``truth.fine``: the case itself on a grid ``refine`` times finer, cell-averaged back.

    ``scheme``, ``stepper``, ``cfl`` / ``dt`` and ``precision`` replace the case's for
    the fine run (if ``cfl`` and ``dt`` are both absent, the case's cfl is used, or
    cfl = 0.5 when the case fixes dt); ``physics`` overrides physics parameters and may
    name a richer ``model`` (validated against that model's fields).
    """

    refine: Annotated[int, Strict(), Field(ge=2)] = 8
    scheme: Optional[Scheme] = None
    stepper: Optional[Literal[STEPPERS]] = None
    cfl: Optional[Annotated[Number, Field(gt=0, le=1)]] = None
    dt: Optional[Positive] = None
    precision: Optional[Literal[PRECISIONS]] = None
    physics: dict[Text, Any] = Field(default_factory=dict)

    def _problems(self, ctx):
        if self.cfl is not None and self.dt is not None:
            return [_Problem(("dt",), "cannot be given together with cfl; give one of them",
                             self.dt)]
        return []


class TruthConfig(_Model):
    """``[truth]``: exactly one source (``analytic``, ``fine`` or ``file``), and ``output``.

    ``parameters`` are extra parameters of the analytic solution; ``variable`` names
    the field in ``file``; ``output`` is where a generated truth is written
    (relative to the case directory).
    """

    analytic: Optional[Text] = None
    parameters: dict[Text, Number] = Field(default_factory=dict)
    fine: Optional[FineTruthConfig] = None
    file: Optional[Text] = None
    variable: Optional[Text] = None
    output: Text = "truth/truth.nc"

    @property
    def source(self) -> str:
        """Which source is used: "analytic", "fine" or "file"."""
        return next(name for name in TRUTH_SOURCES if getattr(self, name) is not None)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and "file" in data and "variable" not in data:
            data = {**data, "variable": "u"}
        return data

    @field_validator("analytic")
    @classmethod
    def _known(cls, name: str | None, info: ValidationInfo) -> str | None:
        ctx = _Context.of(info)
        registry = ctx.analytic if info.context else _analytic_registry(None)
        if name is not None and registry is not None and name not in registry:
            raise _Problems([_Problem((), "unknown analytic solution (allowed: "
                                      f"{', '.join(sorted(registry))})", name)])
        return name

    def _problems(self, ctx):
        sources = [n for n in TRUTH_SOURCES if getattr(self, n) is not None]
        problems = []
        if len(sources) != 1:
            got = ", ".join(sources) if sources else "none"
            problems.append(_Problem((), "give exactly one source: analytic, fine or file "
                                     f"(got {got})"))
        if self.parameters and self.analytic is None:
            problems.append(_Problem(("parameters",), "only allowed together with analytic",
                                     self.parameters))
        if self.variable is not None and self.file is None:
            problems.append(_Problem(("variable",), "only allowed together with file",
                                     self.variable))
        return problems + _file_problem(self.file, "file", ctx)


# --------------------------------------------------------------------------
# [time], [output], [[closure]]


class TimeConfig(_Model):
    """``[time]``: integrate from ``start`` to ``stop``; step by ``cfl`` or fixed ``dt``."""

    start: Number = 0.0
    stop: Number
    output_interval: Positive
    stepper: Literal[STEPPERS] = "ssprk3"
    cfl: Optional[Annotated[Number, Field(gt=0, le=1)]] = None
    dt: Optional[Positive] = None

    @model_validator(mode="before")
    @classmethod
    def _default_cfl(cls, data: Any) -> Any:
        if isinstance(data, dict) and "cfl" not in data and "dt" not in data:
            data = {**data, "cfl": 0.5}
        return data

    def _problems(self, ctx):
        problems = []
        if self.cfl is not None and self.dt is not None:
            problems.append(_Problem(("dt",), "cannot be given together with cfl; give "
                                     "one of them", self.dt))
        if not self.stop > self.start:
            problems.append(_Problem(("stop",), f"must be > start ({self.start:g})",
                                     self.stop))
        elif self.output_interval > self.stop - self.start:
            problems.append(_Problem(("output_interval",), "must be <= stop - start "
                                     f"({self.stop - self.start:g})", self.output_interval))
        return problems


class OutputConfig(_Model):
    """``[output]``: netCDF path relative to the case directory; whether to plot."""

    file: Text = "output/run.nc"
    plot: Flag = True


class NoClosureConfig(_Model):
    """``kind = "none"``: the null closure (zero tendency)."""

    kind: Literal["none"] = "none"


Count = Annotated[int, Strict(), Field(ge=1)]
ACTIVATIONS = tuple(_ACTIVATION_REGISTRY)


def _term_problems(terms, variables, parameters, ctx: _Context) -> list[_Problem]:
    """Each library term must be a valid expression over stencil features of the case's grid."""
    vocabulary = feature_names(variables, ctx.ndim or 2, 4, parameters)
    problems = []
    for k, term in enumerate(terms):
        problems += _expression_problem(term, vocabulary, f"closure term {term!r}", ctx, ("terms", k))
    return problems


def _file_problem(file: str | None, key: str, ctx: _Context) -> list[_Problem]:
    if file is None or ctx.directory is None or (ctx.directory / file).is_file():
        return []
    return [_Problem((key,), f"file not found: {ctx.directory / file} (paths are relative to the "
                     "case directory)", file)]


class _LibraryTerms(_Model):
    """Library fields shared by ``kind = "library"`` and the delay kinds."""

    terms: Optional[tuple[Text, ...]] = None
    coefficients: Optional[Union[tuple[Number, ...], tuple[tuple[Number, ...], ...]]] = None
    trainable: Flag = False
    variables: tuple[Text, ...] = ("u",)
    outputs: Optional[tuple[Text, ...]] = None
    parameters: tuple[Text, ...] = ()
    constraints: dict[Text, dict[Text, Number]] = Field(default_factory=dict)
    accuracy: Literal[2, 4, 6] = 2
    parameters_file: Optional[Text] = None

    def _library_problems(self, ctx: _Context, required: bool) -> list[_Problem]:
        problems = _file_problem(self.parameters_file, "parameters_file", ctx)
        if self.terms is None:
            return problems + ([_Problem(("terms",), "missing required key")] if required else [])
        if not self.terms:
            return problems + [_Problem(("terms",), "give at least one term", list(self.terms))]
        problems += _term_problems(self.terms, self.variables, self.parameters, ctx)
        flat = self.coefficients and not isinstance(self.coefficients[0], tuple)
        if flat and len(self.coefficients) != len(self.terms):
            problems.append(_Problem(("coefficients",), f"needs one value per term ({len(self.terms)})",
                                     list(self.coefficients)))
        return problems


class NetworkConfig(_Model):
    """A pointwise MLP over stencil features (SCIENCE.md §3)."""

    inputs: tuple[Text, ...]
    hidden: tuple[Count, ...] = (10, 7, 5, 5, 3)
    activation: Literal[ACTIVATIONS] = "swish"
    output_scale: Optional[Text] = None
    scales: dict[Text, Positive] = Field(default_factory=dict)
    seed: Annotated[int, Strict()] = 0
    flux_form: Flag = False
    zero_last_layer: Flag = False
    variables: tuple[Text, ...] = ("u",)
    parameters: tuple[Text, ...] = ()
    accuracy: Literal[2, 4, 6] = 2
    parameters_file: Optional[Text] = None

    def _problems(self, ctx):
        return _file_problem(self.parameters_file, "parameters_file", ctx)


class LibraryClosureConfig(_LibraryTerms):
    """``kind = "library"``: Σ c_k T_k over named candidate terms."""

    kind: Literal["library"]

    def _problems(self, ctx):
        return self._library_problems(ctx, required=True)


class NeuralClosureConfig(NetworkConfig):
    """``kind = "neural"``: a pointwise (or flux-form) network closure."""

    kind: Literal["neural"]


class _DelayConfig(_LibraryTerms):
    """Delay kinds: the delayed term is a library (terms = ...) or a network (network = {...})."""

    network: Optional[NetworkConfig] = None
    buffer_dt: Optional[Positive] = None
    history: Text = "constant"

    def _problems(self, ctx):
        problems = self._library_problems(ctx, required=self.network is None)
        if self.network is not None and self.terms is not None:
            problems.append(_Problem(("network",), "give either terms or network, not both"))
        if self.history != "constant":
            problems += _file_problem(self.history, "history", ctx)
        return problems


class DiscreteDelayClosureConfig(_DelayConfig):
    """``kind = "discrete_delay"``: the term evaluated on u(t - delay)."""

    kind: Literal["discrete_delay"]
    delay: NonNegative


class DistributedDelayClosureConfig(_DelayConfig):
    """``kind = "distributed_delay"``: ∫_{t-tau1}^{t-tau2} D(u(s)) ds."""

    kind: Literal["distributed_delay"]
    tau1: NonNegative
    tau2: NonNegative = 0.0

    def _problems(self, ctx):
        problems = super()._problems(ctx)
        if self.tau1 < self.tau2:
            problems.append(_Problem(("tau1",), f"must be >= tau2 ({self.tau2:g})", self.tau1))
        return problems


class SmagorinskyClosureConfig(_Model):
    """``kind = "smagorinsky"``: d/dx((Cs dx)^2 |u_x| u_x)."""

    kind: Literal["smagorinsky"]
    cs: NonNegative = 1.0


class EddyDiffusivityClosureConfig(_Model):
    """``kind = "eddy_diffusivity"``: kappa u_xx, a constant eddy diffusivity."""

    kind: Literal["eddy_diffusivity"]
    kappa: NonNegative


class UpwindCorrectionClosureConfig(_Model):
    """``kind = "upwind_correction"``: -(dx/2)|u| u_xx (or its conservative flux form)."""

    kind: Literal["upwind_correction"]
    form: Literal["pointwise", "flux"] = "pointwise"


CLOSURE_KINDS = (
    NoClosureConfig, LibraryClosureConfig, NeuralClosureConfig, DiscreteDelayClosureConfig,
    DistributedDelayClosureConfig, SmagorinskyClosureConfig, EddyDiffusivityClosureConfig,
    UpwindCorrectionClosureConfig,
)
ClosureConfig = Annotated[Union[CLOSURE_KINDS], Field(discriminator="kind")]


# --------------------------------------------------------------------------
# [observations], [training]


def _index_list(value: Any) -> tuple | None:
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool)
                                                for v in value):
        return tuple(value)
    return None


def _cells(value: Any, info: ValidationInfo) -> str | int | tuple:
    """"all", a stride (int >= 1), or cell indices: [i, ...] in 1D, [[j, i], ...] in 2D."""
    ctx = _Context.of(info)
    if value == "all" or (isinstance(value, int) and not isinstance(value, bool)):
        if isinstance(value, int) and value < 1:
            raise _Problems([_Problem((), "a stride must be >= 1", value)])
        return value
    ndim = ctx.ndim
    shape_error = _Problem((), 'expected "all", a stride (integer >= 1) or a list of cell '
                           "indices ([i, ...] in 1D, [[j, i], ...] in 2D)", value)
    if not isinstance(value, (list, tuple)) or not value:
        raise _Problems([shape_error])
    flat = _index_list(value)
    pairs = None if flat is not None else tuple(map(_index_list, value))
    if flat is None and (None in pairs or any(len(p) != 2 for p in pairs)):
        raise _Problems([shape_error])
    cells = flat if flat is not None else pairs
    if ndim is not None and (flat is not None) != (ndim == 1):
        want = "[i, ...] (cell indices along x)" if ndim == 1 else "[[j, i], ...] (y, x index pairs)"
        raise _Problems([_Problem((), f"a {ndim}D grid needs {want}", value)])
    problems = [_Problem((k,), "repeats an earlier cell", _thaw(c))
                for k, c in enumerate(cells) if c in cells[:k]]
    if ctx.shape is not None:
        limits = tuple(reversed(ctx.shape))  # array order: (nx,) or (ny, nx)
        for k, cell in enumerate(cells):
            index = (cell,) if flat is not None else cell
            if any(not 0 <= i < n for i, n in zip(index, limits)):
                bounds = " and ".join(f"{name} index in 0..{n - 1}" for name, n in
                                      zip(("j (y)", "i (x)") if len(limits) == 2 else ("i",), limits))
                problems.append(_Problem((k,), f"outside the grid (need {bounds})", _thaw(cell)))
    if problems:
        raise _Problems(problems)
    return cells


class ObservationsConfig(_Model):
    """``[observations]``: which truth values the training loss sees.

    Every ``every``-th truth output time, at ``cells`` ("all", a stride along each
    axis, or explicit indices), plus Gaussian noise of std ``noise`` (units of the
    variable) drawn with ``seed``; ``weights`` per variable in the loss. ``file``
    replaces the sampling (every, cells, noise) with a user observation netCDF.
    """

    every: Annotated[int, Strict(), Field(ge=1)] = 1
    cells: Annotated[Union[str, int, tuple], PlainValidator(_cells),
                     PlainSerializer(_thaw)] = "all"
    noise: NonNegative = 0.0
    seed: Annotated[int, Strict()] = 0
    weights: dict[Text, NonNegative] = Field(default_factory=lambda: {"u": 1.0})
    file: Optional[Text] = None

    def _problems(self, ctx):
        problems = [_Problem(("weights", name), "unknown variable (allowed: "
                             f"{', '.join(STATE_VARIABLES)})") for name in self.weights
                    if name not in STATE_VARIABLES]
        if not any(self.weights.values()):
            problems.append(_Problem(("weights",), "give at least one weight > 0",
                                     self.weights))
        if self.file is not None:
            defaults = {"every": 1, "cells": "all", "noise": 0.0}
            problems += [_Problem((key,), "not used with observations.file (the file sets "
                                  "the times and cells); remove it", getattr(self, key))
                         for key, default in defaults.items() if getattr(self, key) != default]
        return problems + _file_problem(self.file, "file", ctx)


def _interval(value: Any) -> tuple[float, float]:
    """[t0, t1] with finite t1 > t0."""
    ok = (isinstance(value, (list, tuple)) and len(value) == 2 and all(map(_is_number, value))
          and all(map(math.isfinite, value)))
    if not ok:
        raise _Problems([_Problem((), "expected [t0, t1] with finite numbers", value)])
    if not value[1] > value[0]:
        raise _Problems([_Problem((), "t1 must be > t0", list(value))])
    return float(value[0]), float(value[1])


Interval = Annotated[tuple[float, float], PlainValidator(_interval), PlainSerializer(_thaw)]
Fraction = Annotated[Number, Field(gt=0, le=1)]


class TrainingConfig(_Model):
    """``[training]``: a-posteriori training settings (read by the trainer).

    Each sample rolls the closure-augmented solver out for ``window`` output
    intervals from a truth state; ``batch`` start times per optimizer step, ``steps``
    steps; ``optimizer`` with learning rate ``learning_rate × decay_rate^(step /
    decay_steps)`` and gradient clipping to ``clip_norm``; ``loss`` at observation
    times plus ``l1`` / ``l2`` penalties on closure parameters; library coefficients
    below ``prune_threshold`` are zeroed after every step. Start times are drawn in
    ``train_times`` (default: the whole run, filled in on loading). ``configurations``
    are lists of ``--set`` overrides, each a training configuration ([[]]: the case),
    validated on loading. Whether the times and window fit the run is checked by
    `check_training` (not on loading).
    """

    window: Count = 3
    batch: Count = 8
    steps: Count = 300
    optimizer: Literal["rmsprop", "adam"] = "rmsprop"
    learning_rate: Positive = 0.075
    decay_rate: Fraction = 0.97
    decay_steps: Count = 100
    clip_norm: Positive = 1.0
    loss: Literal["l1", "mse", "l1+mse"] = "l1"
    l1: NonNegative = 0.0
    l2: NonNegative = 0.0
    prune_threshold: NonNegative = 0.0
    seed: Annotated[int, Strict()] = 0
    checkpoint_every: Count = 50
    train_times: Optional[Interval] = None
    validation_times: Optional[Interval] = None
    configurations: tuple[tuple[Text, ...], ...] = ((),)
    max_failures: Count = 20
    ensemble: Count = 1

    def _problems(self, ctx):
        if not self.configurations:
            return [_Problem(("configurations",), "give at least one configuration ([[]] is "
                             "the case itself)", [])]
        return []


def check_training(case: "Case") -> None:
    """Raise `CaseError` unless the training times and window fit the case's run.

    ``train_times`` and ``validation_times`` must lie in [time.start, time.stop] and
    ``window`` output intervals must fit in ``train_times``. The trainer calls this;
    loading does not, so that ``run --set time.stop=...`` still works on a case
    with a ``[training]`` section.
    """
    if case.training is not None:
        problems = _training_problems(case.training, case.time)
        if problems:
            raise CaseError(_report(case.path, case.overrides, problems))


def _training_problems(training: TrainingConfig, time: TimeConfig) -> list[_Problem]:
    """Training times inside the run, and a window that fits in the training data."""
    problems = []
    for key in ("train_times", "validation_times"):
        span = getattr(training, key)
        if span is not None and not (time.start <= span[0] and span[1] <= time.stop):
            problems.append(_Problem(("training", key), f"must lie within [time.start, "
                                     f"time.stop] = [{time.start:g}, {time.stop:g}]", list(span)))
    t0, t1 = training.train_times or (time.start, time.stop)
    length = training.window * time.output_interval
    if length > (t1 - t0) * (1 + 1e-9):
        problems.append(_Problem(("training", "window"), f"{training.window} output intervals "
                                 f"(= {length:g}) is longer than the training data "
                                 f"(train_times span {t1 - t0:g}); shorten window or widen "
                                 "train_times", training.window))
    return problems


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
}
_ADAPTERS = {name: TypeAdapter(s.annotation) for name, s in _SECTIONS.items()}


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _tags(model: type[BaseModel], key: str | None = None) -> set:
    """Values of the model's Literal fields (only field ``key`` if given)."""
    fields = [f for k, f in model.model_fields.items() if key in (None, k)]
    return {v for f in fields if get_origin(f.annotation) is Literal
            for v in get_args(f.annotation)}


def _walk(annotation: Any, loc: tuple) -> tuple[tuple, list[type[BaseModel]], list]:
    """Display location (union tags removed), the models at the last key, and inside it."""
    inside, parents, shown = _models_in(annotation), [], []
    for part in loc:
        if isinstance(part, int):
            shown.append(part)
            continue
        fields = [m.model_fields[part] for m in inside if part in m.model_fields]
        tagged = [m for m in inside if part in _tags(m)]
        if not fields and tagged:  # a discriminated-union tag: hide it
            inside = tagged
            continue
        shown.append(part)
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


# --------------------------------------------------------------------------
# the case


@dataclasses.dataclass(frozen=True)
class Case:
    """A validated case: typed sections plus where it came from.

    Attributes:
      directory: the case directory (absolute); relative paths resolve against it.
      path: the case TOML file (absolute).
      grid, boundary, physics, initial_condition, time, output: validated sections.
      truth: the ``[truth]`` section, or None.
      closures: the ``[[closure]]`` tables, in order.
      observations: the ``[observations]`` section (defaults when absent).
      training: the ``[training]`` section (``train_times`` filled in), or None.
      raw: the TOML as read, with overrides applied (read-only; no defaults).
      overrides: the ``--set`` strings applied, in order.
    """

    directory: Path
    path: Path
    grid: GridConfig
    boundary: BoundaryConfig
    physics: PhysicsConfig
    initial_condition: InitialConditionConfig
    time: TimeConfig
    output: OutputConfig
    truth: Optional[TruthConfig] = None
    closures: tuple[ClosureConfig, ...] = ()
    observations: ObservationsConfig = dataclasses.field(default_factory=ObservationsConfig)
    training: Optional[TrainingConfig] = None
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False,
                                               repr=False)
    overrides: tuple[str, ...] = dataclasses.field(default=(), compare=False)

    @property
    def name(self) -> str:
        return self.directory.name

    def boundary_sides(self) -> dict[str, PeriodicSide | DirichletSide | NeumannSide]:
        """The boundary condition on every side of this case's grid."""
        return self.boundary.sides(self.grid.ndim)

    def resolve_path(self, relative: str | Path) -> Path:
        """``relative`` resolved against the case directory."""
        return self.directory / relative

    def to_dict(self) -> dict[str, Any]:
        """The resolved case (defaults filled in) as plain TOML-ready data."""
        def dump(model):
            return model.model_dump(mode="json", exclude_none=True)

        resolved = {name: dump(getattr(self, name)) for name in
                    ("grid", "boundary", "physics", "initial_condition", "time", "output")}
        if self.truth is not None:
            resolved["truth"] = dump(self.truth)
        resolved["closure"] = [dump(c) for c in self.closures]
        resolved["observations"] = dump(self.observations)
        if self.training is not None:
            resolved["training"] = dump(self.training)
        return resolved

    def to_toml(self) -> str:
        """The resolved, validated case as TOML; loading it gives an equal case."""
        return tomli_w.dumps(self.to_dict())

    def __reduce__(self):  # raw is a read-only mapping proxy, which cannot be pickled
        state = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return _restore_case, ({**state, "raw": _thaw(self.raw)},)

    def with_overrides(self, overrides: Sequence[str], *,
                       analytic: Mapping[str, Callable] | None = None) -> "Case":
        """A new case with ``--set`` overrides applied to this one, re-validated."""
        overrides = _override_list(overrides)
        raw = apply_overrides(_thaw(self.raw), overrides)
        return _build(raw, self.path, self.overrides + overrides, analytic)


def _restore_case(state: dict) -> Case:
    return Case(**{**state, "raw": _freeze(state["raw"])})


# --------------------------------------------------------------------------
# reading and overrides


def load_case(path: str | Path, overrides: Sequence[str] = (), *,
              analytic: Mapping[str, Callable] | None = None) -> Case:
    """Read, override and validate a case.

    Args:
      path: a case directory (holding ``case.toml``) or a path to a ``.toml`` file.
      overrides: ``key.path=value`` strings (the CLI's ``--set``), applied in order.
      analytic: registry of analytic solutions for ``truth.analytic``; default
        ``oceanclosure.analytic.ANALYTIC`` (names are not checked if unavailable).

    Raises:
      CaseError: with every problem found, one per line.
    """
    overrides = _override_list(overrides)
    toml_path = _case_file(Path(path))
    raw = apply_overrides(_read_toml(toml_path), overrides)
    return _build(raw, toml_path, overrides, analytic)


def _override_list(overrides: Sequence[str]) -> tuple[str, ...]:
    if isinstance(overrides, str):
        raise TypeError(f"overrides must be a sequence of 'key=value' strings, not a str "
                        f"(got {overrides!r}); wrap it in a list")
    return tuple(overrides)


def _case_file(path: Path) -> Path:
    if path.is_dir():
        if not (path / CASE_FILE).is_file():
            raise CaseError(f"no {CASE_FILE} in case directory {path}: create "
                            f"{path / CASE_FILE}, or pass the path of a .toml file")
        return path / CASE_FILE
    if path.is_file():
        if path.suffix != ".toml":
            raise CaseError(f"case file {path} is not a .toml file: pass a case directory "
                            f"or a path to a .toml file")
        return path
    raise CaseError(f"case not found: {path} does not exist (expected a case directory "
                    f"containing {CASE_FILE}, or a path to a .toml file)")


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as stream:
            return tomllib.load(stream)
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(f"malformed TOML in {path}: {exc}; fix the syntax there "
                        "(TOML reference: https://toml.io)") from None
    except UnicodeDecodeError as exc:
        raise CaseError(f"case file {path} is not valid UTF-8 text ({exc.reason} at byte "
                        f"{exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise CaseError(f"cannot read case file {path}: {exc.strerror}") from None


def parse_override(text: str) -> tuple[tuple[str, ...], Any]:
    """``"a.b=value"`` -> (("a", "b"), value), value parsed as TOML where it parses."""
    key, sep, value = text.partition("=")
    parts = tuple(part.strip() for part in key.split("."))
    if not sep:
        raise CaseError(f"malformed override {text!r}: expected key.path=value, "
                        "e.g. physics.nu=0.02")
    if not all(parts):
        raise CaseError(f"malformed override {text!r}: empty key or key part before '='; "
                        "expected key.path=value, e.g. physics.nu=0.02")
    try:
        parsed = tomllib.loads("v = " + value)
    except tomllib.TOMLDecodeError:
        return parts, value.strip()
    return parts, parsed["v"] if parsed.keys() == {"v"} else value.strip()


def apply_overrides(raw: dict, overrides: Sequence[str]) -> dict:
    """A copy of ``raw`` with each ``key.path=value`` override set (tables created).

    Keys that exclude each other replace each other: setting one initial-condition
    source (expression, file, truth) removes the others (and ``variable`` with
    ``file``), and setting ``time.dt`` removes ``time.cfl`` and vice versa.
    """
    raw = copy.deepcopy(raw)
    for text in _override_list(overrides):
        parts, value = parse_override(text)
        node = raw
        for depth in range(len(parts) - 1):
            node = _child(node, parts, depth, text)
        if parts[:-1] == ("initial_condition",) and parts[-1] in IC_SOURCES:
            dropped = [s for s in IC_SOURCES if s != parts[-1]]
            for key in dropped + (["variable"] if "file" in dropped else []):
                node.pop(key, None)
        if parts[:-1] == ("time",) and parts[-1] in TIME_STEP_CHOICES:
            node.pop(next(k for k in TIME_STEP_CHOICES if k != parts[-1]), None)
        _assign(node, parts, value, text)
    return raw


def _index(node: list, parts: tuple, depth: int, text: str) -> int:
    part = parts[depth]
    if not part.isdigit() or int(part) > len(node):
        raise CaseError(f"override {text!r}: {_dotted(parts[:depth]) or 'value'} is an "
                        f"array of {len(node)}; use an index 0..{len(node)}, not {part!r}")
    return int(part)


def _child(node: Any, parts: tuple, depth: int, text: str) -> Any:
    part = parts[depth]
    if isinstance(node, list):
        index = _index(node, parts, depth, text)
        if index == len(node):
            node.append({})
        child = node[index]
    else:
        child = node.setdefault(part, [] if parts[depth + 1].isdigit() else {})  # closure.0.kind -> a list
    if not isinstance(child, (dict, list)):
        raise CaseError(f"override {text!r}: {'.'.join(parts[:depth + 1])} is "
                        f"{_show(child)}, not a table, so it has no key {parts[depth + 1]!r}")
    return child


def _assign(node: Any, parts: tuple, value: Any, text: str) -> None:
    if isinstance(node, list):
        index = _index(node, parts, len(parts) - 1, text)
        node[index:index + 1] = [value]
    else:
        node[parts[-1]] = value


# --------------------------------------------------------------------------
# validation of the whole case


def _build(raw: dict, toml_path: Path, overrides: tuple[str, ...],
           analytic: Mapping[str, Callable] | None) -> Case:
    directory = toml_path.parent.resolve()
    sections, problems = _validate(raw, directory, _analytic_registry(analytic))
    if problems:
        raise CaseError(_report(toml_path, overrides, problems))
    sections["closures"] = sections.pop("closure")
    return Case(directory=directory, path=toml_path.resolve(), raw=_freeze(raw),
                overrides=overrides, **sections)


def _validate(raw: dict, directory: Path, registry: Mapping | None,
              nested: bool = False) -> tuple[dict, list[_Problem]]:
    """Every section validated (defaults for absent ones) and all problems found."""
    truth = raw.get("truth")
    ctx = _Context(directory=directory, analytic=registry, has_truth="truth" in raw,
                   analytic_truth=isinstance(truth, dict) and "analytic" in truth,
                   parse=_expression_parser())
    problems = [_Problem((key,), f"unknown section (allowed: {', '.join(_SECTIONS)})")
                for key in raw if key not in _SECTIONS]
    sections = {}
    for name, spec in _SECTIONS.items():
        if name not in raw:
            sections[name] = spec.default
            if spec.required:
                problems.append(_Problem((name,), f"missing required section [{name}]"))
            continue
        sections[name], found = _validate_section(name, raw[name], ctx)
        problems += found
        if name == "grid":
            shape = sections[name].shape if sections[name] is not None else None
            ctx = dataclasses.replace(ctx, ndim=_ndim(sections[name], raw[name]), shape=shape)
    problems += _cross_problems(sections, ctx)
    if not nested and sections.get("training") is not None:
        known = {_format(p) for p in problems}  # a base problem is not repeated per configuration
        problems += [p for p in _configuration_problems(raw, sections["training"], directory,
                                                        registry)
                     if _format(p._replace(loc=p.loc[3:])) not in known]
    if not problems and sections["training"] is not None:
        time, training = sections["time"], sections["training"]
        if training.train_times is None:
            sections["training"] = training.model_copy(
                update={"train_times": (time.start, time.stop)})
    return sections, problems


def _cross_problems(sections: dict, ctx: _Context) -> list[_Problem]:
    """Checks between valid sections: the fine truth's physics and initial condition."""
    problems = []
    truth, physics = sections.get("truth"), sections.get("physics")
    if truth is not None and truth.fine is not None:
        ic = sections.get("initial_condition")
        if ic is not None and ic.file is not None:
            problems.append(_Problem(("truth", "fine"), "cannot refine an initial condition "
                                     "read from a file (it is on the case grid); use "
                                     "initial_condition.expression, or an analytic or file "
                                     "truth"))
        if physics is not None and truth.fine.physics:
            merged = merged_physics(physics.model_dump(mode="json"), truth.fine.physics)
            _, found = _validate_section("physics", merged, ctx)
            problems += [p._replace(loc=("truth", "fine") + p.loc) for p in found]
    return problems


def _configuration_problems(raw: dict, training: TrainingConfig, directory: Path,
                            registry: Mapping | None) -> list[_Problem]:
    """Each ``training.configurations[i]`` applied to the case must give a valid case."""
    problems = []
    base = {key: value for key, value in raw.items() if key != "training"}
    for i, overrides in enumerate(training.configurations):
        loc = ("training", "configurations", i)
        fixed = [j for j, text in enumerate(overrides)
                 if text.partition("=")[0].strip().split(".")[0] == "training"]
        if fixed:
            problems += [_Problem(loc + (j,), "a configuration cannot change [training]",
                                  overrides[j]) for j in fixed]
            continue
        try:
            changed = apply_overrides(base, overrides)
        except CaseError as exc:
            problems.append(_Problem(loc, str(exc)))
            continue
        _, found = _validate(changed, directory, registry, nested=True)
        problems += [p._replace(loc=loc + p.loc) for p in found]
    return problems


def _ndim(grid: GridConfig | None, raw_grid: Any) -> int | None:
    """The grid's dimension, from its domain alone if the rest of [grid] is invalid."""
    if grid is not None:
        return grid.ndim
    try:
        domain = _domain(raw_grid.get("domain"))
    except (AttributeError, _Problems):
        return None
    return 1 if _is_number(domain[0]) else 2


def _report(toml_path: Path, overrides: tuple[str, ...], problems: list[_Problem]) -> str:
    count = f"{len(problems)} error{'s' if len(problems) != 1 else ''}"
    applied = f" with --set {' '.join(overrides)}" if overrides else ""
    lines = [f"invalid case {toml_path}{applied} ({count}):"]
    return "\n".join(lines + [f"  {_format(p)}" for p in problems])
