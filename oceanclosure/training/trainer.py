"""Train closures through the solver with optax (a-posteriori, gnCM style).

One optimizer step:

1. for every training configuration (e.g. several (nx, Re) pairs), draw a batch of
   start times from the truth;
2. roll the closure model out ``window`` output intervals from each (`rollout`),
   with delay memory filled from the truth before the start;
3. loss = mean over configurations of the weighted L1 and/or MSE misfit at the
   observed points, plus l1 Σ|w| + l2 Σw²;
4. clip the gradient norm, update with RMSprop or Adam on an exponentially
   decaying learning rate, then (if ``prune_threshold`` > 0) zero library
   coefficients below that absolute threshold.

The sparsity path that follows the loop (scale-aware pruning, refits, selection)
is `training.selection`; ensemble members' own data (bootstrap of start times and
observation points) come from `member_pools` and `member_bags`.

Configurations of different nx are traced into one jitted step (one XLA program
with one branch per configuration; no padding). A step whose loss or gradient is
not finite is skipped, counted and logged, and something changes before the next
attempt: the parameters and optimizer state go back to those before the previous
update (the update that led to the blow-up), the retry draws another batch and
its learning rate is multiplied by `BACKOFF` per consecutive failure.
``max_failures`` consecutive ones stop training with `TrainingError`; so do final
parameters or a final validation loss that are not finite (nothing is written).

Checkpoints (`training.checkpoints`: orbax, ``checkpoints/<step>/``) hold the whole loop
state: parameters, optimizer state, the state before the last update, the
failure counters and the ``[training]`` settings. Saves are synchronous and
atomic, the last `checkpoints.KEEP_CHECKPOINTS` are kept, and `Trainer.resume` falls back to
an older one when the newest is unreadable. SIGINT stops after the step under
way, saves it and raises `TrainingInterrupted`.

Determinism: start times are drawn from ``numpy.random.default_rng([seed,
member, step])`` (``[seed, member, step, failures]`` for a retry), so a run
resumed from a checkpoint draws exactly what the uninterrupted run would have
drawn, and gives bit-identical results.

Scale-out: the batch of start indices is placed with a `NamedSharding` over all
available devices (`jax.devices()`, which includes every host under
`jax.distributed`), so the vmapped rollouts are split across devices by XLA;
ensemble members are a vmapped leading axis of the parameters.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io as _io
import math
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .. import io as oc_io
from ..cases import TrainingConfig
from ..closures.checkpoint import save_parameters
from ..errors import InputError, RunFailedError
from .checkpoints import (
    CHECKPOINT_FORMAT,
    CheckpointStore,
    UnreadableCheckpoint,
    as_arrays,
    check_compatible,
    leaf_table,
)
from .rollout import Problem, batch_loss, penalty, split_closure

#: A retry's learning rate is multiplied by this per consecutive non-finite step.
BACKOFF = 0.5


#: What to try when training blows up or diverges.
DIVERGED_ADVICE = "Lower training.learning_rate, shorten training.window, or fix dt in [time]"


class TrainingError(RunFailedError):
    """Training cannot go on (e.g. too many consecutive non-finite updates, diverged parameters)."""


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT stopped training after a completed step; ``step`` was saved as a checkpoint (if any)."""

    def __init__(self, message: str, step: int):
        super().__init__(message)
        self.step = step


class Settings(TrainingConfig):
    """The numbers that drive the loop: the ``[training]`` section itself, after CLI overrides.

    One definition and one set of defaults: `cases.TrainingConfig`.
    """

    @classmethod
    def from_config(cls, config, **overrides) -> "Settings":
        values = {**config.model_dump(), **{k: v for k, v in overrides.items() if v is not None}}
        return cls.model_validate(values)


def make_schedule(settings: Settings) -> optax.Schedule:
    return optax.exponential_decay(settings.learning_rate, settings.decay_steps, settings.decay_rate)


def make_optimizer(settings: Settings) -> optax.GradientTransformation:
    schedule = make_schedule(settings)
    base = optax.rmsprop(schedule) if settings.optimizer == "rmsprop" else optax.adam(schedule)
    return optax.chain(optax.clip_by_global_norm(settings.clip_norm), base)


