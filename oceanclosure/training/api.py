"""`train` and `discover`: the case-level entry points behind the CLI.

A case trains into its own directory:

* ``checkpoints/<step>/``: orbax checkpoints of the whole loop state (parameters,
  optimizer state, failure counters, the ``[training]`` settings) every
  ``training.checkpoint_every`` steps, at the end and on SIGINT (the last two are
  kept; `trainer.Trainer.resume`);
* ``training_log.csv``: step, loss, validation loss, learning rate, skipped steps;
* ``closure/parameters.npz`` + ``closure/parameters.json``: the trained arrays,
  the ``[[closure]]`` spec, a SHA-256, the command, the package and jax versions,
  the collinearity warnings and, when the closure has trainable library terms, the
  discovery report (the path, the criterion, per-term inclusion and intervals;
  `training.discovery`). `runner.run` loads it (verifying the checksum) whenever it
  exists.

After the optimizer's steps, library terms go through the sparsity path
(`training.selection`) unless ``training.selection = "none"``; what is written is
the chosen model (one member) or the consensus model refitted on all the data (an
ensemble).

Training always starts from the closure's initial values in ``case.toml``, never
from shipped trained parameters.
"""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

import jax
import numpy as np

from ..closures.checkpoint import load_parameters, parameter_arrays, sidecar_path
from ..errors import InputError, MissingFileError, OutputExistsError
from ..factory import TRAINED_PARAMETERS, build_closures
from ..io import provenance
from .discovery import discover_members, library_warnings, perturb_members
from .setup import build_problems
from .trainer import Settings, Trainer, TrainingError, write_trained_closure


def trained_parameters_path(case) -> Path:
    return case.directory / TRAINED_PARAMETERS


def _check_start(case, trainer: Trainer, resume: bool, overwrite: bool, accept_changes: bool) -> None:
    if resume and overwrite:
        raise InputError("give either --resume or --overwrite, not both")
    if accept_changes and not resume:
        raise InputError("--accept-changes goes with --resume (continuing a checkpoint with changed [training] keys)")
    if resume and not trainer.checkpoints() and trained_parameters_path(case).exists():
        raise InputError(
            f"--resume: {trainer.checkpoint_dir} holds no checkpoint to continue, and "
            f"{trained_parameters_path(case)} holds trained parameters; pass --overwrite to retrain"
        )
    if trainer.checkpoints() and not (resume or overwrite):
        raise OutputExistsError(
            f"{trainer.checkpoint_dir} already holds checkpoints; pass --resume to continue them or "
            "--overwrite to start again from the initial values in case.toml"
        )
    if trained_parameters_path(case).exists() and not (resume or overwrite):
        raise OutputExistsError(
            f"{trained_parameters_path(case)} already exists (trained parameters); pass --overwrite to retrain"
        )


def train(case, *, resume: bool = False, overwrite: bool = False, steps: int | None = None,
          ensemble: int | None = None, progress=None, command: str | None = None, accept_changes: bool = False,
          notify=None) -> dict:
    """Train the case's closures; returns a summary (losses, coefficients, spread, paths).

    ``resume`` continues the newest readable checkpoint (from step 0 when none was written
    yet), refusing one written with other ``[training]`` keys (``steps`` may grow) unless
    ``accept_changes``; ``overwrite`` first removes the previous training's checkpoints, log
    and trained parameters. ``notify(text)`` is told what was done on the way (fallbacks,
    removals). Raises `TrainingError` when training diverges (nothing is written then) and
    `trainer.TrainingInterrupted` on SIGINT (the last completed step is saved).
    """
    if case.training is None:
        raise InputError(f"{case.path} has no [training] section; add one to train its closures")
    notify = notify or (lambda text: None)
    settings = Settings.from_config(case.training, steps=steps, ensemble=ensemble)
    closure = build_closures(case, trained=False)
    trainer = Trainer(closure, build_problems(case, closure), settings, case.directory)
    _check_start(case, trainer, resume, overwrite, accept_changes)
    if overwrite:
        _remove_previous(case, trainer, notify)
    perturb_members(trainer)
    if resume:
        trainer.resume(accept_changes=accept_changes, notify=notify)
    warnings = library_warnings(trainer)
    start = trainer.validation_loss() if trainer.state.step == 0 else _first_validation(trainer.state.log)
    trainer.run(progress)
    found = discover_members(trainer)
    members = found.closures if found else trainer.member_closures()
    final = found.final if found else members[0]
    summary = _summary(trainer, members, final)
    summary["warnings"] = warnings + _growth_warnings(start, summary["final_validation"])
    if found:
        summary["discovery"] = found.report()
    manifest = {"command": command or " ".join(sys.argv), "jax_backend": jax.default_backend(),
                "training": settings.model_dump(mode="json"), "summary": summary, **provenance()}
    spec = [c.model_dump(mode="json") for c in case.closures]
    _check_finite(final, trainer)
    path = write_trained_closure(final, case.directory / "closure", spec, manifest, overwrite=True)
    return {**summary, "parameters": str(path)}


#: A final validation loss this many times the untrained closure's is a divergence that stayed finite.
VALIDATION_GROWTH_WARNING = 100.0


def _first_validation(log: list) -> float:
    """The first finite validation loss in a resumed training's log (NaN: none)."""
    return next((row["validation"] for row in log if math.isfinite(row["validation"])), math.nan)


def _growth_warnings(start: float, final: float) -> list[str]:
    """A warning when training made the validation loss far worse than where it started."""
    if math.isfinite(start) and math.isfinite(final) and final > VALIDATION_GROWTH_WARNING * max(start, 1e-300):
        return [f"the validation loss grew from {start:.4g} (its first measurement) to {final:.4g}: the training diverged "
                "without blowing up, and the parameters written are worse than none. Lower training.learning_rate "
                "and train again with --overwrite"]
    return []


