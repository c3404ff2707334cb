"""Case directories: the ``case.toml`` schema, ``--set`` overrides and validation.

A case is a directory ``cases/<name>/`` holding ``case.toml`` (plus any files it
references, such as an initial-condition netCDF file). :func:`load_case` reads the
TOML, applies ``--set key.path=value`` overrides, and validates every section into
frozen, typed pydantic models. All problems in the file are reported together in
one :class:`CaseError`, one line each::

    invalid case cases/foo/case.toml (2 errors):
      physics.nu: must be >= 0 (got -0.1)
      grid.nxx: unknown key (allowed: dims, domain, nx, ny, nz, precision)

Sections (defaults in parentheses)::

    [grid]               domain = [x0, x1] | [[x0, x1], [y0, y1]], nx, ny (2D only),
                         precision ("float32")
    [boundary]           kind = "periodic" | per-side tables left, right (, bottom, top)
                         (periodic everywhere)
    [physics]            model = "advection_diffusion" | "burgers" | "kdv_burgers", its
                         parameters, scheme ("muscl_vanleer")
    [initial_condition]  exactly one of expression, file (+ variable "u", time), truth = true,
                         family = {kind = "random_fourier", modes, amplitude (1), seed (0)}
                         (truth = true needs an analytic truth)
    [truth]              exactly one source (optional section):
                           analytic, parameters ({});
                           fine = {refine (8), scheme, stepper, cfl | dt, precision,
                                   physics ({}: parameter overrides, may change model)};
                           file (+ variable "u");
                         output ("truth/truth.nc": where a generated truth is written)
    [time]               start (0.0), stop, output_interval, stepper ("ssprk3"),
                         cfl (0.5) or dt
    [output]             file ("output/run.nc"), plot (true)           (optional)
    [[closure]]          kind = "none"                                  (optional, [])
    [observations]       every (1), cells ("all" | stride | [i, ...] | [[j, i], ...]),
                         noise (0.0), seed (0), weights ({u = 1.0}), file   (optional)
    [training]           window (3), batch (8), steps (300), optimizer ("rmsprop" |
                         "adam"), learning_rate (0.075), decay_rate (0.97), decay_steps
                         (100), clip_norm (1.0), loss ("l1" | "mse" | "l1+mse"), l1 (0),
                         l2 (0), prune_threshold (0), seed (0), checkpoint_every (50),
                         train_times ([start, stop]), validation_times, configurations
                         ([[]]: lists of --set strings), max_failures (20), ensemble (1)
                                                                        (optional)

To add a physics model or a closure kind, define a model class with a ``Literal``
tag field (``model`` / ``kind``) and add it to ``PHYSICS_MODELS`` /
``CLOSURE_KINDS``; the discriminated unions, error messages and TOML output follow.
"""
from __future__ import annotations

from .base import IC_SOURCES, SCHEMES, STEPPERS, CaseError
from .boundary import BoundaryConfig, DirichletSide, NeumannSide, PeriodicSide, SideSpec
from .case import Case, load_case
from .closures import CLOSURE_KINDS, ClosureConfig, NoClosureConfig
from .grid import GridConfig
from .initial import InitialConditionConfig
from .observations import ObservationsConfig
from .overrides import apply_overrides, parse_override
from .physics import (
    PHYSICS_MODELS,
    AdvectionDiffusionPhysics,
    BurgersPhysics,
    KdvBurgersPhysics,
    PhysicsConfig,
)
from .time import OutputConfig, TimeConfig
from .training import TrainingConfig, check_training
from .truth import FineTruthConfig, TruthConfig, merged_physics

__all__ = [
    "CaseError",
    "Case",
    "load_case",
    "apply_overrides",
    "parse_override",
    "GridConfig",
    "BoundaryConfig",
    "PeriodicSide",
    "DirichletSide",
    "NeumannSide",
    "SideSpec",
    "AdvectionDiffusionPhysics",
    "BurgersPhysics",
    "KdvBurgersPhysics",
    "PhysicsConfig",
    "PHYSICS_MODELS",
    "InitialConditionConfig",
    "TruthConfig",
    "FineTruthConfig",
    "ObservationsConfig",
    "TrainingConfig",
    "merged_physics",
    "check_training",
    "TimeConfig",
    "OutputConfig",
    "NoClosureConfig",
    "ClosureConfig",
    "CLOSURE_KINDS",
    "SCHEMES",
    "STEPPERS",
    "IC_SOURCES",
]
