"""``[[closure]]`` tables: one config per closure kind."""

from __future__ import annotations

from typing import (
    Annotated,
    Literal,
    Optional,
    Union,
)

from pydantic import (
    Field,
    Strict,
    model_serializer,
)

from ..closures.neural import ACTIVATIONS as _ACTIVATION_REGISTRY
from ..closures.neural import FACE_FEATURES, FLUX_SCALES, GATES
from ..stencils import feature_names
from .base import (
    Flag,
    NonNegative,
    Number,
    Positive,
    Text,
    _Context,
    _expression_problem,
    _Model,
    _Problem,
)


class NoClosureConfig(_Model):
    """``kind = "none"``: the null closure (zero tendency)."""

    kind: Literal["none"] = "none"


Count = Annotated[int, Strict(), Field(ge=1)]
ACTIVATIONS = tuple(_ACTIVATION_REGISTRY)


def _term_problems(terms, variables, parameters, ctx: _Context) -> list[_Problem]:
    """Each library term must be a valid expression over stencil features of the case's grid."""
    vocabulary = feature_names(variables, ctx.spatial(), 4, parameters)
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


#: The resolution-invariance keys of a network table and their defaults; a dump leaves
#: out those at their default, so the specs of closures trained before them are unchanged.
INVARIANCE_DEFAULTS = {"face_inputs": (), "jump_width": 1, "viscosity": "nu", "flux_scale": None,
                       "smooth_reference": False, "dx_power": 0.0, "length_scale": 1.0, "bound": None,
                       "stability_rates": False, "gate": None, "outputs": None, "constraints": {}}


class NetworkConfig(_Model):
    """A pointwise MLP over stencil features (docs/reference_problems.md §3).

    The resolution-invariance keys (`oceanclosure.closures.neural`, flux form):
    ``face_inputs`` (dimensionless face features among "jumps", "direction",
    "reynolds"), ``jump_width`` (w), ``viscosity`` (the parameter of "reynolds"),
    ``flux_scale = "jump"``, ``smooth_reference``, ``dx_power`` / ``length_scale``
    (output × (dx/L)^p, either form), ``bound`` (outputs c·tanh), ``stability_rates`` and
    ``gate = "reynolds"`` (flux × Re²/(1 + Re²)).
    """

    inputs: tuple[Text, ...] = ()
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
    face_inputs: tuple[Literal[FACE_FEATURES], ...] = ()
    jump_width: Annotated[int, Strict(), Field(ge=0, le=8)] = 1
    viscosity: Text = "nu"
    flux_scale: Optional[Literal[FLUX_SCALES]] = None
    smooth_reference: Flag = False
    dx_power: Annotated[Number, Field(ge=0, le=8)] = 0.0
    length_scale: Positive = 1.0
    bound: Optional[Positive] = None
    stability_rates: Flag = False
    gate: Optional[Literal[GATES]] = None
    outputs: Optional[tuple[Text, ...]] = None
    constraints: dict[Text, dict[Text, Number]] = Field(default_factory=dict)

    @model_serializer(mode="wrap")
    def _without_default_invariance_keys(self, handler):
        """Dumps (also nested in a delay or transfer table) leave out the invariance keys at their defaults."""
        out = handler(self)
        for key, default in INVARIANCE_DEFAULTS.items():
            if key in out and getattr(self, key) == default:
                del out[key]
        return out

    def _problems(self, ctx):
        problems = _file_problem(self.parameters_file, "parameters_file", ctx)
        if not self.inputs and not self.face_inputs:
            problems.append(_Problem(("inputs",), "give at least one input (or face_inputs with flux_form = true)",
                                     list(self.inputs)))
        if len(set(self.face_inputs)) != len(self.face_inputs):
            problems.append(_Problem(("face_inputs",), "must be distinct", list(self.face_inputs)))
        for key in ("face_inputs", "flux_scale", "gate"):
            if getattr(self, key) not in ((), None) and not self.flux_form:
                problems.append(_Problem((key,), "needs flux_form = true (face features and scales live on "
                                         "faces)", _plain(getattr(self, key))))
        if self.smooth_reference and "jumps" not in self.face_inputs:
            problems.append(_Problem(("smooth_reference",), "needs \"jumps\" in face_inputs",
                                     list(self.face_inputs)))
        outputs = self.outputs if self.outputs is not None else self.variables
        for name, combination in self.constraints.items():
            bad = [o for o in (name, *combination) if o not in outputs]
            if bad or any(o in self.constraints for o in combination):
                problems.append(_Problem(("constraints", name), f"a constraint ties an output to free outputs of "
                                         f"the network ({list(outputs)}); got {bad or list(combination)}"))
        if self.constraints and self.flux_form:
            problems.append(_Problem(("constraints",), "not with flux_form = true (a flux form conserves already)"))
        if ("reynolds" in self.face_inputs or self.gate) and self.viscosity not in self.parameters:
            problems.append(_Problem(("viscosity",), "face input \"reynolds\" and gate read this parameter: list it in "
                                     f"parameters (got parameters {list(self.parameters)})", self.viscosity))
        return problems


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


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


