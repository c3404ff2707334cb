"""The NPZD-OA / NPZ-OA column: the core advection–diffusion–reaction model with
the plankton reactions, arctan mixing and sinking, and two additions:

* **carbonate coupling of closures** (`coupled`): a closure's tendencies of the
  nitrogen pools move DIC and TA as the model's own do,
  dDIC += −C_P c_P − C_Z c_Z [− C_D c_D], dTA += −c_N / ρ, so a closure that
  adds −q m_z Z² to Z and +q m_z Z² to D fixes the carbonate budget too;
* **positivity** (`positivity_rate`): SSP Runge–Kutta steps are convex
  combinations of forward-Euler steps, and a forward-Euler step keeps every
  nitrogen pool ≥ 0 when dt (L_q + 2 max K_z / Δz² + |w_q| / Δz) ≤ 1 for each
  pool q, L_q being its loss rate per unit q (`_worst_losses`). The rate
  is a *bound*, taken at the worst state the column can reach: every pool at
  the largest total nitrogen of the initial column (reactions conserve it per
  cell and mixing cannot exceed its initial maximum), the nutrient at 0 and
  f_I = 1. The stable dt then obeys it (`timestepping.max_stable_dt`). Not
  covered: sinking that piles detritus on the bottom above that maximum, a
  closure's own losses, and K_N = 0 (the uptake then does not vanish as N → 0,
  so no dt keeps N ≥ 0).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import jax.numpy as jnp
import numpy as np

from ..coefficients import Coefficient, Constant
from ..errors import InputError
from ..models.adr import AdvectionDiffusionReaction
from ..models.base import Variable
from .reactions import Plankton

UNITS = {
    "N": ("mmol m-3", "nutrient (nitrogen)"),
    "P": ("mmol m-3", "phytoplankton (nitrogen)"),
    "Z": ("mmol m-3", "zooplankton (nitrogen)"),
    "D": ("mmol m-3", "detritus (nitrogen)"),
    "DIC": ("mmol m-3", "dissolved inorganic carbon"),
    "TA": ("mmol kg-1", "total alkalinity"),
}


def variables(reactions: Plankton) -> tuple[Variable, ...]:
    return tuple(Variable(name, UNITS[name][0], UNITS[name][1]) for name in reactions.variables)


class PlanktonColumn(AdvectionDiffusionReaction):
    """NPZD-OA or NPZ-OA on a z column (module docstring).

    Args:
      grid, bc: a 1-D grid along z (positive up) and its boundary conditions (no flux).
      reactions: a `Plankton` reaction set.
      mixing: K_z(z, t), a `coefficients.Coefficient` (or 0 for none), shared by all tracers.
      velocity: ``{tracer: w}`` sinking/rising speeds (m d⁻¹, negative sinks).
      parameters: every parameter of `parameters.PARAMETERS`.
    """

    default_scheme = "upwind"

    def __init__(self, grid, bc, scheme=default_scheme, *, reactions: Plankton, mixing: Coefficient | float = 0.0,
                 velocity: Mapping[str, Sequence] | None = None, parameters: Mapping[str, float]):
        if grid.dims != ("z",):
            raise InputError(f"the plankton models are 1-D columns along z; the grid has dims {list(grid.dims)}")
        super().__init__(grid, bc, scheme, variables=variables(reactions), diffusivity=mixing,
                         velocity=velocity, reactions=reactions, parameters=parameters)

    #: The light a closure may read (W m⁻²), besides the state.
    closure_input_names = ("PAR",)

    def closure_inputs(self, fields, t, physics=None) -> dict:
        """``{"PAR": I(z, t)}`` at the cell centres (`reactions.Light`)."""
        physics = self.physics if physics is None else physics
        like = fields["N"]
        z = jnp.asarray(self._centres["z"], like.dtype)
        return {"PAR": jnp.broadcast_to(self.reactions.light.at(z, t, physics["k_W"]), jnp.shape(like)).astype(like.dtype)}

    @property
    def nitrogen(self) -> tuple[str, ...]:
        return self.reactions.nitrogen

    def coupled(self, tendencies: Mapping, physics=None) -> dict:
        """A closure's tendencies plus the DIC and TA they imply (module docstring)."""
        physics = self.physics if physics is None else physics
        pools = {k: v for k, v in tendencies.items() if k in self.nitrogen}
        if not pools:
            return dict(tendencies)
        out = dict(tendencies)
        like = next(iter(pools.values()))
        for name, value in self.reactions.carbonate(pools, physics).items():
            value = jnp.broadcast_to(value, jnp.shape(like)).astype(like.dtype)
            out[name] = out[name] + value if name in out else value
        return out

    def positivity_rate(self, fields: Mapping, physics=None, times=(0.0,)) -> float:
        """max over pools of L_q + 2 max K_z / Δz² + |w_q| / Δz at the worst state (module docstring)."""
        physics = self.physics if physics is None else physics
        p = {k: float(v) for k, v in physics.items()}
        total = float(np.max(sum(np.asarray(fields[k], dtype=float) for k in self.nitrogen)))
        if not total > 0:
            return 0.0
        worst = self._worst_losses(total, p)
        h = self.grid.step[0]
        faces = self._faces[0]
        out = 0.0
        for name in self.nitrogen:
            kappa = self.diffusivity.get(name, Constant(0.0))
            rate = worst.get(name, 0.0) + 2.0 * kappa.max_abs(faces, times) / h**2
            velocity = self.velocity.get(name)
            if velocity is not None:
                rate += velocity[0].max_abs(faces, times) / h
            out = max(out, rate)
        return out

    def _worst_losses(self, total: float, p: Mapping[str, float]) -> dict[str, float]:
        f_t = float(np.exp(-p["a"] * abs(p["T"] - p["T_opt"])))
        out = {
            "P": p["g_max"] * f_t * total / (2.0 * p["K_P"]) + f_t * p["m_p"],  # K_P > 0 (the case refuses 0)
            "Z": f_t * p["m_z"] + self._worst_mortality(total, p),
        }
        if p["K_N"] > 0:
            out["N"] = p["mu_max"] * f_t * total / p["K_N"]
        if self.reactions.detritus:
            out["D"] = p["eps"] * f_t
        return out

    def _worst_mortality(self, total: float, p: Mapping[str, float]) -> float:
        """max of q m_z M(Z) / Z over 0 < Z ≤ total, the other pools at ``total`` (sampled)."""
        if p["q"] == 0:
            return 0.0
        z = np.linspace(total * 1e-3, total, 257)
        values = {v: np.full_like(z, total) for v in self.reactions.mortality.variables}
        values["Z"] = z
        m = np.asarray(self.reactions.mortality.evaluate(np, **{v: values[v] for v in
                                                                 self.reactions.mortality.variables}), dtype=float)
        return float(p["q"] * p["m_z"] * np.max(np.abs(m) / z))

    def rates(self, fields, physics, times):
        out = super().rates(fields, physics, times)
        out["positivity"] = self.positivity_rate(fields, physics, times)
        return out
