"""`train` and `discover`: the case-level entry points behind the CLI.

A case trains into its own directory:

* ``checkpoints/step_XXXXXXXX.npz``: parameters and optimizer state every
  ``training.checkpoint_every`` steps (the last two are kept);
* ``training_log.csv``: step, loss, validation loss, learning rate, skipped steps;
* ``closure/parameters.npz`` + ``closure/parameters.json``: the trained arrays,
  the ``[[closure]]`` spec, a SHA-256, the command, the package and jax versions
  and, for ensembles, the spread of the library coefficients. `runner.run` loads
  it (verifying the checksum) whenever it exists.

Training always starts from the closure's initial values in ``case.toml``, never
from shipped trained parameters.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import jax
import numpy as np

from ..closures.checkpoint import load_parameters, sidecar_path
from ..factory import TRAINED_PARAMETERS, build_closures
from ..io import OutputExistsError, provenance
from .setup import build_problems
from .trainer import Settings, Trainer, write_trained_closure


def trained_parameters_path(case) -> Path:
    return case.directory / TRAINED_PARAMETERS


def _check_start(case, trainer: Trainer, resume: bool, overwrite: bool) -> None:
    if resume and overwrite:
        raise ValueError("give either --resume or --overwrite, not both")
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
          ensemble: int | None = None, progress=None, command: str | None = None) -> dict:
    """Train the case's closures; returns a summary (losses, coefficients, spread, paths)."""
    if case.training is None:
        raise ValueError(f"{case.path} has no [training] section; add one to train its closures")
    settings = Settings.from_config(case.training, steps=steps, ensemble=ensemble)
    closure = build_closures(case, trained=False)
    trainer = Trainer(closure, build_problems(case, closure), settings, case.directory)
    _check_start(case, trainer, resume, overwrite)
    if overwrite:
        shutil.rmtree(trainer.checkpoint_dir, ignore_errors=True)
        trainer.log_path.unlink(missing_ok=True)
    if resume:
        trainer.resume()
    trainer.run(progress)
    members = trainer.member_closures()
    summary = _summary(trainer, members)
    manifest = {"command": command or " ".join(sys.argv), "jax_backend": jax.default_backend(),
                "training": settings.model_dump(mode="json"), "summary": summary, **provenance()}
    spec = [c.model_dump(mode="json") for c in case.closures]
    path = write_trained_closure(members[0], case.directory / "closure", spec, manifest, overwrite=True)
    return {**summary, "parameters": str(path)}


def _summary(trainer: Trainer, members) -> dict:
    log = trainer.state.log
    tables = [library_tables(m) for m in members]
    return {
        "steps": trainer.state.step,
        "final_loss": float(log[-1]["loss"]) if log else float("nan"),
        "final_validation": float(log[-1]["validation"]) if log else float("nan"),
        "skipped_steps": trainer.state.skipped,
        "terms": tables[0],
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
        raise FileNotFoundError(f"{path} does not exist; train the case first (oceanclosure train {case.directory})")
    if closure is None:
        return build_closures(case)  # loads the parameters after checking they fit the case's tables
    return load_parameters(closure, path)


def discover(case) -> dict:
    """The trained library closure as equations and a coefficient table, with ensemble spread."""
    import json

    closure = load_trained(case)
    found = closure.equations()
    if not found:
        raise ValueError("discover needs a library closure in [[closure]]; this case has none")
    equations = {output: [{"text": eq["text"], "latex": eq["latex"]} for eq in items] for output, items in found.items()}
    manifest = json.loads(sidecar_path(trained_parameters_path(case)).read_text())
    summary = manifest.get("summary", {})
    return {"terms": library_tables(closure), "spread": summary.get("spread", {}), "equations": equations}
