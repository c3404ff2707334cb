"""Build closures from a case's validated ``[[closure]]`` tables (a list whose terms sum).

The registry `BUILDERS` maps each ``kind`` to a function ``(config, case) -> Closure``.
A table with ``parameters_file`` loads its arrays from that checkpoint (see
`closures.checkpoint`) after the closure is built from the spec.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from .build import build_grid
from .closures.base import Closure, NoClosure, as_closure
from .closures.checkpoint import load_parameters, sidecar_path
from .closures.library import LibraryClosure
from .errors import InputError
from .fieldfile import field_on_grid, open_netcdf, variable_of


def _library(config, outputs=None) -> LibraryClosure:
    return LibraryClosure(
        config.terms, config.coefficients, variables=config.variables, outputs=outputs or config.outputs,
        parameters=config.parameters, constraints={k: dict(v) for k, v in config.constraints.items()},
        trainable=config.trainable, accuracy=config.accuracy,
    )


def _network(config, outputs=None):
    from .closures.neural import NeuralClosure

    closure = NeuralClosure(
        config.inputs, hidden=config.hidden, activation=config.activation, output_scale=config.output_scale,
        scales=dict(config.scales), seed=config.seed, flux_form=config.flux_form, variables=config.variables,
        parameters=config.parameters, accuracy=config.accuracy, outputs=outputs or config.outputs,
        constraints={k: dict(v) for k, v in config.constraints.items()},
        face_inputs=config.face_inputs, jump_width=config.jump_width, viscosity=config.viscosity,
        flux_scale=config.flux_scale, smooth_reference=config.smooth_reference, dx_power=config.dx_power,
        length_scale=config.length_scale, bound=config.bound, stability_rates=config.stability_rates,
        gate=config.gate,
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


def _history(config, case, span: float):
    if config.history == "constant":
        return "constant"
    return history_from_file(case.resolve_path(config.history), build_grid(case), case.time.start, span)


def history_from_file(path: Path, grid, start: float, span: float, variable: str = "u") -> Callable:
    """``history(t) -> field``: linear interpolation in time of ``variable(time, x[, y])``.

    The file must cover [start − span, start] and hold the case's cell centres. The
    buffer keeps a few levels beyond −span for sizing; those are never read, and
    get the file's first snapshot.
    """
    times, values = _read_history(path, grid, variable)
    tol = 1e-9 * max(1.0, abs(start), span)
    if times[0] > start - span + tol or times[-1] < start - tol:
        raise InputError(
            f"closure history {path} covers t in [{times[0]:g}, {times[-1]:g}]; the delay needs "
            f"[{start - span:g}, {start:g}]"
        )

    def history(t: float):
        t = float(np.clip(t, times[0], times[-1]))
        k = int(np.clip(np.searchsorted(times, t) - 1, 0, len(times) - 2))
        w = (t - times[k]) / (times[k + 1] - times[k])
        return (1 - w) * values[k] + w * values[k + 1]

    return history


def _read_history(path: Path, grid, variable: str):
    what = f"closure history {path}"
    try:
        da = field_on_grid(variable_of(open_netcdf(path, what), variable, path, what), grid, f"{what}: '{variable}'",
                           time="required")
    except FileNotFoundError as err:
        raise InputError(str(err)) from None
    times = np.asarray(da["time"].values, dtype=float)
    if len(times) < 2 or np.any(np.diff(times) <= 0):
        raise InputError(f"closure history {path}: needs at least two snapshots at increasing times")
    return times, np.asarray(da.values, dtype=float)


def _discrete_delay(config, case):
    from .closures.delay import DiscreteDelayClosure

    return DiscreteDelayClosure(_inner(config, case), config.delay, buffer_dt=config.buffer_dt,
                                history=_history(config, case, config.delay))


def _distributed_delay(config, case):
    from .closures.delay import DistributedDelayClosure

    return DistributedDelayClosure(_inner(config, case), config.tau1, config.tau2, buffer_dt=config.buffer_dt,
                                   history=_history(config, case, config.tau1))


def _transfer(config, case):
    from .closures.transfer import TransferClosure, edge_label

    labels = [edge_label(e) for e in config.edges]
    if config.network is not None:
        rate = _with_parameters(_network(config.network, labels), config.network, case)
    else:
        rate = _library(config, labels)
    return TransferClosure(rate, config.edges, weights=dict(config.weights), positive=config.positivity)


def _smagorinsky(config, case):
    from .closures.baselines import SmagorinskyClosure

    return SmagorinskyClosure(config.cs, variable=config.variable)


def _eddy(config, case):
    from .closures.baselines import EddyDiffusivityClosure

    return EddyDiffusivityClosure(config.kappa, variable=config.variable)


def _upwind_correction(config, case):
    from .closures.baselines import UpwindCorrectionClosure

    return UpwindCorrectionClosure(form=config.form, variable=config.variable)


BUILDERS: dict[str, Callable] = {
    "none": lambda config, case: NoClosure(),
    "library": lambda config, case: _library(config),
    "neural": lambda config, case: _network(config),
    "discrete_delay": _discrete_delay,
    "distributed_delay": _distributed_delay,
    "transfer": _transfer,
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


TRAINED_PARAMETERS = Path("closure") / "parameters.npz"


def build_closures(case, trained: bool = True) -> Closure:
    """The sum of the case's closures (`NoClosure` when it has none).

    With ``trained`` (the default) a trained ``closure/parameters.npz`` in the case
    directory, written by ``oceanclosure train``, is loaded (checksum verified).
    """
    closure = as_closure([build_closure(c, case) for c in case.closures])
    path = case.directory / TRAINED_PARAMETERS
    if trained and not closure.is_null and path.exists():
        _check_trained_spec(case, path)
        closure = load_parameters(closure, path)
    return closure


def _check_trained_spec(case, path: Path) -> None:
    """Trained parameters must come from the same [[closure]] tables as the case's."""
    import json

    from .io import CheckpointError

    try:
        manifest = json.loads(sidecar_path(path).read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{sidecar_path(path)} is missing or unreadable ({err}); retrain the case") from None
    if not isinstance(manifest, dict):
        raise CheckpointError(f"{sidecar_path(path)} is not a parameter manifest (a JSON object); it is corrupt: "
                              "retrain the case with 'oceanclosure train --overwrite'")
    saved = manifest.get("spec")
    current = [c.model_dump(mode="json") for c in case.closures]
    if saved != current:
        raise CheckpointError(
            f"{path} was trained for other [[closure]] tables than the case's now; retrain with "
            "'oceanclosure train --overwrite', or run the baseline with '--closure none'"
        )
