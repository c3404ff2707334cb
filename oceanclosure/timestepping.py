"""Explicit Runge-Kutta steppers as Butcher tableaux, and the stable time step.

A stepper is data: ``a`` (strictly lower triangular), ``b`` and ``c``. One step of
du/dt = f(t, u) is

    k_i = f(t + c_i dt, u + dt Σ_j a_ij k_j),    u ← u + dt Σ_i b_i k_i.

Stability limits, for eigenvalues λ of the semi-discrete operator, are taken as
|λ dt| ≤ the stepper's extent along the negative real axis (``real_extent``) for
diffusion and ≤ its extent along the imaginary axis (``imaginary_extent``) for
central advection and dispersion; upwind-type advection uses the classical CFL
number 1. The combined limit (`max_stable_dt`) is

    dt_max = 1 / (r_adv + 2 r_diff / real_extent + r_react / real_extent + r_disp / imaginary_extent),

with the rates of `models.base.FluxModel.rates` and `closures.base.Closure.rates`
(the diffusive rate is 2κ/dx², i.e. half the spectral radius 4κ/dx², so forward
Euler's limit is dt ≤ dx²/(2κ); the reactive rate is the magnitude of a real
eigenvalue, e.g. k for a decay −k q, so Euler's limit is dt ≤ 2/k).
``time.cfl`` multiplies dt_max.

A model whose fields must stay non-negative reports a ``positivity`` rate ρ: a
forward-Euler step keeps them ≥ 0 when dt ρ ≤ 1. A strong-stability-preserving
(SSP) stepper is a convex combination of Euler steps, so it keeps them ≥ 0 when
dt ≤ C/ρ, C its SSP coefficient (1 for euler and ssprk3; rk4 is not SSP and is
refused). dt_max is then the smaller of the two limits.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping

import numpy as np

from .errors import InputError


@dataclasses.dataclass(frozen=True)
class ButcherTableau:
    name: str
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    c: tuple[float, ...]
    real_extent: float
    imaginary_extent: float
    #: The SSP coefficient C: dt <= C × (forward Euler's positivity limit); 0 if not SSP.
    ssp_coefficient: float = 0.0

    def __post_init__(self):
        stages = len(self.b)
        if len(self.c) != stages or len(self.a) != stages:
            raise InputError(f"{self.name}: a, b and c must have {stages} stages")
        for i, row in enumerate(self.a):
            if len(row) != i:
                raise InputError(f"{self.name}: row {i} of a must have {i} entries (explicit method)")
        if not math.isclose(sum(self.b), 1.0):
            raise InputError(f"{self.name}: weights b must sum to 1, got {sum(self.b)}")

    @property
    def stages(self) -> int:
        return len(self.b)


STEPPERS = {
    "euler": ButcherTableau("euler", a=((),), b=(1.0,), c=(0.0,), real_extent=2.0, imaginary_extent=0.0,
                            ssp_coefficient=1.0),
    "ssprk3": ButcherTableau(
        "ssprk3",
        a=((), (1.0,), (0.25, 0.25)),
        b=(1 / 6, 1 / 6, 2 / 3),
        c=(0.0, 1.0, 0.5),
        real_extent=2.5127453266183286,
        imaginary_extent=math.sqrt(3.0),
        ssp_coefficient=1.0,
    ),
    "rk4": ButcherTableau(
        "rk4",
        a=((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
        b=(1 / 6, 1 / 3, 1 / 3, 1 / 6),
        c=(0.0, 0.5, 0.5, 1.0),
        real_extent=2.785293563405282,
        imaginary_extent=2.0 * math.sqrt(2.0),
    ),
}


def get_stepper(stepper: str | ButcherTableau) -> ButcherTableau:
    if isinstance(stepper, ButcherTableau):
        return stepper
    try:
        return STEPPERS[stepper]
    except KeyError:
        raise InputError(f"unknown stepper {stepper!r}; known steppers: {', '.join(STEPPERS)}") from None


MAX_OUTPUTS = 1_000_000


class StabilityError(InputError):
    """A time step or stepper that cannot be stable for the problem."""


def max_stable_dt(rates: Mapping[str, float], tableau: ButcherTableau, central_advection: bool = False) -> float:
    """The largest stable dt for the given process rates (see module docstring)."""
    needs_imaginary = rates.get("dispersive", 0.0) > 0 or (central_advection and rates.get("advective", 0.0) > 0)
    if needs_imaginary and tableau.imaginary_extent == 0:
        raise StabilityError(
            f"stepper '{tableau.name}' is unstable for dispersion or central advection at any dt; "
            "use stepper = 'ssprk3' or 'rk4'"
        )
    advective = rates.get("advective", 0.0)
    if central_advection and advective > 0:
        advective = advective / tableau.imaginary_extent
    unknown = sorted(set(rates) - {"advective", "diffusive", "dispersive", "reactive", "positivity"})
    if unknown:
        raise InputError(f"unknown stability rate(s) {unknown}: use advective, diffusive, dispersive, reactive, "
                         "positivity")
    total = (
        advective
        + 2 * rates.get("diffusive", 0.0) / tableau.real_extent
        + (rates.get("reactive", 0.0) / tableau.real_extent if rates.get("reactive", 0.0) else 0.0)
        + (rates.get("dispersive", 0.0) / tableau.imaginary_extent if rates.get("dispersive", 0.0) else 0.0)
    )
    limit = math.inf if total == 0 else 1.0 / total
    return min(limit, positivity_dt(rates.get("positivity", 0.0), tableau))


def positivity_dt(rate: float, tableau: ButcherTableau) -> float:
    """The largest dt that keeps non-negative fields non-negative (module docstring)."""
    if not rate:
        return math.inf
    if tableau.ssp_coefficient <= 0:
        raise StabilityError(f"stepper '{tableau.name}' is not strong-stability preserving, so it cannot keep the "
                             "fields non-negative at any dt; use stepper = 'ssprk3'")
    return tableau.ssp_coefficient / rate


def steps_between_outputs(interval: float, dt: float) -> tuple[int, float]:
    """Steps per output interval and the shortened dt that lands on it exactly."""
    n = max(1, math.ceil(interval / dt - 1e-9))
    return n, interval / n


def output_times(start: float, stop: float, interval: float) -> np.ndarray:
    """Output times start, start + interval, ..., ending exactly at stop."""
    count = math.floor((stop - start) / interval + 1e-9)
    if count > MAX_OUTPUTS:
        raise InputError(
            f"time: {count} output times from {start:g} to {stop:g} every {interval:g}; at most {MAX_OUTPUTS} "
            "are kept in memory: raise time.output_interval"
        )
    times = start + interval * np.arange(count + 1)
    if stop - times[-1] > 1e-9 * max(1.0, abs(stop)):
        times = np.append(times, stop)
    else:
        times[-1] = stop  # start + interval * count may round off stop (0.3 * 3 != 0.9)
    return times
