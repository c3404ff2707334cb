"""What every finite-volume model shares: named fields, face fluxes, sources, rates.

A model is a value built from a grid, boundary conditions and a scheme. Its
state is a set of named fields (``variables``), a mapping ``{name: array}``; a
single-field model is ``{"u": array}``. Per field ``q``,

    ∂q/∂t = −∇·F_q(fields, t) + S_q(fields, t)

where ``face_fluxes`` gives F_q at the cell faces (advection, diffusion,
dispersion: conservative by construction) and ``sources`` gives S_q at the
centres (reactions: explicitly non-conservative). The one divergence is taken
in `tendency`, after any extra face fluxes (a flux-form closure's) are added, so
every flux sees the same boundary conditions. ``rates`` reports the largest
eigenvalue magnitudes the dt choice needs, under the keys ``advective``,
``diffusive``, ``dispersive`` and ``reactive`` (`timestepping.max_stable_dt`).

Physical parameters are *not* baked in: they travel as a pytree ``physics`` (a
dict of scalars) so that ``jax.grad`` can differentiate a rollout with respect
to them. ``model.physics`` holds the defaults the model was built with.

Subclasses implement `line_flux`, the total face flux of one field along one
dimension from its ghost-padded line, and `rates`; a reaction model also
implements `sources`. At a flux wall (`boundaries.Flux`) the wall face's flux
is the prescribed one, whatever `line_flux` computed there.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from typing import Mapping, Sequence

import jax.numpy as jnp
import numpy as np

from ..boundaries import BoundaryConditions, FieldBoundaries
from ..errors import InputError, InputTypeError
from ..fluxes import Scheme, divergence, get_scheme
from ..grid import Grid


@dataclasses.dataclass(frozen=True)
class Variable:
    """A named field of a model's state, with its CF attributes."""

    name: str
    units: str = "1"
    long_name: str = ""
    standard_name: str | None = None

    def __post_init__(self):
        if not self.name.isidentifier():
            raise InputError(f"variable name {self.name!r} must be a Python-style identifier (letters, digits, _)")

    def attrs(self) -> dict[str, str]:
        out = {"units": self.units, "long_name": self.long_name or self.name}
        if self.standard_name:
            out["standard_name"] = self.standard_name
        return out


#: The one field of the single-field models.
U = Variable("u", "1")

RATE_KEYS = ("advective", "diffusive", "dispersive", "reactive", "positivity")


