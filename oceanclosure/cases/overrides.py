"""``--set key.path=value`` overrides applied to the raw TOML."""

from __future__ import annotations

import copy
import tomllib
from typing import (
    Any,
    Sequence,
)

import tomli_w

from ..errors import InputTypeError
from .base import IC_SOURCES, TIME_STEP_CHOICES, CaseError, _dotted, _show, _thaw


def parse_override(text: str) -> tuple[tuple[str, ...], Any]:
    """``"a.b=value"`` -> (("a", "b"), value), value parsed as TOML where it parses."""
    key, sep, value = text.partition("=")
    parts = tuple(part.strip() for part in key.split("."))
    if not sep:
        raise CaseError(f"malformed override {text!r}: expected key.path=value, "
                        "e.g. physics.nu=0.02")
    if not all(parts):
        raise CaseError(f"malformed override {text!r}: empty key or key part before '='; "
                        "expected key.path=value, e.g. physics.nu=0.02")
    try:
        parsed = tomllib.loads("v = " + value)
    except tomllib.TOMLDecodeError:
        return parts, value.strip()
    return parts, parsed["v"] if parsed.keys() == {"v"} else value.strip()


def apply_overrides(raw: dict, overrides: Sequence[str]) -> dict:
    """A copy of ``raw`` with each ``key.path=value`` override set (tables created).

    Keys that exclude each other replace each other: setting one initial-condition
    source (`_replace_ic_source`) removes the others, and setting ``time.dt`` removes
    ``time.cfl`` and vice versa.
    """
    raw = copy.deepcopy(raw)
    for text in _override_list(overrides):
        parts, value = parse_override(text)
        node = raw
        for depth in range(len(parts) - 1):
            node = _child(node, parts, depth, text)
        _replace_ic_source(raw, parts)
        if parts[:-1] == ("time",) and parts[-1] in TIME_STEP_CHOICES:
            node.pop(next(k for k in TIME_STEP_CHOICES if k != parts[-1]), None)
        _assign(node, parts, value, text)
    return raw


def _replace_ic_source(raw: dict, parts: tuple[str, ...]) -> None:
    """Drop the initial-condition sources that the override ``parts`` replaces.

    An override of a source, or of a key inside one, ``initial_condition.<source>[.…]``
    or per field ``initial_condition.<name>.<source>[.…]`` (sources: `IC_SOURCES`, e.g.
    ``initial_condition.family.seed``), removes the table's other sources, with
    ``variable`` and ``time`` unless the source is ``file``, and ``sampling`` if it is
    ``file`` (a file is read as it is).
    """
    depth = next((d for d in (1, 2) if len(parts) > d and parts[0] == "initial_condition"
                  and parts[d] in IC_SOURCES and (d == 1 or parts[1] not in IC_SOURCES)), None)
    if depth is None:
        return
    table = raw
    for part in parts[:depth]:
        table = table.get(part) if isinstance(table, dict) else None
    if not isinstance(table, dict):
        return
    source = parts[depth]
    kept = ("variable", "time") if source == "file" else ("sampling",)
    for key in (*IC_SOURCES, "variable", "time", "sampling"):
        if key != source and key not in kept:
            table.pop(key, None)


def _index(node: list, parts: tuple, depth: int, text: str) -> int:
    part = parts[depth]
    if not part.isdigit() or int(part) > len(node):
        raise CaseError(f"override {text!r}: {_dotted(parts[:depth]) or 'value'} is an "
                        f"array of {len(node)}; use an index 0..{len(node)}, not {part!r}")
    return int(part)


def _child(node: Any, parts: tuple, depth: int, text: str) -> Any:
    part = parts[depth]
    if isinstance(node, list):
        index = _index(node, parts, depth, text)
        if index == len(node):
            node.append({})
        child = node[index]
    else:
        child = node.setdefault(part, [] if parts[depth + 1].isdigit() else {})  # closure.0.kind -> a list
    if not isinstance(child, (dict, list)):
        raise CaseError(f"override {text!r}: {'.'.join(parts[:depth + 1])} is "
                        f"{_show(child)}, not a table, so it has no key {parts[depth + 1]!r}")
    return child


def _assign(node: Any, parts: tuple, value: Any, text: str) -> None:
    if isinstance(node, list):
        index = _index(node, parts, len(parts) - 1, text)
        node[index:index + 1] = [value]
    else:
        node[parts[-1]] = value


def _override_list(overrides: Sequence[str]) -> tuple[str, ...]:
    if isinstance(overrides, str):
        raise InputTypeError(f"overrides must be a sequence of 'key=value' strings, not a str "
                        f"(got {overrides!r}); wrap it in a list")
    return tuple(overrides)


def toml_value(value: Any) -> str:
    """``value`` written as the right-hand side of a ``--set key=value`` override."""
    value = _thaw(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    return tomli_w.dumps({"v": value})[len("v = "):].strip()


def override(key: str, value: Any) -> str:
    """The ``--set`` string that sets ``key`` to ``value``."""
    return f"{key}={toml_value(value)}"
