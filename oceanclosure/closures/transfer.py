"""Transfer closures: learned rates that move a conserved quantity between tracers.

For declared edges e = (a → b) with a learned rate r_e(fields, x; φ) ≥ 0 (if asked),

    ∂q_a/∂t −= r_e / w_a,        ∂q_b/∂t += r_e / w_b,

so that Σ_i w_i S_i = Σ_e (−r_e + r_e) = 0 for *any* parameters φ: the weighted
total Σ w_i q_i (e.g. total nitrogen, with w = 1 for tracers in mmol N m⁻³) is
conserved by construction, up to round-off. The rates come from one closure
with one output per edge: a `LibraryClosure` (Σ c_k T_k per edge) or a
`NeuralClosure` (a pointwise network with one output per edge), evaluated on
the stencil features of the state. ``positive`` makes a rate non-negative:
``"softplus"`` (log(1 + eᶻ)), ``"square"`` (z²) or ``None`` (signed, a
two-way exchange).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import jax
import jax.numpy as jnp

from ..errors import InputError
from .base import Closure, as_fields, like_state

POSITIVE = {"softplus": jax.nn.softplus, "square": jnp.square, None: lambda z: z}


def edge_label(edge: Sequence[str]) -> str:
    """The output name of an edge's rate: ``"N_to_P"``."""
    return f"{edge[0]}_to_{edge[1]}"


class TransferClosure(Closure):
    """Rates along declared edges between tracers (module docstring).

    Args:
      rate: a `LibraryClosure` or `NeuralClosure` whose ``outputs`` are the edge
        labels (`edge_label`), in the order of ``edges``.
      edges: ``[(source, sink), ...]``, tracer names.
      weights: ``{tracer: w}`` of the conserved total (default 1 for every tracer
        on an edge); every tracer on an edge needs a non-zero weight.
      positive: ``"softplus"``, ``"square"`` or None (module docstring).
    """

    def __init__(self, rate: Closure, edges: Sequence[Sequence[str]], *, weights: Mapping[str, float] | None = None,
                 positive: str | None = "softplus"):
        self.edges = tuple((str(a), str(b)) for a, b in edges)
        if not self.edges:
            raise InputError("TransferClosure: give at least one edge, e.g. edges = [['N', 'P']]")
        loops = [e for e in self.edges if e[0] == e[1]]
        if loops or len(set(self.edges)) != len(self.edges):
            raise InputError(f"TransferClosure: edges must join two different tracers, once each; got {list(self.edges)}")
        tracers = tuple(dict.fromkeys(t for e in self.edges for t in e))
        self.weights = _weights(weights, tracers)
        if positive not in POSITIVE:
            raise InputError(f"TransferClosure: positive must be one of {list(POSITIVE)}, got {positive!r}")
        self.positive = positive
        labels = tuple(edge_label(e) for e in self.edges)
        outputs = tuple(getattr(rate, "outputs", ()))
        if outputs != labels:
            raise InputError(f"TransferClosure: the rate closure needs one output per edge, named {list(labels)}; "
                             f"it has {list(outputs)}")
        self.rate = rate
        self.variables = tuple(rate.variables)
        self.stencil_width = rate.stencil_width

    def rates_on_edges(self, fields: Mapping, grid, physics) -> dict:
        """``{label: r_e}`` after the positivity map."""
        raw = self.rate.tendencies(fields, grid, physics)
        transform = POSITIVE[self.positive]
        return {edge_label(e): transform(raw[edge_label(e)]) for e in self.edges}

    def tendencies(self, fields: Mapping, grid, physics) -> dict:
        out: dict = {}
        for edge, r in zip(self.edges, self.rates_on_edges(fields, grid, physics).values()):
            source, sink = edge
            out[source] = out.get(source, 0.0) - r / self.weights[source]
            out[sink] = out.get(sink, 0.0) + r / self.weights[sink]
        return out

    def __call__(self, u, state, grid, t, physics):
        fields = as_fields(u, self.variables)
        return like_state(u, self.tendencies(fields, grid, physics), self.variables), state

    @property
    def conserves(self) -> dict[str, float]:
        return dict(self.weights)

    def coefficient_table(self) -> dict[str, dict[str, float]]:
        return self.rate.coefficient_table()

    def equations(self) -> dict[str, list[dict]]:
        return self.rate.equations()

    def describe(self) -> str:
        return f"TransferClosure({self.rate.describe()}; {', '.join('→'.join(e) for e in self.edges)})"


def _weights(weights: Mapping[str, float] | None, tracers: Sequence[str]) -> dict[str, float]:
    weights = dict(weights or {})
    unknown = [k for k in weights if k not in tracers]
    if unknown:
        raise InputError(f"TransferClosure: weights for {unknown}, which are on no edge (tracers: {list(tracers)})")
    out = {t: float(weights.get(t, 1.0)) for t in tracers}
    zero = [t for t, w in out.items() if w == 0.0]
    if zero:
        raise InputError(f"TransferClosure: weights must be non-zero, got 0 for {zero}")
    return out
