"""``[physics] model = "npzd_oa" | "npz_oa"``: the plankton columns and their keys.

Every parameter of `biogeochem.parameters.PARAMETERS` is a key of ``[physics]``
under its table name (``mu_max``, ``lambda``, …), with the reference value as its
default; ``mixing`` is the arctan K_z(z, t) (or ``"none"``), ``velocity`` a sinking
speed per tracer (m d⁻¹, z positive up: ``{ D = -1.0 }``), ``mortality_form`` the
M(Z) of the extra zooplankton mortality q m_z M(Z).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Optional, Union

from pydantic import Discriminator, Field, Tag, create_model

from ..biogeochem.model import PlanktonColumn
from ..biogeochem.parameters import PARAMETERS, POSITIVE
from ..biogeochem.reactions import variables_of
from ..errors import InputError
from .base import (
    NonNegative,
    Number,
    Positive,
    Text,
    _Context,
    _expression_problem,
    _Model,
    _Problem,
)
from .physics import Scheme, _Physics

REFERENCE_MIXED_LAYER_T = (0.0, 25.0, 175.0, 365.0)
REFERENCE_MIXED_LAYER_DEPTH = (-80.0, -25.0, -25.0, -80.0)


class MixedLayerConfig(_Model):
    """``mixing.mixed_layer``: the mixed-layer depth M(t) (m, negative), piecewise linear through
    ``(t, depth)``, repeating every ``period`` days."""

    t: tuple[Number, ...] = REFERENCE_MIXED_LAYER_T
    depth: tuple[Number, ...] = REFERENCE_MIXED_LAYER_DEPTH
    period: Optional[Positive] = 365.0

    def table(self):
        from ..biogeochem.mixing import mixed_layer_table

        return mixed_layer_table(self.t, self.depth, self.period)

    def _problems(self, ctx):
        try:
            self.table()
        except ValueError as err:
            return [_Problem((), str(err).removeprefix("physics.mixing.mixed_layer: "))]
        positive = [d for d in self.depth if d > 0]
        if positive:
            return [_Problem(("depth",), "depths are negative (z is positive up, the surface is z = 0)",
                             list(self.depth))]
        return []


class MixingConfig(_Model):
    """``mixing``: K_z(z, t) = K_zb + (K_z0 − K_zb) × arctan step at the mixed-layer depth (m² d⁻¹)."""

    K_z0: NonNegative = 8.64
    K_zb: NonNegative = 0.0864
    g: Positive = 0.1
    mixed_layer: MixedLayerConfig = Field(default_factory=MixedLayerConfig)

    def coefficient(self, bottom: float):
        from ..biogeochem.mixing import MixingProfile

        return MixingProfile(self.K_z0, self.K_zb, self.g, bottom, self.mixed_layer.table())


class MixingFileConfig(_Model):
    """``mixing = { file = "kz.nc", variable = "K_z" }``: K_z(z[, time]) read from a netCDF forcing file
    (at the cell centres, interpolated to the faces and in time; `coefficients.FileCoefficient`)."""

    file: Text
    variable: Text = "K_z"

    def coefficient(self, grid, directory):
        from ..coefficients import coefficient_from_spec

        return coefficient_from_spec({"file": self.file, "variable": self.variable}, dims=("z",),
                                     what="physics.mixing", base_dir=directory, grid=grid)

    def _problems(self, ctx):
        from .closures import _file_problem

        return _file_problem(self.file, "file", ctx)


def _mixing_kind(value) -> str:
    """Which form a ``mixing`` value takes: "none", a forcing ``file`` table, or the arctan profile.

    The tags start with ``tag:``, which error locations leave out (`sections._walk`)."""
    if isinstance(value, str):
        return "tag:none"
    if isinstance(value, dict) and "file" in value or isinstance(value, MixingFileConfig):
        return "tag:file"
    return "tag:arctan"


class _PlanktonPhysics(_Physics):
    """The keys the two plankton models share (module docstring)."""

    scheme: Scheme = "upwind"
    mixing: Annotated[Union[Annotated[Literal["none"], Tag("tag:none")], Annotated[MixingFileConfig, Tag("tag:file")],
                            Annotated[MixingConfig, Tag("tag:arctan")]],
                      Discriminator(_mixing_kind)] = Field(default_factory=MixingConfig)
    velocity: dict[Text, Number] = Field(default_factory=dict)
    mortality_form: Text = "Z**2"

    #: NPZD-OA (True) or NPZ-OA (False); a class attribute, not a key.
    detritus: ClassVar[bool] = True
    #: Time is in days (rates are per day).
    time_units: ClassVar[str] = "days"
    #: Fields a closure may read besides the state (`biogeochem.model.PlanktonColumn.closure_inputs`).
    closure_input_names: ClassVar[tuple[str, ...]] = PlanktonColumn.closure_input_names

    @property
    def variable_names(self) -> tuple[str, ...]:
        return tuple(variables_of(self.detritus))

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in PARAMETERS)

    def parameter_values(self) -> dict[str, float]:
        return {p.name: float(getattr(self, p.name)) for p in PARAMETERS}

    def reactions(self):
        from ..biogeochem.reactions import Plankton

        return Plankton(self.detritus, self.mortality_form)

    def build(self, grid, bc, directory=None):
        """The `biogeochem.model.PlanktonColumn` of this table on ``grid`` (files relative to ``directory``)."""
        if grid.ndim == 1 and grid.domain[0][1] != 0.0:
            raise InputError(f"grid.domain: a plankton column's top is the sea surface, z = 0 (light and mixing are "
                             f"functions of depth below it); got [{grid.domain[0][0]:g}, {grid.domain[0][1]:g}]")

        if self.mixing == "none":
            mixing = 0.0
        elif isinstance(self.mixing, MixingFileConfig):
            mixing = self.mixing.coefficient(grid, directory)
        else:
            mixing = self.mixing.coefficient(float(grid.domain[0][0]))
        return PlanktonColumn(grid, bc, self.scheme, reactions=self.reactions(), mixing=mixing,
                              velocity={k: (float(v),) for k, v in self.velocity.items()},
                              parameters=self.parameter_values())

    def _problems(self, ctx: _Context):
        names = self.variable_names
        problems = [_Problem(("velocity", k), f"not a variable of {self.model} (its variables: {', '.join(names)})")
                    for k in self.velocity if k not in names]
        problems += _expression_problem(self.mortality_form, names, "physics.mortality_form", ctx,
                                        ("mortality_form",))
        problems += [_Problem((name,), "must be > 0", getattr(self, name)) for name in POSITIVE
                     if not getattr(self, name) > 0]
        if self.gamma + getattr(self, "lambda") > 1:
            problems.append(_Problem(("gamma",), f"gamma + lambda must be <= 1 (the rest of grazing, 1 - gamma - "
                                     f"lambda, goes to detritus); got {self.gamma:g} + {getattr(self, 'lambda'):g}"))
        if ctx.dims is not None and ctx.dims != ("z",):
            problems.append(_Problem(("model",), f"{self.model} is a 1-D column: set grid.dims = [\"z\"] "
                                     f"(got {list(ctx.dims)})"))
        return problems


def _plankton_model(name: str, detritus: bool, doc: str):
    parameters = {p.name: (NonNegative, Field(p.default, description=f"{p.meaning} [{p.units}]"))
                  for p in PARAMETERS}
    model = create_model(
        name, __base__=_PlanktonPhysics, __doc__=doc,
        model=(Literal[("npzd_oa" if detritus else "npz_oa")], "npzd_oa" if detritus else "npz_oa"),
        **parameters)
    model.detritus = detritus
    return model


NpzdOaPhysics = _plankton_model(
    "NpzdOaPhysics", True,
    "NPZD-OA: nutrient, phytoplankton, zooplankton, detritus, DIC, TA on a z column (`biogeochem`).")
NpzOaPhysics = _plankton_model(
    "NpzOaPhysics", False,
    "NPZ-OA: NPZD-OA without detritus (it is remineralised at once), on a z column (`biogeochem`).")

PLANKTON_MODELS = (NpzdOaPhysics, NpzOaPhysics)


def is_column(physics) -> bool:
    """Whether a validated physics table is a plankton column (npzd_oa or npz_oa)."""
    return isinstance(physics, _PlanktonPhysics)


def physics_with(physics, changes, what: str):
    """``physics`` (a validated table) with ``changes`` applied, validated; ``(table, problems)``."""
    from .base import _Context
    from .sections import _validate_section
    from .truth import merged_physics

    merged = merged_physics(physics.model_dump(mode="json"), changes)
    table, problems = _validate_section("physics", merged, _Context())
    return table, [p._replace(loc=tuple(what.split(".")) + p.loc[1:]) for p in problems]  # p.loc[0] is "physics"


def truth_physics(case_physics, truth):
    """The physics table of the truth's model: a fine truth's overrides applied (else the case's own)."""
    if truth is None or truth.fine is None or not truth.fine.physics:
        return case_physics
    table, _ = physics_with(case_physics, truth.fine.physics, "truth.fine.physics")
    return table if table is not None else case_physics


def spin_up_physics(case_physics, ic):
    """The physics of the spin-up (`biogeochem.initial`): the case's with ``spin_up.physics`` applied."""
    changes = ic.spin_up.physics if ic.spin_up is not None else {}
    if not changes:
        return case_physics, []
    return physics_with(case_physics, changes, "initial_condition.spin_up.physics")
