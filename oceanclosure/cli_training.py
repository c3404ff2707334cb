"""CLI commands ``train`` and ``discover`` (registered by `oceanclosure.cli`).

    oceanclosure train CASE_DIR [--resume [--accept-changes] | --overwrite] [--ensemble K] [--steps N]
                                [--set KEY=VALUE ...]
    oceanclosure discover CASE_DIR [--json] [--export {latex,sympy,numpy,c,fortran} [--out FILE]]

``discover --json`` prints only JSON on stdout (logs go to stderr):
``{"terms": {"<output>": {"<term>": {"mean", "low", "high", "inclusion", "final"}}},
"path": [...], "selected": [...], "criterion", "n_eff", "members", "nonmarkovian": [...],
"warnings": [...]}`` with the term keys spelled as in case.toml; a pruned term has
mean 0 and final 0 (`training.api.discover`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .cli_progress import TrainingProgress as _TrainingProgress
from .errors import InputError

#: The ``--export`` formats: `oceanclosure.export.FORMATS`, spelled here so that building the parser
#: (``--help``) does not import sympy (a test checks that the two agree).
FORMATS = ("latex", "sympy", "numpy", "c", "fortran")


def register(commands) -> None:
    train = commands.add_parser("train", help="train the case's closures through the solver")
    train.add_argument("case", type=Path, help="case directory (holding case.toml)")
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    train.add_argument("--overwrite", action="store_true", help="discard checkpoints and trained parameters")
    train.add_argument("--accept-changes", action="store_true",
                       help="with --resume: continue a checkpoint written with other [training] keys")
    train.add_argument("--ensemble", type=int, metavar="K", help="train K members at once (vmapped)")
    train.add_argument("--steps", type=int, metavar="N", help="optimizer steps (overrides training.steps)")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a case key (repeatable)")
    train.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    discover = commands.add_parser("discover", help="print the learned library closure as equations")
    discover.add_argument("case", type=Path, help="case directory (holding case.toml)")
    discover.add_argument("--json", action="store_true", help="print only JSON on stdout")
    discover.add_argument("--export", choices=FORMATS, metavar="FORMAT",
                          help=f"write the discovered library closure as code ({', '.join(FORMATS)})")
    discover.add_argument("--out", type=Path, metavar="FILE", help="with --export: write to FILE (default: stdout)")
    discover.add_argument("--overwrite", action="store_true", help="with --out: replace an existing FILE")
    discover.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _positive(name: str, value):
    if value is not None and value < 1:
        raise InputError(f"--{name} must be >= 1, got {value}")


def command_train(args) -> int:
    import numpy as np

    from .cases import load_case
    from .training.api import train

    _positive("steps", args.steps)
    _positive("ensemble", args.ensemble)
    case = load_case(args.case, args.overrides)
    from .training.setup import resolution_notes

    for note in resolution_notes(case):
        print(f"note: {note}", file=sys.stderr)
    command = "oceanclosure " + " ".join(sys.argv[1:])
    from .training.trainer import TrainingInterrupted

    try:
        with _TrainingProgress(args.steps or (case.training.steps if case.training else 0)) as progress:
            summary = train(case, resume=args.resume, overwrite=args.overwrite, steps=args.steps,
                            ensemble=args.ensemble, progress=progress, command=command,
                            accept_changes=args.accept_changes,
                            notify=lambda text: print(f"note: {text}", file=sys.stderr))
    except TrainingInterrupted as err:
        if err.step == 0:
            raise
        raise TrainingInterrupted(f"{err}\nto continue it: {train_resume_command(args)}", err.step) from None
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
    found = summary.get("discovery")
    if found:
        chosen = found["path"][found["selected"][0]] if found["members"] == 1 else None
        what = (f"the {chosen['n_terms']}-term model of {len(found['path'])} on the path" if chosen else
                f"terms kept by at least {found['inclusion_cutoff']:g} of {found['members']} members, refitted")
        print(f"selected    {what} ({found['criterion']}, n_eff {found['n_eff']:.4g}); "
              f"oceanclosure discover {args.case} shows the path")
    for warning in summary.get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote       {summary['parameters']}")
    return 0


def train_resume_command(args) -> str:
    """The command that continues the training ``args`` describes: the same case and options, plus --resume."""
    import shlex

    words = ["oceanclosure", "train", str(args.case)]
    for override in args.overrides:
        words += ["--set", override]
    words += ["--steps", str(args.steps)] if args.steps is not None else []
    words += ["--ensemble", str(args.ensemble)] if args.ensemble is not None else []
    words += ["--accept-changes"] if args.accept_changes else []
    return " ".join(map(shlex.quote, words + ["--resume"]))


def command_discover(args) -> int:
    from .cases import load_case
    from .training.api import discover

    if args.out is not None and args.export is None:
        raise InputError("--out goes with --export FORMAT (the code to write)")
    case = load_case(args.case)
    result = discover(case)
    if args.export:
        return _export(case, args)
    if args.json:
        print(json.dumps({key: result[key] for key in ("terms", "path", "selected", "criterion", "n_eff",
                                                        "members", "nonmarkovian", "warnings")}))
        return 0
    for line in discovery_lines(result):
        print(line)
    return 0


def _export(case, args) -> int:
    from .export import export
    from .io import write_bytes_atomic
    from .training.api import load_trained

    text = export(load_trained(case), args.export)
    if args.out is None:
        print(text, end="" if text.endswith("\n") else "\n")
        return 0
    write_bytes_atomic(args.out, lambda tmp: tmp.write_text(text), overwrite=args.overwrite)
    print(f"wrote       {args.out} ({args.export})")
    return 0


def discovery_lines(result: dict) -> list[str]:
    """`discover`'s report: equations with intervals and inclusion, the path, the other parts."""
    lines = []
    members = result.get("members", 1)
    for output, row in result["terms"].items():
        kept = {t: s for t, s in row.items() if s["final"] != 0.0}
        shown = " ".join(f"{s['final']:+.6g}·{t}" for t, s in kept.items()) or "0"
        lines.append(f"d{output}/dt += {shown}")
        for term, stats in row.items():
            interval = (f"mean {stats['mean']:+.6g} [{stats['low']:+.6g}, {stats['high']:+.6g}]"
                        if members > 1 else "")
            state = "kept  " if stats["final"] != 0.0 else "pruned"
            lines.append(f"  {state} {term:<14} {stats['final']:+.6g}  inclusion {stats['inclusion']:.2f} "
                         f"{interval}".rstrip())
    for output, equations in result["equations"].items():
        for eq in equations:
            lines.append(f"  LaTeX: {eq['latex']}")
    if result["path"]:
        chosen = result["selected"][0] if result["selected"] else None
        lines.append(f"path ({result['criterion']}, n_eff {result['n_eff']:.4g}; member 0 of {members}):")
        lines.append("   terms  train MSE     selection MSE  criterion     validation")
        for k, point in enumerate(result["path"]):
            mark = "*" if k == chosen else " "
            lines.append(f" {mark} {point['n_terms']:>5}  {point['train_mse']:<12.4g}  {point['selection_mse']:<13.4g}  "
                         f"{point['criterion']:<12.6g}  {point['validation']:.4g}   {', '.join(point['terms'])}")
    for part in result["nonmarkovian"]:
        delay = f", delay {part['delay']}" if part["delay"] is not None else ""
        lines.append(f"non-Markovian: {part['kind']} on {', '.join(part['inputs']) or '-'}{delay}, "
                     f"{part['size']} trained numbers (not an equation)")
    lines += [f"warning: {w}" for w in result.get("warnings", [])]
    return lines