class FluxModel(abc.ABC):
    """A balance law ∂q/∂t + ∇·F_q = S_q per named field, discretised in flux form."""

    #: Ghost cells needed by the model's non-advective fluxes.
    extra_halo: int = 1
    #: Wall extrapolation degree needed by the non-advective fluxes.
    extra_boundary_order: int = 1
    #: Names of the scalar physical parameters, in order.
    parameter_names: tuple[str, ...] = ()
    #: The fields of the state (a subclass or instance may set its own).
    variables: tuple[Variable, ...] = (U,)
    #: The advection scheme a case gets when it names none (the case schema reads it here).
    default_scheme: str = "muscl_vanleer"

    def __init__(self, grid: Grid, bc: BoundaryConditions | Mapping | FieldBoundaries, scheme: str | Scheme,
                 physics: Mapping):
        self.bc = FieldBoundaries.of(bc, self.variable_names)
        if self.bc.ndim != grid.ndim:
            raise InputError(f"{type(self).__name__}: boundary conditions are {self.bc.ndim}D but the grid is {grid.ndim}D")
        if self.bc.dims != grid.dims:
            raise InputError(f"{type(self).__name__}: boundary conditions are for dimensions {list(self.bc.dims)}, "
                             f"the grid has {list(grid.dims)}")
        self.grid = grid.with_bounded(not self.bc.is_periodic(d) for d in range(grid.ndim))
        self.scheme = get_scheme(scheme)
        self.physics = self.validate_physics(dict(physics))
        self._along = tuple(self._along_coordinate(d) for d in range(grid.ndim))

    @property
    def variable_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variables)

    def validate_physics(self, physics: dict) -> dict:
        missing = [k for k in self.parameter_names if k not in physics]
        unknown = [k for k in physics if k not in self.parameter_names]
        if missing or unknown:
            raise InputError(
                f"{type(self).__name__}: physics needs {list(self.parameter_names)}, "
                f"missing {missing}, unknown {unknown}"
            )
        return physics

    @property
    def halo(self) -> int:
        return max(self.scheme.halo, self.extra_halo)

    @property
    def boundary_order(self) -> int:
        return max(self.scheme.boundary_order, self.extra_boundary_order)

    def _along_coordinate(self, dim: int):
        """Cell centres along the sides of ``dim`` (2D), shaped like a line's leading axes."""
        if self.grid.ndim == 1:
            return None
        return self.grid.centers(1 - dim)

    def pad_line(self, name: str, v, dim: int, t=0.0, physics=None):
        """Ghost-padded copy of field ``name``'s line ``v``, whose last axis runs along ``dim``."""
        along = self._along[dim]
        return self.bc[name].pad_line(v, self.halo, dim, self.grid.step[dim], self.boundary_order, t, physics,
                                      None if along is None else jnp.asarray(along, v.dtype))

    @abc.abstractmethod
    def line_flux(self, name: str, up, dim: int, t, physics):
        """Total face flux of field ``name`` along ``dim`` from its padded line ``up`` (last axis)."""

    def face_fluxes(self, fields: Mapping, t, physics=None, extra: Mapping | None = None) -> dict[str, tuple]:
        """Face fluxes per field and dimension, each with the faces on the last axis.

        ``extra`` (a flux closure's ``{name: (F per dimension)}``) is added before the
        flux walls set their prescribed total (see `closures.base.FluxClosure`).
        """
        physics = self.physics if physics is None else physics
        extra = extra or {}
        out = {}
        for name in self.variable_names:
            u = fields[name]
            added = extra.get(name) or (None,) * self.grid.ndim
            lines = (jnp.moveaxis(u, self.grid.array_axis(d), -1) for d in range(self.grid.ndim))
            out[name] = tuple(
                self._wall_flux(name, _plus(self.line_flux(name, self.pad_line(name, v, d, t, physics), d, t, physics),
                                            added[d]), d, t, physics)
                for d, v in enumerate(lines))
        return out

    def _wall_flux(self, name: str, flux, dim: int, t, physics):
        """Replace the wall faces of flux walls by their prescribed flux."""
        lower, upper = self.bc[name].wall_fluxes(dim, t, physics, self._along[dim])
        if lower is not None:
            flux = flux.at[..., 0].set(jnp.asarray(lower, flux.dtype))
        if upper is not None:
            flux = flux.at[..., -1].set(jnp.asarray(upper, flux.dtype))
        return flux

    def sources(self, fields: Mapping, t, physics=None) -> dict:
        """Non-conservative sources S_q at the cell centres (only the fields that have one)."""
        return {}

    #: Names of the fields a closure may read besides the state (`closure_inputs`).
    closure_input_names: tuple[str, ...] = ()

    def closure_inputs(self, fields: Mapping, t, physics=None) -> dict:
        """Fields a closure may read besides the state, e.g. the light PAR(z, t) of the plankton models.

        They are added to the mapping the closure sees (``{**state, **inputs}``); a
        closure's tendencies for them are dropped. Default: none.
        """
        return {}

    def coupled(self, tendencies, physics=None):
        """A closure's tendencies with what they imply for other fields (default: as they are).

        A model whose fields are tied by its equations (the carbonate budgets of
        the plankton models follow the nitrogen pools) adds the tied tendencies here,
        so that a closure's correction obeys the same budgets as the model's terms.
        """
        return tendencies

    def divergence(self, fluxes: Sequence) -> object:
        """−∇·F at the cell centres from face fluxes per dimension (faces on the last axis)."""
        total = None
        for dim, flux in enumerate(fluxes):
            term = jnp.moveaxis(divergence(flux, self.grid.step[dim]), -1, self.grid.array_axis(dim))
            total = term if total is None else total + term
        return total

    def tendency(self, fields: Mapping, t, physics=None, extra_fluxes: Mapping | None = None) -> dict:
        """∂q/∂t = −∇·(F_q + extra_q) + S_q for every field q (flux walls set the total wall flux)."""
        physics = self.physics if physics is None else physics
        unknown = [k for k in (extra_fluxes or {}) if k not in self.variable_names]
        if unknown:
            raise InputError(f"closure fluxes for {unknown}, which are not fields of the model ({list(self.variable_names)})")
        fluxes = self.face_fluxes(fields, t, physics, extra_fluxes)
        out = {name: self.divergence(f) for name, f in fluxes.items()}
        for name, source in self.sources(fields, t, physics).items():
            out[name] = out[name] + source
        return out

    @abc.abstractmethod
    def rates(self, fields: Mapping, physics, times) -> dict[str, float]:
        """Largest eigenvalue magnitudes per process, 1 / time units (host floats).

        Keys (`RATE_KEYS`): ``advective`` (sum over dims of max|c| / dx),
        ``diffusive`` (sum of 2 κ / dx², half the spectral radius of the central
        Laplacian), ``dispersive`` ((3√3/2) |b| / dx³, the spectral radius of the
        central u_xxx stencil, purely imaginary) and ``reactive`` (the largest
        |∂S/∂q| of the sources, a real eigenvalue); a model whose fields must stay
        non-negative adds ``positivity`` (forward Euler keeps them ≥ 0 for dt ≤ 1/rate).
        """

    def check_fields(self, fields: Mapping) -> dict:
        """Host check that ``fields`` holds exactly the model's variables, each on the grid."""
        if not isinstance(fields, Mapping):
            raise InputTypeError(f"{type(self).__name__}: the state is a mapping {{name: array}}, got {type(fields).__name__}")
        unknown = [k for k in fields if k not in self.variable_names]
        missing = [k for k in self.variable_names if k not in fields]
        if unknown or missing:
            raise InputError(f"{type(self).__name__}: the state needs the fields {list(self.variable_names)}, "
                             f"got {list(fields)} (unknown {unknown}, missing {missing})")
        for name in self.variable_names:
            shape = np.shape(fields[name])
            if shape != self.grid.array_shape:
                raise InputError(f"initial state: field '{name}' has shape {shape}, the grid needs {self.grid.array_shape}")
        return {name: fields[name] for name in self.variable_names}


def _plus(flux, extra):
    return flux if extra is None else flux + extra.astype(flux.dtype)


def max_abs(fields: Mapping) -> float:
    """max |q| over every field (host float)."""
    return max((float(np.max(np.abs(np.asarray(v)))) for v in fields.values()), default=0.0)


DISPERSION_RADIUS = 1.5 * math.sqrt(3.0)
