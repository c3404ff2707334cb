"""``[observations]``: which truth values training sees."""

from __future__ import annotations

from typing import (
    Annotated,
    Any,
    Optional,
    Union,
)

from pydantic import (
    Field,
    PlainSerializer,
    PlainValidator,
    Strict,
    ValidationInfo,
    model_validator,
)

from .base import (
    STATE_VARIABLES,
    NonNegative,
    Text,
    _Context,
    _Model,
    _Problem,
    _Problems,
    _thaw,
)
from .closures import _file_problem

# --------------------------------------------------------------------------
# [observations], [training]


def _index_list(value: Any) -> tuple | None:
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool)
                                                for v in value):
        return tuple(value)
    return None


def _cells(value: Any, info: ValidationInfo) -> str | int | tuple:
    """"all", a stride (int >= 1), or cell indices: [i, ...] in 1D, [[j, i], ...] in 2D."""
    ctx = _Context.of(info)
    if value == "all" or (isinstance(value, int) and not isinstance(value, bool)):
        if isinstance(value, int) and value < 1:
            raise _Problems([_Problem((), "a stride must be >= 1", value)])
        return value
    ndim = ctx.ndim
    shape_error = _Problem((), 'expected "all", a stride (integer >= 1) or a list of cell '
                           "indices ([i, ...] in 1D, [[j, i], ...] in 2D)", value)
    if not isinstance(value, (list, tuple)) or not value:
        raise _Problems([shape_error])
    flat = _index_list(value)
    pairs = None if flat is not None else tuple(map(_index_list, value))
    if flat is None and (None in pairs or any(len(p) != 2 for p in pairs)):
        raise _Problems([shape_error])
    cells = flat if flat is not None else pairs
    if ndim is not None and (flat is not None) != (ndim == 1):
        want = "[i, ...] (cell indices along x)" if ndim == 1 else "[[j, i], ...] (y, x index pairs)"
        raise _Problems([_Problem((), f"a {ndim}D grid needs {want}", value)])
    problems = [_Problem((k,), "repeats an earlier cell", _thaw(c))
                for k, c in enumerate(cells) if c in cells[:k]]
    if ctx.shape is not None:
        limits = tuple(reversed(ctx.shape))  # array order: (nx,) or (ny, nx)
        for k, cell in enumerate(cells):
            index = (cell,) if flat is not None else cell
            if any(not 0 <= i < n for i, n in zip(index, limits)):
                bounds = " and ".join(f"{name} index in 0..{n - 1}" for name, n in
                                      zip(("j (y)", "i (x)") if len(limits) == 2 else ("i",), limits))
                problems.append(_Problem((k,), f"outside the grid (need {bounds})", _thaw(cell)))
    if problems:
        raise _Problems(problems)
    return cells


class ObservationsConfig(_Model):
    """``[observations]``: which truth values the training loss sees.

    Every ``every``-th truth output time, at ``cells`` ("all", a stride along each
    axis, or explicit indices), plus Gaussian noise of std ``noise`` (units of the
    variable) drawn with ``seed``; ``weights`` per variable in the loss. ``file``
    replaces the sampling (every, cells, noise) with a user observation netCDF.
    ``map`` is the observation operator from a richer truth's variables
    (`observation_map`), e.g. ``{ N = "N + D" }``.
    """

    every: Annotated[int, Strict(), Field(ge=1)] = 1
    cells: Annotated[Union[str, int, tuple], PlainValidator(_cells),
                     PlainSerializer(_thaw)] = "all"
    noise: NonNegative = 0.0
    seed: Annotated[int, Strict()] = 0
    weights: dict[Text, NonNegative] = Field(default_factory=lambda: {"u": 1.0})
    file: Optional[Text] = None
    map: dict[Text, Text] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _every_field(cls, data: Any, info: ValidationInfo) -> Any:
        """By default every field of the model is observed with weight 1."""
        variables = _Context.of(info).variables
        if isinstance(data, dict) and "weights" not in data and variables:
            data = {**data, "weights": {name: 1.0 for name in variables}}
        return data

    def _problems(self, ctx):
        allowed = ctx.variables or STATE_VARIABLES
        problems = [_Problem(("weights", name), "unknown variable (allowed: "
                             f"{', '.join(allowed)})") for name in self.weights
                    if name not in allowed]
        if not any(self.weights.values()):
            problems.append(_Problem(("weights",), "give at least one weight > 0",
                                     self.weights))
        if self.file is not None:
            defaults = {"every": 1, "cells": "all", "noise": 0.0}
            problems += [_Problem((key,), "not used with observations.file (the file sets "
                                  "the times and cells); remove it", getattr(self, key))
                         for key, default in defaults.items() if getattr(self, key) != default]
        return problems + _file_problem(self.file, "file", ctx)
