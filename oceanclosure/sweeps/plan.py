"""A sweep's plan: its points, the runs ("members") at each point, and which points were trained on.

A *point* is one combination of the axes' values, applied to the case as ``--set``
overrides. A *member* is one closure entry at one point; its run case is the point's
case with the entry's own ``set`` overrides and, for ``refine = k``, a grid k times
finer. Members whose run cases differ only in their initial condition and in the
model's runtime parameters (those passed to the solver as the ``physics`` pytree,
e.g. ν of Burgers) form a *group* and run batched (`sweeps.batch`).

Every point's case, truth case and run case is built (and so validated) here, before
anything runs: a bad axis key or value fails at once, with the case layer's message.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any, Mapping, Sequence

import numpy as np

from ..cases import CaseError
from ..cases.evaluate import ClosureEntry, EvaluateConfig, dimension_name
from ..cases.overrides import override
from ..errors import InputError

#: Two axis values match a training configuration's when they agree to this relative tolerance.
MATCH_RTOL = 1e-6


class SweepError(InputError):
    """A sweep that cannot be planned or run; the message names the fix."""


@dataclasses.dataclass(frozen=True)
class Point:
    """One combination of axis values: ``index`` into the axes, and its ``--set`` overrides."""

    index: tuple[int, ...]
    overrides: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Member:
    """One closure entry at one point: the case it runs, and the factor its grid is refined by."""

    point: int
    closure: str
    case: Any
    refine: int


@dataclasses.dataclass(frozen=True)
class Plan:
    """Everything a sweep runs, built and validated: points, truth cases, members, the trained mask."""

    case: Any
    config: EvaluateConfig
    points: tuple[Point, ...]
    truth_cases: tuple[Any, ...]
    members: tuple[Member, ...]
    trained: np.ndarray

    @property
    def keys(self) -> list[str]:
        return list(self.config.axes)

    @property
    def dims(self) -> list[str]:
        return [dimension_name(k) for k in self.config.axes]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(axis.values) for axis in self.config.axes.values())

    @property
    def coords(self) -> dict[str, list]:
        return {dimension_name(k): list(axis.coordinate) for k, axis in self.config.axes.items()}

    def axis_values(self, point: Point) -> dict[str, Any]:
        """``{key: coordinate}`` of a point (the labels of labelled axes)."""
        return {key: axis.coordinate[i] for (key, axis), i in zip(self.config.axes.items(), point.index)}


def plan_sweep(case, config: EvaluateConfig | None = None) -> Plan:
    """The plan of the case's ``[evaluate]`` sweep (or of ``config``)."""
    config = config if config is not None else case.evaluate
    if config is None:
        raise SweepError(f"case '{case.name}' has no [evaluate] section; add one, e.g.\n"
                         "  [evaluate]\n  axes = { \"grid.nx\" = [50, 100] }\n"
                         "  closures = { trained = \"case\", none = \"none\" }")
    _check_closures(case, config)
    points = tuple(_points(config))
    point_cases = [_variant(case, p.overrides, "evaluate.axes") for p in points]
    truth_cases = tuple(_truth_case(c, config) for c in point_cases)
    members = tuple(Member(i, name, _run_case(c, entry), entry.refine)
                    for i, c in enumerate(point_cases) for name, entry in config.closures.items())
    trained = _trained_mask(case, config, points, point_cases)
    return Plan(case, config, points, truth_cases, members, trained)


def require_trained(case) -> None:
    """A case whose closures have trainable parameters must have them trained to be evaluated."""
    import jax
    from flax import nnx

    from ..factory import TRAINED_PARAMETERS, build_closures

    path = case.directory / TRAINED_PARAMETERS
    if not case.closures or path.exists():
        return
    trainable = jax.tree_util.tree_leaves(nnx.state(build_closures(case, trained=False), nnx.Param))
    if trainable:
        raise SweepError(f"case '{case.name}' has trainable closures but no trained parameters ({path}); "
                         f"train them first with `oceanclosure train {case.directory}`, or evaluate fixed "
                         "closures with a closure table")


def _check_closures(case, config: EvaluateConfig) -> None:
    """Every entry that names trained closures has them (before anything runs)."""
    from ..cases import load_case

    for name, entry in config.closures.items():
        for key in ("case", "parameters_file"):
            given = getattr(entry, key)
            if given is not None and not case.resolve_path(given).exists():
                raise SweepError(f"evaluate.closures.{name}.{key}: {case.resolve_path(given)} does not exist "
                                 "(paths are relative to the case directory)")
        try:
            if entry.case is not None:
                require_trained(load_case(case.resolve_path(entry.case)))
            elif entry.closure == "case" and entry.parameters_file is None:
                require_trained(case)
        except (SweepError, CaseError) as err:
            raise SweepError(f"evaluate.closures.{name}: {err}") from None


