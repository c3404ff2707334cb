"""What every finite-volume model shares: padding, flux divergence, stability rates.

A model is a value built from a grid, boundary conditions and a scheme. Its
physical parameters are *not* baked in: they travel as a pytree ``physics`` (a
dict of scalars) so that ``jax.grad`` can differentiate a rollout with respect to
them. ``model.physics`` holds the defaults the model was built with.

Subclasses implement `line_flux`, the total face flux along one dimension, and
`stability_rates`; the tendency is the negative divergence of those fluxes, so a
periodic model conserves the cell sum of ``u`` to round-off by construction.
"""

from __future__ import annotations

import abc
import math
from typing import Mapping

import jax.numpy as jnp

from ..boundaries import BoundaryConditions
from ..fluxes import Scheme, divergence, get_scheme
from ..grid import Grid


class FluxModel(abc.ABC):
    """A conservation law u_t + ∇·F(u) = 0 discretised in flux form."""

    #: Ghost cells needed by the model's non-advective fluxes.
    extra_halo: int = 1
    #: Wall extrapolation degree needed by the non-advective fluxes.
    extra_boundary_order: int = 1
    #: Names of the scalar physical parameters, in order.
    parameter_names: tuple[str, ...] = ()

    def __init__(self, grid: Grid, bc: BoundaryConditions, scheme: str | Scheme, physics: Mapping):
        if bc.ndim != grid.ndim:
            raise ValueError(f"{type(self).__name__}: boundary conditions are {bc.ndim}D but the grid is {grid.ndim}D")
        self.grid = grid.with_bounded(not bc.is_periodic(d) for d in range(bc.ndim))
        self.bc = bc
        self.scheme = get_scheme(scheme)
        self.physics = self.validate_physics(dict(physics))

    def validate_physics(self, physics: dict) -> dict:
        missing = [k for k in self.parameter_names if k not in physics]
        unknown = [k for k in physics if k not in self.parameter_names]
        if missing or unknown:
            raise ValueError(
                f"{type(self).__name__}: physics needs {list(self.parameter_names)}, "
                f"missing {missing}, unknown {unknown}"
            )
        return physics

    @property
    def halo(self) -> int:
        return max(self.scheme.halo, self.extra_halo)

    @property
    def boundary_order(self) -> int:
        return max(self.scheme.boundary_order, self.extra_boundary_order)

    def pad_line(self, v, dim: int):
        """Ghost-padded copy of ``v`` whose last axis runs along ``dim``."""
        return self.bc.pad_line(v, self.halo, dim, self.grid.step[dim], self.boundary_order)

    @abc.abstractmethod
    def line_flux(self, up, dim: int, t, physics):
        """Total face flux along ``dim`` from the padded line ``up`` (last axis)."""

    def face_fluxes(self, u, t, physics=None) -> tuple:
        """Face fluxes per dimension, each with the faces on the last axis."""
        physics = self.physics if physics is None else physics
        lines = (jnp.moveaxis(u, self.grid.array_axis(d), -1) for d in range(self.grid.ndim))
        return tuple(self.line_flux(self.pad_line(v, d), d, t, physics) for d, v in enumerate(lines))

    def tendency(self, u, t, physics=None):
        """du/dt = -∇·F at the cell centres."""
        total = None
        for dim, flux in enumerate(self.face_fluxes(u, t, physics)):
            term = jnp.moveaxis(divergence(flux, self.grid.step[dim]), -1, self.grid.array_axis(dim))
            total = term if total is None else total + term
        return total

    @abc.abstractmethod
    def stability_rates(self, u0, physics, times) -> dict[str, float]:
        """Largest eigenvalue magnitudes per process, 1 / time units (host floats).

        Keys: ``advective`` (sum over dims of max|c| / dx), ``diffusive``
        (sum of 2 κ / dx²) and ``dispersive`` ((3√3/2) |b| / dx³, the spectral
        radius of the central u_xxx stencil, purely imaginary).
        """


DISPERSION_RADIUS = 1.5 * math.sqrt(3.0)
