"""The initial column, as the reference experiments build it.

1. **Total nitrogen** T(z), linear from ``top`` at the surface (z = 0) to ``bottom``
   at the floor, at the cell centres (which is also the cell average of a linear
   profile). It is split into pools by fixed fractions, by default
   N = 0.85 T, P = Z = D = 0.05 T (without detritus, D's share goes to N).
2. **Spin-up**: the nitrogen reactions alone are integrated for ``days`` (30) from
   that split, in each cell independently, as the reference code does: no mixing,
   no carbonate tracers, constant light I₀ = 158.075 W m⁻² (no seasonal cycle) and
   f_T = 1 (T = T_opt). The spin-up model is the case's physics with
   ``spin_up.physics`` applied (e.g. ``{ q = 1.0 }``, the truth's), so the truth
   and the low-fidelity run start from the same state. Integration: scipy's DOP853
   at rtol 1e-10, atol 1e-12, in float64.
3. **Carbonate**: DIC₀ = C_P N₀ (mmol C m⁻³, from the spun-up nutrient, as in the
   reference code) and TA₀ = (198.10 + 61.75 S(z)) / 1000 (mmol kg⁻¹), with the
   salinity S(z) a generalised logistic from 31.4 at the surface to 32.8 at depth,

       S(z) = S_top + (S_bottom − S_top) / (1 + 0.5 exp(−0.25 (|z| − H/2)))^(1/2),

   centred at half the column depth H (50 m), of e-folding width 4 m (the reference
   code's sigmoid: C = 1, Q = 0.5, B = 0.25 m⁻¹, ν = 2).
4. The clock restarts at t = 0: the run's light cycle and mixed layer start at day 0.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..errors import InputError
from .reactions import STEADY_LIGHT, Plankton

#: The reference split of total nitrogen into pools.
REFERENCE_SPLIT = {"N": 0.85, "P": 0.05, "Z": 0.05, "D": 0.05}
SALINITY_TOP, SALINITY_BOTTOM = 31.4, 32.8


def split_for(reactions: Plankton, split: Mapping[str, float] | None = None) -> dict[str, float]:
    """The fractions per pool (summing to 1); without detritus D's share goes to N."""
    if split:
        return {k: float(split.get(k, 0.0)) for k in reactions.nitrogen}
    out = {k: REFERENCE_SPLIT[k] for k in reactions.nitrogen}
    if not reactions.detritus:
        out["N"] += REFERENCE_SPLIT["D"]
    return out


def total_nitrogen(z: np.ndarray, top: float, bottom: float, depth: float) -> np.ndarray:
    """T(z), linear from ``top`` at z = 0 to ``bottom`` at z = −depth."""
    return top + (bottom - top) * (-np.asarray(z, dtype=float)) / depth


def salinity(z: np.ndarray, depth: float) -> np.ndarray:
    """S(z) of the module docstring (psu)."""
    x = np.abs(np.asarray(z, dtype=float)) - depth / 2.0
    return SALINITY_TOP + (SALINITY_BOTTOM - SALINITY_TOP) / np.sqrt(1.0 + 0.5 * np.exp(-0.25 * x))


def alkalinity(z: np.ndarray, depth: float) -> np.ndarray:
    """TA₀(z) = (198.10 + 61.75 S(z)) / 1000, mmol kg⁻¹."""
    return (198.10 + 61.75 * salinity(z, depth)) / 1000.0


def spin_up(reactions: Plankton, pools: Mapping[str, np.ndarray], z: np.ndarray, physics: Mapping[str, float],
            days: float) -> dict[str, np.ndarray]:
    """The nitrogen pools after ``days`` of reactions alone (module docstring, step 2)."""
    from scipy.integrate import solve_ivp

    names = reactions.nitrogen
    if days == 0:
        return {k: np.asarray(pools[k], dtype=float) for k in names}
    steady = reactions.with_light(STEADY_LIGHT)
    p = {**{k: float(v) for k, v in physics.items()}, "T": float(physics["T_opt"])}  # f_T = 1
    n = np.size(z)

    def rhs(t, y):
        fields = {k: y[i * n:(i + 1) * n] for i, k in enumerate(names)}
        sources, _ = steady.nitrogen_sources(fields, z, t, p, xp=np)
        return np.concatenate([np.broadcast_to(sources[k], (n,)) for k in names])

    y0 = np.concatenate([np.asarray(pools[k], dtype=float) for k in names])
    solution = solve_ivp(rhs, (0.0, float(days)), y0, method="DOP853", rtol=1e-10, atol=1e-12)
    if not solution.success:
        raise InputError(f"initial_condition.spin_up: the spin-up did not finish ({solution.message})")
    y = solution.y[:, -1]
    return {k: y[i * n:(i + 1) * n] for i, k in enumerate(names)}


def initial_column(reactions: Plankton, z: np.ndarray, depth: float, physics: Mapping[str, float], top: float,
                   bottom: float, split: Mapping[str, float] | None = None, days: float = 30.0) -> dict[str, np.ndarray]:
    """Every variable of ``reactions`` at t = 0 (module docstring), float64."""
    fractions = split_for(reactions, split)
    total = total_nitrogen(z, top, bottom, depth)
    pools = spin_up(reactions, {k: f * total for k, f in fractions.items()}, z, physics, days)
    return {**pools, "DIC": float(physics["C_P"]) * pools["N"], "TA": alkalinity(z, depth)}
