"""Face-flux schemes on padded 1D lines (the last array axis).

Conventions: ``up`` is a cell-centred array padded with ``halo`` ghost cells on
both ends of its last axis, holding ``n`` interior cells. Face ``j`` (0..n) lies
between cells ``j - 1`` and ``j``; every function here returns arrays of the
``n + 1`` faces. A tendency is ``-(F[j+1] - F[j]) / h``, see `divergence`.

Reconstructions give the left and right states ``(u_L, u_R)`` at each face:

* ``upwind``  -- piecewise constant, first order (Godunov / donor cell);
* ``muscl_minmod``, ``muscl_vanleer`` -- piecewise linear with limited slopes,
  second order in smooth regions and TVD;
* ``weno5`` -- fifth-order WENO-Z (Borges et al. 2008) weights, q = 2;
* ``central`` -- no upwinding: the face flux is the mean of the two cell fluxes,
  second order and free of numerical diffusion (needs a dispersive or viscous
  partner, and a stepper with imaginary-axis stability, i.e. not Euler).

Numerical fluxes: `upwind_flux` for linear advection by a face velocity,
`godunov_quadratic_flux` for the exact Riemann solution of ``f(u) = a u^2 / 2``.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax.numpy as jnp

from .errors import InputError

WENO_EPSILON = 1e-12


def cells(up, halo: int, offset: int):
    """Cell values ``u[j + offset]`` for every face ``j`` = 0..n (last axis)."""
    n = up.shape[-1] - 2 * halo
    start = halo + offset
    return up[..., start : start + n + 1]


def divergence(face_flux, h: float):
    """Cell tendency ``-(F[j+1] - F[j]) / h`` from ``n + 1`` face fluxes."""
    return -(face_flux[..., 1:] - face_flux[..., :-1]) / h


# --- limiters -----------------------------------------------------------------


def minmod(a, b):
    """minmod(a, b) = ½ (sign a + sign b) min(|a|, |b|)."""
    return 0.5 * (jnp.sign(a) + jnp.sign(b)) * jnp.minimum(jnp.abs(a), jnp.abs(b))


def van_leer(a, b):
    """van Leer slope (a|b| + |a|b) / (|a| + |b|), 0 where a = b = 0.

    The double `where` keeps gradients finite on flat data: the division is never
    evaluated with a zero denominator, even in the branch that is discarded.
    """
    denominator = jnp.abs(a) + jnp.abs(b)
    nonzero = denominator > 0
    safe = jnp.where(nonzero, denominator, 1.0)
    return jnp.where(nonzero, (a * jnp.abs(b) + jnp.abs(a) * b) / safe, 0.0)


# --- reconstructions ----------------------------------------------------------


def reconstruct_constant(up, halo: int):
    return cells(up, halo, -1), cells(up, halo, 0)


def _muscl(limiter: Callable):
    def reconstruct(up, halo: int):
        u_m2, u_m1, u_0, u_p1 = (cells(up, halo, k) for k in (-2, -1, 0, 1))
        slope_left = limiter(u_m1 - u_m2, u_0 - u_m1)
        slope_right = limiter(u_0 - u_m1, u_p1 - u_0)
        return u_m1 + 0.5 * slope_left, u_0 - 0.5 * slope_right

    return reconstruct


def _weno5_left(v1, v2, v3, v4, v5):
    """WENO-Z value at the right face of the cell holding ``v3``."""
    q0 = (2 * v1 - 7 * v2 + 11 * v3) / 6
    q1 = (-v2 + 5 * v3 + 2 * v4) / 6
    q2 = (2 * v3 + 5 * v4 - v5) / 6
    b0 = 13 / 12 * (v1 - 2 * v2 + v3) ** 2 + 0.25 * (v1 - 4 * v2 + 3 * v3) ** 2
    b1 = 13 / 12 * (v2 - 2 * v3 + v4) ** 2 + 0.25 * (v2 - v4) ** 2
    b2 = 13 / 12 * (v3 - 2 * v4 + v5) ** 2 + 0.25 * (3 * v3 - 4 * v4 + v5) ** 2
    tau5 = jnp.abs(b0 - b2)
    a0, a1, a2 = (d * (1 + (tau5 / (b + WENO_EPSILON)) ** 2) for d, b in ((0.1, b0), (0.6, b1), (0.3, b2)))
    return (a0 * q0 + a1 * q1 + a2 * q2) / (a0 + a1 + a2)


def reconstruct_weno5(up, halo: int):
    u = [cells(up, halo, k) for k in range(-3, 3)]
    left = _weno5_left(u[0], u[1], u[2], u[3], u[4])
    right = _weno5_left(u[5], u[4], u[3], u[2], u[1])
    return left, right


# --- numerical fluxes ---------------------------------------------------------


def upwind_flux(u_left, u_right, velocity):
    """Linear advective flux c u, taking the state on the upwind side."""
    return jnp.maximum(velocity, 0) * u_left + jnp.minimum(velocity, 0) * u_right


def central_linear_flux(u_left, u_right, velocity):
    return velocity * 0.5 * (u_left + u_right)


def _godunov_burgers(u_left, u_right):
    """Exact Riemann flux of u²/2: max(f(max(u_L, 0)), f(min(u_R, 0)))."""
    return 0.5 * jnp.maximum(jnp.maximum(u_left, 0) ** 2, jnp.minimum(u_right, 0) ** 2)


def godunov_quadratic_flux(u_left, u_right, a=1.0):
    """Exact Riemann flux of f(u) = a u²/2 for either sign of ``a``.

    For a < 0, w = -u solves w_t + (|a| w²/2)_x = 0, so F(u_L, u_R) = a G(-u_L, -u_R).
    """
    positive = _godunov_burgers(u_left, u_right)
    negative = _godunov_burgers(-u_left, -u_right)
    return a * jnp.where(jnp.asarray(a) >= 0, positive, negative)


def central_quadratic_flux(u_left, u_right, a=1.0):
    return a * 0.25 * (u_left**2 + u_right**2)


def diffusive_flux(up, halo: int, h: float, diffusivity):
    """Central second-order diffusive flux -κ (u_j - u_{j-1}) / h."""
    return -diffusivity * (cells(up, halo, 0) - cells(up, halo, -1)) / h


def dispersive_flux(up, halo: int, h: float, b):
    """Face flux b u_xx of the dispersive term b u_xxx = (b u_xx)_x, second order.

    u_xx at face j is the mean of the centred second differences of cells j-1, j.
    """
    u_m2, u_m1, u_0, u_p1 = (cells(up, halo, k) for k in (-2, -1, 0, 1))
    return b * (u_p1 - u_0 - u_m1 + u_m2) / (2 * h**2)


# --- schemes ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Scheme:
    """An advection scheme: a reconstruction plus the choice of flux.

    Attributes:
      name: the name used in case files.
      reconstruct: ``(up, halo) -> (u_L, u_R)`` at the n + 1 faces.
      halo: ghost cells the reconstruction reads on each side.
      boundary_order: polynomial degree of the wall ghost extrapolation.
      central: average the two cell fluxes instead of upwinding.
    """

    name: str
    reconstruct: Callable
    halo: int
    boundary_order: int
    central: bool = False

    def linear_flux(self, up, halo, velocity):
        left, right = self.reconstruct(up, halo)
        flux = central_linear_flux if self.central else upwind_flux
        return flux(left, right, velocity)

    def quadratic_flux(self, up, halo, a):
        left, right = self.reconstruct(up, halo)
        flux = central_quadratic_flux if self.central else godunov_quadratic_flux
        return flux(left, right, a)


SCHEMES = {
    "upwind": Scheme("upwind", reconstruct_constant, halo=1, boundary_order=1),
    "muscl_minmod": Scheme("muscl_minmod", _muscl(minmod), halo=2, boundary_order=2),
    "muscl_vanleer": Scheme("muscl_vanleer", _muscl(van_leer), halo=2, boundary_order=2),
    "weno5": Scheme("weno5", reconstruct_weno5, halo=3, boundary_order=3),
    "central": Scheme("central", reconstruct_constant, halo=1, boundary_order=2, central=True),
}


def get_scheme(scheme: str | Scheme) -> Scheme:
    if isinstance(scheme, Scheme):
        return scheme
    try:
        return SCHEMES[scheme]
    except KeyError:
        raise InputError(f"unknown scheme {scheme!r}; known schemes: {', '.join(SCHEMES)}") from None
