"""Classical closures to compare learned ones against.

* `SmagorinskyClosure`:      ∂u/∂t += ∂ₓ((C_s Δx)² |uₓ| uₓ)          (flux form)
* `EddyDiffusivityClosure`:  ∂u/∂t += ∂ₓ(κ uₓ)                         (flux form)
* `UpwindCorrectionClosure`: ∂u/∂t += −(Δx/2) ∂ₓ(|u| uₓ)               (flux form;
  or −(Δx/2)|u|uₓₓ pointwise)

The flux-form closures build a face gradient g_j = (u_j − u_{j−1})/Δx at
face j (between cells j−1 and j), a face flux F_j(g_j) and the tendency
−(F_{j+1} − F_j)/Δx (`fluxes.divergence`), per dimension in 2D (an axis-by-axis
eddy viscosity, not the full strain-rate tensor). On a periodic dimension the
faces wrap. On a bounded dimension (``grid.bounded``) no ghost cell is read, so
the model's boundary conditions are never consulted; ``walls`` chooses the wall
face:

* ``"one_sided"`` (default): the wall gradient is the second-order one-sided
  difference from the three nearest cells, g_0 = (−2u_0 + 3u_1 − u_2)/Δx and
  g_n = (2u_{n−1} − 3u_{n−2} + u_{n−3})/Δx. This discretises the continuous
  closure without adding a boundary condition (exact for quadratic profiles up
  to the wall); Σu then changes by the wall fluxes, as the PDE says.
* ``"no_flux"``: the wall flux is zero. Σu is conserved, and a dissipative flux
  (Smagorinsky, eddy diffusivity) gives Σ u·(tendency) ≤ 0 exactly, but this
  imposes uₓ = 0 on the closure's part: an O(Δx) error in the wall cells wherever
  the solution has a slope there.
"""

from __future__ import annotations

from typing import Callable

import jax.numpy as jnp
from flax import nnx

from ..errors import InputError
from ..stencils import derivative, half_width
from .base import Closure, FluxClosure, as_fields, like_state

WALLS = ("one_sided", "no_flux")


class SmagorinskyClosure(FluxClosure):
    """Smagorinsky eddy viscosity ν_t = (C_s Δx)² |uₓ|, as ∂ₓ(ν_t uₓ) in flux form.

    Face flux F_j = −(C_s Δx)² |g_j| g_j. It dissipates: with periodic or
    ``no_flux`` walls, Σ u_j (tendency)_j Δx = −Σ_faces (C_s Δx)² |g|³ Δx ≤ 0.

    Args:
      cs: Smagorinsky constant C_s (dimensionless, ≥ 0; the paper compares C_s = 1).
      walls: wall-face treatment on bounded dimensions (module docstring).
    """

    stencil_width = 1

    def __init__(self, cs: float = 1.0, *, walls: str = "one_sided", variable: str = "u"):
        if not cs >= 0:
            raise InputError(f"SmagorinskyClosure: cs must be >= 0, got {cs}")
        self.cs = float(cs)
        self.walls = _check_walls("SmagorinskyClosure", walls)
        self.variable = variable
        self.variables = (variable,)

    def fluxes(self, u, state, grid, t, physics):
        def flux(line, g, h, bounded):
            return -((self.cs * h) ** 2) * jnp.abs(g) * g

        return {self.variable: _face_fluxes(_field(self.variable, u), grid, flux, self.walls)}

    def rates(self, grid, physics, fields) -> dict[str, float]:
        """Rates for the state ``u``: diffusive Σ_d 4 C_s² max|g_d| over the face gradients
        the closure itself uses (walls included).

        Linearising F = −(C_s h)²|g|g gives an eddy diffusivity 2 (C_s h)² |g|,
        and a diffusive rate 2κ/h² = 4 C_s² |g|.
        """
        u = as_fields(fields, (self.variable,))[self.variable]
        rate = 0.0
        for dim, h in enumerate(grid.step):
            line = jnp.moveaxis(jnp.asarray(u), grid.array_axis(dim), -1)
            gradients = face_gradient(line, h, grid.bounded[dim], self.walls)
            rate += 4 * self.cs**2 * float(jnp.max(jnp.abs(gradients), initial=0.0))
        return {"diffusive": rate}


