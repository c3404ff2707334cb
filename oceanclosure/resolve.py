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

import numpy as np

from .build import (
    build_boundary,
    build_grid,
    build_model,
    build_simulation,
    dtype_for,
    initial_fields,
)
from .closure_provenance import closure_attrs
from .closures.base import Closure, as_closure
from .factory import build_closures
from .grid import Grid
from .models.base import FluxModel
from .simulation import Simulation
from .timestepping import output_times
from .truth import NO_TRUTH, AnalyticTruth, truth_inapplicable, truth_notes


@dataclasses.dataclass(frozen=True)
class Setup:
    """Everything a run of a case needs, built once.

    Attributes:
      grid: the case grid (walls from its boundary conditions).
      model: the model on it; closure: the closure (the case's own unless replaced).
      simulation: model + closure + stepper + time-step rule.
      fields0: the initial fields ``{name: array}`` in the run's dtype.
      truth: the analytic truth ``truth(t)``, or None (no analytic truth, or one that
        does not apply to the case as overridden).
      times: the output times.
      truth_not_compared: why the case's truth (of any source) does not apply to the
        case as overridden (`truth.truth_inapplicable`), or None (it applies, or there
        is no truth).
      truth_notes: what the truth is compared across as given (`truth.truth_notes`).
      closure_attrs: what the closure was built from: parameter files, their SHA-256,
        the ensemble member, untrained parts (`closure_provenance.closure_attrs`).
    """

    case: object
    grid: Grid
    model: FluxModel
    closure: Closure
    simulation: Simulation
    fields0: dict[str, np.ndarray]
    truth: AnalyticTruth | None
    times: np.ndarray
    dtype: np.dtype
    truth_not_compared: str | None = None
    truth_notes: tuple[str, ...] = ()
    closure_attrs: dict[str, str] = dataclasses.field(default_factory=dict)


def resolve(case, closure: Closure | None = None) -> Setup:
    """Build the case's parts once; ``closure`` replaces the case's ``[[closure]]`` list.

    The analytic truth is evaluated at the stop time here, so that a truth that does
    not reach the end of the run fails before anything is integrated; one that does
    not apply to the overridden case is not built.
    """
    dtype = dtype_for(case.grid.precision)
    bc = build_boundary(case)
    model = build_model(case, build_grid(case, bc), bc)
    own = closure is None
    closure = build_closures(case) if own else as_closure(closure)
    simulation = build_simulation(case, closure, model)
    reason = truth_inapplicable(case)
    truth = AnalyticTruth.from_case(case, grid=model.grid) if reason is None else None
    fields0 = initial_fields(case, model.grid, dtype)
    if truth is not None:
        truth(case.time.stop)
    times = output_times(case.time.start, case.time.stop, case.time.output_interval)
    return Setup(case, model.grid, model, simulation.closure, simulation, fields0, truth, times, dtype,
                 None if reason == NO_TRUTH else reason, tuple(truth_notes(case)),
                 closure_attrs(case, simulation.closure, own))
