"""Closure operators: the contract and its implementations.

* `base`: the contract (`Closure`, `NoClosure`, `ClosureSum`);
* `library`: interpretable `LibraryClosure` (Σ c_k T_k over named terms);
* `neural`: `NeuralClosure` (pointwise MLP or flux-form stencil network);
* `delay`: `DiscreteDelayClosure`, `DistributedDelayClosure` (ring buffers);
* `transfer`: `TransferClosure` (learned rates along edges between tracers, conserving a total);
* `baselines`: Smagorinsky, eddy diffusivity, upwind truncation correction;
* `factory`: build closures from ``[[closure]]`` tables; `checkpoint`: parameters.
"""

from .base import Closure, ClosureSum, NoClosure, as_closure
from .baselines import (
    EddyDiffusivityClosure,
    SmagorinskyClosure,
    UpwindCorrectionClosure,
)
from .delay import DiscreteDelayClosure, DistributedDelayClosure
from .library import LibraryClosure
from .neural import NeuralClosure
from .transfer import TransferClosure

__all__ = [
    "Closure", "ClosureSum", "DiscreteDelayClosure", "DistributedDelayClosure", "EddyDiffusivityClosure",
    "LibraryClosure", "NeuralClosure", "NoClosure", "SmagorinskyClosure", "TransferClosure",
    "UpwindCorrectionClosure", "as_closure",
]
