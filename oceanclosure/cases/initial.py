"""``[initial_condition]``: the initial fields."""

from __future__ import annotations

from typing import (
    Any,
    ClassVar,
    Literal,
    Optional,
)

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..quadrature import SAMPLINGS
from .base import (
    IC_SOURCES,
    Flag,
    NonNegative,
    Number,
    Text,
    _Context,
    _expression_problem,
    _is_number,
    _Model,
    _Problem,
    _Problems,
)
from .family import FamilyConfig

# --------------------------------------------------------------------------
# [initial_condition], [truth]


#: The keys of a plankton column's initial state (`TotalNitrogenConfig`, `SpinUpConfig`).
COLUMN_KEYS = ("total_nitrogen", "spin_up")
IC_KEYS = (*IC_SOURCES, "variable", "time", "sampling", *COLUMN_KEYS)
SAMPLED_SOURCES = ("expression", "truth", "family")
"""The sources that are functions of x (and y): they take ``sampling``."""


class FieldInitialCondition(_Model):
    """The initial state of one field: exactly one of ``expression``, ``file``, ``truth = true``, ``family``.

    ``sampling`` says how an expression, the analytic truth or a family becomes the
    state: ``"cell_average"`` (default), ū_i = (1/|C_i|) ∫_{C_i} u₀ dx by adaptive
    Gauss–Legendre quadrature (`quadrature.cell_average`; a family's averages are
    exact, `families`), or ``"point"``, u₀(x_i) at the cell centres. A file is read
    as it is; ``time`` picks the time of a file with a time axis (`fieldfile.at_time`:
    needed when it has several). A ``family`` (`cases.family.FAMILIES`) draws a
    seeded random field on a 1-D grid.
    """

    expression: Optional[Text] = None
    file: Optional[Text] = None
    variable: Optional[Text] = None
    time: Optional[Number] = None
    truth: Optional[Flag] = None
    family: Optional[FamilyConfig] = None
    sampling: Optional[Literal[SAMPLINGS]] = None

    @property
    def source(self) -> str:
        """Which source is used: "expression", "file", "truth" or "family"."""
        return next(name for name in IC_SOURCES if getattr(self, name) not in (None, False))

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if _is_number(data.get("expression")):  # a constant is an expression too
                data = {**data, "expression": repr(data["expression"])}
            if "file" in data and "variable" not in data:
                data = {**data, "variable": "u"}
            if "sampling" not in data and any(data.get(k) not in (None, False) for k in SAMPLED_SOURCES):
                data = {**data, "sampling": "cell_average"}
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

    @field_validator("family")
    @classmethod
    def _one_dimensional(cls, family, info: ValidationInfo):
        ndim = _Context.of(info).ndim
        if family is not None and ndim not in (None, 1):
            raise _Problems([_Problem((), f"a family needs a 1-D grid (this grid is {ndim}-D); "
                                      "on this grid give initial_condition.expression or file instead")])
        return family

    def _problems(self, ctx):
        sources = [n for n in IC_SOURCES if getattr(self, n) not in (None, False)]
        problems = []
        if len(sources) != 1:
            got = ", ".join(sources) if sources else "none"
            problems.append(_Problem((), "give exactly one source: expression, file, "
                                     f"truth = true, or family (got {got})"))
        if self.variable is not None and self.file is None:
            problems.append(_Problem(("variable",), "only allowed together with file",
                                     self.variable))
        if self.time is not None and self.file is None:
            problems.append(_Problem(("time",), "only allowed together with file (it picks the file's time)",
                                     self.time))
        if self.sampling is not None and self.file is not None:
            problems.append(_Problem(("sampling",), "only allowed together with expression or "
                                     "truth = true, or with a family (a file is read as it is)", self.sampling))
        return problems


class TotalNitrogenConfig(_Model):
    """``initial_condition.total_nitrogen``: T(z) linear from ``top`` (z = 0) to ``bottom`` (mmol N m⁻³),
    split into the pools by ``split`` (default N 0.85, P = Z = D 0.05; `biogeochem.initial`)."""

    top: NonNegative
    bottom: NonNegative
    split: dict[Text, NonNegative] = Field(default_factory=dict)

    def _problems(self, ctx):
        if self.split and abs(sum(self.split.values()) - 1.0) > 1e-9:
            return [_Problem(("split",), f"the fractions must sum to 1, they sum to {sum(self.split.values()):g}",
                             self.split)]
        return []