def _remove_previous(case, trainer: Trainer, notify) -> None:
    """--overwrite: no file of the previous training may outlive a failure of this one."""
    parameters = trained_parameters_path(case)
    found = [p for p in (trainer.checkpoint_dir, trainer.log_path, parameters, sidecar_path(parameters)) if p.exists()]
    for path in found:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    if found:
        notify("--overwrite: removed the previous training's " + ", ".join(str(p) for p in found))


def _check_finite(closure, trainer: Trainer) -> None:
    """The parameters to write (after discovery's refits) must be finite."""
    bad = sorted(key for key, value in parameter_arrays(closure).items() if not np.all(np.isfinite(value)))
    if bad:
        raise TrainingError(
            f"training diverged: after step {trainer.state.step} and the sparsity path, {', '.join(bad)} are not "
            "finite; no parameters were written. Lower training.learning_rate, or set training.selection = \"none\""
        )


def _summary(trainer: Trainer, members, final) -> dict:
    log = trainer.state.log
    tables = [library_tables(m) for m in members]
    return {
        "steps": trainer.state.step,
        "final_loss": float(log[-1]["loss"]) if log else float("nan"),
        "final_validation": float(log[-1]["validation"]) if log else float("nan"),
        "skipped_steps": trainer.state.skipped,
        "terms": library_tables(final),
        "spread": _spread(tables) if len(tables) > 1 else {},
        "ensemble_terms": tables if len(tables) > 1 else [],
        "member_validation": trainer.validation_losses(),
    }


def library_tables(closure) -> dict:
    """``{output: {term: coefficient}}`` merged over the closure's interpretable parts."""
    return closure.coefficient_table()


def _spread(tables: list[dict]) -> dict:
    spread = {}
    for output, row in tables[0].items():
        spread[output] = {}
        for term in row:
            values = np.array([t[output][term] for t in tables])
            spread[output][term] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)),
                                    "min": float(values.min()), "max": float(values.max())}
    return spread


def load_trained(case, closure=None):
    """The case's closure with ``closure/parameters.npz`` loaded (checksum verified)."""
    path = trained_parameters_path(case)
    if not path.exists():
        raise MissingFileError(f"{path} does not exist; train the case first (oceanclosure train {case.directory})")
    if closure is None:
        return build_closures(case)  # loads the parameters after checking they fit the case's tables
    return load_parameters(closure, path)


def discover(case) -> dict:
    """The trained closure read back: per-term statistics, the sparsity path, the non-Markovian parts.

    ``terms`` is ``{output: {term: {"mean", "low", "high", "inclusion", "final"}}}``
    (`training.discovery`; a pruned term has mean 0), ``path`` the models tried (number
    of terms, training and selection misfit, criterion, validation loss), ``selected``
    the index of the chosen one, ``nonmarkovian`` one entry per delay or network part
    (kind, inputs, delay, size), ``equations`` the final library closure as text and LaTeX.
    """
    import json

    closure = load_trained(case)
    manifest = json.loads(sidecar_path(trained_parameters_path(case)).read_text())
    summary = manifest.get("summary", {})
    found = closure.equations()
    nonmarkovian = nonmarkovian_parts(case, closure)
    if not found and not nonmarkovian:
        raise InputError("discover needs a library, delay or neural closure in [[closure]]; this case has none")
    equations = {output: [{"text": eq["text"], "latex": eq["latex"]} for eq in items] for output, items in found.items()}
    discovery = summary.get("discovery") or {}
    terms = discovery.get("terms") or _point_terms(library_tables(closure))
    return {"terms": terms, "path": discovery.get("path", []), "selected": discovery.get("selected", []),
            "criterion": discovery.get("criterion"), "n_eff": discovery.get("n_eff"),
            "members": discovery.get("members", 1), "nonmarkovian": nonmarkovian, "equations": equations,
            "warnings": summary.get("warnings", []), "spread": summary.get("spread", {})}


def _point_terms(table: dict) -> dict:
    """Per-term statistics of a closure trained without discovery (one member, no path)."""
    return {output: {term: {"mean": c, "low": c, "high": c, "inclusion": float(c != 0.0), "final": c}
                     for term, c in row.items()} for output, row in table.items()}


#: The case keys that say what a non-Markovian part reads.
_INPUT_KEYS = ("terms", "inputs", "face_inputs")


def _delay_of(spec):
    """The delay of a discrete-delay table, [tau2, tau1] of a distributed one, None for a network."""
    if spec.kind == "discrete_delay":
        return spec.delay
    if spec.kind == "distributed_delay":
        return [spec.tau2, spec.tau1]
    return None


def nonmarkovian_parts(case, closure) -> list[dict]:
    """Each delay or neural ``[[closure]]`` table named: kind, inputs, delay, size (trainable numbers)."""
    from flax import nnx

    parts = list(getattr(closure, "closures", [closure]))
    out = []
    for spec, part in zip(case.closures, parts):
        kind = getattr(spec, "kind", "")
        if kind not in ("neural", "discrete_delay", "distributed_delay"):
            continue
        source = getattr(spec, "network", None) or spec
        inputs = [str(v) for key in _INPUT_KEYS for v in (getattr(source, key, None) or ())]
        if getattr(spec, "terms", None):
            inputs = list(spec.terms)
        delay = _delay_of(spec)
        size = sum(int(np.size(x)) for x in jax.tree_util.tree_leaves(nnx.state(part, nnx.Param)))
        out.append({"kind": kind, "inputs": inputs, "delay": delay, "size": size,
                    "network": bool(getattr(spec, "network", None)) or kind == "neural"})
    return out
