"""CLI commands ``train`` and ``discover`` (registered by `oceanclosure.cli`).

    oceanclosure train CASE_DIR [--resume | --overwrite] [--ensemble K] [--steps N] [--set KEY=VALUE ...]
    oceanclosure discover CASE_DIR [--json]

``discover --json`` prints only JSON on stdout (logs go to stderr):
``{"terms": {"<output>": {"<term>": coefficient, ...}}, "spread": {...}}`` with the
term keys spelled as in case.toml and pruned terms included as 0.0.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def register(commands) -> None:
    train = commands.add_parser("train", help="train the case's closures through the solver")
    train.add_argument("case", type=Path, help="case directory (holding case.toml)")
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    train.add_argument("--overwrite", action="store_true", help="discard checkpoints and trained parameters")
    train.add_argument("--ensemble", type=int, metavar="K", help="train K members at once (vmapped)")
    train.add_argument("--steps", type=int, metavar="N", help="optimizer steps (overrides training.steps)")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a case key (repeatable)")
    train.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    discover = commands.add_parser("discover", help="print the learned library closure as equations")
    discover.add_argument("case", type=Path, help="case directory (holding case.toml)")
    discover.add_argument("--json", action="store_true", help="print only JSON on stdout")
    discover.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _positive(name: str, value):
    if value is not None and value < 1:
        raise ValueError(f"--{name} must be >= 1, got {value}")


def command_train(args) -> int:
    from .cases import load_case
    from .training.api import train

    _positive("steps", args.steps)
    _positive("ensemble", args.ensemble)
    case = load_case(args.case, args.overrides)
    from .training.setup import resolution_notes

    for note in resolution_notes(case):
        print(f"note: {note}", file=sys.stderr)
    command = "oceanclosure " + " ".join(sys.argv[1:])
    with _TrainingProgress(args.steps or (case.training.steps if case.training else 0)) as progress:
        summary = train(case, resume=args.resume, overwrite=args.overwrite, steps=args.steps,
                        ensemble=args.ensemble, progress=progress, command=command)
    print(f"trained     {summary['steps']} steps, final loss {summary['final_loss']:.4g}, "
          f"validation {summary['final_validation']:.4g}, skipped {summary['skipped_steps']}")
    if len(summary["member_validation"]) > 1:
        losses = np.asarray(summary["member_validation"])
        print(f"ensemble    {len(losses)} members, validation loss {losses.mean():.4g} ± {losses.std(ddof=1):.2g}")
        for output, row in summary["spread"].items():
            print(f"d{output}/dt  " + ", ".join(f"{t}: {s['mean']:+.5g} ± {s['std']:.2g}" for t, s in row.items()))
    for output, row in summary["terms"].items():
        shown = ", ".join(f"{term}: {value:+.5g}" for term, value in row.items())
        print(f"d{output}/dt  {shown}")
    print(f"wrote       {summary['parameters']}")
    return 0


def command_discover(args) -> int:
    from .cases import load_case
    from .training.api import discover

    result = discover(load_case(args.case))
    if args.json:
        print(json.dumps({"terms": result["terms"], "spread": result["spread"]}))
        return 0
    for output, equations in result["equations"].items():
        for eq in equations:
            print(eq["text"])
            print(f"  LaTeX: {eq['latex']}")
    for output, row in result["spread"].items():
        for term, stats in row.items():
            print(f"  {output} {term}: {stats['mean']:+.5g} ± {stats['std']:.2g} (ensemble)")
    return 0


class _TrainingProgress:
    """A rich progress bar with loss and validation error on a terminal; periodic lines otherwise."""

    def __init__(self, total: int):
        self.total = total

    def __enter__(self):
        self._bar = None
        if sys.stderr.isatty():
            from rich.progress import Progress

            self._bar = Progress(transient=True)
            self._bar.start()
            self._task = self._bar.add_task("training", total=self.total)
        return self

    def __call__(self, step: int, loss: float, validation: float):
        text = f"step {step}/{self.total} loss {loss:.4g} validation {validation:.4g}"
        if self._bar is not None:
            self._bar.update(self._task, completed=step, description=text)
        elif step % max(1, self.total // 10) == 0 or step == self.total:
            print(text, file=sys.stderr)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.stop()
        return False
