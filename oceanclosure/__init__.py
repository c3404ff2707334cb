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
post-processing helpers in `oceanclosure.analysis`. The errors it raises on
purpose derive from `OceanClosureError` (`InputError`, `DataFileError`,
`RunFailedError`; `oceanclosure.errors` lists them with the CLI's exit codes); a
run or training stopped by SIGINT raises `RunInterrupted`/`TrainingInterrupted`,
which are KeyboardInterrupts. The reference problems are described in
docs/reference_problems.md.
"""

import importlib
import importlib.util
import sys
import types

__version__ = "0.1.0"

__all__ = [
    "AdvectionDiffusion", "AdvectionDiffusionReaction", "BlowUpError", "BoundaryConditions", "BoundaryValue",
    "Burgers", "CaseError", "Closure", "ClosureSum", "DataFileError", "Dirichlet", "FieldBoundaries", "Flux",
    "FluxClosure", "Grid", "InputError", "KdVBurgers", "Neumann", "NoClosure", "OceanClosureError", "Periodic",
    "RunBlowUpError", "RunFailedError", "RunInterrupted", "Setup", "SimState", "Simulation", "SimulationInterrupted",
    "TrainingInterrupted", "Variable", "evaluate", "grid_from_dataset", "load_case", "open_sweep", "resolve", "run",
    "run_to_file",
]

# The public names are imported on first use (PEP 562), so that `import oceanclosure` and the command
# line's --help and --version load no jax, xarray or sympy. Each name's home module:
_HOMES = {
    "boundaries": ("BoundaryConditions", "BoundaryValue", "Dirichlet", "FieldBoundaries", "Flux", "Neumann",
                   "Periodic"),
    "cases": ("CaseError", "load_case"),
    "closures": ("Closure", "ClosureSum", "NoClosure"),
    "closures.base": ("FluxClosure",),
    "errors": ("DataFileError", "InputError", "OceanClosureError", "RunFailedError"),
    "grid": ("Grid",),
    "io": ("grid_from_dataset",),
    "models": ("AdvectionDiffusion", "AdvectionDiffusionReaction", "Burgers", "KdVBurgers", "Variable"),
    "resolve": ("Setup", "resolve"),
    "runner": ("RunBlowUpError", "RunInterrupted", "run", "run_to_file"),
    "simulation": ("BlowUpError", "SimState", "Simulation", "SimulationInterrupted"),
    "sweeps": ("evaluate", "open_sweep"),
    "training.trainer": ("TrainingInterrupted",),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str):
    """A public name, imported from its home module on first use, or a submodule (``oceanclosure.analysis``)."""
    if name in _HOME_OF:
        value = getattr(importlib.import_module(f".{_HOME_OF[name]}", __name__), name)
    elif not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups find it without coming here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """The package module: importing a submodule that shares a public name (``oceanclosure.resolve``, the
    module) leaves the name to the public object (`resolve`, the function), as an eager import did."""

    def __setattr__(self, name: str, value) -> None:
        if name in _HOME_OF and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
