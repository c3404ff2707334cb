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

`make_dataset` builds such a run in memory; `RunFileWriter` streams the same file
snapshot by snapshot (``time`` unlimited), so a long run never holds its output in
memory, and keeps the part written, marked ``incomplete``, when a run stops early.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import numbers
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Mapping

import jax
import numpy as np
import xarray as xr

from .errors import DataFileError, InputError, OutputExistsError
from .grid import COORDINATE_ATTRS, Grid


class CheckpointError(DataFileError):
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
        raise OutputExistsError(f"{path} already exists; pass --overwrite to replace it")
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
    tmp = temporary_beside(path)
    try:
        yield tmp
        move_into_place(tmp, path, overwrite)
    finally:
        if tmp.exists():
            tmp.unlink()


def temporary_beside(path: Path) -> Path:
    """A new empty temporary file in the folder of ``path`` (hidden: ``.NAME.XXXX.tmp``)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def move_into_place(tmp: Path, path: Path, overwrite: bool) -> None:
    """Rename ``tmp`` to ``path``, refusing a file that appeared meanwhile unless ``overwrite``."""
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual mode
    check_writable(path, overwrite)  # the file may have appeared while we were writing
    os.replace(tmp, path)


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
        raise InputError(f"this dataset has no grid attribute {missing}; was it written by oceanclosure?") from None


# --- streaming run files -----------------------------------------------------

#: Target size of one HDF5 chunk of a streamed variable (several snapshots of a small field).
STREAM_CHUNK_BYTES = 1 << 20


class RunFileWriter:
    """A run file written one snapshot at a time, renamed into place when it is done.

    The file holds what ``make_dataset(grid, times, fields, attrs).to_netcdf`` would
    (the same variables in the same order, dims, CF attributes, global attributes and
    provenance, values and dtypes), but each snapshot goes to disk as it comes and
    nothing is kept in memory: ``time`` is an unlimited dimension. ``variables`` maps
    a name to its CF attributes (or just a long_name), as ``fields`` does in
    `make_dataset`; a variable's dtype is that of its first snapshot.
    ``expected_times`` (how many output times the run will have, if known) only
    sizes the HDF5 chunks, so that a short run makes a small file.

    Everything goes to a temporary file beside ``path``. Leaving the ``with`` block
    normally renames it to ``path`` (an existing file is refused unless ``overwrite``,
    and is never lost). With ``append`` the file ``path`` exists (a stopped run's):
    the temporary file starts as a copy of it, snapshots are appended after its last
    one, and its ``incomplete`` attribute goes unless `mark_incomplete` is called again. An exception deletes the temporary file, unless
    `mark_incomplete` was called first: then the snapshots written so far are kept,
    and the global attribute ``incomplete`` says why::

        with RunFileWriter(path, grid, {"u": {"units": "m s-1", "long_name": "u"}}) as out:
            out.append(t, {"u": u})          # every output time, in order
            out.set_attrs({"dt": dt})        # global attributes, written on close
    """

    def __init__(self, path, grid: Grid, variables: Mapping[str, object], attrs: Mapping[str, object] = (),
                 time_units: str = "1", overwrite: bool = False, expected_times: int | None = None,
                 append: bool = False):
        self.path, self.grid, self.overwrite = check_writable(Path(path), overwrite or append), grid, overwrite or append
        self._attrs = {"Conventions": "CF-1.10", **grid.attrs(), **dict(attrs)}
        self._about = {name: _attrs(about) for name, about in variables.items()}
        self._record_names = tuple(self._about)
        self._shape = tuple(grid.array_shape)
        if expected_times is not None and not (isinstance(expected_times, numbers.Integral) and expected_times >= 1):
            raise InputError(f"RunFileWriter: expected_times must be a whole number >= 1 or None, got {expected_times!r}")
        self._expected_times = expected_times
        self.count, self.last_time, self.incomplete = 0, None, None
        self._tmp, self._nc = temporary_beside(self.path), None
        try:
            if append:
                self._reopen()
            else:
                self._nc = _open_netcdf(self._tmp)
                self._define_coordinates(time_units)
        except BaseException:
            self._discard()
            raise

    def __enter__(self) -> "RunFileWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        with interrupts_deferred():
            if exc_type is None or self.incomplete is not None:
                self._commit()
            else:
                self._discard()
        return False

    def add_variables(self, variables: Mapping[str, object]) -> None:
        """More variables, filled into the records already written with `write` (e.g. a baseline)."""
        clash = sorted(set(variables) & set(self._about))
        if clash:
            raise InputError(f"RunFileWriter.add_variables: {clash} are already in {self.path.name}; use other names")
        self._about.update({name: _attrs(about) for name, about in variables.items()})

    def append(self, t: float, fields: Mapping[str, np.ndarray]) -> None:
        """Write the snapshot at time ``t`` (after the last one): one array per variable given at construction."""
        if sorted(fields) != sorted(self._record_names):
            raise InputError(f"RunFileWriter.append: expected the fields {sorted(self._record_names)}, got "
                             f"{sorted(fields)}; give every variable of the file at each output time")
        if self.last_time is not None and not t > self.last_time:
            raise InputError(f"RunFileWriter.append: t = {t:g} does not come after the last output t = "
                             f"{self.last_time:g}; append snapshots in time order")
        with interrupts_deferred():  # a snapshot is written whole or not at all
            self._put(self.count, {name: fields[name] for name in self._record_names}, t)
            self.count, self.last_time = self.count + 1, float(t)

    def write(self, index: int, fields: Mapping[str, np.ndarray]) -> None:
        """Write ``fields`` into the record ``index`` already appended (variables from `add_variables`)."""
        if not 0 <= index < self.count:
            raise IndexError(f"RunFileWriter.write: record {index} is not written yet ({self.count} are); "
                             "append it first")
        unknown = sorted(set(fields) - set(self._about))
        if unknown:
            raise InputError(f"RunFileWriter.write: {unknown} are not variables of {self.path.name}; "
                             "declare them with add_variables")
        with interrupts_deferred():
            self._put(index, {name: fields[name] for name in self._about if name in fields})

    def set_attrs(self, attrs: Mapping[str, object]) -> None:
        """Global attributes (written when the file is closed, after the grid's and before the provenance)."""
        self._attrs.update(attrs)

    def mark_incomplete(self, why: str) -> None:
        """Keep what is written even if the ``with`` block ends in an exception; ``why`` goes in the file."""
        self.incomplete = str(why)

    def time(self, index: int) -> float:
        """The time of the record ``index``."""
        return float(self._nc["time"][index])

    def _reopen(self) -> None:
        """Continue ``path``: copy it to the temporary file and open that for appending."""
        import netCDF4

        shutil.copyfile(self.path, self._tmp)
        try:
            self._nc = netCDF4.Dataset(self._tmp, "a")
        except OSError as err:
            raise DataFileError(f"{self.path} cannot be opened to continue it ({err}); start again with "
                                "--overwrite") from None
        missing = [name for name in ("time", *self._record_names) if name not in self._nc.variables]
        if missing:
            raise DataFileError(f"{self.path} has no variables {missing}: it was not written by this case's run; "
                                "start again with --overwrite")
        self.count = len(self._nc.dimensions["time"])
        self.last_time = float(self._nc["time"][self.count - 1]) if self.count else None

    def _define_coordinates(self, time_units: str) -> None:
        for name, coord in coordinates(self.grid).items():
            self._nc.createDimension(name, coord.size)
            self._define(name, (name,), coord.dtype, coord.attrs)[:] = coord.values
        self._nc.createDimension("time", None)
        self._define("time", ("time",), np.float64, {"units": time_units, "long_name": "model time"})

    def _define(self, name: str, dims: tuple[str, ...], dtype, attrs: Mapping[str, object]):
        """A variable with xarray's default encoding: NaN as _FillValue for floats, no compression."""
        dtype = np.dtype(dtype)
        fill = dtype.type(np.nan) if dtype.kind == "f" else None
        chunks = _record_chunks(dims, self._nc, dtype, self._expected_times) if "time" in dims else None
        variable = self._nc.createVariable(name, dtype, dims, fill_value=fill, chunksizes=chunks)
        variable.setncatts(dict(attrs))
        return variable

    def _put(self, index: int, fields: Mapping[str, np.ndarray], t: float | None = None) -> None:
        """Write ``fields`` (and the time ``t`` if given) into record ``index``, all checked first."""
        fields = {name: np.asarray(values) for name, values in fields.items()}
        for name, values in fields.items():
            if values.shape != self._shape:
                raise InputError(f"RunFileWriter: {name} has shape {values.shape}, the grid's cells are "
                                 f"{self._shape}; give one snapshot of the field on this grid")
        if t is not None:
            self._nc["time"][index] = t
        for name, values in fields.items():
            if name not in self._nc.variables:
                self._define(name, field_dims(self.grid), values.dtype, self._about[name])
            self._nc[name][index] = values

    def _commit(self) -> None:
        attrs = {**self._attrs, **provenance()}
        if self.incomplete is not None:
            attrs["incomplete"] = self.incomplete
        try:
            if self.incomplete is None and "incomplete" in self._nc.ncattrs():
                self._nc.delncattr("incomplete")  # a continued run that is now complete
            self._nc.setncatts(attrs)
            self._nc.close()
            move_into_place(self._tmp, self.path, self.overwrite)
        finally:
            self._discard()  # whatever failed: close the file, remove the temporary

    def _discard(self) -> None:
        try:
            if self._nc is not None and self._nc.isopen():
                self._nc.close()
        finally:
            self._tmp.unlink(missing_ok=True)


def _open_netcdf(path: Path):
    import netCDF4

    return netCDF4.Dataset(path, "w", format="NETCDF4")


def _record_chunks(dims: tuple[str, ...], nc, dtype: np.dtype, expected_times: int | None) -> tuple[int, ...]:
    """HDF5 chunks of about `STREAM_CHUNK_BYTES`: whole snapshots, several of them for small fields,
    never more than the run will have."""
    sizes = [len(nc.dimensions[d]) for d in dims if d != "time"]
    snapshot = max(1, int(np.prod(sizes)) * dtype.itemsize)
    count = max(1, STREAM_CHUNK_BYTES // snapshot)
    return (count if expected_times is None else min(count, expected_times), *sizes)


def read_run_attrs(path) -> tuple[dict, np.ndarray]:
    """A run file's global attributes and its times (nothing else is read)."""
    import netCDF4

    try:
        with netCDF4.Dataset(Path(path), "r") as nc:
            return {k: nc.getncattr(k) for k in nc.ncattrs()}, np.asarray(nc["time"][:], dtype=np.float64)
    except (OSError, IndexError, KeyError) as err:
        raise DataFileError(f"{path} is not a readable run file ({err}); start again with --overwrite") from None


@contextlib.contextmanager
def interrupts_deferred():
    """Hold SIGINT until the block is done, then deliver it (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is None:
        yield  # not ours to defer: another thread, or a handler installed outside Python
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        signal.raise_signal(signal.SIGINT)


def file_sha256(path) -> str:
    """The SHA-256 of a file's bytes, as ``sha256sum`` prints it (read a MiB at a time)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: How much of a file's snapshots `time_blocks` reads at once, by default.
BLOCK_BYTES = 64 << 20


def time_blocks(ds: xr.Dataset, names, block_bytes: int | None = None) -> list[tuple[int, int]]:
    """``(start, stop)`` ranges of output indices such that one block of the variables ``names`` holds
    about ``block_bytes`` (default `BLOCK_BYTES`): how a large run or truth file is read without loading it."""
    block_bytes = BLOCK_BYTES if block_bytes is None else block_bytes
    per_time = sum(ds[n].dtype.itemsize * (ds[n].size // max(1, ds.sizes["time"])) for n in names)
    block = max(1, block_bytes // max(1, per_time))
    return [(start, min(start + block, ds.sizes["time"])) for start in range(0, ds.sizes["time"], block)]


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


#: What reading a damaged .npz raises: a truncated zip (BadZipFile, EOFError), a missing member (KeyError),
#: a pickled or mangled array (ValueError, TypeError), a damaged compressed member (zlib.error), the disk (OSError).
UNREADABLE_NPZ = (OSError, ValueError, TypeError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


def read_state_metadata(path) -> dict:
    """The metadata stored with a checkpoint by `save_state`."""
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            return json.loads(str(data["__meta__"]))
    except UNREADABLE_NPZ as err:
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
    except UNREADABLE_NPZ as err:
        raise CheckpointError(f"checkpoint {path} is unreadable or corrupt ({err}); delete it or restore a good copy") from None
    like_leaves, treedef = jax.tree_util.tree_flatten(like)
    expected = [list(np.shape(leaf)) for leaf in like_leaves]
    if meta["shapes"] != expected:
        raise CheckpointError(
            f"checkpoint {path} does not match this run: it holds shapes {meta['shapes']}, "
            f"the run needs {expected}; use the checkpoint of the same case and grid"
        )
    if meta["treedef"] != str(treedef):
        raise CheckpointError(
            f"checkpoint {path} does not match this run: its state is structured as {meta['treedef']}, the run's "
            f"as {treedef} (other fields or another closure memory); use the checkpoint of the same case"
        )
    restored = [np.asarray(a, dtype=np.asarray(l).dtype) for a, l in zip(leaves, like_leaves)]
    return jax.tree_util.tree_unflatten(treedef, restored)


def write_bytes_atomic(path, writer: Callable[[Path], None], overwrite: bool = False) -> Path:
    """Run ``writer(tmp_path)`` and move the result to ``path`` atomically."""
    with atomic_path(Path(path), overwrite) as tmp:
        writer(tmp)
    return Path(path)