def prune(params, threshold: float):
    """Zero library coefficients with |c| < threshold (other parameters untouched)."""
    if not threshold:
        return params

    def cut(path, value):
        names = [str(getattr(p, "key", getattr(p, "name", p))) for p in path]
        if "coefficients" in names:
            return jnp.where(jnp.abs(value) < threshold, jnp.zeros_like(value), value)
        return value

    return jax.tree_util.tree_map_with_path(cut, params)


def _all_finite(tree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]))


def make_train_step(problems: Sequence[Problem], graphdef, rest, optimizer, settings: Settings) -> Callable:
    """``step(params, opt_state, starts, bags, scale) -> (params, opt_state, data_loss, finite)``.

    ``starts`` is a tuple with one (batch,) index array per configuration; ``bags`` a
    tuple with one ``{field: multiplicities}`` per configuration (an ensemble member's
    bootstrap of the observation points), or ``()`` for none; ``scale`` multiplies the
    update (the learning rate: both optimizers' updates are proportional to it), 1 but
    after a skipped step.
    """

    def loss_fn(params, starts, bags):
        closure = nnx.merge(graphdef, params, rest)
        data = sum(batch_loss(p, closure, s, settings.window, settings.loss, bags[i] if bags else None)
                   for i, (p, s) in enumerate(zip(problems, starts)))
        data = data / len(problems)
        return data + penalty(params, settings.l1, settings.l2), data

    def step(params, opt_state, starts, bags, scale):
        (loss, data), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, starts, bags)
        finite = jnp.isfinite(loss) & _all_finite(grads)
        updates, new_opt_state = optimizer.update(grads, opt_state, params)
        updates = jax.tree_util.tree_map(lambda u: u * scale.astype(u.dtype), updates)
        new_params = prune(optax.apply_updates(params, updates), settings.prune_threshold)
        keep = lambda new, old: jnp.where(finite, new, old)  # noqa: E731
        params = jax.tree_util.tree_map(keep, new_params, params)
        opt_state = jax.tree_util.tree_map(keep, new_opt_state, opt_state)
        return params, opt_state, data, finite

    if settings.ensemble > 1:
        step = jax.vmap(step, in_axes=(0, 0, 0, 0, None))
    return jax.jit(step)


def make_validation(problems: Sequence[Problem], graphdef, rest, settings: Settings) -> Callable | None:
    """Mean data loss over the validation start times, or None if there are none."""
    chosen = [_spread(p.validation_starts, 32) for p in problems]
    if not all(len(c) for c in chosen):
        return None

    def validate(params):
        closure = nnx.merge(graphdef, params, rest)
        losses = [batch_loss(p, closure, jnp.asarray(c), settings.window, settings.loss)
                  for p, c in zip(problems, chosen)]
        return sum(losses) / len(losses)

    if settings.ensemble > 1:
        validate = jax.vmap(validate)
    return jax.jit(validate)


def _spread(indices: np.ndarray, count: int) -> np.ndarray:
    if len(indices) <= count:
        return indices
    return indices[np.linspace(0, len(indices) - 1, count).round().astype(int)]


def draw_starts(problems: Sequence[Problem], settings: Settings, step: int, pools=None, attempt: int = 0):
    """Start indices for one step: one (batch,) array per configuration (per member).

    ``pools[member][k]`` are the start indices member ``member`` may draw from in
    configuration k (`member_pools`; default: every training start). ``attempt`` > 0
    (a retry after a skipped step) draws from its own stream ``[seed, member, step, attempt]``.
    """
    per_member = []
    for member in range(settings.ensemble):
        words = [settings.seed, member, step] + ([attempt] if attempt else [])
        rng = np.random.default_rng(words)
        own = pools[member] if pools is not None else [p.train_starts for p in problems]
        per_member.append([rng.choice(pool, settings.batch) for pool in own])
    starts = [np.stack([m[i] for m in per_member]) for i in range(len(problems))]
    if settings.ensemble == 1:
        starts = [s[0] for s in starts]
    return tuple(_shard(jnp.asarray(s, dtype=jnp.int32)) for s in starts)


