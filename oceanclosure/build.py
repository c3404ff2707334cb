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
from .boundaries import BoundaryConditions, BoundaryValue, Dirichlet, FieldBoundaries, Flux, Neumann, Periodic
from .cases import adr
from .expressions import parse_expression
from .grid import DIMENSION_NAMES, Grid
from .models import MODELS, AdvectionDiffusionReaction, Variable
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
    return Grid.uniform(case.grid.shape, case.grid.domain, dims=case.grid.names).with_bounded(
        not bc.is_periodic(d) for d in range(bc.ndim))


def _value(value, parameters: tuple[str, ...], along: str | None):
    """A number, or a `BoundaryValue` for an expression in t, physics parameters (and ``along``)."""
    if isinstance(value, str):
        return BoundaryValue(value, parameters, along)
    return float(value)


def _side(spec, parameters: tuple[str, ...], along: str | None):
    if spec.kind == "periodic":
        return Periodic()
    if spec.kind == "dirichlet":
        return Dirichlet(_value(spec.value, parameters, along))
    if spec.kind == "flux":
        return Flux(_value(spec.flux, parameters, along))
    return Neumann(_value(spec.gradient, parameters, along))


def _along(name: str, dims: tuple[str, ...]) -> str | None:
    if len(dims) < 2:
        return None
    return "y" if name in ("left", "right") else "x"


def _variable_boundary(case, variable: str | None) -> BoundaryConditions:
    dims = case.grid.names
    parameters = case.physics.parameter_names
    sides = {name: _side(spec, parameters, _along(name, dims))
             for name, spec in case.boundary.sides(dims, variable).items()}
    return BoundaryConditions.from_sides(dims=dims, **sides)


def build_boundary(case) -> FieldBoundaries:
    """Boundary conditions per variable: the shared ``[boundary]`` table, overridden by ``[boundary.<name>]``."""
    variables = case.physics.variable_names
    return FieldBoundaries.of({name: _variable_boundary(case, name) for name in variables}, variables)


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


def build_model(case, grid: Grid | None = None, bc: FieldBoundaries | None = None):
    grid = build_grid(case) if grid is None else grid
    bc = build_boundary(case) if bc is None else bc
    physics = case.physics
    cls = MODELS[physics.model]
    if physics.model == "advection_diffusion_reaction":
        return _build_adr(case, grid, bc)
    params = dict(physics.params())
    if physics.model == "advection_diffusion":
        velocity = params["velocity"]
        velocity = [_field(v, grid.ndim) for v in velocity] if isinstance(velocity, list) else _field(velocity, grid.ndim)
        params = {"velocity": velocity, "diffusivity": _field(params["diffusivity"], grid.ndim)}
    return cls(grid, bc, physics.scheme, **params)


def _build_adr(case, grid: Grid, bc):
    physics, dims, directory = case.physics, grid.dims, case.directory
    variables = [Variable(name, v.units, v.long_name, v.standard_name) for name, v in physics.variables.items()]
    return AdvectionDiffusionReaction(
        grid, bc, physics.scheme, variables=variables,
        diffusivity=adr.diffusivities(physics, dims, directory),
        velocity=adr.velocities(physics, dims, directory),
        reactions=adr.reactions(physics, dims), parameters=dict(physics.parameters))


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


def initial_fields(case, grid: Grid, dtype) -> dict[str, np.ndarray]:
    """The initial fields ``{name: array}``, evaluated in float64 and then cast to the run's dtype."""
    variables = case.physics.variable_names
    ic = case.initial_condition
    what = "initial_condition" if len(variables) == 1 and not ic.fields else None
    return {name: _initial_field(case, ic.for_field(name), grid, dtype, what or f"initial_condition.{name}")
            for name in variables}


def _initial_field(case, ic, grid: Grid, dtype, what: str) -> np.ndarray:
    if ic.expression is not None:
        names = grid.dims
        expression = parse_expression(ic.expression, names, what=f"{what}.expression")
        values = expression(**grid.coordinates())
    elif ic.file is not None:
        values = _ic_from_file(case.resolve_path(ic.file), ic.variable, grid, what)
    else:
        truth = analytic_truth(case)
        if truth is None:
            raise InputError(f"{what}.truth = true needs a [truth] section with an analytic solution")
        values = truth(case.time.start)
    values = np.broadcast_to(np.asarray(values, dtype=np.float64), grid.array_shape)
    if not np.all(np.isfinite(values)):
        raise InputError(f"the initial condition is not finite everywhere; check {what}")
    return values.astype(dtype)


def _ic_from_file(path: Path, variable: str, grid: Grid, what: str = "initial_condition") -> np.ndarray:
    import xarray as xr

    if not path.exists():
        raise InputError(f"{what}.file: {path} does not exist")
    try:
        with xr.open_dataset(path, decode_times=False) as ds:
            if variable not in ds:
                raise InputError(
                    f"{what}.variable: {path} has no variable '{variable}' (it has {list(ds.data_vars)})"
                )
            da = ds[variable].load()
    except InputError:
        raise
    except Exception as err:  # netCDF4/HDF5 raise a variety of errors on corrupt files
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"{what}.file: cannot read {path} as netCDF ({reason})") from None
    if "time" in da.dims:
        da = da.isel(time=0)
    values = np.asarray(da.values, dtype=np.float64)
    if values.shape != grid.array_shape:
        raise InputError(
            f"{what}.file: '{variable}' in {path} has shape {values.shape}, the grid needs "
            f"{grid.array_shape}; regrid it or change grid.nx/ny"
        )
    for dim, name in enumerate(grid.dims):
        if name in da.coords and not np.allclose(da[name].values, grid.centers(dim), rtol=1e-6, atol=1e-9):
            raise InputError(f"{what}.file: the {name} coordinate of {path} is not the case grid's cell centres")
    return values


def build_simulation(case, closure=None) -> Simulation:
    model = build_model(case)
    cfl = case.time.cfl if case.time.cfl is not None else 1.0
    return Simulation(model, closure=closure, stepper=case.time.stepper, dt=case.time.dt, cfl=cfl)
