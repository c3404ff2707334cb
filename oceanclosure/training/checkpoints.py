"""Training checkpoints on disk: an orbax `CheckpointManager` over ``checkpoints/<step>/``.

Each checkpoint holds two items: ``state`` (the loop's arrays, a `StandardSave`) and
``meta`` (its counters, the ``[training]`` settings and a table of every array's
path, shape and dtype, a `JsonSave`). Saves are synchronous and atomic (orbax writes
a temporary folder and renames it), the newest `KEEP_CHECKPOINTS` are kept, and a
save cut short (a kill) leaves only a temporary folder that the next manager removes.

`CheckpointStore` is the folder; `check_compatible` refuses a checkpoint of another
format, shape or recipe. What the arrays and counters mean is the trainer's business.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import jax
import numpy as np

from ..io import CheckpointError

#: How many checkpoints are kept (the newest ones): an unreadable newest one falls back to the one before.
KEEP_CHECKPOINTS = 2
CHECKPOINT_FORMAT = "oceanclosure-training-checkpoint/2"
#: The ``meta`` keys a checkpoint must hold to be resumed.
REQUIRED_META = ("format", "step", "failures", "skipped", "retrying", "has_previous", "log_rows", "settings",
                 "leaves")


class UnreadableCheckpoint(CheckpointError):
    """A checkpoint that cannot be read (`Trainer.resume` falls back to an older one)."""


def leaf_table(tree) -> list[list]:
    """``[path, shape, dtype]`` of every array of a pytree (JSON-ready)."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [[jax.tree_util.keystr(path), list(np.shape(x)), str(x.dtype)] for path, x in leaves]


def as_arrays(tree):
    """``tree`` with every leaf that is not a jax array (a numpy or Python scalar) as a 0-d or n-d numpy array."""
    return jax.tree_util.tree_map(lambda x: x if isinstance(x, jax.Array) else np.asarray(x), tree)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:200] if text else ''}"


class CheckpointStore:
    """The checkpoints of one training, in ``directory`` (created at the first save)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def steps(self) -> list[int]:
        """The steps of the complete checkpoints, oldest first (a save cut short is not one)."""
        if not self.directory.is_dir():
            return []
        with self._manager() as manager:
            return sorted(manager.all_steps())

    def old_format(self) -> list[Path]:
        """Checkpoints of oceanclosure versions before orbax (``step_*.npz``), which cannot be resumed."""
        return sorted(self.directory.glob("step_*.npz"))

    def path(self, step: int) -> Path:
        return self.directory / str(step)

    def save(self, step: int, tree, meta: dict) -> Path:
        """Save ``tree`` and ``meta`` as ``step``, first removing every checkpoint at ``step`` or later:
        saved before the training went back, they would otherwise be resumed instead of this one."""
        import orbax.checkpoint as ocp

        self.directory.mkdir(parents=True, exist_ok=True)
        with self._manager() as manager:
            for later in [s for s in manager.all_steps() if s >= step]:
                manager.delete(later)
            manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(as_arrays(tree)),
                                                       meta=ocp.args.JsonSave(meta)), force=True)
            manager.wait_until_finished()
        return self.path(step)

    def read_meta(self, step: int) -> dict:
        """The ``meta`` of checkpoint ``step``; `UnreadableCheckpoint` if it is damaged or incomplete."""
        import orbax.checkpoint as ocp

        with self._manager() as manager:
            try:
                meta = manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta
                if not isinstance(meta, dict) or any(key not in meta for key in REQUIRED_META):
                    raise ValueError("its metadata lacks the training state")
            except Exception as err:  # noqa: BLE001 -- orbax, tensorstore and json raise many kinds on a damaged file
                raise UnreadableCheckpoint(_first_line(err)) from None
        return meta

    def read_state(self, step: int, like):
        """The arrays of checkpoint ``step``, restored into the shapes and dtypes of ``like``."""
        import orbax.checkpoint as ocp

        abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, as_arrays(like))
        with self._manager() as manager:
            try:
                return manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract))).state
            except Exception as err:  # noqa: BLE001 -- as in read_meta
                raise UnreadableCheckpoint(_first_line(err)) from None

    def set_aside(self, step: int) -> Path:
        """Rename an unreadable checkpoint ``<step>.unreadable`` (kept for a look, no longer resumed)."""
        aside = self.directory / f"{step}.unreadable"
        shutil.rmtree(aside, ignore_errors=True)
        self.path(step).rename(aside)
        return aside

    def _manager(self):
        import orbax.checkpoint as ocp

        options = ocp.CheckpointManagerOptions(max_to_keep=KEEP_CHECKPOINTS, create=False,
                                               enable_async_checkpointing=False, cleanup_tmp_directories=True)
        return ocp.CheckpointManager(self.directory, options=options, item_names=("state", "meta"))


def check_compatible(meta: dict, where: str, like, settings: dict, accept_changes: bool,
                     notify: Callable[[str], None]) -> None:
    """Refuse a checkpoint of another format, shape or recipe.

    ``settings`` are the ``[training]`` settings now (as JSON); ``steps`` may grow (that
    is how a training is made longer), any other change needs ``accept_changes``.
    """
    if meta["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{where} has the format {meta['format']!r}, not {CHECKPOINT_FORMAT!r} that this "
                              "version resumes; start again with --overwrite")
    have, need = {k: (s, d) for k, s, d in meta["leaves"]}, {k: (s, d) for k, s, d in leaf_table(as_arrays(like))}
    if have != need:
        key = sorted(set(have) ^ set(need)) or sorted(k for k in need if have[k] != need[k])
        raise CheckpointError(
            f"{where} does not match this case: {key[0]} is {have.get(key[0], 'missing')} (shape, dtype) there, "
            f"{need.get(key[0], 'absent')} here; the [[closure]] tables or --ensemble changed since it was written. "
            "Restore them, or start again with --overwrite")
    if meta["step"] > settings["steps"]:
        raise CheckpointError(f"{where} is beyond training.steps = {settings['steps']}; raise training.steps (or "
                              "--steps) to continue it, or start again with --overwrite")
    stored = meta["settings"]
    changed = [k for k in sorted(set(stored) | set(settings)) if k != "steps" and stored.get(k) != settings.get(k)]
    if not changed:
        return
    listed = ", ".join(f"training.{k} (checkpoint {stored.get(k)!r}, now {settings.get(k)!r})" for k in changed)
    if not accept_changes:
        raise CheckpointError(
            f"{where} was written with other [training] settings: {listed}; resuming would not continue the same "
            "run. Restore them, pass --accept-changes to continue with the new ones, or --overwrite to start again")
    notify(f"--accept-changes: continuing {where} with changed settings: {listed}")