#: The third word of the bagging generators' seeds (step draws use the step there).
_BAG_STREAM = 2**32 - 1


def member_pools(problems: Sequence[Problem], settings: Settings) -> list[list[np.ndarray]]:
    """Each member's bootstrap resample of the training start indices (all of them for one member)."""
    if settings.ensemble == 1:
        return [[p.train_starts for p in problems]]
    pools = []
    for member in range(settings.ensemble):
        rng = np.random.default_rng([settings.seed, member, _BAG_STREAM, 0])
        pools.append([np.sort(rng.choice(p.train_starts, len(p.train_starts))) for p in problems])
    return pools


def member_bags(problems: Sequence[Problem], settings: Settings):
    """Bootstrap multiplicities of the observation points, one Poisson(1) draw per point and member.

    ``()`` for a single member; else one ``{field: (members, n_times, *field)}`` per
    configuration, so that each member fits its own resample of the data (bagging).
    """
    if settings.ensemble == 1:
        return ()
    bags = []
    for k, problem in enumerate(problems):
        bag = {}
        for name, weights in problem.weights.items():
            draws = [np.random.default_rng([settings.seed, member, _BAG_STREAM, 1 + k]).poisson(1.0, weights.shape)
                     for member in range(settings.ensemble)]
            bag[name] = jnp.asarray(np.stack(draws), dtype=weights.dtype)
        bags.append(bag)
    return tuple(bags)


def _shard(batch):
    """Split the batch axis (the last one) across every device when it divides evenly."""
    devices = jax.devices()
    if len(devices) == 1 or batch.shape[-1] % len(devices):
        return batch
    mesh = Mesh(np.asarray(devices), ("batch",))
    spec = PartitionSpec(*([None] * (batch.ndim - 1) + ["batch"]))
    return jax.device_put(batch, NamedSharding(mesh, spec))


def stack_members(tree, members: int):
    return tree if members == 1 else jax.tree_util.tree_map(lambda x: jnp.stack([x] * members), tree)


@dataclasses.dataclass
class TrainState:
    """The loop's whole state, all of which a checkpoint holds.

    ``step`` counts accepted updates; ``previous`` is ``(params, opt_state)`` before the
    last one (None at the start and after going back), where a blow-up at the next step
    returns to. ``failures`` counts consecutive skipped steps: a retry draws from stream
    word ``failures`` and scales the learning rate by ``BACKOFF ** failures``;
    ``retrying`` says the parameters are ones gone back to, whose finite loss says
    nothing new (it does not end the run of failures). ``skipped`` counts all skips.
    """

    params: object
    opt_state: object
    step: int = 0
    failures: int = 0
    skipped: int = 0
    log: list = dataclasses.field(default_factory=list)
    previous: tuple | None = None
    retrying: bool = False


LOG_FIELDS = ("step", "loss", "validation", "learning_rate", "finite", "skipped", "seconds")


def _typed(row: dict) -> dict:
    """A CSV log row with its numbers and flags parsed back."""
    return {"step": int(row["step"]), "loss": float(row["loss"]), "validation": float(row["validation"]),
            "learning_rate": float(row["learning_rate"]), "finite": row["finite"] == "True",
            "skipped": int(row["skipped"]), "seconds": float(row["seconds"])}


@contextlib.contextmanager
def _sigint_received():
    """A list that a SIGINT appends to instead of interrupting (a second one interrupts at once).

    Main thread only, and only over Python's own handler; elsewhere SIGINT is left alone.
    """
    received: list = []
    previous = signal.getsignal(signal.SIGINT)
    if (threading.current_thread() is not threading.main_thread() or previous is None
            or previous is signal.SIG_IGN):  # not ours to handle, or ignored (nohup, a script's `&`): stays so
        yield received
        return

    def handler(signum, frame):
        received.append(signum)
        signal.signal(signal.SIGINT, previous)
        print("stopping after the step under way (Ctrl-C again to stop at once) ...", file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, handler)
    try:
        yield received
    finally:
        signal.signal(signal.SIGINT, previous)


