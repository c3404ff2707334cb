"""Multi-tracer advection–diffusion–reaction, in 1D (x or a z column) or 2D.

For every tracer q,

    ∂q/∂t + ∇·(w_q q) = ∇·(κ_q ∇q) + R_q(fields, x, t; p)

* w_q: a velocity per tracer (e.g. sinking, ``velocity = { D = -1.0 }`` in m/day
  on a z column, positive up), one coefficient per dimension, upwinded by the
  scheme; zero for tracers not named;
* κ_q: a diffusivity shared by all tracers or given per tracer, each a
  `coefficients.Coefficient` (constant, expression in space and t, time table,
  netCDF field), evaluated at the faces; it must be ≥ 0;
* R_q: the pointwise sources of a `reactions.ReactionSet` (expressions in the
  case file or a registered Python set), explicitly non-conservative.

Face fluxes are w_q q̂ (upwinded reconstruction) − κ_q (q_j − q_{j−1}) / h; one
divergence turns them into tendencies, under each tracer's own boundary
conditions. Physics: the named parameters ``p`` of the reactions (and of
boundary values), a dict of scalars that ``jax.grad`` can differentiate.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import jax.numpy as jnp
import numpy as np

from ..coefficients import Coefficient, Constant, nonnegative, require_nonnegative
from ..errors import InputError
from ..fluxes import diffusive_flux
from .base import FluxModel, Variable
from .reactions import ReactionSet, reactive_rate


class AdvectionDiffusionReaction(FluxModel):
    """Named tracers with per-tracer velocities, diffusivities and pointwise reactions.

    Args:
      grid, bc: the grid and the boundary conditions (one set, or one per tracer).
      scheme: the advection scheme (default first-order upwind).
      variables: the tracers, `Variable` objects (names, units, long names).
      diffusivity: a `Coefficient` for every tracer, or ``{name: Coefficient}``
        (tracers not named have none).
      velocity: ``{name: (w_x[, w_y])}`` of coefficients (or numbers), per tracer.
      reactions: a `ReactionSet`, or None for no sources.
      parameters: default values of the named parameters (``physics``).
    """

    default_scheme = "upwind"

    def __init__(self, grid, bc, scheme=default_scheme, *, variables: Sequence[Variable],
                 diffusivity: Coefficient | Mapping[str, Coefficient] | float = 0.0,
                 velocity: Mapping[str, Sequence] | None = None, reactions: ReactionSet | None = None,
                 parameters: Mapping[str, float] | None = None):
        self.variables = tuple(variables)
        names = self.variable_names
        if len(set(names)) != len(names) or not names:
            raise InputError(f"AdvectionDiffusionReaction: variables must be distinct and at least one, got {list(names)}")
        self.parameter_names = tuple(parameters or {})
        self.diffusivity = _per_variable(diffusivity, names, "diffusivity")
        shared = len(set(self.diffusivity.values())) == 1 and len(self.diffusivity) == len(names)
        self._diffusivity_keys = {name: "physics.diffusivity" if shared else f"physics.diffusivity.{name}"
                                  for name in self.diffusivity}
        for name, kappa in self.diffusivity.items():
            require_nonnegative(kappa, self._diffusivity_keys[name])
        self.velocity = _velocities(velocity or {}, names, grid.ndim)
        self.reactions = reactions
        if reactions is not None:
            missing = [v for v in reactions.variables if v not in names]
            if missing:
                raise InputError(f"AdvectionDiffusionReaction: the reactions need the variables {missing}, "
                                 f"which the model does not have ({list(names)})")
            unknown = [p for p in reactions.parameter_names if p not in self.parameter_names]
            if unknown:
                raise InputError(f"AdvectionDiffusionReaction: the reactions use parameters {unknown} "
                                 f"that are not given (given: {list(self.parameter_names)})")
        super().__init__(grid, bc, scheme, dict(parameters or {}))
        for coefficient in [*self.diffusivity.values(), *(w for ws in self.velocity.values() for w in ws)]:
            coefficient.check_grid(self.grid)  # a file on another grid, or an expression in a missing coordinate
        self._faces = tuple(self._line_faces(d) for d in range(grid.ndim))
        self._centres = self.grid.coordinates()

    def _line_faces(self, dim: int) -> dict[str, np.ndarray]:
        """Face coordinates normal to ``dim`` by name, with that dimension moved last."""
        axis = self.grid.array_axis(dim)
        return {name: np.moveaxis(c, axis, -1) for name, c in self.grid.face_coordinates(dim).items()}

    def line_flux(self, name, up, dim, t, physics):
        h = self.grid.step[dim]
        flux = None
        velocity = self.velocity.get(name)
        if velocity is not None and not _is_zero(velocity[dim]):
            w = velocity[dim].at(self._faces[dim], t)
            flux = self.scheme.linear_flux(up, self.halo, jnp.asarray(w, up.dtype))
        kappa = self.diffusivity.get(name)
        if kappa is not None and not _is_zero(kappa):
            diffusive = diffusive_flux(up, self.halo, h, jnp.asarray(kappa.at(self._faces[dim], t), up.dtype))
            flux = diffusive if flux is None else flux + diffusive
        if flux is None:
            n = up.shape[-1] - 2 * self.halo
            flux = jnp.zeros(up.shape[:-1] + (n + 1,), up.dtype)
        return flux

    def sources(self, fields, t, physics=None):
        if self.reactions is None:
            return {}
        physics = self.physics if physics is None else physics
        return self.reactions.sources(fields, self._centres, t, physics)

    def rates(self, fields, physics, times):
        steps = self.grid.step
        advective = 0.0
        for velocity in self.velocity.values():
            advective = max(advective, sum(w.max_abs(self._faces[d], times) / h
                                           for d, (w, h) in enumerate(zip(velocity, steps))))
        diffusive = 0.0
        for name, kappa in self.diffusivity.items():
            for d in range(self.grid.ndim):
                nonnegative(kappa, self._diffusivity_keys[name], self._faces[d], times)
            diffusive = max(diffusive, sum(2 * kappa.max_abs(self._faces[d], times) / h**2
                                           for d, h in enumerate(steps)))
        real = imaginary = 0.0
        if self.reactions is not None:
            physics = self.physics if physics is None else physics
            for s in _few(times):  # a Jacobian per sampled time: a handful, not every output time
                r, i = reactive_rate(lambda f, s=s: self.sources(f, s, physics), fields)
                real, imaginary = max(real, r), max(imaginary, i)
        # oscillatory reactions (complex eigenvalues) need the stepper's imaginary-axis stability too
        return {"advective": advective, "diffusive": diffusive, "dispersive": imaginary, "reactive": real}


def _few(times, most: int = 9):
    times = np.asarray(times, dtype=float)
    return times if times.size <= most else times[np.linspace(0, times.size - 1, most).round().astype(int)]


def _is_zero(coefficient: Coefficient) -> bool:
    return coefficient.is_constant and coefficient == Constant(0.0)


def _as_coefficient(value) -> Coefficient:
    return value if isinstance(value, Coefficient) else Constant(float(value))


def _per_variable(value, names: Sequence[str], what: str) -> dict[str, Coefficient]:
    """One coefficient for every tracer, or a mapping that names some of them."""
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise InputError(f"physics.{what}: {unknown} are not variables (the variables are {list(names)})")
        return {k: _as_coefficient(v) for k, v in value.items()}
    return {name: _as_coefficient(value) for name in names}


def _velocities(velocity: Mapping, names: Sequence[str], ndim: int) -> dict[str, tuple[Coefficient, ...]]:
    unknown = [k for k in velocity if k not in names]
    if unknown:
        raise InputError(f"physics.velocity: {unknown} are not variables (the variables are {list(names)})")
    out = {}
    for name, components in velocity.items():
        components = tuple(components) if isinstance(components, (list, tuple)) else (components,)
        if len(components) != ndim:
            raise InputError(f"physics.velocity.{name}: needs {ndim} component(s), got {len(components)}")
        out[name] = tuple(_as_coefficient(c) for c in components)
    return out
