"""``[evaluate]``: a sweep of the case over any case keys, for several closures, against a truth.

    [evaluate]
    axes = { "grid.nx" = [50, 100], "physics.nu" = [0.02, 0.004] }
    closures = { trained = "case", none = "none", smagorinsky = { kind = "smagorinsky", cs = 1.0 } }
    truth = "case"
    metrics = ["time_mean_rms", "max_abs", "final_rms"]

``axes`` maps a case key (any key ``--set`` takes) to the values it runs at. A value
that is a table (a boundary side, say) needs a label for the dataset's coordinate:
``"boundary.right" = { labels = ["zero", "analytic"], values = [{...}, {...}] }``.

``closures`` names what is compared. Each entry is

* ``"case"``: the case's own ``[[closure]]`` list with its trained parameters;
* ``"none"``: no closure (the baseline);
* a closure table ``{ kind = ..., ... }`` (as in ``[[closure]]``), or a table with
  ``closure = [{...}, ...]`` for a sum of closures;
* ``{ case = "DIR" }``: the closures of another case directory (relative to this
  one), with that case's trained parameters;
* ``{ parameters_file = "FILE" }``: the case's closures with the parameters in FILE.

Any entry may also take ``set = ["key=value", ...]`` (extra overrides for its runs,
e.g. another scheme) and ``refine = k``: the run is then made on a grid k times
finer per dimension and cell-averaged onto the point's grid before it is compared.
A reference "floor" of a fine scheme without closure is
``floor = { closure = "none", refine = 8, set = ['physics.scheme="weno5"'] }``.

``truth`` is ``"case"`` (the case's own ``[truth]``) or a ``[truth]`` table used
instead. ``metrics`` are names of `oceanclosure.metrics.METRICS`. ``output`` is
where ``oceanclosure evaluate`` writes the dataset (relative to the case directory).
"""

from __future__ import annotations

import math
from typing import Any, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from ..metrics import METRICS
from .base import Text, _Model, _Problem, _Problems
from .closures import ClosureConfig, Count
from .truth import TruthConfig

AXIS_TABLE_KEYS = ("labels", "values")


class AxisConfig(_Model):
    """One axis: its values, and the labels they have in the dataset (default: the values)."""

    values: tuple[Any, ...]
    labels: Optional[tuple[Union[Text, float, int], ...]] = None

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, data: Any) -> Any:
        if isinstance(data, (list, tuple)):
            return {"values": tuple(data)}
        return data

    @field_validator("values")
    @classmethod
    def _values(cls, values: tuple) -> tuple:
        if not values:
            raise _Problems([_Problem((), "an axis needs at least one value", [])])
        for i, value in enumerate(values):
            if isinstance(value, float) and not math.isfinite(value):
                raise _Problems([_Problem((i,), "must be finite", value)])
        return values

    def _problems(self, ctx):
        tables = any(isinstance(v, (dict, list, tuple)) or hasattr(v, "keys") for v in self.values)
        if self.labels is None:
            if tables:
                return [_Problem(("labels",), "values that are tables or lists need labels = [...] "
                                 "(one name per value, for the dataset's coordinate)")]
            return []
        if len(self.labels) != len(self.values):
            return [_Problem(("labels",), f"give one label per value ({len(self.values)} values, "
                             f"{len(self.labels)} labels)", list(self.labels))]
        if len(set(self.labels)) != len(self.labels):
            return [_Problem(("labels",), "labels must differ", list(self.labels))]
        return []

    @property
    def coordinate(self) -> tuple:
        """The dataset coordinate of this axis: the labels, or the values themselves."""
        return self.labels if self.labels is not None else self.values


class ClosureEntry(_Model):
    """One compared closure (module docstring)."""

    closure: Literal["case", "none", "tables"] = "case"
    tables: tuple[ClosureConfig, ...] = ()
    case: Optional[Text] = None
    parameters_file: Optional[Text] = None
    set: tuple[Text, ...] = ()
    refine: Count = 1

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            if data not in ("case", "none"):
                raise _Problems([_Problem((), "unknown closure: give \"case\" (the case's own), \"none\", a "
                                          "closure table {kind = ...}, {case = \"DIR\"} or {parameters_file = "
                                          "\"FILE\"}", data)])
            return {"closure": data}
        if isinstance(data, dict) and "kind" in data:  # one closure table
            return {"closure": "tables", "tables": (data,)}
        if isinstance(data, dict) and isinstance(data.get("closure"), (list, tuple)):  # a sum of closure tables
            return {**{k: v for k, v in data.items() if k != "closure"}, "closure": "tables",
                    "tables": tuple(data["closure"])}
        return data

    def _problems(self, ctx):
        problems = []
        if (self.closure == "tables") != bool(self.tables):
            problems.append(_Problem(("closure",), "give closure = \"case\", \"none\", a closure table "
                                     "{kind = ...} or a list of them"))
        if self.case is not None and self.closure != "case":
            problems.append(_Problem(("case",), "takes the other case's closures: leave out 'closure'"))
        if self.parameters_file is not None and (self.case is not None or self.closure != "case"):
            problems.append(_Problem(("parameters_file",), "loads parameters into the case's own closures: "
                                     "leave out 'closure' and 'case'"))
        return problems


class EvaluateConfig(_Model):
    """``[evaluate]``: the sweep ``oceanclosure evaluate`` runs (module docstring)."""

    axes: dict[Text, AxisConfig]
    closures: dict[Text, ClosureEntry] = Field(default_factory=lambda: {"case": ClosureEntry(),
                                                                         "none": ClosureEntry(closure="none")})
    truth: Union[Literal["case"], TruthConfig] = "case"
    metrics: tuple[Text, ...] = ("time_mean_rms", "max_abs", "final_rms")
    output: Text = "output/evaluate.nc"

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, metrics: tuple) -> tuple:
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise _Problems([_Problem((), f"unknown metric {unknown[0]!r} (allowed: {', '.join(METRICS)})",
                                      list(metrics))])
        if not metrics:
            raise _Problems([_Problem((), "give at least one metric", [])])
        return metrics

    def _problems(self, ctx):
        problems = []
        if not self.axes:
            problems.append(_Problem(("axes",), "give at least one axis, e.g. axes = { \"grid.nx\" = [50, 100] }"))
        if not self.closures:
            problems.append(_Problem(("closures",), "give at least one closure, e.g. closures = "
                                     "{ trained = \"case\", none = \"none\" }"))
        dims = [dimension_name(key) for key in self.axes]
        clash = {d for d in dims if dims.count(d) > 1 or d in ("closure", "field")}
        problems += [_Problem(("axes", key), f"its dimension name {dimension_name(key)!r} is taken (by another "
                              "axis or by 'closure'/'field')") for key in self.axes if dimension_name(key) in clash]
        problems += [_Problem(("axes", key), "an axis key is a case key like \"grid.nx\"")
                     for key in self.axes if not key or key.split(".")[0] in ("evaluate", "training", "output")]
        return problems


def dimension_name(key: str) -> str:
    """The dataset dimension of an axis: the key with "." replaced by "_"."""
    return key.replace(".", "_")
