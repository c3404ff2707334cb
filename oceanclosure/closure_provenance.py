"""What a run's closure was built from: its parameter files, the ensemble member, untrained parts.

`closure_attrs` gives the run file's global attributes about the closure:

``closure_parameters``
    the parameter files loaded, relative to the case directory, one a line: the
    trained ``closure/parameters.npz`` when it exists (it replaces everything else),
    else the ``parameters_file`` of each ``[[closure]]`` table (or of its
    ``network``) that has one; ``"none"`` when none was loaded.
``closure_parameters_sha256``
    the SHA-256 of each of those files' bytes, in the same order (what ``sha256sum``
    prints), or ``"none"``.
``closure_member``
    per file, which ensemble member it holds, read from its JSON sidecar: ``"0"``
    (one member), ``"0 (of K members)"`` (training ran no discovery), ``"mean of K
    members"`` (the consensus terms refitted from the members' mean), ``"unknown"``
    (the sidecar does not say); ``"untrained"`` when trainable parameters were not
    loaded from any file; ``"none"`` for a closure without trainable parameters.
``closure_untrained``
    only when some trainable part was not loaded from a file: which one, and that its
    parameters are its initial values (zero or case coefficients, random weights).

A closure given to the run directly (the Python API) is described as such.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jax
from flax import nnx

from .closures.checkpoint import sidecar_path
from .factory import TRAINED_PARAMETERS
from .io import file_sha256

NONE = "none"


def closure_attrs(case, closure, own: bool = True) -> dict[str, str]:
    """The ``closure_*`` attributes of a run of ``case`` with ``closure`` (module docstring).

    ``own``: the closure is the case's own ``[[closure]]`` list (False: given directly).
    """
    if closure.is_null:
        return {}
    if not own:
        return {"closure_parameters": "given directly to the run (Python API), not from the case",
                "closure_parameters_sha256": NONE, "closure_member": "unknown"}
    trained = case.directory / TRAINED_PARAMETERS
    files = [trained] if trained.is_file() else _table_files(case)
    untrained = [] if trained.is_file() else _untrained_parts(case, closure)
    members = [_member(path) for path in files] + (["untrained"] if untrained else [])
    attrs = {
        "closure_parameters": "\n".join(_relative(path, case.directory) for path in files) or NONE,
        "closure_parameters_sha256": "\n".join(file_sha256(path) for path in files) or NONE,
        "closure_member": "\n".join(members) or NONE,
    }
    if untrained:
        attrs["closure_untrained"] = "; ".join(untrained) + (
            f"; train it with 'oceanclosure train {case.directory}' or give a parameters_file")
    return attrs


def _tables(case) -> list:
    """The case's ``[[closure]]`` tables that build a closure (``kind = "none"`` builds nothing)."""
    return [table for table in case.closures if getattr(table, "kind", None) != "none"]


def _table_file(table) -> str | None:
    network = getattr(table, "network", None)
    return getattr(table, "parameters_file", None) or getattr(network, "parameters_file", None)


def _table_files(case) -> list[Path]:
    return [case.resolve_path(file) for file in map(_table_file, _tables(case)) if file is not None]


def _untrained_parts(case, closure) -> list[str]:
    """Each table with trainable parameters and no parameters file, described."""
    tables = _tables(case)
    parts = list(getattr(closure, "closures", [closure]))
    if len(parts) != len(tables):  # cannot pair them: judge the closure as a whole
        return ["the closure's trainable parameters are at their initial values"] if _trainable(closure) else []
    out = []
    for index, (table, part) in enumerate(zip(tables, parts)):
        if _trainable(part) and _table_file(table) is None:
            network = getattr(table, "kind", None) == "neural" or getattr(table, "network", None) is not None
            what = "a network at its random initial weights" if network else \
                "coefficients at their initial values from case.toml"
            out.append(f"[[closure]] {index + 1} ({table.kind}) is untrained: {what}")
    return out


def _trainable(closure) -> bool:
    return bool(jax.tree_util.tree_leaves(nnx.state(closure, nnx.Param)))


def _member(path: Path) -> str:
    """Which ensemble member the parameter file ``path`` holds, from its sidecar's training manifest."""
    try:
        manifest = json.loads(sidecar_path(path).read_text())
    except (OSError, ValueError):
        return "unknown"
    training = manifest.get("training") if isinstance(manifest, dict) else None
    if not isinstance(training, dict) or "ensemble" not in training:
        return "unknown"
    members = int(training["ensemble"])
    if members <= 1:
        return "0"
    if (manifest.get("summary") or {}).get("discovery"):
        return f"mean of {members} members"
    return f"0 (of {members} members)"


def _relative(path: Path, directory: Path) -> str:
    try:
        return os.path.relpath(path, directory)
    except ValueError:  # another drive (Windows)
        return str(path)
