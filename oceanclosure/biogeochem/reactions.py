"""The NPZD-OA and NPZ-OA reaction terms, written once over one state.

Nitrogen pools (mmol N m⁻³): nutrient N, phytoplankton P, zooplankton Z and,
in NPZD-OA, detritus D; carbonate tracers DIC (mmol C m⁻³) and TA (mmol kg⁻¹).
With light I(z, t) = I₀(t) e^{k_W z} (z ≤ 0, positive up; `Light`),

    f_T = exp(−a |T − T_opt|),   f_N = N / (K_N + N),
    f_I = (1 − exp(−α I / μ_max)) exp(−β I / μ_max),
    U = μ_max f_N f_I f_T P                       (uptake)
    G = g_max f_T Z P² / (P² + K_P²)              (Holling-III grazing)
    X = (1 − γ − λ) G + f_T m_p P + f_T m_z Z + q m_z M(Z)    (detritus production)

    dP/dt = U − G − f_T m_p P
    dZ/dt = γ G − f_T m_z Z − q m_z M(Z)
    NPZD-OA:  dN/dt = −U + λ G + ε f_T D,   dD/dt = X − ε f_T D
    NPZ-OA:   dN/dt = −U + λ G + X          (detritus remineralised at once)

and the carbonate budgets, from the *total* nitrogen tendencies (closure
included, `carbonate`):

    dDIC/dt = −C_P dP/dt − C_Z dZ/dt [− C_D dD/dt] − γ_c C_P U
    dTA/dt  = (−dN/dt − 2 γ_c C_P U) / ρ

so N + P + Z (+ D) is conserved by the reactions in every cell, for any
parameters. M(Z) is the safe expression ``mortality_form`` (default ``Z**2``).

One deviation from the reference code, documented in docs/biogeochemistry.md:
there the detritus (or, in NPZ-OA, the nutrient) gains m_p P and m_z Z without
the factor f_T that the P and Z losses carry, so nitrogen is not conserved when
T ≠ T_opt. Here the gains carry f_T too; at T = T_opt (f_T = 1, the experiments)
the two are identical.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Sequence

import jax.numpy as jnp

from ..expressions import parse_expression
from ..models.reactions import ReactionSet
from .parameters import NAMES

NITROGEN_WITH_DETRITUS = ("N", "P", "Z", "D")
NITROGEN_WITHOUT_DETRITUS = ("N", "P", "Z")
CARBONATE = ("DIC", "TA")


@dataclasses.dataclass(frozen=True)
class Light:
    """Surface PAR I₀(t) = mean − amplitude · sin(2π (t + phase) / period), in W m⁻², days."""

    mean: float = 158.075
    amplitude: float = 50.0
    phase: float = 365.0 / 6.0
    period: float = 365.0

    def surface(self, t, xp=jnp):
        return self.mean - self.amplitude * xp.sin(2.0 * math.pi * (t + self.phase) / self.period)

    def at(self, z, t, k_w, xp=jnp):
        """I(z, t) = I₀(t) e^{k_W z}."""
        return self.surface(t, xp) * xp.exp(k_w * z)


#: The constant light of the spin-up (the reference code's I₀ = 158.075 W m⁻², no seasonal cycle).
STEADY_LIGHT = Light(amplitude=0.0)


class Plankton(ReactionSet):
    """The NPZ(D)-OA sources (module docstring); ``detritus`` selects NPZD-OA.

    Args:
      detritus: True for NPZD-OA (variables N, P, Z, D, DIC, TA), False for NPZ-OA.
      mortality_form: M(Z), a safe expression in the model's variables.
      light: the surface light cycle.
    """

    parameter_names = NAMES

    def __init__(self, detritus: bool = True, mortality_form: str = "Z**2", light: Light = Light()):
        self.detritus = bool(detritus)
        self.nitrogen = NITROGEN_WITH_DETRITUS if self.detritus else NITROGEN_WITHOUT_DETRITUS
        self.variables = self.nitrogen + CARBONATE
        self.mortality_form = mortality_form
        self.mortality = parse_expression(mortality_form, self.variables, what="physics.mortality_form")
        self.light = light

    def with_light(self, light: Light) -> "Plankton":
        return Plankton(self.detritus, self.mortality_form, light)

    def processes(self, fields: Mapping, z, t, p: Mapping, xp=jnp) -> dict:
        """The process rates U, G, X (detritus production), the remineralisation and f_T (``xp``: the array namespace)."""
        N, P, Z = fields["N"], fields["P"], fields["Z"]
        f_t = xp.exp(-p["a"] * xp.abs(p["T"] - p["T_opt"]))
        light = self.light.at(xp.asarray(z, N.dtype), t, p["k_W"], xp)
        f_i = (1.0 - xp.exp(-p["alpha"] * light / p["mu_max"])) * xp.exp(-p["beta"] * light / p["mu_max"])
        f_n = N / (p["K_N"] + N)
        uptake = p["mu_max"] * f_n * f_i * f_t * P
        grazing = p["g_max"] * f_t * Z * P**2 / (P**2 + p["K_P"] ** 2)
        extra = p["q"] * p["m_z"] * self.mortality.evaluate(xp, **{v: fields[v] for v in self.mortality.variables})
        production = ((1.0 - p["gamma"] - p["lambda"]) * grazing + f_t * p["m_p"] * P + f_t * p["m_z"] * Z + extra)
        remineralisation = p["eps"] * f_t * fields["D"] if self.detritus else None
        return {"U": uptake, "G": grazing, "X": production, "R": remineralisation, "f_T": f_t, "extra": extra}

    def nitrogen_sources(self, fields: Mapping, z, t, p: Mapping, xp=jnp) -> tuple[dict, object]:
        """``({pool: S}, U)``: the sources of the nitrogen pools and the uptake."""
        r = self.processes(fields, z, t, p, xp)
        P, Z = fields["P"], fields["Z"]
        out = {
            "P": r["U"] - r["G"] - r["f_T"] * p["m_p"] * P,
            "Z": p["gamma"] * r["G"] - r["f_T"] * p["m_z"] * Z - r["extra"],
        }
        if self.detritus:
            out["N"] = -r["U"] + p["lambda"] * r["G"] + r["R"]
            out["D"] = r["X"] - r["R"]
        else:
            out["N"] = -r["U"] + p["lambda"] * r["G"] + r["X"]
        return {k: out[k] for k in self.nitrogen}, r["U"]

    def carbonate(self, tendencies: Mapping, p: Mapping, uptake=None) -> dict:
        """dDIC/dt and dTA/dt from nitrogen-pool tendencies (and the uptake U, if any)."""
        def get(name):
            return tendencies.get(name, 0.0)

        dic = -p["C_P"] * get("P") - p["C_Z"] * get("Z")
        if self.detritus:
            dic = dic - p["C_D"] * get("D")
        ta = -get("N") / p["rho"]
        if uptake is not None:
            dic = dic - p["gamma_c"] * p["C_P"] * uptake
            ta = ta - 2.0 * p["gamma_c"] * p["C_P"] * uptake / p["rho"]
        return {"DIC": dic, "TA": ta}

    def sources(self, fields, coords, t, physics):
        nitrogen, uptake = self.nitrogen_sources(fields, coords["z"], t, physics)
        out = dict(nitrogen)
        like = fields["N"]
        for name, value in self.carbonate(nitrogen, physics, uptake).items():
            out[name] = jnp.broadcast_to(value, jnp.shape(like)).astype(like.dtype)
        return out


def variables_of(detritus: bool) -> Sequence[str]:
    return (NITROGEN_WITH_DETRITUS if detritus else NITROGEN_WITHOUT_DETRITUS) + CARBONATE
