"""Command line: ``oceanclosure run CASE_DIR [--out FILE] [--overwrite] [--set key=value ...]``,
``oceanclosure truth CASE_DIR [--overwrite] [--set key=value ...]``.

``run`` streams the output to the file as it is computed (nothing is kept in
memory); a run that blows up or is interrupted keeps the part computed, marked
with an ``incomplete`` attribute, and says on the console how far it got. It
compares with the case's truth, whatever its source (a missing fine truth is
generated first), and says so when an override made the truth inapplicable.

Exit codes: 0 success, 1 the run failed (e.g. blew up; the finite part of the
output is still written), 2 bad input (case, options, files), 3 internal error,
130 interrupted (SIGINT; the part computed is still written).
Errors print one message and no traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import cli_evaluate, cli_training

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oceanclosure", description="Closure-augmented finite-volume simulation.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a case directory and write netCDF (+ PNG)")
    run.add_argument("case", type=Path, help="case directory (holding case.toml) or a .toml file")
    run.add_argument("--out", type=Path, help="output netCDF file (default: the case's output.file)")
    run.add_argument("--overwrite", action="store_true", help="replace existing output files")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a case key, e.g. --set physics.nu=0.02 (repeatable)")
    run.add_argument("--closure", choices=("case", "none"), default="case",
                     help="'none' runs the case without its closures (the baseline)")
    run.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    run.add_argument("--no-baseline", action="store_true",
                     help="do not also run the case without its closure (u_baseline)")
    run.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    truth = commands.add_parser("truth", help="write the case's high-fidelity reference (truth) as netCDF")
    truth.add_argument("case", type=Path, help="case directory (holding case.toml) or a .toml file")
    truth.add_argument("--overwrite", action="store_true", help="replace an existing truth file")
    truth.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a case key, e.g. --set physics.nu=0.02 (repeatable)")
    truth.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    cli_training.register(commands)
    cli_evaluate.register(commands)
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt as err:  # SIGINT; a run says how far it got and where its output is
        print(str(err) or "interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # the last line of defence: one message, no traceback
        if args.debug:
            raise
        kind, code = _classify(err)
        print(f"error: {kind}{err}", file=sys.stderr)
        if code == EXIT_INTERNAL:
            print("this looks like a bug in oceanclosure; rerun with --debug for the traceback", file=sys.stderr)
        return code


def _classify(err: Exception) -> tuple[str, int]:
    from .runner import RunBlowUpError
    from .training.trainer import TrainingError

    if isinstance(err, (RunBlowUpError, TrainingError)):
        return "", EXIT_RUN_FAILED
    if isinstance(err, (ValueError, FileNotFoundError, FileExistsError, PermissionError)):
        return "", EXIT_BAD_INPUT
    return f"{type(err).__name__}: ", EXIT_INTERNAL


def _dispatch(args) -> int:
    if args.command == "run":
        return command_run(args)
    if args.command == "truth":
        return command_truth(args)
    if args.command == "train":
        return cli_training.command_train(args)
    if args.command == "evaluate":
        return cli_evaluate.command_evaluate(args)
    if args.command == "discover":
        return cli_training.command_discover(args)
    raise ValueError(f"unknown command {args.command}")


def command_run(args) -> int:
    import xarray as xr

    from .analysis import hovmoller_png
    from .cases import load_case
    from .closures import NoClosure
    from .io import check_writable
    from .runner import RunBlowUpError, run_to_file

    case = load_case(args.case, args.overrides)
    out = args.out if args.out is not None else case.resolve_path(case.output.file)
    if out.suffix.lower() != ".nc":
        raise ValueError(f"--out: give a netCDF file name ending in .nc, got {out}")
    png = out.with_suffix(".png") if case.output.plot and not args.no_plot else None
    for path in filter(None, (out, png)):
        check_writable(path, args.overwrite)  # refuse before computing anything
    started = time.perf_counter()
    try:
        with _progress() as progress:
            run_to_file(case, out, closure=NoClosure() if args.closure == "none" else None, progress=progress,
                        baseline=args.closure == "case" and not args.no_baseline, overwrite=args.overwrite)
    except RunBlowUpError as err:
        print(f"wrote the output up to the last finite state (t = {err.t:g} of {case.time.stop:g}) to {out}, "
              "marked incomplete", file=sys.stderr)
        raise
    with xr.open_dataset(out, decode_times=False, decode_timedelta=False) as ds:  # read lazily, not loaded
        if png is not None:
            hovmoller_png(ds, png, overwrite=args.overwrite, title=f"{case.directory.name}: {ds.attrs['scheme']}")
        _print_summary(case, ds, out, png, time.perf_counter() - started)
    return EXIT_OK


def command_truth(args) -> int:
    """``oceanclosure truth CASE_DIR``: generate the case's truth and write it under the case."""
    from .cases import load_case
    from .io import check_writable, write_netcdf
    from .truth import generate_truth, truth_path

    case = load_case(args.case, args.overrides)
    path = truth_path(case)
    check_writable(path, args.overwrite)  # refuse before computing anything
    started = time.perf_counter()
    with _progress() as progress:
        ds = generate_truth(case, progress=progress)
    write_netcdf(ds, path, overwrite=args.overwrite)
    u, times = ds["u"], ds["time"].values
    details = {"analytic": f"'{ds.attrs.get('truth_analytic')}'",
               "fine": f"refine {ds.attrs.get('truth_refine')}, {ds.attrs.get('truth_fine_scheme')}, "
                       f"{ds.attrs.get('truth_fine_stepper')}, dt = {ds.attrs.get('truth_fine_dt', 0):.4g}",
               "file": f"{ds.attrs.get('truth_file')} ('{ds.attrs.get('truth_variable')}')"}
    source = ds.attrs["truth_source"]
    lines = [
        f"case        {case.name}",
        f"truth       {source}: {details[source]}",
        f"grid        {' x '.join(str(n) for n in reversed(u.shape[1:]))} cells",
        f"times       {times.size} outputs, {times[0]:g} -> {times[-1]:g}",
        f"u range     [{float(u.min()):.4g}, {float(u.max()):.4g}], {time.perf_counter() - started:.2f} s wall",
        f"wrote       {path}",
    ]
    print("\n".join(lines))
    return EXIT_OK