class TransferClosureConfig(_LibraryTerms):
    """``kind = "transfer"``: learned rates along ``edges`` between tracers, conserving Σ w q.

    The rate of each edge is a library (``terms``, one row of ``coefficients``
    per edge) or a network (``network = {...}``, one output per edge); its
    outputs are named ``<source>_to_<sink>`` and may not be given.
    """

    kind: Literal["transfer"]
    edges: tuple[tuple[Text, Text], ...]
    weights: dict[Text, Number] = Field(default_factory=dict)
    positive: Optional[Literal["softplus", "square", "none"]] = "softplus"
    network: Optional[NetworkConfig] = None

    @property
    def positivity(self) -> str | None:
        return None if self.positive in (None, "none") else self.positive

    def _problems(self, ctx):
        problems = self._library_problems(ctx, required=self.network is None)
        if self.network is not None and self.terms is not None:
            problems.append(_Problem(("network",), "give either terms or network, not both"))
        if self.outputs is not None:
            problems.append(_Problem(("outputs",), "not allowed: a transfer closure's outputs are its edges",
                                     list(self.outputs)))
        if self.network is not None and (self.network.outputs is not None or self.network.constraints):
            problems.append(_Problem(("network",), "outputs and constraints are not allowed here: a transfer "
                                     "closure's outputs are its edges, and it conserves by construction"))
        tracers = {t for e in self.edges for t in e}
        variables = set(self.network.variables if self.network is not None else self.variables)
        problems += [_Problem(("edges",), f"{t!r} is not one of the closure's variables {sorted(variables)}")
                     for t in sorted(tracers - variables)]
        if not self.edges:
            problems.append(_Problem(("edges",), "give at least one edge, e.g. [[\"N\", \"P\"]]"))
        return problems


class SmagorinskyClosureConfig(_Model):
    """``kind = "smagorinsky"``: d/dx((Cs dx)^2 |u_x| u_x)."""

    kind: Literal["smagorinsky"]
    cs: NonNegative = 1.0
    variable: Text = "u"


class EddyDiffusivityClosureConfig(_Model):
    """``kind = "eddy_diffusivity"``: kappa u_xx, a constant eddy diffusivity."""

    kind: Literal["eddy_diffusivity"]
    kappa: NonNegative
    variable: Text = "u"


class UpwindCorrectionClosureConfig(_Model):
    """``kind = "upwind_correction"``: -(dx/2)|u| u_xx (or its conservative flux form)."""

    kind: Literal["upwind_correction"]
    form: Literal["pointwise", "flux"] = "pointwise"
    variable: Text = "u"


CLOSURE_KINDS = (
    NoClosureConfig, LibraryClosureConfig, NeuralClosureConfig, DiscreteDelayClosureConfig,
    DistributedDelayClosureConfig, TransferClosureConfig, SmagorinskyClosureConfig, EddyDiffusivityClosureConfig,
    UpwindCorrectionClosureConfig,
)
ClosureConfig = Annotated[Union[CLOSURE_KINDS], Field(discriminator="kind")]
