"""``[truth]``: analytic, fine-run or file truths."""

from __future__ import annotations

from typing import (
    Annotated,
    Any,
    Literal,
    Mapping,
    Optional,
)

from pydantic import (
    Field,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..quadrature import SAMPLINGS
from .base import (
    PRECISIONS,
    STEPPERS,
    TRUTH_SOURCES,
    Number,
    Positive,
    Text,
    _analytic_registry,
    _Context,
    _Model,
    _Problem,
    _Problems,
    _tags,
    _thaw,
)
from .closures import _file_problem
from .physics import PHYSICS_MODELS, Scheme


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

    ``refine = 1`` runs it on the case's own grid: a truth that differs only in its
    physics (a missing process, ``physics = { q = 1.0 }``) or its model.

    ``scheme``, ``stepper``, ``cfl`` / ``dt`` and ``precision`` replace the case's for
    the fine run (if ``cfl`` and ``dt`` are both absent, the case's cfl is used, or
    cfl = 0.5 when the case fixes dt); ``physics`` overrides physics parameters and may
    name a richer ``model`` (validated against that model's fields).
    """

    refine: Annotated[int, Strict(), Field(ge=1)] = 8
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

    ``parameters`` are extra parameters of the analytic solution; ``sampling`` is how
    it is put on the grid: ``"cell_average"`` (default; ū_i(t) = (1/|C_i|) ∫_{C_i} u dx,
    what a finite-volume state holds) or ``"point"`` (u(x_i, t) at the centres);
    ``variable`` names the field in ``file``; ``output`` is where a generated truth is
    written (relative to the case directory).
    """

    analytic: Optional[Text] = None
    parameters: dict[Text, Number] = Field(default_factory=dict)
    sampling: Optional[Literal[SAMPLINGS]] = None
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
        if isinstance(data, dict) and data.get("analytic") is not None and "sampling" not in data:
            data = {**data, "sampling": "cell_average"}
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
        if self.sampling is not None and self.analytic is None:
            problems.append(_Problem(("sampling",), "only allowed together with analytic (a fine "
                                     "truth is cell-averaged already, a file is read as it is)",
                                     self.sampling))
        return problems + _file_problem(self.file, "file", ctx)
