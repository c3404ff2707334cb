"""Closure parameter checkpoints: arrays in ``.npz``, the spec in readable JSON.

`save_parameters` writes every array of a closure's `flax.nnx` state (trainable
`Param`s and fixed `Variable`s) into one ``.npz``, keyed by its path in the module
tree (``closures/0/coefficients``), together with a ``.json`` sidecar holding the
closure spec (the case's ``[[closure]]`` tables), the keys, shapes and a SHA-256
of the arrays. `load_parameters` refuses, with a message naming the key, a file
whose keys or shapes do not match the closure built from the spec, and a file
whose checksum does not match its sidecar.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Mapping, Sequence

import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..io import (
    UNREADABLE_NPZ,
    CheckpointError,
    atomic_path,
    check_writable,
    provenance,
)

#: The parameter-file format this version writes; kept in the .npz (key `FORMAT_ENTRY`) and the sidecar.
PARAMETERS_FORMAT = 2
FORMAT_NAME = "oceanclosure-closure-parameters"
FORMAT_ENTRY = "__format__"


def _flat(closure) -> list[tuple[str, object]]:
    return [("/".join(map(str, path)), var) for path, var in nnx.to_flat_state(nnx.state(closure))]


def parameter_arrays(closure) -> dict[str, np.ndarray]:
    """Every array of the closure by its path."""
    return {key: np.asarray(var.get_value()) for key, var in _flat(closure)}


def _digest(arrays: Mapping[str, np.ndarray]) -> str:
    sha = hashlib.sha256()
    for key in sorted(arrays):
        sha.update(key.encode())
        sha.update(np.ascontiguousarray(arrays[key]).tobytes())
    return sha.hexdigest()


def sidecar_path(path: Path) -> Path:
    return Path(path).with_suffix(".json")


def save_parameters(closure, path, spec: Sequence[Mapping] = (), overwrite: bool = False,
                    metadata: Mapping[str, object] = ()) -> Path:
    """Write ``path`` (.npz) and its ``.json`` sidecar atomically."""
    path = Path(path)
    check_writable(sidecar_path(path), overwrite)  # refuse before writing either file
    arrays = parameter_arrays(closure)
    manifest = {
        "format": f"{FORMAT_NAME}/{PARAMETERS_FORMAT}",
        "spec": list(spec),
        "shapes": {k: list(v.shape) for k, v in arrays.items()},
        "sha256": _digest(arrays),
        **provenance(),
        **dict(metadata),
    }
    with atomic_path(path, overwrite) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **{FORMAT_ENTRY: np.asarray(f"{FORMAT_NAME}/{PARAMETERS_FORMAT}")}, **arrays)
    with atomic_path(sidecar_path(path), overwrite) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return path


def read_arrays(path) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"closure parameters {path} do not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except UNREADABLE_NPZ as err:
        raise CheckpointError(f"closure parameters {path} are unreadable or corrupt ({type(err).__name__}: {err}); "
                              "retrain with 'oceanclosure train --overwrite', or restore a good copy") from None
    check_format(str(arrays.pop(FORMAT_ENTRY, f"{FORMAT_NAME}/1")), path)
    return arrays


def check_format(tag: str, path) -> int:
    """The version of a parameter file's format tag; refuses one this version cannot read.

    Version 1 files (written before the tag was stored in the .npz) read unchanged.
    """
    name, _, version = tag.partition("/")
    if name != FORMAT_NAME or not version.isdigit():
        raise CheckpointError(f"closure parameters {path} have an unknown format {tag!r}; they were not written "
                              "by oceanclosure's save_parameters")
    if int(version) > PARAMETERS_FORMAT:
        raise CheckpointError(f"closure parameters {path} are format {version}, newer than this oceanclosure reads "
                              f"(1 to {PARAMETERS_FORMAT}): upgrade oceanclosure, or retrain with this version")
    return int(version)


def load_parameters(closure, path):
    """Load arrays saved by `save_parameters` into ``closure`` (in place) and return it."""
    path = Path(path)
    arrays = read_arrays(path)
    _verify_sidecar(path, arrays)
    flat = _flat(closure)
    expected = {key: tuple(np.shape(var.get_value())) for key, var in flat}
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        raise CheckpointError(
            f"closure parameters {path} do not match the closure spec: missing {missing}, unexpected {extra}; "
            "were they saved for another [[closure]] list?"
        )
    for key, shape in expected.items():
        if arrays[key].shape != shape:
            raise CheckpointError(
                f"closure parameters {path}: '{key}' has shape {arrays[key].shape}, the closure spec needs {shape}; "
                "the terms or network in case.toml changed since they were saved"
            )
    for key, var in flat:
        var.set_value(jnp.asarray(arrays[key], dtype=jnp.asarray(var.get_value()).dtype))
    return closure


def _verify_sidecar(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    side = sidecar_path(path)
    if not side.is_file():
        return
    try:
        manifest = json.loads(side.read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{side} is unreadable ({err})") from None
    if not isinstance(manifest, dict):
        raise CheckpointError(f"{side} is not a parameter manifest (a JSON object); retrain, or restore a good copy")
    check_format(str(manifest.get("format", f"{FORMAT_NAME}/1")), side)
    if manifest.get("sha256") not in (None, _digest(arrays)):
        raise CheckpointError(f"closure parameters {path} do not match the checksum in {side}; the file is corrupt or was edited")
