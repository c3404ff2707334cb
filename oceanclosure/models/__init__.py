"""Low-fidelity PDE models in flux form, one per module."""

from .advection_diffusion import AdvectionDiffusion
from .base import FluxModel
from .burgers import Burgers
from .kdv_burgers import KdVBurgers

MODELS = {
    "advection_diffusion": AdvectionDiffusion,
    "burgers": Burgers,
    "kdv_burgers": KdVBurgers,
}

__all__ = ["AdvectionDiffusion", "Burgers", "FluxModel", "KdVBurgers", "MODELS"]