class _progress:
    """A rich progress bar on an interactive terminal; silent otherwise."""

    def __enter__(self):
        self._bar = None
        if sys.stderr.isatty():
            from rich.progress import Progress

            self._bar = Progress(transient=True)
            self._bar.start()
            self._task = self._bar.add_task("integrating", total=1.0)
        return self

    def __call__(self, t: float, stop: float):
        if self._bar is not None:
            self._bar.update(self._task, completed=t / stop, description=f"t = {t:.4g} / {stop:g}")

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.stop()
        return False


def _print_summary(case, ds, out: Path, png: Path | None, seconds: float) -> None:
    from .analysis import field_names

    fields = field_names(ds)
    first = ds[fields[0]]
    lines = [
        f"case        {case.directory.name} ({ds.attrs['model']}, {ds.attrs['scheme']}, {ds.attrs['stepper']})",
        f"grid        {' x '.join(str(n) for n in reversed(first.shape[1:]))} cells, {ds.attrs['precision']}",
        f"closure     {ds.attrs['closure']}",
        (f"time        {float(ds.time[0]):g} -> {float(ds.time[-1]):g}, dt = {ds.attrs['dt']:.4g}, "
         f"{ds.attrs['steps']} steps, {seconds:.2f} s wall"),
    ]
    for name in fields:
        lines += _field_lines(case, name, _summary_numbers(ds, name))
    lines += _truth_lines(ds)
    lines.append(f"wrote       {out}" + (f" and {png}" if png else ""))
    print("\n".join(lines))


def _truth_lines(ds) -> list[str]:
    """Why the truth was not compared, and what it is compared across as given (the run's attributes)."""
    lines = [f"vs truth    not compared: {ds.attrs['truth_not_compared']}"] if "truth_not_compared" in ds.attrs else []
    notes = str(ds.attrs.get("truth_notes", ""))
    return lines + [f"truth note  {note}" for note in notes.splitlines() if note]


def _field_lines(case, name: str, numbers: dict) -> list[str]:
    from .truth import truth_label

    label = f"{name} range".ljust(11)
    lines = [(f"{label} [{numbers['min']:.4g}, {numbers['max']:.4g}], mass change {numbers['mass_change']:.3g} "
              "(cell sums)")]
    if "time_mean_rms" in numbers:
        lines.append(
            f"vs truth    time-mean RMS error {numbers['time_mean_rms']:.4g} "
            f"(final {numbers['final_rms']:.4g}, max |err| {numbers['max_abs']:.4g}) "
            f"against {truth_label(case)}"
        )
        if "baseline_rms" in numbers:
            base = numbers["baseline_rms"]
            lines.append(f"no closure  time-mean RMS error {base:.4g}; with the closure / without: "
                         f"{numbers['time_mean_rms'] / base:.3g}")
    return lines


#: How much of a run file the summary reads at once.
SUMMARY_BLOCK_BYTES = 64 << 20


def _summary_numbers(ds, field: str = "u") -> dict[str, float]:
    """A field's range and mass change, and RMS errors against ``<field>_truth``, reading the file a block at a time."""
    import numpy as np
    import xarray as xr

    from .analysis import spatial_dims, spatial_rms

    truth, baseline = f"{field}_truth", f"{field}_baseline"
    names = [n for n in (field, truth, baseline) if n in ds]
    per_time = sum(ds[n].dtype.itemsize * ds[n][0].size for n in names)
    block = max(1, SUMMARY_BLOCK_BYTES // per_time)
    lows, highs, masses, rms, base_rms, max_abs = [], [], [], [], [], []
    for start in range(0, ds.sizes["time"], block):
        part = ds[names].isel(time=slice(start, start + block)).load()
        u = part[field]
        lows.append(float(u.min()))
        highs.append(float(u.max()))
        masses.append(u.sum(spatial_dims(u)))
        if truth in part:
            rms.append(spatial_rms(u, part[truth]))
            max_abs.append(float(np.abs(u - part[truth]).max()))
            if baseline in part:
                base_rms.append(spatial_rms(part[baseline], part[truth]))
    numbers = {"min": min(lows), "max": max(highs),
               "mass_change": float(masses[-1].values[-1] - masses[0].values[0])}
    if rms:
        errors = xr.concat(rms, "time")
        numbers.update(time_mean_rms=float(errors.mean("time")), final_rms=float(errors.isel(time=-1)),
                       max_abs=max(max_abs))
    if base_rms:
        numbers["baseline_rms"] = float(xr.concat(base_rms, "time").mean("time"))
    return numbers


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
