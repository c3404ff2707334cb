"""Build closures from a case's validated ``[[closure]]`` tables (a list whose terms sum).

The registry `BUILDERS` maps each ``kind`` to a function ``(config, case) -> Closure``.
A table with ``parameters_file`` loads its arrays from that checkpoint (see
`closures.checkpoint`) after the closure is built from the spec.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from .base import Closure, NoClosure, as_closure
from .checkpoint import load_parameters
from .library import LibraryClosure


def _library(config) -> LibraryClosure:
    return LibraryClosure(
        config.terms, config.coefficients, variables=config.variables, outputs=config.outputs,
        parameters=config.parameters, constraints={k: dict(v) for k, v in config.constraints.items()},
        trainable=config.trainable, accuracy=config.accuracy,
    )


def _network(config):
    from .neural import NeuralClosure

    closure = NeuralClosure(
        config.inputs, hidden=config.hidden, activation=config.activation, output_scale=config.output_scale,
        scales=dict(config.scales), seed=config.seed, flux_form=config.flux_form, variables=config.variables,
        parameters=config.parameters, accuracy=config.accuracy,
    )
    if config.zero_last_layer:
        closure.zero_last_layer()
    return closure


def _with_parameters(closure: Closure, config, case) -> Closure:
    """Load ``config.parameters_file`` (relative to the case directory) if it is set."""
    file = getattr(config, "parameters_file", None)
    if file is None:
        return closure
    directory = case.directory if case is not None else Path(".")
    return load_parameters(closure, directory / file)


def _inner(config, case) -> Closure:
    """The delayed term of a delay closure: a library or a network."""
    if config.network is not None:
        inner = _network(config.network)
        return _with_parameters(inner, config.network, case)
    return _library(config)


def _history(config, case):
    if config.history == "constant":
        return "constant"
    return history_from_file(case.resolve_path(config.history), variable="u")


def history_from_file(path: Path, variable: str = "u") -> Callable:
    """``history(t) -> field``: linear interpolation in time of a netCDF variable (time, ...)."""
    import xarray as xr

    from ..io import CheckpointError

    try:
        with xr.open_dataset(path, decode_times=False) as ds:
            da = ds[variable].load()
    except (OSError, ValueError, KeyError) as err:
        raise CheckpointError(f"closure history {path}: cannot read variable '{variable}' ({err})") from None
    times = np.asarray(da["time"].values, dtype=float)
    values = np.asarray(da.values, dtype=float)

    def history(t: float):
        if not times[0] - 1e-12 <= t <= times[-1] + 1e-12:
            raise ValueError(f"closure history {path} covers t in [{times[0]:g}, {times[-1]:g}], not t = {t:g}")
        k = int(np.clip(np.searchsorted(times, t) - 1, 0, len(times) - 2))
        w = (t - times[k]) / (times[k + 1] - times[k])
        return (1 - w) * values[k] + w * values[k + 1]

    return history


def _discrete_delay(config, case):
    from .delay import DiscreteDelayClosure

    return DiscreteDelayClosure(_inner(config, case), config.delay, buffer_dt=config.buffer_dt,
                                history=_history(config, case))


def _distributed_delay(config, case):
    from .delay import DistributedDelayClosure

    return DistributedDelayClosure(_inner(config, case), config.tau1, config.tau2, buffer_dt=config.buffer_dt,
                                   history=_history(config, case))


def _smagorinsky(config, case):
    from .baselines import SmagorinskyClosure

    return SmagorinskyClosure(config.cs)


def _eddy(config, case):
    from .baselines import EddyDiffusivityClosure

    return EddyDiffusivityClosure(config.kappa)


def _upwind_correction(config, case):
    from .baselines import UpwindCorrectionClosure

    return UpwindCorrectionClosure(form=config.form)


BUILDERS: dict[str, Callable] = {
    "none": lambda config, case: NoClosure(),
    "library": lambda config, case: _library(config),
    "neural": lambda config, case: _network(config),
    "discrete_delay": _discrete_delay,
    "distributed_delay": _distributed_delay,
    "smagorinsky": _smagorinsky,
    "eddy_diffusivity": _eddy,
    "upwind_correction": _upwind_correction,
}


def build_closure(config, case=None) -> Closure:
    """One closure from one ``[[closure]]`` table, with its parameters file loaded.

    A table's ``parameters_file`` holds the arrays of that whole closure; a delay
    closure's ``network.parameters_file`` holds those of its inner network only.
    """
    return _with_parameters(BUILDERS[config.kind](config, case), config, case)


def build_closures(case) -> Closure:
    """The sum of the case's closures (`NoClosure` when it has none)."""
    return as_closure([build_closure(c, case) for c in case.closures])
