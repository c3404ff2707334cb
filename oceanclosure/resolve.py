"""A case resolved into what a run needs, once: ``resolve(case) -> Setup``.

    case.toml → `cases.Case` (validated) → `resolve` → `Setup`
      (grid, model, closure, simulation, initial fields, truth, output times)
      → `Simulation.run` in jitted chunks → output (`runner`)

The grid and the boundary conditions are built once and handed to everything
that needs them (the model, the analytic truth, the initial fields), so every
part of a run sees the same objects.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from .build import (
    build_boundary,
    build_grid,
    build_model,
    build_simulation,
    dtype_for,
    initial_fields,
)
from .closures.base import Closure, as_closure
from .factory import build_closures
from .grid import Grid
from .models.base import FluxModel
from .simulation import Simulation
from .timestepping import output_times
from .truth import AnalyticTruth


@dataclasses.dataclass(frozen=True)
class Setup:
    """Everything a run of a case needs, built once.

    Attributes:
      grid: the case grid (walls from its boundary conditions).
      model: the model on it; closure: the closure (the case's own unless replaced).
      simulation: model + closure + stepper + time-step rule.
      fields0: the initial fields ``{name: array}`` in the run's dtype.
      truth: the analytic truth ``truth(t)``, or None.
      times: the output times.
    """

    case: object
    grid: Grid
    model: FluxModel
    closure: Closure
    simulation: Simulation
    fields0: dict[str, np.ndarray]
    truth: Optional[AnalyticTruth]
    times: np.ndarray
    dtype: np.dtype


def resolve(case, closure: Closure | None = None) -> Setup:
    """Build the case's parts once; ``closure`` replaces the case's ``[[closure]]`` list.

    The analytic truth is evaluated at the stop time here, so that a truth that does
    not reach the end of the run fails before anything is integrated.
    """
    dtype = dtype_for(case.grid.precision)
    bc = build_boundary(case)
    model = build_model(case, build_grid(case, bc), bc)
    closure = build_closures(case) if closure is None else as_closure(closure)
    simulation = build_simulation(case, closure, model)
    truth = AnalyticTruth.from_case(case, grid=model.grid)
    fields0 = initial_fields(case, model.grid, dtype)
    if truth is not None:
        truth(case.time.stop)
    times = output_times(case.time.start, case.time.stop, case.time.output_interval)
    return Setup(case, model.grid, model, simulation.closure, simulation, fields0, truth, times, dtype)
