"""Turn a case's ``[training]`` section into `rollout.Problem`s: one per configuration.

Each configuration is the case with its ``--set``-style overrides applied (e.g. another
nx and ν). All configurations share one closure object, so they train the same
parameters; features are computed at each configuration's own dx. The truth of
each configuration is loaded or generated (`truth.load_truth`); configurations
other than the case itself write theirs to ``truth/truth_<k>.nc``.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from ..build import build_simulation, dtype_for
from ..cases import check_training
from ..errors import InputError
from ..timestepping import steps_between_outputs
from .rollout import Problem


class SetupError(InputError):
    """A training set-up that cannot work (window longer than the data, ...)."""


def configuration_cases(case) -> list:
    """The case variant of every training configuration."""
    variants = []
    for k, overrides in enumerate(case.training.configurations):
        overrides = list(overrides)
        if overrides:
            overrides.append(f"truth.output=truth/truth_{k}.nc")
        variants.append(case.with_overrides(overrides) if overrides else case)
    return variants


def resolution_notes(case) -> list[str]:
    """Library terms without a ``dx`` factor, when the training set spans several grids.

    A term that corrects truncation error should vanish as dx → 0 at the scheme's rate;
    one without a dx factor (a learned −0.008 u_xx, say) keeps its size on every grid and,
    on a finer one, cancels physics instead. Missing physics (the KdV terms) need no dx,
    so this is a note, not an error.
    """
    import re

    shapes = {tuple(c.grid.shape) for c in configuration_cases(case)} if case.training is not None else set()
    if len(shapes) < 2:
        return []
    notes = []
    for table in case.closures:
        for term in getattr(table, "terms", None) or ():
            if not re.search(r"\bdx\b", term):
                notes.append(f"library term '{term}' has no dx factor, and the training set has {len(shapes)} "
                             "grids: what it learns does not vanish as dx -> 0; if it corrects truncation error, "
                             f"write it as dx**p*{term} (p = the scheme's order)")
    return notes


def build_problem(case, closure, name: str = "") -> Problem:
    """One configuration: its simulation, truth, observations and start indices."""
    from ..truth import load_truth
    from .observations import field_observations

    dtype = dtype_for(case.grid.precision)
    sim = build_simulation(case, closure)
    truth_ds = load_truth(case)
    truth = {k: np.asarray(truth_ds[k].values, dtype=np.float64) for k in sim.model.variable_names}
    times = np.asarray(truth_ds["time"].values, dtype=np.float64)
    interval = _uniform_interval(times)
    dt = sim.choose_dt({k: v[0] for k, v in truth.items()}, sim.model.physics, times)
    n_sub, _ = steps_between_outputs(interval, dt)
    observed = {k: obs.dense(len(times)) for k, obs in field_observations(case, truth_ds).items()}
    scales = loss_scales(truth, list(observed))
    span = sim.closure.memory_span
    history = int(math.ceil(span / interval - 1e-9)) + 1 if span else 0
    stride = _observation_stride(case)
    train, validation, selection = start_indices(case, times, history, stride)
    as_jax = lambda arrays: {k: jnp.asarray(v, dtype) for k, v in arrays.items()}  # noqa: E731
    return Problem(sim, as_jax(truth), jnp.asarray(times, dtype), as_jax({k: t for k, (t, _) in observed.items()}),
                   as_jax({k: w for k, (_, w) in observed.items()}), n_sub, history, train, validation, name, scales,
                   stride, selection)


def _observation_stride(case) -> int:
    """Output intervals between observed snapshots: ``observations.every`` (1 for a file)."""
    return 1 if case.observations.file is not None else int(case.observations.every)


def loss_scales(truth: dict[str, np.ndarray], observed: list[str]) -> dict[str, float]:
    """Each observed field's scale in the loss: its RMS over the truth when several fields are observed.

    So that no tracer dominates by its units (DIC is about 100, P about 0.1). With one
    field the scale is 1: a constant factor would only rescale the loss, the learning
    rate's and the gradient clip's meaning, and the shipped single-field recipes.
    """
    if len(observed) <= 1:
        return {name: 1.0 for name in observed}
    scales = {}
    for name in observed:
        rms = float(np.sqrt(np.mean(truth[name] ** 2)))
        scales[name] = rms if rms > 0 and np.isfinite(rms) else 1.0
    return scales


def _uniform_interval(times: np.ndarray) -> float:
    steps = np.diff(times)
    if len(steps) == 0 or not np.allclose(steps, steps[0], rtol=1e-6):
        raise SetupError("training needs truth snapshots at a uniform output interval")
    return float(steps[0])


def start_indices(case, times: np.ndarray, history: int, stride: int = 1):
    """Admissible start indices in the training, validation and selection time windows.

    A window of ``training.window`` observed snapshots spans window × stride output
    intervals; with a stride, windows start at observed snapshots.
    """
    window = case.training.window * stride
    train_times = case.training.train_times or (times[0], times[-1])
    train = _inside(times, train_times, history, window, stride)
    if not len(train):
        raise SetupError(
            f"training.window = {case.training.window} observed snapshots ({window} output intervals, plus {history} "
            f"snapshots of delay history) does not fit in training.train_times {list(train_times)} "
            f"({len(times)} truth snapshots); shorten the window or widen the times"
        )
    validation = _inside(times, case.training.validation_times, history, window, stride)
    selection = _inside(times, case.training.selection_times or train_times, history, window, stride)
    if not len(selection):
        raise SetupError(
            f"training.selection_times {list(case.training.selection_times)} holds no window of "
            f"{case.training.window} observed snapshots ({window} output intervals); widen selection_times, "
            "or remove it to select on train_times"
        )
    return train, validation, selection


def _inside(times, bounds, history: int, window: int, stride: int = 1) -> np.ndarray:
    if bounds is None:
        return np.zeros(0, dtype=int)
    lo, hi = bounds
    tol = 1e-9 * max(1.0, abs(hi))
    candidates = np.arange(history, len(times) - window)
    candidates = candidates[candidates % stride == 0]
    end_times = times[np.minimum(candidates + window, len(times) - 1)]
    keep = (times[candidates] >= lo - tol) & (end_times <= hi + tol)
    return candidates[keep]


def build_problems(case, closure) -> list[Problem]:
    check_training(case)
    variants = configuration_cases(case)
    return [build_problem(v, closure, name=" ".join(o) or "case") for v, o in zip(variants, case.training.configurations)]
