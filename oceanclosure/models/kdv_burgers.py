"""KdV-Burgers equation, in flux form.

    uₜ + a u uₓ + b uₓₓₓ = ν uₓₓ   ⇔   uₜ + (a u²/2 + b uₓₓ − ν uₓ)ₓ = 0

Any of a, b, ν may be zero: a = 0 gives linear dispersion, b = 0 viscous
Burgers, ν = 0 the KdV equation. The dispersive term is the face flux b uₓₓ
(second order, `fluxes.dispersive_flux`); the advective flux is the scheme's
flux of a u²/2 (use ``central`` for a non-dissipative model). 1D only.
Physics: ``{"a": a, "b": b, "nu": ν}``.
"""

from __future__ import annotations

from ..errors import InputError
from ..fluxes import diffusive_flux, dispersive_flux
from .base import DISPERSION_RADIUS, FluxModel, max_abs


class KdVBurgers(FluxModel):
    parameter_names = ("a", "b", "nu")
    extra_halo = 2
    extra_boundary_order = 3

    default_scheme = "muscl_vanleer"

    def __init__(self, grid, bc, scheme=default_scheme, a: float = 1.0, b: float = 0.0, nu: float = 0.0):
        if grid.ndim != 1:
            raise InputError(f"KdVBurgers: only 1D grids are supported, got a {grid.ndim}D grid")
        if nu < 0:
            raise InputError(f"KdVBurgers: viscosity nu must be >= 0, got {nu}")
        super().__init__(grid, bc, scheme, {"a": a, "b": b, "nu": nu})

    def line_flux(self, name, up, dim, t, physics):
        h = self.grid.step[dim]
        flux = self.scheme.quadratic_flux(up, self.halo, physics["a"])
        flux = flux + dispersive_flux(up, self.halo, h, physics["b"])
        return flux + diffusive_flux(up, self.halo, h, physics["nu"])

    def rates(self, fields, physics, times):
        h = self.grid.dx
        speed = abs(float(physics["a"])) * max_abs(fields)
        return {
            "advective": speed / h,
            "diffusive": 2 * float(physics["nu"]) / h**2,
            "dispersive": DISPERSION_RADIUS * abs(float(physics["b"])) / h**3,
        }
