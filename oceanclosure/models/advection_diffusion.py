"""Linear advection-diffusion of a tracer u, in 1D or 2D.

    uₜ + ∇·(c u) = ∇·(κ ∇u)

The velocity c (one component per dimension) and the diffusivity κ are each
either a constant or a function ``f(t, x)`` / ``f(t, x, y)`` of time and space,
evaluated at the cell faces (so a diffusivity varying in depth and time, as in
ocean mixing, is a function of ``(t, x)`` in 1D). The advective face flux upwinds
the scheme's reconstructed states by the face velocity; the diffusive flux is
-κ_face (u_j − u_{j−1}) / h. The conservative form holds for any velocity field;
for a divergence-free one it equals uₜ + c·∇u = ∇·(κ∇u).

Physics: ``{"velocity": (c_x[, c_y]), "diffusivity": κ}`` with constants as
numbers; a component given as a function is ``None`` there (it is not a
differentiable parameter).
"""

from __future__ import annotations

from typing import Callable, Sequence, Union

import jax.numpy as jnp
import numpy as np

from ..errors import InputError
from ..fluxes import diffusive_flux
from .base import FluxModel

FieldSpec = Union[float, Callable]


def _is_constant(field) -> bool:
    return not callable(field)


class AdvectionDiffusion(FluxModel):
    parameter_names = ("velocity", "diffusivity")

    default_scheme = "muscl_vanleer"

    def __init__(self, grid, bc, scheme=default_scheme, velocity: FieldSpec | Sequence[FieldSpec] = 0.0,
                 diffusivity: FieldSpec = 0.0):
        components = tuple(velocity) if isinstance(velocity, (list, tuple)) else (velocity,) * grid.ndim
        if len(components) != grid.ndim:
            raise InputError(
                f"AdvectionDiffusion: velocity needs {grid.ndim} component(s), got {len(components)}"
            )
        if _is_constant(diffusivity) and diffusivity < 0:
            raise InputError(f"AdvectionDiffusion: diffusivity must be >= 0, got {diffusivity}")
        self._velocity_fields = components
        self._diffusivity_field = diffusivity
        physics = {
            "velocity": tuple(float(c) if _is_constant(c) else None for c in components),
            "diffusivity": float(diffusivity) if _is_constant(diffusivity) else None,
        }
        super().__init__(grid, bc, scheme, physics)
        self._faces = tuple(self._face_coordinates(d) for d in range(grid.ndim))

    def _face_coordinates(self, dim):
        """Face coordinates normal to ``dim``, with that dimension moved last."""
        axis = self.grid.array_axis(dim)
        return tuple(np.moveaxis(c, axis, -1) for c in self.grid.face_mesh(dim))

    def _field(self, constant, function, dim, t):
        if constant is not None:
            return constant
        return function(t, *(jnp.asarray(c) for c in self._faces[dim]))

    def line_flux(self, name, up, dim, t, physics):
        h = self.grid.step[dim]
        velocity = self._field(physics["velocity"][dim], self._velocity_fields[dim], dim, t)
        kappa = self._field(physics["diffusivity"], self._diffusivity_field, dim, t)
        advective = self.scheme.linear_flux(up, self.halo, velocity)
        return advective + diffusive_flux(up, self.halo, h, kappa)

    def _check_diffusivity(self, physics, times):
        """A diffusivity given as a function must be >= 0 at every face and sampled time."""
        if physics["diffusivity"] is not None:
            return
        lowest = min(float(np.min(np.asarray(self._diffusivity_field(t, *self._faces[d]))))
                     for t in times for d in range(self.grid.ndim))
        if not lowest >= 0:
            raise InputError(f"physics.diffusivity must be nonnegative, but it reaches {lowest:g} on the grid's "
                             "faces at the sampled times; a negative diffusivity is anti-diffusion and blows up")

    def _max_abs(self, constant, function, dim, times):
        if constant is not None:
            return abs(float(constant))
        return max(float(np.max(np.abs(np.asarray(function(t, *self._faces[dim]))))) for t in times)

    def rates(self, fields, physics, times):
        self._check_diffusivity(physics, times)
        steps = self.grid.step
        speeds = [self._max_abs(physics["velocity"][d], self._velocity_fields[d], d, times) for d in range(len(steps))]
        kappas = [self._max_abs(physics["diffusivity"], self._diffusivity_field, d, times) for d in range(len(steps))]
        return {
            "advective": sum(c / h for c, h in zip(speeds, steps)),
            "diffusive": sum(2 * k / h**2 for k, h in zip(kappas, steps)),
            "dispersive": 0.0,
        }
