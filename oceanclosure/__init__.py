"""oceanclosure: closure-augmented finite-volume simulation in JAX.

Public surface::

    case = oceanclosure.load_case("cases/burgers_advecting_shock", ["grid.nx=100"])
    ds = oceanclosure.run(case)            # xarray.Dataset with u (and u_truth)

and the building blocks: `Grid`, `BoundaryConditions` (`Periodic`, `Dirichlet`,
`Neumann`), the models `AdvectionDiffusion`, `Burgers`, `KdVBurgers`, the closure
contract (`Closure`, `NoClosure`, `ClosureSum`), `Simulation`, and the
post-processing helpers in `oceanclosure.analysis`.
"""

from .boundaries import BoundaryConditions, Dirichlet, Neumann, Periodic
from .cases import CaseError, load_case
from .closures import Closure, ClosureSum, NoClosure
from .grid import Grid
from .io import grid_from_dataset
from .models import AdvectionDiffusion, Burgers, KdVBurgers
from .runner import RunBlowUpError, run
from .simulation import BlowUpError, SimState, Simulation

__version__ = "0.1.0"

__all__ = [
    "AdvectionDiffusion", "BlowUpError", "BoundaryConditions", "Burgers", "CaseError", "Closure",
    "ClosureSum", "Dirichlet", "Grid", "KdVBurgers", "Neumann", "NoClosure", "Periodic",
    "RunBlowUpError", "SimState", "Simulation", "grid_from_dataset", "load_case", "run",
]
