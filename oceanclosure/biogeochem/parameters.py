"""The parameters of the NPZD-OA / NPZ-OA models: names, reference values, units.

The values are those of the gnCM ocean-acidification experiments (a 1-D column
at 20 °C, time in days, nitrogen pools in mmol N m⁻³; see
docs/biogeochemistry.md). ``m_z`` is half of the textbook 0.06 d⁻¹, as in the
experiments. ``lambda`` is a TOML key here, not a Python name: the parameters
travel as a dict ``physics`` (differentiable with ``jax.grad``).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One model parameter: its key, reference value, units and meaning."""

    name: str
    default: float
    units: str
    meaning: str


PARAMETERS: tuple[Parameter, ...] = (
    Parameter("mu_max", 2.808, "d-1", "maximum phytoplankton growth rate"),
    Parameter("g_max", 0.700, "d-1", "maximum zooplankton grazing rate"),
    Parameter("m_p", 0.080, "d-1", "phytoplankton linear mortality"),
    Parameter("m_z", 0.02998, "d-1", "zooplankton linear mortality (half of 0.06, as in the experiments)"),
    Parameter("eps", 0.0150, "d-1", "detritus remineralisation rate"),
    Parameter("alpha", 0.140, "(W m-2)-1 d-1", "initial slope of the light limitation"),
    Parameter("beta", 0.0028, "(W m-2)-1 d-1", "photo-inhibition"),
    Parameter("K_N", 0.5, "mmol N m-3", "half-saturation of nutrient uptake"),
    Parameter("K_P", 0.25, "mmol N m-3", "half-saturation of grazing (Holling III)"),
    Parameter("k_W", 0.08, "m-1", "light attenuation by sea water"),
    Parameter("lambda", 0.3, "1", "fraction of grazing excreted as nutrient"),
    Parameter("gamma", 0.4, "1", "zooplankton assimilation efficiency"),
    Parameter("C_P", 6.625, "mol C (mol N)-1", "carbon to nitrogen ratio of phytoplankton"),
    Parameter("C_Z", 5.625, "mol C (mol N)-1", "carbon to nitrogen ratio of zooplankton"),
    Parameter("C_D", 7.5, "mol C (mol N)-1", "carbon to nitrogen ratio of detritus"),
    Parameter("gamma_c", 0.01, "1", "calcium carbonate production per unit of carbon uptake"),
    Parameter("a", 0.07, "degC-1", "temperature sensitivity of f_T"),
    Parameter("T_opt", 20.0, "degC", "optimal temperature"),
    Parameter("T", 20.0, "degC", "water temperature (uniform)"),
    Parameter("q", 0.0, "1", "switch (weight) of the extra zooplankton mortality q m_z M(Z)"),
    Parameter("rho", 1028.13, "kg m-3", "sea-water density (converts TA to mmol kg-1)"),
)

DEFAULTS: dict[str, float] = {p.name: p.default for p in PARAMETERS}
NAMES: tuple[str, ...] = tuple(DEFAULTS)
#: Parameters that must be > 0 in a case (they divide; K_N = 0 makes the uptake not slow as N
#: runs out, so no time step keeps N >= 0). `PlanktonColumn` itself accepts K_N = 0 (tests).
POSITIVE = ("mu_max", "K_N", "K_P", "rho")
