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
not finite is skipped (parameters and optimizer state unchanged), counted and
logged; ``max_failures`` consecutive ones stop training with a clear message,
keeping the last good checkpoint.

Determinism: start times are drawn from ``numpy.random.default_rng([seed,
member, step])``, so a run resumed from a checkpoint draws exactly what the
uninterrupted run would have drawn, and gives identical results.

Scale-out: the batch of start indices is placed with a `NamedSharding` over all
available devices (`jax.devices()`, which includes every host under
`jax.distributed`), so the vmapped rollouts are split across devices by XLA;
ensemble members are a vmapped leading axis of the parameters.
"""

from __future__ import annotations

import csv
import dataclasses
import io as _io
import math
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
from .rollout import Problem, batch_loss, penalty, split_closure


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. too many consecutive non-finite updates)."""


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
    """``step(params, opt_state, starts, bags) -> (params, opt_state, data_loss, finite)``.

    ``starts`` is a tuple with one (batch,) index array per configuration; ``bags`` a
    tuple with one ``{field: multiplicities}`` per configuration (an ensemble member's
    bootstrap of the observation points), or ``()`` for none.
    """

    def loss_fn(params, starts, bags):
        closure = nnx.merge(graphdef, params, rest)
        data = sum(batch_loss(p, closure, s, settings.window, settings.loss, bags[i] if bags else None)
                   for i, (p, s) in enumerate(zip(problems, starts)))
        data = data / len(problems)
        return data + penalty(params, settings.l1, settings.l2), data

    def step(params, opt_state, starts, bags):
        (loss, data), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, starts, bags)
        finite = jnp.isfinite(loss) & _all_finite(grads)
        updates, new_opt_state = optimizer.update(grads, opt_state, params)
        new_params = prune(optax.apply_updates(params, updates), settings.prune_threshold)
        keep = lambda new, old: jnp.where(finite, new, old)  # noqa: E731
        params = jax.tree_util.tree_map(keep, new_params, params)
        opt_state = jax.tree_util.tree_map(keep, new_opt_state, opt_state)
        return params, opt_state, data, finite

    if settings.ensemble > 1:
        step = jax.vmap(step)
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


def draw_starts(problems: Sequence[Problem], settings: Settings, step: int, pools=None):
    """Start indices for one step: one (batch,) array per configuration (per member).

    ``pools[member][k]`` are the start indices member ``member`` may draw from in
    configuration k (`member_pools`; default: every training start).
    """
    per_member = []
    for member in range(settings.ensemble):
        rng = np.random.default_rng([settings.seed, member, step])
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
    params: object
    opt_state: object
    step: int = 0
    failures: int = 0
    skipped: int = 0
    log: list = dataclasses.field(default_factory=list)


LOG_FIELDS = ("step", "loss", "validation", "learning_rate", "finite", "skipped", "seconds")


def _typed(row: dict) -> dict:
    """A CSV log row with its numbers and flags parsed back."""
    return {"step": int(row["step"]), "loss": float(row["loss"]), "validation": float(row["validation"]),
            "learning_rate": float(row["learning_rate"]), "finite": row["finite"] == "True",
            "skipped": int(row["skipped"]), "seconds": float(row["seconds"])}


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
            raise ValueError("the closure has no trainable parameters (set trainable = true on library terms)")
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

    def checkpoints(self) -> list[Path]:
        return sorted(self.checkpoint_dir.glob("step_*.npz"))

    def save_checkpoint(self) -> Path:
        path = self.checkpoint_dir / f"step_{self.state.step:08d}.npz"
        tree = {"params": self.state.params, "opt_state": self.state.opt_state}
        meta = {"step": self.state.step, "failures": self.state.failures, "skipped": self.state.skipped,
                "settings": self.settings.model_dump(mode="json")}
        oc_io.save_state(tree, path, metadata=meta, overwrite=True)
        self._write_log()
        for old in self.checkpoints()[:-2]:  # keep the last two
            old.unlink(missing_ok=True)
        return path

    def resume(self) -> int:
        """Continue from the newest checkpoint; returns its step."""
        found = self.checkpoints()
        if not found:
            raise ValueError(f"--resume: no checkpoint in {self.checkpoint_dir}; train without --resume")
        like = {"params": self.state.params, "opt_state": self.state.opt_state}
        tree = oc_io.load_state(found[-1], like=like)
        meta = oc_io.read_state_metadata(found[-1])
        if meta.get("settings", {}).get("seed") != self.settings.seed:
            raise ValueError(f"{found[-1]} was written with another training seed; use --overwrite to start again")
        self.state = TrainState(tree["params"], tree["opt_state"], int(meta["step"]), int(meta["failures"]),
                                int(meta["skipped"]), self._read_log(int(meta["step"])))
        return self.state.step

    def _write_log(self) -> None:
        buffer = _io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=LOG_FIELDS)
        writer.writeheader()
        writer.writerows(self.state.log)
        oc_io.write_bytes_atomic(self.log_path, lambda tmp: tmp.write_text(buffer.getvalue()), overwrite=True)

    def _read_log(self, up_to: int) -> list:
        if not self.log_path.exists():
            return []
        with open(self.log_path, newline="") as fh:
            rows = [_typed(row) for row in csv.DictReader(fh)]
        return [row for row in rows if row["step"] <= up_to]

    # --- the loop --------------------------------------------------------------

    def validation_losses(self) -> list[float]:
        """The validation loss of each ensemble member (NaN without validation times)."""
        if self._validate is None:
            return [math.nan] * self.settings.ensemble
        return [float(v) for v in np.atleast_1d(np.asarray(self._validate(self.state.params)))]

    def validation_loss(self) -> float:
        return float(np.mean(self.validation_losses()))

    def run(self, progress: Callable | None = None) -> TrainState:
        """Train until ``settings.steps``; ``progress(step, loss, validation)`` after each step."""
        s = self.settings
        validation = math.nan
        while self.state.step < s.steps:
            started = time.perf_counter()
            starts = draw_starts(self.problems, s, self.state.step, self.pools)
            params, opt_state, loss, finite = self._step(self.state.params, self.state.opt_state, starts, self.bags)
            ok = bool(np.all(np.asarray(finite)))
            self._account(ok, params, opt_state)
            self.state.step += 1
            done = self.state.step == s.steps
            if self.state.step % s.checkpoint_every == 0 or done:
                validation = self.validation_loss()
            loss_value = float(np.mean(np.asarray(loss)))
            self.state.log.append({"step": self.state.step, "loss": loss_value, "validation": validation,
                                   "learning_rate": float(self.schedule(self.state.step - 1)), "finite": ok,
                                   "skipped": self.state.skipped, "seconds": time.perf_counter() - started})
            if self.state.step % s.checkpoint_every == 0 or done:
                self.save_checkpoint()
            if progress is not None:
                progress(self.state.step, loss_value, validation)
        return self.state

    def _account(self, ok: bool, params, opt_state) -> None:
        if ok:
            self.state.params, self.state.opt_state, self.state.failures = params, opt_state, 0
            return
        self.state.failures += 1
        self.state.skipped += 1
        if self.state.failures >= self.settings.max_failures:
            raise TrainingError(
                f"{self.state.failures} consecutive updates at step {self.state.step + 1} gave a non-finite loss or "
                f"gradient (the rollout blew up); the last good checkpoint is kept in {self.checkpoint_dir}. "
                "Lower training.learning_rate, shorten training.window, or fix dt in [time]"
            )

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