def _points(config: EvaluateConfig):
    axes = list(config.axes.items())
    for index in itertools.product(*(range(len(axis.values)) for _, axis in axes)):
        yield Point(tuple(index), tuple(override(key, axis.values[i]) for (key, axis), i in zip(axes, index)))


def _variant(case, overrides: Sequence[str], what: str):
    try:
        return case.with_overrides(list(overrides))
    except CaseError as err:
        raise SweepError(f"{what}: {' '.join(overrides)} does not give a valid case:\n{err}") from None


def _truth_case(point_case, config: EvaluateConfig):
    """The case whose truth the point is compared with (the point's own, or ``evaluate.truth``)."""
    from ..truth import truth_inapplicable

    if config.truth != "case":
        table = config.truth.model_dump(mode="json", exclude_none=True)
        point_case = _variant(point_case, [override("truth", table)], "evaluate.truth")
    if point_case.truth is None:
        raise SweepError(f"case '{point_case.name}' has no [truth] to compare with; add one, or give "
                         "evaluate.truth = { analytic = ... } (or fine = {...}, file = ...)")
    reason = truth_inapplicable(point_case)
    if reason is not None:
        raise SweepError(f"evaluate: at {' '.join(point_case.overrides)} the truth does not apply: {reason}; "
                         "use a fine truth (truth.fine), which is recomputed for each point")
    return point_case


def _run_case(point_case, entry: ClosureEntry):
    """The case a closure entry runs at a point: its ``set`` overrides and ``refine``."""
    overrides = list(entry.set)
    if entry.refine > 1:
        variant = _variant(point_case, overrides, "evaluate.closures: set") if overrides else point_case
        overrides += [f"grid.n{name}={n * entry.refine}" for name, n in zip(variant.grid.names, variant.grid.shape)]
    return _variant(point_case, overrides, "evaluate.closures") if overrides else point_case


# --------------------------------------------------------------------------
# the trained mask


def _trained_mask(case, config: EvaluateConfig, points, point_cases) -> np.ndarray:
    """True at the points that match one of the case's training configurations."""
    shape = tuple(len(a.values) for a in config.axes.values())
    mask = np.zeros(shape, dtype=bool)
    if case.training is None:
        return mask
    configurations = [_variant(case, list(c), "training.configurations") for c in case.training.configurations]
    keys = list(config.axes)
    for point, point_case in zip(points, point_cases):
        mask[point.index] = any(all(_same(lookup(point_case.raw, k), lookup(c.raw, k)) for k in keys)
                                for c in configurations)
    return mask


_MISSING = object()


def lookup(raw: Mapping, key: str) -> Any:
    """The value at dotted ``key`` in a raw case table (a sentinel when it is not there)."""
    node: Any = raw
    for part in key.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _same(a: Any, b: Any) -> bool:
    """Equal, numbers to a relative tolerance of `MATCH_RTOL`, tables and lists element by element."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=MATCH_RTOL, abs_tol=0.0)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


# --------------------------------------------------------------------------
# groups of members that run batched


def group_key(member: Member, model_parameters: Sequence[str]) -> str:
    """What must agree for members to run batched: everything but the initial condition and the
    model's runtime parameters (top-level numbers of [physics] that the solver takes as ``physics``)."""
    import json

    resolved = member.case.to_dict()
    for section in ("initial_condition", "training", "evaluate", "output"):
        resolved.pop(section, None)
    physics = resolved.get("physics", {})
    for name in model_parameters:
        if isinstance(physics.get(name), (int, float)) and not isinstance(physics.get(name), bool):
            physics.pop(name)
    return json.dumps([member.closure, member.refine, resolved], sort_keys=True, default=str)


def groups(plan: Plan) -> list[list[int]]:
    """Indices into ``plan.members``, grouped by `group_key`, in the plan's order."""
    from ..build import build_model

    found: dict[str, list[int]] = {}
    parameters: dict[str, tuple[str, ...]] = {}
    for i, member in enumerate(plan.members):
        model = member.case.physics.model
        if model not in parameters:
            parameters[model] = tuple(build_model(member.case).physics)
        found.setdefault(group_key(member, parameters[model]), []).append(i)
    return list(found.values())
