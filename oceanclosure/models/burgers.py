"""Viscous Burgers equation.

    uₜ + ∇·(u²/2 · 1) = ν ∇²u,   in 1D:  uₜ + (u²/2)ₓ = ν uₓₓ

Advective face flux: the scheme's reconstruction with the exact Godunov flux of
u²/2 (or the central flux); diffusive face flux: -ν (u_j - u_{j-1}) / dx.
Physics: ``{"nu": ν}`` (viscosity, length²/time; ν = 1/Re).
"""

from __future__ import annotations

from ..errors import InputError
from ..fluxes import diffusive_flux
from .base import FluxModel, max_abs


class Burgers(FluxModel):
    """Viscous Burgers on a 1D or 2D grid (the same flux u²/2 along every axis)."""

    parameter_names = ("nu",)

    def __init__(self, grid, bc, scheme=FluxModel.default_scheme, nu: float = 0.0):
        super().__init__(grid, bc, scheme, {"nu": nu})
        if nu < 0:
            raise InputError(f"Burgers: viscosity nu must be >= 0, got {nu}")

    def line_flux(self, name, up, dim, t, physics):
        h = self.grid.step[dim]
        advective = self.scheme.quadratic_flux(up, self.halo, 1.0)
        return advective + diffusive_flux(up, self.halo, h, physics["nu"])

    def rates(self, fields, physics, times):
        speed = max_abs(fields)
        return {
            "advective": sum(speed / h for h in self.grid.step),
            "diffusive": sum(2 * float(physics["nu"]) / h**2 for h in self.grid.step),
            "dispersive": 0.0,
        }
