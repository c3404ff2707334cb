"""Resolve a validated `cases.Case` into solver objects: grid, boundaries, model, IC.

Registries (`models.MODELS`, `fluxes.SCHEMES`, `timestepping.STEPPERS`,
`analytic.ANALYTIC`) map the names used in case files to implementations.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from .boundaries import (
    BoundaryConditions,
    BoundaryValue,
    Dirichlet,
    FieldBoundaries,
    Flux,
    Neumann,
    Periodic,
)
from .cases import adr
from .errors import InputError
from .expressions import parse_expression
from .fieldfile import at_time, field_on_grid, open_netcdf, variable_of
from .grid import DIMENSION_NAMES, Grid
from .models import MODELS, AdvectionDiffusionReaction, Variable
from .simulation import Simulation


def dtype_for(precision: str) -> np.dtype:
    """The array dtype of a run; float64 switches JAX's 64-bit mode on."""
    if precision == "float64":
        jax.config.update("jax_enable_x64", True)
        return np.dtype("float64")
    return np.dtype("float32")


def build_grid(case, bc: FieldBoundaries | None = None) -> Grid:
    """The case's grid, with walls (bounded dimensions) from its boundary conditions."""
    bc = build_boundary(case) if bc is None else bc
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
    if hasattr(physics, "build"):  # a physics table that builds its own model (the plankton columns)
        try:
            return physics.build(grid, bc, case.directory)
        except (ValueError, FileNotFoundError) as err:
            raise InputError(str(err)) from None
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


def analytic_truth(case, sampling: str | None = None):
    """``truth(t) -> array`` on the case grid from its ``[truth] analytic`` solution, or None.

    A `truth.AnalyticTruth` (cell averages unless ``truth.sampling = "point"``).
    """
    from .truth import AnalyticTruth

    return AnalyticTruth.from_case(case, sampling)


def initial_fields(case, grid: Grid, dtype, points: int | None = None) -> dict[str, np.ndarray]:
    """The initial fields ``{name: array}``, evaluated in float64 and then cast to the run's dtype.

    Expressions and ``truth = true`` are cell averages (``points`` Gauss–Legendre points
    per dimension, default `quadrature.DEFAULT_POINTS`) and a ``family`` its exact cell
    averages (`families`), unless ``sampling = "point"``.
    """
    from .quadrature import DEFAULT_POINTS

    points = DEFAULT_POINTS if points is None else points
    variables = case.physics.variable_names
    ic = case.initial_condition
    if ic.total_nitrogen is not None:
        return {name: v.astype(dtype) for name, v in column_initial_fields(case, grid).items()}
    what = "initial_condition" if len(variables) == 1 and not ic.fields else None
    return {name: _initial_field(case, ic.for_field(name), grid, dtype, what or f"initial_condition.{name}", points)
            for name in variables}


def column_initial_fields(case, grid: Grid) -> dict[str, np.ndarray]:
    """A plankton column's spun-up initial state (`biogeochem.initial`), float64, in the case's variables.

    The spin-up runs the case's physics with ``initial_condition.spin_up.physics``
    applied; when that is another model (the truth's NPZD-OA for an NPZ-OA case),
    its state is seen through ``[observations] map`` (`observation_map`).
    """
    from .biogeochem.initial import initial_column
    from .cases.biogeochem import spin_up_physics
    from .observation_map import ObservationMap

    ic = case.initial_condition
    spun, problems = spin_up_physics(case.physics, ic)
    if problems:
        raise InputError(f"initial_condition.spin_up.physics: {problems[0].message}")
    (bottom, top), = grid.domain
    days = ic.spin_up.days if ic.spin_up is not None else 30.0
    try:
        values = initial_column(spun.reactions(), grid.centers(0) - top, top - bottom, spun.parameter_values(),
                                ic.total_nitrogen.top, ic.total_nitrogen.bottom, ic.total_nitrogen.split, days)
    except ValueError as err:
        raise InputError(str(err)) from None
    if spun.variable_names != case.physics.variable_names:
        values = ObservationMap(case.observations.map, case.physics.variable_names, spun.variable_names)(values)
    bad = [name for name, v in values.items() if not np.all(np.isfinite(v))]
    negative = [name for name in spun.reactions().nitrogen if name in values
                and np.min(values[name]) < -1e-9 * max(1.0, float(np.max(np.abs(values[name]))))]
    if bad or negative:
        raise InputError(f"the spun-up initial state is not finite or not >= 0 ({', '.join(bad + negative)}); "
                         "check initial_condition.total_nitrogen, spin_up and the physics parameters")
    return values