class EddyDiffusivityClosure(FluxClosure):
    """A constant eddy diffusivity κ: ∂ₓ(κ uₓ) in flux form, face flux −κ g_j.

    Args:
      kappa: eddy diffusivity κ (length²/time, ≥ 0 unless trainable).
      walls: wall-face treatment on bounded dimensions (module docstring).
      trainable: κ is an `nnx.Param` (else a fixed `nnx.Variable`).
    """

    stencil_width = 1

    def __init__(self, kappa: float, *, walls: str = "one_sided", trainable: bool = False, variable: str = "u"):
        if not (trainable or kappa >= 0):
            raise InputError(f"EddyDiffusivityClosure: kappa must be >= 0, got {kappa}")
        self.walls = _check_walls("EddyDiffusivityClosure", walls)
        self.variable = variable
        self.variables = (variable,)
        value = jnp.asarray(kappa, dtype=float)
        self.kappa = nnx.Param(value) if trainable else nnx.Variable(value)

    def fluxes(self, u, state, grid, t, physics):
        kappa = self.kappa[...]

        def flux(line, g, h, bounded):
            return -kappa.astype(g.dtype) * g

        return {self.variable: _face_fluxes(_field(self.variable, u), grid, flux, self.walls)}

    def rates(self, grid, physics, fields) -> dict[str, float]:
        """Diffusive rate Σ_d 2|κ|/h_d² (also bounds the one-sided wall rows)."""
        kappa = abs(float(self.kappa[...]))
        return {"diffusive": sum(2 * kappa / h**2 for h in grid.step)}


class UpwindCorrectionClosure(Closure):
    """Cancels the leading truncation error of first-order upwind (Godunov) Burgers.

    Godunov upwind for (u²/2)ₓ solves, to leading order in Δx,

        uₜ + (u²/2)ₓ = νuₓₓ + (Δx/2) ∂ₓ(|u| uₓ) = νuₓₓ + (Δx/2)(|u| uₓₓ + sign(u) uₓ²),

    and this closure adds the negative of that term (per dimension in 2D):

    * ``form="pointwise"`` (default, the classical correction the gnCM papers compare
      against): ∂u/∂t += −(Δx/2) |u| uₓₓ, described below;
    * ``form="flux"``, conservative: ∂u/∂t += −(Δx/2) ∂ₓ(|u| uₓ), face flux
      F_j = (Δx/2) |ū_j| g_j with ū_j = (u_{j−1} + u_j)/2. Where u_{j−1} and u_j share
      a sign, Godunov's flux plus F_j is exactly the central flux (u_{j−1}² + u_j²)/4,
      so upwind + correction is the second-order central scheme there.
    * the pointwise form is −(Δx/2) |u| uₓₓ only (the library term
      ``dx*u*u_xx`` of docs/reference_problems.md §3), uₓₓ from `stencils.derivative` (one-sided next
      to walls). It leaves the source +(Δx/2) sign(u) uₓ² of the truncation error
      uncancelled and, measured on the advecting shock (Nx = 200, Re = 250,
      t ≤ 1), *raises* the upwind error from 0.0026 to 0.0060, whereas the flux form
      lowers it to 0.00015 (tests/test_baselines.py).

    Both are anti-diffusive and add no stability rate: once the cell Reynolds number
    |u|Δx/ν exceeds 2 the net diffusion is negative and coarse, high-Re runs can
    blow up. Walls (flux form) as in the module docstring, with ū at a wall face
    extrapolated linearly from the two nearest cells.

    Args:
      form: ``"flux"`` or ``"pointwise"``.
      walls: wall-face treatment of the flux form on bounded dimensions.
      accuracy: finite-difference accuracy of uₓₓ (pointwise form).
    """

    def __init__(self, *, form: str = "pointwise", walls: str = "one_sided", accuracy: int = 2, variable: str = "u"):
        if form not in ("flux", "pointwise"):
            raise InputError(f"UpwindCorrectionClosure: form must be 'flux' or 'pointwise', got {form!r}")
        self.form = form
        self.walls = _check_walls("UpwindCorrectionClosure", walls)
        self.accuracy = accuracy
        self.stencil_width = 1 if form == "flux" else half_width(2, accuracy)
        self.variable = variable

    @property
    def variables(self) -> tuple[str, ...]:
        return (self.variable,)

    @property
    def has_fluxes(self) -> bool:
        return self.form == "flux"

    def fluxes(self, u, state, grid, t, physics):
        if self.form != "flux":
            return None
        return {self.variable: _face_fluxes(_field(self.variable, u), grid, _anti_upwind_flux, self.walls)}

    def tendency(self, u, state, grid, t, physics):
        if self.form == "flux":
            return FluxClosure.tendency(self, u, state, grid, t, physics)
        return _on_variable(self.variable, u, lambda q: self._pointwise(q, grid))

    def __call__(self, u, state, grid, t, physics):
        if self.form == "flux":
            return FluxClosure.__call__(self, u, state, grid, t, physics)
        return self.tendency(u, state, grid, t, physics), state

    def _pointwise(self, u, grid):
        total = None
        for dim, h in enumerate(grid.step):
            term = -(h / 2) * jnp.abs(u) * derivative(u, grid, dim, 2, self.accuracy)
            total = term if total is None else total + term
        return total


