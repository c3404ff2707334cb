"""Observation operators: how a low-fidelity model sees a richer truth.

A low-fidelity model may carry fewer or lumped variables than its truth: NPZ-OA
has no detritus, so its nutrient N is observed as the truth's N + D. The case
says so in ``[observations] map = { N = "N + D" }``: each key is a variable of
the low-fidelity model, each value a safe expression in the truth's variables.
A variable that the map does not name is the truth's variable of the same name.
The map is applied where the truth is made (`truth`: the file then holds the
truth *as the low-fidelity model sees it*) and to an initial state taken from
the truth's model (`biogeochem.initial` spin-ups).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .errors import InputError
from .expressions import parse_expression


class ObservationMap:
    """``{target: expression in the source's variables}`` (module docstring).

    Args:
      mapping: the ``[observations] map`` table.
      targets: the low-fidelity model's variables.
      sources: the truth model's variables.
    Raises:
      ValueError: a key that is not a target, an expression that reads a name the
        source does not have, or a target that the source neither has nor maps.
    """

    def __init__(self, mapping: Mapping[str, str], targets: Sequence[str], sources: Sequence[str]):
        self.targets, self.sources = tuple(targets), tuple(sources)
        unknown = [k for k in mapping if k not in self.targets]
        if unknown:
            raise InputError(f"observations.map: {unknown} are not variables of the model (its variables: "
                             f"{', '.join(self.targets)})")
        self.expressions = {k: parse_expression(text, self.sources, what=f"observations.map.{k}")
                            for k, text in mapping.items()}
        missing = [k for k in self.targets if k not in self.expressions and k not in self.sources]
        if missing:
            raise InputError(f"observations.map: the truth's model has no {missing} (its variables: "
                             f"{', '.join(self.sources)}); give each an expression, e.g. map = "
                             f"{{ {missing[0]} = \"...\" }}")

    def __call__(self, fields: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The targets' values from the source's ``fields`` (numpy arrays)."""
        out = {}
        for name in self.targets:
            expression = self.expressions.get(name)
            if expression is None:
                out[name] = np.asarray(fields[name], dtype=np.float64)
            else:
                values = {v: np.asarray(fields[v], dtype=np.float64) for v in expression.variables}
                like = np.asarray(next(iter(fields.values())), dtype=np.float64)
                out[name] = np.broadcast_to(expression.evaluate(np, **values), like.shape).astype(np.float64)
        return out
