"""CLI command ``evaluate`` (registered by `oceanclosure.cli`).

    oceanclosure evaluate CASE_DIR [--json] [--plot] [--out FILE] [--overwrite]
                                   [--scheduler local:N | tcp://HOST:PORT] [--set KEY=VALUE ...]

Runs the case's ``[evaluate]`` sweep (`oceanclosure.sweeps`), writes the dataset to
``--out`` (default: ``evaluate.output`` under the case) atomically, prints a table
(or, with ``--json``, only JSON on stdout; logs go to stderr) and with ``--plot``
writes the heatmaps beside the file (``.png``). Progress goes to stderr, a line per
group of runs. Members that fail are NaN in the
dataset, ``null`` in JSON and counted in the table; the command still exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .errors import InputError


def register(commands) -> None:
    evaluate = commands.add_parser("evaluate", help="sweep a case over its [evaluate] axes and closures")
    evaluate.add_argument("case", type=Path, help="case directory (holding case.toml)")
    evaluate.add_argument("--json", action="store_true", help="print only the JSON summary on stdout")
    evaluate.add_argument("--plot", action="store_true", help="also write heatmaps (PNG beside the netCDF)")
    evaluate.add_argument("--out", type=Path, help="output netCDF (default: the case's evaluate.output)")
    evaluate.add_argument("--overwrite", action="store_true", help="replace existing output files")
    evaluate.add_argument("--scheduler", metavar="ADDRESS",
                          help="run on Dask: local:N (N worker processes here) or a scheduler address")
    evaluate.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                          help="override a case key before sweeping (repeatable)")
    evaluate.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def command_evaluate(args) -> int:
    from .cases import load_case
    from .io import check_writable
    from .sweeps import SweepError, evaluate, to_json, write_sweep
    from .sweeps.plots import sweep_png

    case = load_case(args.case, args.overrides)
    if case.evaluate is None:
        raise SweepError(f"case '{case.name}' has no [evaluate] section; add one, e.g.\n  [evaluate]\n"
                         "  axes = { \"grid.nx\" = [50, 100] }\n  closures = { trained = \"case\", none = \"none\" }")
    out = args.out if args.out is not None else case.resolve_path(case.evaluate.output)
    if out.suffix.lower() != ".nc":
        raise InputError(f"--out: give a netCDF file name ending in .nc, got {out}")
    png = out.with_suffix(".png") if args.plot else None
    for path in filter(None, (out, png)):
        check_writable(path, args.overwrite)  # refuse before computing anything
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        print(f"evaluate    {done}/{total} groups of runs done", file=sys.stderr, flush=True)

    ds = evaluate(case, scheduler=args.scheduler, progress=progress)
    write_sweep(ds, out, overwrite=args.overwrite)
    if png is not None:
        sweep_png(ds, png, overwrite=args.overwrite)
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps(to_json(ds), indent=1))
        print(f"wrote {out}" + (f" and {png}" if png else ""), file=sys.stderr)
    else:
        print(summary_table(ds, case, out, png, seconds))
    return 0


def summary_table(ds, case, out: Path, png: Path | None, seconds: float) -> str:
    """The terminal table: per closure, mean and max of the time-mean RMS error, all points and held out."""
    from .sweeps import closure_summary

    rows = closure_summary(ds)
    trained = int(ds["trained"].sum())
    points = int(ds["trained"].size)
    baseline = rows.get("none")
    width = max(16, 2 + max(len(name) for name in rows))
    lines = [(f"case        {case.name}: {points} points ({trained} trained on, {points - trained} held out) "
              f"x {len(rows)} closures, {seconds:.1f} s wall"),
             f"axes        {', '.join(json.loads(ds.attrs['axes']))}",
             "",
             f"{'closure':<{width}}{'mean':>11}{'max':>11}{'held-out mean':>15}{'held-out max':>14}"
             + (f"{'mean / none':>13}" if baseline else "") + f"{'failed':>8}"]
    for name, row in rows.items():
        ratio = (row["mean"] / baseline["mean"]) if baseline and row["mean"] and baseline["mean"] else None
        lines.append(f"{name:<{width}}{_fmt(row['mean']):>11}{_fmt(row['max']):>11}{_fmt(row['held_out_mean']):>15}"
                     f"{_fmt(row['held_out_max']):>14}" + (f"{_fmt(ratio, '.3f'):>13}" if baseline else "")
                     + f"{row['failed']:>8}")
    failed = int(ds["failed"].sum())
    if failed:
        reasons = sorted({str(r) for r in ds["reason"].values.ravel() if str(r)})
        lines.append(f"\nfailed      {failed} runs (NaN in the dataset): {reasons[0]}"
                     + (f" (+{len(reasons) - 1} other reasons)" if len(reasons) > 1 else ""))
    lines.append("")
    lines.append("(time-mean spatial RMS error against the truth; max over points; 'held out' = points that "
                 "match no training configuration)")
    lines.append(f"wrote       {out}" + (f" and {png}" if png else ""))
    return "\n".join(lines)


def _fmt(value, spec: str = ".4g") -> str:
    if value is None:
        return "-"
    return format(value, spec)
