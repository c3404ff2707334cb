"""``[training]``: the a-posteriori training recipe."""

from __future__ import annotations

import math
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    Literal,
    Optional,
)

from pydantic import Field, PlainSerializer, PlainValidator, Strict

from .base import (
    CaseError,
    NonNegative,
    Number,
    Positive,
    Text,
    _is_number,
    _Model,
    _Problem,
    _Problems,
    _report,
    _thaw,
)
from .closures import Count
from .time import TimeConfig

if TYPE_CHECKING:
    from .case import Case


def _interval(value: Any) -> tuple[float, float]:
    """[t0, t1] with finite t1 > t0."""
    ok = (isinstance(value, (list, tuple)) and len(value) == 2 and all(map(_is_number, value))
          and all(map(math.isfinite, value)))
    if not ok:
        raise _Problems([_Problem((), "expected [t0, t1] with finite numbers", value)])
    if not value[1] > value[0]:
        raise _Problems([_Problem((), "t1 must be > t0", list(value))])
    return float(value[0]), float(value[1])


Interval = Annotated[tuple[float, float], PlainValidator(_interval), PlainSerializer(_thaw)]
Fraction = Annotated[Number, Field(gt=0, le=1)]


class TrainingConfig(_Model):
    """``[training]``: a-posteriori training settings (read by the trainer).

    Each sample rolls the closure-augmented solver out for ``window`` output
    intervals from a truth state; ``batch`` start times per optimizer step, ``steps``
    steps; ``optimizer`` with learning rate ``learning_rate × decay_rate^(step /
    decay_steps)`` and gradient clipping to ``clip_norm``; ``loss`` at observation
    times plus ``l1`` / ``l2`` penalties on closure parameters; library coefficients
    below ``prune_threshold`` (an absolute value; 0, off, by default) are zeroed after
    every step. Start times are drawn in ``train_times`` (default: the whole run, filled
    in on loading). ``window`` counts observed snapshots: with ``observations.every = k``
    a window spans k × window output intervals. ``configurations``
    are lists of ``--set`` overrides, each a training configuration ([[]]: the case),
    validated on loading. Whether the times and window fit the run is checked by
    `check_training` (not on loading).

    Sparse discovery (`training.selection`, for the library parts of a closure): after
    the ``steps``, terms whose contribution is below ``relative_threshold`` of their
    output's tendency are dropped; the survivors are refitted, then dropped one at a
    time (the one whose removal costs least), each model refitted from its values by
    ``refit_iterations`` Levenberg–Marquardt iterations; the model on that path with
    the lowest ``selection`` criterion ("bic" or "aic"; "none": no path) on
    ``selection_times`` (default: ``train_times``) is kept. With an ensemble, the
    final model keeps the terms included by at least ``inclusion`` of the members.
    """

    window: Count = 3
    batch: Count = 8
    steps: Count = 300
    optimizer: Literal["rmsprop", "adam"] = "rmsprop"
    learning_rate: Positive = 0.075
    decay_rate: Fraction = 0.97
    decay_steps: Count = 100
    clip_norm: Positive = 1.0
    loss: Literal["l1", "mse", "l1+mse"] = "l1"
    l1: NonNegative = 0.0
    l2: NonNegative = 0.0
    prune_threshold: NonNegative = 0.0
    seed: Annotated[int, Strict()] = 0
    checkpoint_every: Count = 50
    train_times: Optional[Interval] = None
    validation_times: Optional[Interval] = None
    configurations: tuple[tuple[Text, ...], ...] = ((),)
    max_failures: Count = 20
    ensemble: Count = 1
    selection: Literal["bic", "aic", "none"] = "bic"
    relative_threshold: Annotated[Number, Field(ge=0, lt=1)] = 1e-3
    selection_times: Optional[Interval] = None
    refit_iterations: Count = 20
    max_candidates: Count = 8
    inclusion: Fraction = 0.5

    def _problems(self, ctx):
        if not self.configurations:
            return [_Problem(("configurations",), "give at least one configuration ([[]] is "
                             "the case itself)", [])]
        return []


def check_training(case: "Case") -> None:
    """Raise `CaseError` unless the training times and window fit the case's run.

    ``train_times`` and ``validation_times`` must lie in [time.start, time.stop] and
    ``window`` output intervals must fit in ``train_times``. The trainer calls this;
    loading does not, so that ``run --set time.stop=...`` still works on a case
    with a ``[training]`` section.
    """
    if case.training is not None:
        observations = case.observations
        stride = 1 if observations is None or observations.file is not None else observations.every
        problems = _training_problems(case.training, case.time, stride)
        if problems:
            raise CaseError(_report(case.path, case.overrides, problems))


def _training_problems(training: TrainingConfig, time: TimeConfig, stride: int = 1) -> list[_Problem]:
    """Training times inside the run, and a window that fits in the training data."""
    problems = []
    for key in ("train_times", "validation_times", "selection_times"):
        span = getattr(training, key)
        if span is not None and not (time.start <= span[0] and span[1] <= time.stop):
            problems.append(_Problem(("training", key), f"must lie within [time.start, "
                                     f"time.stop] = [{time.start:g}, {time.stop:g}]", list(span)))
    t0, t1 = training.train_times or (time.start, time.stop)
    length = training.window * stride * time.output_interval
    if length > (t1 - t0) * (1 + 1e-9):
        problems.append(_Problem(("training", "window"), f"{training.window * stride} output intervals "
                                 f"(= {length:g}) is longer than the training data "
                                 f"(train_times span {t1 - t0:g}); shorten window or widen "
                                 "train_times", training.window))
    return problems
