"""Low-fidelity PDE models in flux form, one per module."""

from .adr import AdvectionDiffusionReaction
from .advection_diffusion import AdvectionDiffusion
from .base import FluxModel, Variable
from .burgers import Burgers
from .kdv_burgers import KdVBurgers

MODELS = {
    "advection_diffusion": AdvectionDiffusion,
    "advection_diffusion_reaction": AdvectionDiffusionReaction,
    "burgers": Burgers,
    "kdv_burgers": KdVBurgers,
}

__all__ = ["AdvectionDiffusion", "AdvectionDiffusionReaction", "Burgers", "FluxModel", "KdVBurgers", "MODELS",
           "Variable"]
