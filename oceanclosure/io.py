"""Output: CF-annotated netCDF runs and restartable state checkpoints, written atomically.

Every file is written to a temporary sibling and renamed into place, so a crash
never leaves a half-written file, and nothing existing is replaced unless the
caller passes ``overwrite=True``.

A run file holds the state variable ``u`` with dims ``(time, x)`` or
``(time, y, x)`` at cell centres, optional companions (``u_truth``,
``u_baseline``), and global attributes with the resolved case (TOML), the package
version, the git revision, scheme, stepper and dt, and the grid (`grid_from_dataset`
rebuilds it). ``time`` holds plain floats with a ``units`` attribute and no
reference date, so it never decodes to dates.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Mapping

import jax
import numpy as np
import xarray as xr

from .grid import COORDINATE_ATTRS, Grid


class OutputExistsError(FileExistsError):
    """Refusing to replace an existing file without ``overwrite``."""


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, or does not match the run."""


def package_version() -> str:
    try:
        from importlib.metadata import version

        return version("oceanclosure")
    except Exception:  # not installed (running from a source tree)
        from . import __version__

        return __version__


@functools.lru_cache(maxsize=None)
def git_revision() -> str:
    """The git revision of the source tree, or "unknown" outside a repository."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def check_writable(path: Path, overwrite: bool) -> Path:
    """Refuse an existing file without ``overwrite``; make sure the folder can exist."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; pass --overwrite (overwrite=True) to replace it")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(f"cannot create the folder for {path}: {err.strerror or err}") from None
    return path


@contextlib.contextmanager
def atomic_path(path: Path, overwrite: bool = False):
    """Yield a temporary path beside ``path``; rename it into place on success."""
    path = check_writable(Path(path), overwrite)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual mode
        check_writable(path, overwrite)  # the file may have appeared while we were writing
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_netcdf(ds: xr.Dataset, path, overwrite: bool = False) -> Path:
    with atomic_path(Path(path), overwrite) as tmp:
        ds.to_netcdf(tmp)
    return Path(path)


def coordinates(grid: Grid, length_units: str = "1") -> dict[str, xr.DataArray]:
    """Cell-centre coordinates with CF attributes (z: metres, positive up)."""
    coords = {}
    for dim, name in enumerate(grid.dims):
        attrs = {"units": length_units, "long_name": f"cell-centre {name} coordinate", "axis": name.upper(),
                 **COORDINATE_ATTRS.get(name, {})}
        if name != "z":
            attrs["long_name"] = f"cell-centre {name} coordinate"
        coords[name] = xr.DataArray(grid.centers(dim), dims=(name,), attrs=attrs)
    return coords


def field_dims(grid: Grid) -> tuple[str, ...]:
    return ("time",) + tuple(reversed(grid.dims))


def make_dataset(
    grid: Grid,
    times,
    fields: Mapping[str, tuple[np.ndarray, str]],
    attrs: Mapping[str, object] = (),
    time_units: str = "1",
) -> xr.Dataset:
    """A run dataset: ``fields`` maps a variable name to (data, CF attributes or just a long_name)."""
    coords = coordinates(grid)
    coords["time"] = xr.DataArray(
        np.asarray(times, dtype=float), dims=("time",), attrs={"units": time_units, "long_name": "model time"}
    )
    dims = field_dims(grid)
    data_vars = {
        name: xr.DataArray(np.asarray(data), dims=dims, attrs=_attrs(about))
        for name, (data, about) in fields.items()
    }
    ds = xr.Dataset(data_vars, coords=coords)
    ds.attrs.update({"Conventions": "CF-1.10", **grid.attrs(), **dict(attrs)})
    ds.attrs.update(provenance())
    return ds


def _attrs(about) -> dict[str, str]:
    if isinstance(about, str):
        return {"units": "1", "long_name": about}
    return dict(about)


def provenance() -> dict[str, str]:
    return {
        "oceanclosure_version": package_version(),
        "git_revision": git_revision(),
        "jax_version": jax.__version__,
    }


def grid_from_dataset(ds: xr.Dataset) -> Grid:
    """Rebuild the grid a run was computed on from its attributes."""
    try:
        return Grid.from_attrs(ds.attrs)
    except KeyError as missing:
        raise ValueError(f"this dataset has no grid attribute {missing}; was it written by oceanclosure?") from None


# --- state checkpoints (restart) ---------------------------------------------


def save_state(state, path, metadata: Mapping[str, object] = (), overwrite: bool = False) -> Path:
    """Save any pytree of arrays (e.g. a `SimState`, closure buffers included).

    The tree structure and leaf shapes are recorded so that `load_state` refuses a
    checkpoint of a different run.
    """
    leaves, treedef = jax.tree_util.tree_flatten(state)
    arrays = {f"leaf_{i}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
    meta = {"treedef": str(treedef), "shapes": [list(a.shape) for a in arrays.values()],
            "dtypes": [str(a.dtype) for a in arrays.values()], **dict(metadata), **provenance()}
    with atomic_path(Path(path), overwrite) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, __meta__=np.asarray(json.dumps(meta)), **arrays)
    return Path(path)


def read_state_metadata(path) -> dict:
    """The metadata stored with a checkpoint by `save_state`."""
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            return json.loads(str(data["__meta__"]))
    except (OSError, ValueError, KeyError) as err:
        raise CheckpointError(f"checkpoint {path} is unreadable or corrupt ({err}); delete it or restore a good copy") from None


def load_state(path, like):
    """Load a checkpoint saved by `save_state` into the structure of ``like``."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["__meta__"]))
            leaves = [data[f"leaf_{i}"] for i in range(len(meta["shapes"]))]
    except (OSError, ValueError, KeyError) as err:
        raise CheckpointError(f"checkpoint {path} is unreadable or corrupt ({err}); delete it or restore a good copy") from None
    like_leaves, treedef = jax.tree_util.tree_flatten(like)
    expected = [list(np.shape(leaf)) for leaf in like_leaves]
    if meta["treedef"] != str(treedef) or meta["shapes"] != expected:
        raise CheckpointError(
            f"checkpoint {path} does not match this run: it holds shapes {meta['shapes']}, "
            f"the run needs {expected}; use the checkpoint of the same case and grid"
        )
    restored = [np.asarray(a, dtype=np.asarray(l).dtype) for a, l in zip(leaves, like_leaves)]
    return jax.tree_util.tree_unflatten(treedef, restored)


def write_bytes_atomic(path, writer: Callable[[Path], None], overwrite: bool = False) -> Path:
    """Run ``writer(tmp_path)`` and move the result to ``path`` atomically."""
    with atomic_path(Path(path), overwrite) as tmp:
        writer(tmp)
    return Path(path)
