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


class TimeConfig(_Model):
    """``[time]``: integrate from ``start`` to ``stop``; step by ``cfl`` or fixed ``dt``."""

    start: Number = 0.0
    stop: Number
    output_interval: Positive
    stepper: Literal[STEPPERS] = "ssprk3"
    cfl: Optional[Annotated[Number, Field(gt=0, le=1)]] = None
    dt: Optional[Positive] = None

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
