"""The one module that imports jax-cfd.

jax-cfd 0.2.1 is unmaintained upstream, so everything we take from it passes
through here and an upstream break touches only this file. We use its grid and
array types (to hand our fields to jax-cfd code and back) and its periodic
finite-difference operators (Laplacian, divergence, van Leer advection), which
serve as independent cross-checks in the tests and as a baseline in
``benchmarks/``. Our own solver does not use jax-cfd's padding or advection:
its width-2 Dirichlet/Neumann padding repeats the first ghost cell and its
general advection refuses non-periodic boundaries (see `boundaries`, `fluxes`).

Layout: jax-cfd orders array axes by dimension, ``(nx, ny)``; ours puts x last,
``(ny, nx)``. The converters below transpose between the two.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax_cfd.base import advection as _advection
from jax_cfd.base import boundaries as _boundaries
from jax_cfd.base import diffusion as _diffusion
from jax_cfd.base import finite_differences as _fd
from jax_cfd.base import grids as _grids

from .grid import Grid

GridArray = _grids.GridArray
GridVariable = _grids.GridVariable


def to_cfd_grid(grid: Grid) -> _grids.Grid:
    """The jax-cfd grid with the same cells."""
    return _grids.Grid(grid.shape, domain=grid.domain)


def to_cfd_variable(u, grid: Grid, offset: float = 0.5) -> GridVariable:
    """A periodic jax-cfd `GridVariable` holding ``u`` (our layout) at ``offset``."""
    data = jnp.transpose(u) if grid.ndim == 2 else u
    array = GridArray(data, (offset,) * grid.ndim, to_cfd_grid(grid))
    return GridVariable(array, _boundaries.periodic_boundary_conditions(grid.ndim))


def from_cfd_array(array: GridArray):
    """Our layout (x last) from a jax-cfd array."""
    return jnp.transpose(array.data) if array.data.ndim == 2 else array.data


def periodic_laplacian(u, grid: Grid):
    """Second-order periodic Laplacian of a cell-centred field, by jax-cfd."""
    return from_cfd_array(_fd.laplacian(to_cfd_variable(u, grid)))


def periodic_divergence_of_faces(fluxes, grid: Grid):
    """Divergence of face fluxes by jax-cfd.

    ``fluxes[d]`` holds, in our layout, the flux through the *upper* face of each
    cell along dimension ``d`` (offset 1 in that dimension), periodic.
    """
    variables = []
    for dim, flux in enumerate(fluxes):
        offset = tuple(1.0 if d == dim else 0.5 for d in range(grid.ndim))
        data = jnp.transpose(flux) if grid.ndim == 2 else flux
        array = GridArray(data, offset, to_cfd_grid(grid))
        variables.append(GridVariable(array, _boundaries.periodic_boundary_conditions(grid.ndim)))
    return from_cfd_array(_fd.divergence(variables))


def periodic_advection_diffusion_tendency(c, velocity, diffusivity: float, grid: Grid, dt: float):
    """jax-cfd's own van Leer advection plus diffusion of ``c`` by face velocities.

    ``velocity[d]`` is the velocity on the upper faces along dimension ``d`` (our
    layout). Returns dc/dt = -div(v c) + diffusivity * lap(c), periodic.
    """
    c_var = to_cfd_variable(c, grid)
    v_vars = []
    for dim, v in enumerate(velocity):
        offset = tuple(1.0 if d == dim else 0.5 for d in range(grid.ndim))
        data = jnp.transpose(v) if grid.ndim == 2 else v
        array = GridArray(data, offset, to_cfd_grid(grid))
        v_vars.append(GridVariable(array, _boundaries.periodic_boundary_conditions(grid.ndim)))
    advect = _advection.advect_van_leer(c_var, tuple(v_vars), dt)
    return from_cfd_array(advect + _diffusion.diffuse(c_var, diffusivity))


def dirichlet_pad(u, grid: Grid, values: tuple[float, float], width: int):
    """jax-cfd's own cell-centred Dirichlet padding of a 1D field, ``width`` per side.

    Kept for comparison only: in jax-cfd 0.2.1 the second ghost repeats the first,
    which is why `boundaries` pads with its own extrapolation.
    """
    cfd_grid = to_cfd_grid(grid)
    bc = _boundaries.dirichlet_boundary_conditions(1, (tuple(values),))
    array = GridArray(jnp.asarray(u), (0.5,), cfd_grid)
    return bc.pad(bc.pad(array, -width, 0), width, 0).data
