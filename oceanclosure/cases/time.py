"""``[time]`` and ``[output]``."""

from __future__ import annotations

from typing import (
    Annotated,
    Any,
    Literal,
    Optional,
)

from pydantic import (
    Field,
    model_validator,
)

from .base import STEPPERS, Flag, Number, Positive, Text, _Model, _Problem

# --------------------------------------------------------------------------
# [time], [output], [[closure]]


#: The default ``time.growth_bound``: generous, a plankton bloom grows by more than 10x.
DEFAULT_GROWTH_BOUND = 1000.0


class TimeConfig(_Model):
    """``[time]``: integrate from ``start`` to ``stop``; step by ``cfl`` or fixed ``dt``.

    ``growth_bound`` (> 1) stops a run whose field u grows past growth_bound x the
    largest |u| of its initial state and its truth (over the run's output times),
    as a blow-up stops it (`simulation.GrowthBound`).
    """

    start: Number = 0.0
    stop: Number
    output_interval: Positive
    stepper: Literal[STEPPERS] = "ssprk3"
    cfl: Optional[Annotated[Number, Field(gt=0, le=1)]] = None
    dt: Optional[Positive] = None
    growth_bound: Annotated[Number, Field(gt=1)] = DEFAULT_GROWTH_BOUND

    @model_validator(mode="before")
    @classmethod
    def _default_cfl(cls, data: Any) -> Any:
        if isinstance(data, dict) and "cfl" not in data and "dt" not in data:
            data = {**data, "cfl": 0.5}
        return data

    def _problems(self, ctx):
        problems = []
        if self.cfl is not None and self.dt is not None:
            problems.append(_Problem(("dt",), "cannot be given together with cfl; give "
                                     "one of them", self.dt))
        if not self.stop > self.start:
            problems.append(_Problem(("stop",), f"must be > start ({self.start:g})",
                                     self.stop))
        elif self.output_interval > self.stop - self.start:
            problems.append(_Problem(("output_interval",), "must be <= stop - start "
                                     f"({self.stop - self.start:g})", self.output_interval))
        return problems


class OutputConfig(_Model):
    """``[output]``: netCDF path relative to the case directory; whether to plot."""

    file: Text = "output/run.nc"
    plot: Flag = True
