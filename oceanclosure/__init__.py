"""oceanclosure: closure-augmented finite-volume simulation in JAX.

Public surface::

    case = oceanclosure.load_case("cases/burgers_advecting_shock", ["grid.nx=100"])
    ds = oceanclosure.run(case)            # xarray.Dataset with u (and u_truth)
    oceanclosure.run_to_file(case, "run.nc")   # the same, streamed to netCDF
    setup = oceanclosure.resolve(case)     # grid, model, closure, initial fields, truth, times
    sweep = oceanclosure.evaluate(case)    # the case's [evaluate] sweep: xarray.Dataset (closure, axes...)
    sweep = oceanclosure.open_sweep("output/evaluate.nc")

and the building blocks: `Grid`, `BoundaryConditions` (`Periodic`, `Dirichlet`,
`Neumann`, `Flux`, values that are `BoundaryValue` expressions in t), the
models `AdvectionDiffusion`, `AdvectionDiffusionReaction`, `Burgers`,
`KdVBurgers` and their `Variable`s, the closure contract (`Closure`,
`FluxClosure`, `NoClosure`, `ClosureSum`), `Simulation`, and the
post-processing helpers in `oceanclosure.analysis`. The reference problems are
described in docs/reference_problems.md.
"""

from .boundaries import (
    BoundaryConditions,
    BoundaryValue,
    Dirichlet,
    FieldBoundaries,
    Flux,
    Neumann,
    Periodic,
)
from .cases import CaseError, load_case
from .closures import Closure, ClosureSum, NoClosure
from .closures.base import FluxClosure
from .grid import Grid
from .io import grid_from_dataset
from .models import (
    AdvectionDiffusion,
    AdvectionDiffusionReaction,
    Burgers,
    KdVBurgers,
    Variable,
)
from .resolve import Setup, resolve
from .runner import RunBlowUpError, RunInterrupted, run, run_to_file
from .simulation import BlowUpError, SimState, Simulation, SimulationInterrupted
from .sweeps import evaluate, open_sweep

__version__ = "0.1.0"

__all__ = [
    "AdvectionDiffusion", "AdvectionDiffusionReaction", "BlowUpError", "BoundaryConditions", "BoundaryValue",
    "Burgers", "CaseError", "Closure", "ClosureSum", "Dirichlet", "FieldBoundaries", "Flux", "FluxClosure", "Grid",
    "KdVBurgers", "Neumann", "NoClosure", "Periodic", "RunBlowUpError", "RunInterrupted", "Setup", "SimState",
    "Simulation", "SimulationInterrupted", "Variable", "evaluate", "grid_from_dataset", "load_case", "open_sweep",
    "resolve", "run", "run_to_file",
]