class Trainer:
    """Runs the optimisation loop with checkpoints, a CSV log and progress callbacks.

    Args:
      closure: the closure to train (its trainable `nnx.Param`s are optimised).
      problems: the training configurations (`rollout.Problem`).
      settings: loop settings.
      directory: where ``checkpoints/`` and ``training_log.csv`` go.
    """

    def __init__(self, closure, problems: Sequence[Problem], settings: Settings, directory: Path):
        self.closure = closure
        self.problems = list(problems)
        self.settings = settings
        self.directory = Path(directory)
        self.graphdef, params, self.rest = split_closure(closure)
        if not jax.tree_util.tree_leaves(params):
            raise InputError("the closure has no trainable parameters (set trainable = true on library terms)")
        self.optimizer = make_optimizer(settings)
        self.schedule = make_schedule(settings)
        params = stack_members(params, settings.ensemble)
        init = jax.vmap(self.optimizer.init) if settings.ensemble > 1 else self.optimizer.init
        self.state = TrainState(params, init(params))
        self.pools = member_pools(self.problems, settings)
        self.bags = member_bags(self.problems, settings)
        self._step = make_train_step(self.problems, self.graphdef, self.rest, self.optimizer, settings)
        self._validate = make_validation(self.problems, self.graphdef, self.rest, settings)

    # --- checkpoints ---------------------------------------------------------

    @property
    def checkpoint_dir(self) -> Path:
        return self.directory / "checkpoints"

    @property
    def log_path(self) -> Path:
        return self.directory / "training_log.csv"

    @property
    def store(self) -> CheckpointStore:
        return CheckpointStore(self.checkpoint_dir)

    def checkpoints(self) -> list[Path]:
        """The checkpoints in ``checkpoints/``, oldest first (and any ``.npz`` of older versions)."""
        return self.store.old_format() + [self.store.path(step) for step in self.store.steps()]

    def checkpoint_steps(self) -> list[int]:
        """The steps of the complete checkpoints, oldest first (a save cut short is not one)."""
        return self.store.steps()

    def _tree(self) -> dict:
        """The arrays of the loop state: the parameters, the optimizer state, and those before the last update."""
        st = self.state
        previous = st.previous or (st.params, st.opt_state)
        return {"params": st.params, "opt_state": st.opt_state,
                "previous": {"params": previous[0], "opt_state": previous[1]}}

    def _meta(self) -> dict:
        st = self.state
        return {"format": CHECKPOINT_FORMAT, "step": st.step, "failures": st.failures, "skipped": st.skipped,
                "retrying": st.retrying, "has_previous": st.previous is not None, "log_rows": len(st.log),
                "settings": self.settings.model_dump(mode="json"), "leaves": leaf_table(as_arrays(self._tree())),
                **oc_io.provenance()}

    def save_checkpoint(self) -> Path:
        """Save the loop state at this step (synchronously, atomically); keep the newest `KEEP_CHECKPOINTS`.

        The log is written first, so that it always reaches at least the newest checkpoint.
        """
        self._write_log()
        return self.store.save(self.state.step, self._tree(), self._meta())

    def resume(self, accept_changes: bool = False, notify: Callable[[str], None] | None = None) -> int:
        """Continue from the newest readable checkpoint; returns its step (0 when none was written yet).

        An unreadable checkpoint is set aside (renamed ``<step>.unreadable``) for the one
        before it, and ``notify`` says so. One written with other ``[training]`` settings
        (but a larger ``steps``) is refused unless ``accept_changes``; one of other shapes
        (another ``[[closure]]`` list or ensemble) always is.
        """
        notify = notify or (lambda text: None)
        if self.store.old_format():
            raise oc_io.CheckpointError(
                f"{self.checkpoint_dir} holds .npz checkpoints of an older oceanclosure, which this version cannot "
                "resume; start again with --overwrite")
        steps = self.store.steps()
        if not steps:
            notify(f"--resume: no checkpoint was written in {self.checkpoint_dir} yet; starting from step 0")
            return 0
        unreadable = []
        for step in reversed(steps):
            try:
                meta, tree = self._read_checkpoint(step, accept_changes, notify)
                break
            except UnreadableCheckpoint as err:
                unreadable.append((step, str(err)))
        else:
            listed = "; ".join(f"step {s}: {why}" for s, why in unreadable)
            raise oc_io.CheckpointError(f"no checkpoint in {self.checkpoint_dir} can be read ({listed}); "
                                        "start again with --overwrite")
        for bad, why in unreadable:
            aside = self.store.set_aside(bad)
            notify(f"checkpoint step {bad} in {self.checkpoint_dir} cannot be read ({why}); resuming from step "
                   f"{step}, the newest good checkpoint (the unreadable one is kept as {aside.name})")
        previous = (tree["previous"]["params"], tree["previous"]["opt_state"]) if meta["has_previous"] else None
        self.state = TrainState(tree["params"], tree["opt_state"], int(meta["step"]), int(meta["failures"]),
                                int(meta["skipped"]), self._read_log()[:int(meta["log_rows"])], previous,
                                bool(meta["retrying"]))
        return self.state.step

    def _read_checkpoint(self, step: int, accept_changes: bool, notify) -> tuple[dict, dict]:
        """The meta and arrays of checkpoint ``step``, checked against this training first."""
        like = self._tree()
        meta = self.store.read_meta(step)
        check_compatible(meta, f"checkpoint step {step} in {self.checkpoint_dir}", like,
                         self.settings.model_dump(mode="json"), accept_changes, notify)
        return meta, self.store.read_state(step, like)

    def _write_log(self) -> None:
        buffer = _io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=LOG_FIELDS)
        writer.writeheader()
        writer.writerows(self.state.log)
        oc_io.write_bytes_atomic(self.log_path, lambda tmp: tmp.write_text(buffer.getvalue()), overwrite=True)

    def _read_log(self) -> list:
        if not self.log_path.exists():
            return []
        try:
            with open(self.log_path, newline="") as fh:
                return [_typed(row) for row in csv.DictReader(fh)]
        except (OSError, ValueError, KeyError, TypeError, csv.Error) as err:
            raise oc_io.CheckpointError(f"{self.log_path} is unreadable or corrupt ({err}); delete it (the log "
                                        "restarts) or start again with --overwrite") from None

    # --- the loop --------------------------------------------------------------

    def validation_losses(self) -> list[float]:
        """The validation loss of each ensemble member (NaN without validation times)."""
        if self._validate is None:
            return [math.nan] * self.settings.ensemble
        return [float(v) for v in np.atleast_1d(np.asarray(self._validate(self.state.params)))]

    def validation_loss(self) -> float:
        return float(np.mean(self.validation_losses()))

    def run(self, progress: Callable | None = None) -> TrainState:
        """Train until ``settings.steps`` accepted steps; ``progress(step, loss, validation)`` after each attempt.

        Raises:
          TrainingError: ``max_failures`` consecutive skipped steps, or final parameters or a
            final validation loss that are not finite.
          TrainingInterrupted: on SIGINT, after the step under way, saved as a checkpoint.
        """
        with _sigint_received() as interrupted:
            while self.state.step < self.settings.steps:
                saved = self._attempt(progress)
                if interrupted and self.state.step < self.settings.steps:  # the last step finishes the training
                    self._stop(saved)
        self._check_result()
        return self.state

    def _attempt(self, progress) -> bool:
        """One optimizer step (or a skipped one); returns whether it saved a checkpoint."""
        s, st = self.settings, self.state
        started = time.perf_counter()
        scale = BACKOFF ** st.failures
        starts = draw_starts(self.problems, s, st.step, self.pools, attempt=st.failures)
        params, opt_state, loss, finite = self._step(st.params, st.opt_state, starts, self.bags, jnp.float32(scale))
        ok = bool(np.all(np.asarray(finite)))
        attempted = st.step + 1
        self._accept(params, opt_state) if ok else self._skip()
        save = ok and (st.step % s.checkpoint_every == 0 or st.step == s.steps)
        validation = self.validation_loss() if save else (st.log[-1]["validation"] if st.log else math.nan)
        loss_value = float(np.mean(np.asarray(loss)))
        st.log.append({"step": attempted, "loss": loss_value, "validation": validation,
                       "learning_rate": float(self.schedule(attempted - 1)) * scale, "finite": ok,
                       "skipped": st.skipped, "seconds": time.perf_counter() - started})
        if st.failures >= s.max_failures:
            self._write_log()
            raise TrainingError(
                f"{st.failures} consecutive updates at step {attempted} gave a non-finite loss or gradient (the "
                f"rollout blew up), the last with the learning rate lowered to {scale:g} × its schedule; "
                f"{self._checkpoint_note()}, and {self._no_parameters_note()}. {DIVERGED_ADVICE}")
        if save:
            self.save_checkpoint()
        if progress is not None:
            progress(attempted, loss_value, validation)
        return save

    def _accept(self, params, opt_state) -> None:
        st = self.state
        st.previous, st.params, st.opt_state, st.step = (st.params, st.opt_state), params, opt_state, st.step + 1
        st.failures = st.failures if st.retrying else 0
        st.retrying = False

    def _skip(self) -> None:
        """A non-finite step: count it, and go back before the update that led here (if known)."""
        st = self.state
        st.failures, st.skipped, st.retrying = st.failures + 1, st.skipped + 1, True
        if st.previous is not None:
            (st.params, st.opt_state), st.previous, st.step = st.previous, None, st.step - 1

    def _no_parameters_note(self) -> str:
        """That nothing was written, and whether earlier trained parameters are still there (and used by run)."""
        earlier = self.directory / "closure" / "parameters.npz"
        kept = f" (the earlier {earlier} is left as it was, and run uses it)" if earlier.is_file() else ""
        return f"no parameters were written{kept}"

    def _checkpoint_note(self) -> str:
        steps = self.checkpoint_steps()
        if steps:
            return f"the last checkpoint, step {steps[-1]}, is kept in {self.checkpoint_dir}"
        return (f"no checkpoint was written (one is saved every training.checkpoint_every = "
                f"{self.settings.checkpoint_every} steps)")

    def _stop(self, saved: bool) -> None:
        """After SIGINT: save the last completed step and say how to continue."""
        st, total = self.state, self.settings.steps
        if st.step == 0:
            raise TrainingInterrupted(f"interrupted before the first step of {total} was completed; nothing was "
                                      "saved", 0)
        where = self.checkpoint_dir / str(st.step) if saved else self.save_checkpoint()
        raise TrainingInterrupted(
            f"interrupted after step {st.step} of {total}; saved it as the checkpoint {where}; resuming continues "
            "from there", st.step)

    def _check_result(self) -> None:
        """Refuse final parameters or a final validation loss that are not finite (a diverged training)."""
        st = self.state
        advice = f"{self._no_parameters_note()}. {DIVERGED_ADVICE}; {self._checkpoint_note()}"
        if not bool(_all_finite(st.params)):
            raise TrainingError(f"training diverged: the closure parameters after step {st.step} are not finite; "
                                f"{advice}")
        last = st.log[-1] if st.log else None
        validation = (last["validation"] if last and last["finite"] and last["step"] == st.step and
                      not math.isnan(last["validation"]) else self.validation_loss())
        if self._validate is not None and not math.isfinite(validation):
            raise TrainingError(f"training diverged: the validation loss after step {st.step} is {validation} (the "
                                f"rollout with the trained parameters blows up); {advice}")

    # --- results ---------------------------------------------------------------

    def member_closure(self, member: int = 0):
        """The trained closure (one ensemble member)."""
        params = self.state.params
        if self.settings.ensemble > 1:
            params = jax.tree_util.tree_map(lambda x: x[member], params)
        return nnx.merge(self.graphdef, params, self.rest)

    def member_closures(self) -> list:
        return [self.member_closure(m) for m in range(self.settings.ensemble)]


def write_trained_closure(closure, directory: Path, spec, manifest: dict, overwrite: bool) -> Path:
    """Write ``closure/parameters.npz`` (+ its JSON sidecar with the manifest)."""
    return save_parameters(closure, Path(directory) / "parameters.npz", spec=spec, overwrite=overwrite,
                           metadata=manifest)