def _anti_upwind_flux(line, g, h, bounded):
    """(h/2) |ū| g at the faces: the negative of Godunov's numerical-diffusion flux."""
    return (h / 2) * jnp.abs(face_value(line, bounded)) * g


# --- flux-form helpers ------------------------------------------------------------


def _on_variable(variable: str, u, tendency: Callable):
    """Apply a one-field ``tendency`` to ``variable`` of the state (a mapping, or that field's array)."""
    return like_state(u, {variable: tendency(_field(variable, u))}, (variable,))


def _field(variable: str, u):
    fields = as_fields(u, (variable,))
    if variable not in fields:
        raise InputError(f"this closure acts on '{variable}', which is not a field of the state ({list(fields)})")
    return fields[variable]


def _face_fluxes(u, grid, flux: Callable, walls: str) -> tuple:
    """``flux(line, face gradient, h, bounded)`` at the faces of each dimension (faces on the last axis)."""
    out = []
    for dim, h in enumerate(grid.step):
        line = jnp.moveaxis(u, grid.array_axis(dim), -1)
        bounded = grid.bounded[dim]
        out.append(flux(line, face_gradient(line, h, bounded, walls), h, bounded))
    return tuple(out)


def face_gradient(line, h: float, bounded: bool, walls: str = "one_sided"):
    """(u_j − u_{j−1})/h at the n + 1 faces of the last axis (module docstring for walls)."""
    inner = (line[..., 1:] - line[..., :-1]) / h
    if not bounded:
        wrap = (line[..., :1] - line[..., -1:]) / h
        return jnp.concatenate([wrap, inner, wrap], axis=-1)
    if walls == "no_flux":
        zero = jnp.zeros_like(line[..., :1])
        return jnp.concatenate([zero, inner, zero], axis=-1)
    if line.shape[-1] < 3:
        raise InputError(f"one-sided wall gradients need at least 3 cells, got {line.shape[-1]}")
    left = (-2 * line[..., 0:1] + 3 * line[..., 1:2] - line[..., 2:3]) / h
    right = (2 * line[..., -1:] - 3 * line[..., -2:-1] + line[..., -3:-2]) / h
    return jnp.concatenate([left, inner, right], axis=-1)


def face_value(line, bounded: bool):
    """(u_{j−1} + u_j)/2 at the n + 1 faces of the last axis; linear extrapolation at walls."""
    inner = 0.5 * (line[..., 1:] + line[..., :-1])
    if not bounded:
        wrap = 0.5 * (line[..., :1] + line[..., -1:])
        return jnp.concatenate([wrap, inner, wrap], axis=-1)
    left = 1.5 * line[..., 0:1] - 0.5 * line[..., 1:2]
    right = 1.5 * line[..., -1:] - 0.5 * line[..., -2:-1]
    return jnp.concatenate([left, inner, right], axis=-1)


def _check_walls(owner: str, walls: str) -> str:
    if walls not in WALLS:
        raise InputError(f"{owner}: walls must be one of {list(WALLS)}, got {walls!r}")
    return walls
