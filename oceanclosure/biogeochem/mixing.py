"""Vertical mixing K_z(z, t): the arctan profile under a seasonal mixed layer.

    K_z(z, t) = K_zb + (K_z0 − K_zb) [atan(g (z − M)) − atan(g (z_b − M))]
                                     / [atan(−g M) − atan(g (z_b − M))]

with z ≤ 0 positive up, z_b the bottom (−100 m in the experiments) and M(t) the
mixed-layer depth (negative), a periodic piecewise-linear `TimeTable`. K_z runs
monotonically from K_z0 at the surface (z = 0) to K_zb at the bottom, with the
step of the arctan at the base of the mixed layer, of width ~1/g. Units:
m² d⁻¹ (K_z0 = 8.64 m² d⁻¹ is 1e-4 m² s⁻¹).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..coefficients import Coefficient, TimeTable
from ..errors import InputError


@dataclasses.dataclass(frozen=True, eq=False)
class MixingProfile(Coefficient):
    """K_z(z, t) of the module docstring, a `coefficients.Coefficient` of (z, t)."""

    K_z0: float
    K_zb: float
    g: float
    bottom: float
    mixed_layer: TimeTable

    def __post_init__(self):
        for name in ("K_z0", "K_zb", "g"):
            value = float(getattr(self, name))
            if not np.isfinite(value) or value < 0 or (name == "g" and value == 0):
                need = "> 0" if name == "g" else ">= 0"
                raise InputError(f"physics.mixing.{name}: must be finite and {need}, got {value:g}")
            object.__setattr__(self, name, value)
        if not self.bottom < 0:
            raise InputError(f"physics.mixing: the column's bottom must be below z = 0, got {self.bottom:g}")
        depths = self.mixed_layer.values
        if np.any(depths > 0) or np.any(depths < self.bottom):
            raise InputError(f"physics.mixing.mixed_layer.depth: depths must lie in [{self.bottom:g}, 0] "
                             f"(z is positive up, so a depth is negative), got {depths.tolist()}")

    def evaluate(self, xp, coords, t):
        z = coords["z"]
        m = self.mixed_layer.interpolate(xp, t)
        top = xp.arctan(self.g * (z - m)) - xp.arctan(self.g * (self.bottom - m))
        bottom = xp.arctan(-self.g * m) - xp.arctan(self.g * (self.bottom - m))
        return self.K_zb + (self.K_z0 - self.K_zb) * top / bottom

    def global_minimum(self) -> float:
        return min(self.K_zb, self.K_z0)

    def critical_times(self, start: float, stop: float) -> np.ndarray:
        return self.mixed_layer.critical_times(start, stop)

    def check_grid(self, grid) -> None:
        if "z" not in grid.dims:
            raise InputError(f"physics.mixing: the arctan profile is a function of depth z; the grid has "
                             f"{list(grid.dims)} (use grid.dims = [\"z\"])")

    def describe(self) -> str:
        return (f"arctan mixing K_z0 = {self.K_z0:g}, K_zb = {self.K_zb:g}, g = {self.g:g} over a "
                f"{self.mixed_layer.describe()} mixed layer")

    def _key(self) -> tuple:
        return (self.K_z0, self.K_zb, self.g, self.bottom, self.mixed_layer._key())


def mixed_layer_table(t, depth, period) -> TimeTable:
    """The mixed-layer depth M(t) as a `TimeTable` (errors name ``physics.mixing.mixed_layer``)."""
    try:
        return TimeTable(np.asarray(t, dtype=float), np.asarray(depth, dtype=float), period)
    except (ValueError, TypeError) as err:
        text = str(err).replace("TimeTable: values", "depth").replace("TimeTable: ", "")
        raise InputError(f"physics.mixing.mixed_layer: {text}") from None