class SpinUpConfig(_Model):
    """``initial_condition.spin_up``: days of reactions alone before t = 0, with ``physics`` overrides
    (e.g. ``{ q = 1.0 }`` or ``{ model = "npzd_oa", q = 1.0 }``, the truth's), `biogeochem.initial`."""

    days: NonNegative = 30.0
    physics: dict[Text, Any] = Field(default_factory=dict)


class InitialConditionConfig(FieldInitialCondition):
    """``[initial_condition]``: one field's source, or ``[initial_condition.<name>]`` per field.

    A single-field model takes the flat form (``expression = "sin(x)"``); a
    multi-field model names every field: ``[initial_condition.A] expression = "1"``.
    """

    fields: dict[Text, FieldInitialCondition] = Field(default_factory=dict)
    total_nitrogen: Optional[TotalNitrogenConfig] = None
    spin_up: Optional[SpinUpConfig] = None
    #: Keys that the case file does not write (the tables sit directly under [initial_condition]).
    flattened_keys: ClassVar[tuple[str, ...]] = ("fields",)

    @model_validator(mode="before")
    @classmethod
    def _per_field(cls, data: Any) -> Any:
        """Keys that are not a source key are per-field tables; a shared ``sampling`` goes to each."""
        if isinstance(data, dict) and "fields" not in data:
            named = {k: v for k, v in data.items() if k not in IC_KEYS}
            sampling = data.get("sampling")
            named = {k: _field_defaults(k, v, sampling) for k, v in named.items()}
            if named:
                taken = any(isinstance(v, dict) and "sampling" in v for v in named.values())
                moved = [*named, *(["sampling"] if sampling is not None and taken else [])]
                data = {**{k: v for k, v in data.items() if k not in moved}, "fields": named}
        return data

    @property
    def source(self) -> str:
        if self.total_nitrogen is not None:
            return "total_nitrogen"
        return "fields" if self.fields else super().source

    def for_field(self, name: str) -> FieldInitialCondition:
        """The source of field ``name`` (the flat table for a single-field model)."""
        return self.fields[name] if self.fields else self

    def _problems(self, ctx):
        if self.total_nitrogen is not None:
            others = [k for k in (*IC_SOURCES, "variable", "time", "sampling")
                      if getattr(self, k) not in (None, False)]
            return [_Problem((k,), "cannot be combined with total_nitrogen (a plankton column's initial state)")
                    for k in [*others, *self.fields]]
        if self.spin_up is not None:
            return [_Problem(("spin_up",), "only allowed together with total_nitrogen")]
        if not self.fields:
            return super()._problems(ctx)
        flat = [k for k in IC_KEYS if getattr(self, k) not in (None, False)]
        return [_Problem((k,), "cannot be combined with per-field tables ([initial_condition.<name>]); "
                         "give each field its own source") for k in flat]


def _field_defaults(name: str, table: Any, sampling: Any) -> Any:
    """A per-field table with its defaults: the file variable is the field's name; the shared sampling."""
    if not isinstance(table, dict):
        return table
    if "file" in table and "variable" not in table:
        table = {**table, "variable": name}
    if sampling is not None and "sampling" not in table and any(k in table for k in SAMPLED_SOURCES):
        table = {**table, "sampling": sampling}
    return table


def check_initial_condition(ic: InitialConditionConfig, variables: tuple[str, ...],
                            column: bool = False) -> list[_Problem]:
    """The fields named match the model's variables (cross-section check); ``column``: a plankton model."""
    if ic.total_nitrogen is not None:
        if not column:
            return [_Problem(("initial_condition", "total_nitrogen"), "only for the plankton models "
                             "(physics.model = \"npzd_oa\" or \"npz_oa\"); give each field a table instead")]
        unknown = [k for k in ic.total_nitrogen.split if k not in variables or k in ("DIC", "TA")]
        return [_Problem(("initial_condition", "total_nitrogen", "split", k), "not a nitrogen pool of the model "
                         f"({', '.join(v for v in variables if v not in ('DIC', 'TA'))})") for k in unknown]
    if column and not ic.fields:
        return [_Problem(("initial_condition",), "give total_nitrogen = { top = ..., bottom = ... } (the "
                         "reference initial state) or a table [initial_condition.<name>] per field")]
    if not ic.fields:
        if len(variables) > 1:
            return [_Problem(("initial_condition",), "this model has the fields "
                             f"{', '.join(variables)}: give each one a table [initial_condition.<name>]")]
        return []
    unknown = [_Problem(("initial_condition", k), f"not a field of the model (fields: {', '.join(variables)})")
               for k in ic.fields if k not in variables]
    missing = [_Problem(("initial_condition", k), "missing: every field needs an initial condition")
               for k in variables if k not in ic.fields]
    return unknown + missing