def _initial_field(case, ic, grid: Grid, dtype, what: str, points: int) -> np.ndarray:
    """One field: an expression or the analytic truth at t = start, sampled as ``ic.sampling``
    says (cell averages by default, `quadrature.sample`), a family drawn on the grid, or a file's values."""
    if ic.file is not None:
        values = _ic_from_file(case.resolve_path(ic.file), ic.variable, grid, what, ic.time)
    elif ic.family is not None:
        values = _family_field(ic, grid, what)
    else:
        values = _sampled_initial_field(case, ic, grid, what, points)
    values = np.broadcast_to(np.asarray(values, dtype=np.float64), grid.array_shape)
    if not np.all(np.isfinite(values)):
        raise InputError(f"the initial condition is not finite everywhere; check {what}")
    return values.astype(dtype)


def _sampled_initial_field(case, ic, grid: Grid, what: str, points: int) -> np.ndarray:
    """An expression, or the analytic truth at t = start, as cell averages or centre values."""
    from .quadrature import sample
    from .truth import AnalyticTruth

    sampling = ic.sampling or "cell_average"
    if ic.expression is not None:
        expression = parse_expression(ic.expression, grid.dims, what=f"{what}.expression")
        truth = None
    else:
        truth = AnalyticTruth.from_case(case, sampling, points, grid=grid)
        if truth is None:
            raise InputError(f"{what}.truth = true needs a [truth] section with an analytic solution")
    try:
        return sample(expression, grid, sampling, points) if truth is None else truth(case.time.start)
    except ValueError as err:  # e.g. cell_average: not finite inside a cell
        raise InputError(f"the initial condition cannot be evaluated on the grid ({err}); check {what}") from None


def _family_field(ic, grid: Grid, what: str) -> np.ndarray:
    """A ``family`` (`cases.family.FAMILIES`) drawn on the grid: exact cell averages, or centre values."""
    from .cases.family import FAMILIES

    try:
        return FAMILIES[ic.family.kind].function(grid, sampling=ic.sampling or "cell_average",
                                                 **ic.family.arguments())
    except ValueError as err:  # e.g. a grid that is not 1-D
        raise InputError(f"{what}.family: {err}") from None


def _ic_from_file(path: Path, variable: str, grid: Grid, what: str = "initial_condition",
                  time: float | None = None) -> np.ndarray:
    """The field ``variable`` of ``path`` on the case grid, at ``time`` if it has a time dimension
    (`fieldfile.at_time`: its only time when ``time`` is None)."""
    where = f"{what}.file: '{variable}' in {path}"
    da = field_on_grid(variable_of(open_netcdf(path, f"{what}.file"), variable, path, f"{what}.variable"),
                       grid, where)
    return np.asarray(at_time(da, time, where, f"{what}.time").values, dtype=np.float64)


def build_simulation(case, closure=None, model=None) -> Simulation:
    """The case's model (built here unless given) with ``closure``, stepper and time step."""
    model = build_model(case) if model is None else model
    cfl = case.time.cfl if case.time.cfl is not None else 1.0
    return Simulation(model, closure=closure, stepper=case.time.stepper, dt=case.time.dt, cfl=cfl)
