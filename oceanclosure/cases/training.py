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
    below ``prune_threshold`` are zeroed after every step. Start times are drawn in
    ``train_times`` (default: the whole run, filled in on loading). ``configurations``
    are lists of ``--set`` overrides, each a training configuration ([[]]: the case),
    validated on loading. Whether the times and window fit the run is checked by
    `check_training` (not on loading).
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
        problems = _training_problems(case.training, case.time)
        if problems:
            raise CaseError(_report(case.path, case.overrides, problems))


def _training_problems(training: TrainingConfig, time: TimeConfig) -> list[_Problem]:
    """Training times inside the run, and a window that fits in the training data."""
    problems = []
    for key in ("train_times", "validation_times"):
        span = getattr(training, key)
        if span is not None and not (time.start <= span[0] and span[1] <= time.stop):
            problems.append(_Problem(("training", key), f"must lie within [time.start, "
                                     f"time.stop] = [{time.start:g}, {time.stop:g}]", list(span)))
    t0, t1 = training.train_times or (time.start, time.stop)
    length = training.window * time.output_interval
    if length > (t1 - t0) * (1 + 1e-9):
        problems.append(_Problem(("training", "window"), f"{training.window} output intervals "
                                 f"(= {length:g}) is longer than the training data "
                                 f"(train_times span {t1 - t0:g}); shorten window or widen "
                                 "train_times", training.window))
    return problems
