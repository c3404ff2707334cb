"""Resolve a validated `cases.Case` into solver objects: grid, boundaries, model, IC.

Registries (`models.MODELS`, `fluxes.SCHEMES`, `timestepping.STEPPERS`,
`analytic.ANALYTIC`) map the names used in case files to implementations.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import jax
import numpy as np

from .analytic import get_analytic
from .boundaries import BoundaryConditions, Dirichlet, Neumann, Periodic
from .expressions import parse_expression
from .grid import DIMENSION_NAMES, Grid
from .models import MODELS
from .simulation import Simulation


class InputError(ValueError):
    """A case that validated but cannot be built (e.g. a bad initial-condition file)."""


def dtype_for(precision: str) -> np.dtype:
    """The array dtype of a run; float64 switches JAX's 64-bit mode on."""
    if precision == "float64":
        jax.config.update("jax_enable_x64", True)
        return np.dtype("float64")
    return np.dtype("float32")


def build_grid(case) -> Grid:
    """The case's grid, with walls (bounded dimensions) from its boundary conditions."""
    bc = build_boundary(case)
    return Grid.uniform(case.grid.shape, case.grid.domain).with_bounded(
        not bc.is_periodic(d) for d in range(bc.ndim))


def _side(spec):
    if spec.kind == "periodic":
        return Periodic()
    if spec.kind == "dirichlet":
        return Dirichlet(float(spec.value))
    return Neumann(float(spec.gradient))


def build_boundary(case) -> BoundaryConditions:
    sides = {name: _side(spec) for name, spec in case.boundary.sides(case.grid.ndim).items()}
    return BoundaryConditions.from_sides(**sides)


def _field(value, ndim: int):
    """A number stays a number; an expression string becomes f(t, x[, y]) in jax.numpy."""
    if not isinstance(value, str):
        return float(value)
    names = ("t",) + DIMENSION_NAMES[:ndim]
    expression = parse_expression(value, names)

    def field(t, *coords):
        import jax.numpy as jnp

        return expression.evaluate(jnp, t=t, **dict(zip(DIMENSION_NAMES, coords)))

    return field


def build_model(case, grid: Grid | None = None, bc: BoundaryConditions | None = None):
    grid = build_grid(case) if grid is None else grid
    bc = build_boundary(case) if bc is None else bc
    physics = case.physics
    cls = MODELS[physics.model]
    params = dict(physics.params())
    if physics.model == "advection_diffusion":
        velocity = params["velocity"]
        velocity = [_field(v, grid.ndim) for v in velocity] if isinstance(velocity, list) else _field(velocity, grid.ndim)
        params = {"velocity": velocity, "diffusivity": _field(params["diffusivity"], grid.ndim)}
    return cls(grid, bc, physics.scheme, **params)


def analytic_truth(case):
    """``truth(t) -> array`` on the case grid from its ``[truth] analytic`` solution, or None."""
    if case.truth is None or not case.truth.analytic:
        return None
    function = get_analytic(case.truth.analytic)
    accepted = inspect.signature(function).parameters
    physics = {k: _scalar(v) for k, v in case.physics.params().items() if k in accepted}
    params = {**physics, **dict(case.truth.parameters)}
    unknown = [k for k in params if k not in accepted]
    if unknown:
        raise InputError(
            f"truth.parameters: {unknown} are not parameters of analytic solution "
            f"'{case.truth.analytic}' (it takes {[p for p in accepted if p not in ('x', 'y', 't')]})"
        )
    grid = build_grid(case)
    coords = grid.mesh()

    def truth(t: float) -> np.ndarray:
        return np.asarray(function(*coords, t, **params), dtype=np.float64)

    return truth


def _scalar(value):
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def initial_condition(case, grid: Grid, dtype) -> np.ndarray:
    """The initial field, evaluated in float64 and then cast to the run's dtype."""
    ic = case.initial_condition
    if ic.expression is not None:
        names = DIMENSION_NAMES[: grid.ndim]
        expression = parse_expression(ic.expression, names, what="initial_condition.expression")
        values = expression(**dict(zip(names, grid.mesh())))
    elif ic.file is not None:
        values = _ic_from_file(case.resolve_path(ic.file), ic.variable, grid)
    else:
        truth = analytic_truth(case)
        if truth is None:
            raise InputError("initial_condition.truth = true needs a [truth] section with an analytic solution")
        values = truth(case.time.start)
    values = np.broadcast_to(np.asarray(values, dtype=np.float64), grid.array_shape)
    if not np.all(np.isfinite(values)):
        raise InputError("the initial condition is not finite everywhere; check initial_condition")
    return values.astype(dtype)


def _ic_from_file(path: Path, variable: str, grid: Grid) -> np.ndarray:
    import xarray as xr

    if not path.exists():
        raise InputError(f"initial_condition.file: {path} does not exist")
    try:
        with xr.open_dataset(path, decode_times=False) as ds:
            if variable not in ds:
                raise InputError(
                    f"initial_condition.variable: {path} has no variable '{variable}' (it has {list(ds.data_vars)})"
                )
            da = ds[variable].load()
    except InputError:
        raise
    except Exception as err:  # netCDF4/HDF5 raise a variety of errors on corrupt files
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"initial_condition.file: cannot read {path} as netCDF ({reason})") from None
    if "time" in da.dims:
        da = da.isel(time=0)
    values = np.asarray(da.values, dtype=np.float64)
    if values.shape != grid.array_shape:
        raise InputError(
            f"initial_condition.file: '{variable}' in {path} has shape {values.shape}, the grid needs "
            f"{grid.array_shape}; regrid it or change grid.nx/ny"
        )
    for dim, name in enumerate(DIMENSION_NAMES[: grid.ndim]):
        if name in da.coords and not np.allclose(da[name].values, grid.centers(dim), rtol=1e-6, atol=1e-9):
            raise InputError(f"initial_condition.file: the {name} coordinate of {path} is not the case grid's cell centres")
    return values


def build_simulation(case, closure=None) -> Simulation:
    model = build_model(case)
    cfl = case.time.cfl if case.time.cfl is not None else 1.0
    return Simulation(model, closure=closure, stepper=case.time.stepper, dt=case.time.dt, cfl=cfl)
