"""``[physics]``: the model and its parameters, one config per registered model."""

from __future__ import annotations

from typing import (
    Annotated,
    Any,
    ClassVar,
    Literal,
    Optional,
    Union,
)

from pydantic import (
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
)

from ..models import AdvectionDiffusion, AdvectionDiffusionReaction, Burgers, KdVBurgers
from .adr import adr_problems
from .base import (
    SCHEMES,
    NonNegative,
    Number,
    Text,
    _coefficient,
    _Context,
    _Model,
    _Problem,
    _Problems,
    _thaw,
)

# --------------------------------------------------------------------------
# [physics]

Scheme = Literal[SCHEMES]


class _Physics(_Model):
    model: str
    scheme: Scheme = "muscl_vanleer"

    @property
    def variable_names(self) -> tuple[str, ...]:
        """The model's fields (one, ``u``, for the single-field models)."""
        return ("u",)

    #: The units of the model's time (CF ``units`` of the run file's time coordinate).
    time_units: ClassVar[str] = "1"

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Names a boundary expression may use besides t."""
        return tuple(k for k, v in self.params().items() if isinstance(v, (int, float)))

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
    scheme: Scheme = AdvectionDiffusion.default_scheme
    velocity: Annotated[Union[float, str, tuple[Union[float, str], ...]],
                        PlainValidator(_velocity), PlainSerializer(_thaw)] = 0.0
    diffusivity: Annotated[Union[float, str], PlainValidator(_diffusivity)] = 0.0


class BurgersPhysics(_Physics):
    """uₜ + (u²/2)ₓ = ν uₓₓ."""

    model: Literal["burgers"] = "burgers"
    scheme: Scheme = Burgers.default_scheme
    nu: NonNegative


class KdvBurgersPhysics(_Physics):
    """uₜ + a u uₓ + b uₓₓₓ = ν uₓₓ."""

    model: Literal["kdv_burgers"] = "kdv_burgers"
    scheme: Scheme = KdVBurgers.default_scheme
    a: Number = 1.0
    b: Number = 0.0
    nu: NonNegative = 0.0


class VariableConfig(_Model):
    """One tracer of ``physics.variables``: its CF attributes."""

    units: Text = "1"
    long_name: Text = ""
    standard_name: Optional[Text] = None


class AdvectionDiffusionReactionPhysics(_Physics):
    """∂q/∂t + ∇·(w_q q) = ∇·(κ_q ∇q) + R_q for named tracers q (`models.adr`).

    ``variables`` names the tracers; ``diffusivity`` is one coefficient for all
    (a number, an expression in the coordinates, t and ``parameters``, a time
    table, an expression calling tables, or a netCDF field) or ``{name: ...}``
    per tracer; ``velocity`` is ``{name: w}`` per tracer (a list per dimension in
    2D); ``reactions`` is ``{name: expression}`` in the tracers, coordinates, t
    and ``parameters``, or the name of a registered reaction set.
    """

    model: Literal["advection_diffusion_reaction"] = "advection_diffusion_reaction"
    scheme: Scheme = AdvectionDiffusionReaction.default_scheme
    variables: dict[Text, VariableConfig]
    diffusivity: Any = 0.0
    velocity: dict[Text, Any] = Field(default_factory=dict)
    reactions: Union[dict[Text, Text], Text, None] = None
    parameters: dict[Text, Number] = Field(default_factory=dict)

    @property
    def variable_names(self) -> tuple[str, ...]:
        return tuple(self.variables)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(self.parameters)

    def _problems(self, ctx):
        return adr_problems(self, ctx)


from .biogeochem import PLANKTON_MODELS  # noqa: E402 (it builds on _Physics above)

PHYSICS_MODELS = (AdvectionDiffusionPhysics, AdvectionDiffusionReactionPhysics, BurgersPhysics,
                  KdvBurgersPhysics, *PLANKTON_MODELS)
PhysicsConfig = Annotated[Union[PHYSICS_MODELS], Field(discriminator="model")]
