"""Command line: ``oceanclosure run CASE_DIR [--out FILE] [--overwrite] [--set key=value ...]``,
``oceanclosure truth CASE_DIR [--overwrite] [--set key=value ...]``.

``run`` streams the output to the file as it is computed (nothing is kept in
memory); a run that blows up or is interrupted keeps the part computed, marked
with an ``incomplete`` attribute, and says on the console how far it got. It
compares with the case's truth, whatever its source (a missing fine truth is
generated first), and says so when an override made the truth inapplicable.

Exit codes: 0 success, 1 the run failed (e.g. blew up; the finite part of the
output is still written), 2 bad input (case, options, files), 3 internal error,
130 interrupted (SIGINT; the part computed is still written), 141 the reader of
the output went away (``oceanclosure discover CASE | head -1``: no message).
Errors print one message and no traceback unless ``--debug`` is given.

Building the parser (``--help``, ``--version``) imports nothing heavy: the
commands import jax, xarray and sympy when they run.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

from . import __version__, cli_evaluate, cli_training
from .cli_progress import COMPILING, announce_compiling  # noqa: F401  (part of the CLI's surface)
from .cli_progress import RunProgress as _progress
from .errors import (  # noqa: F401  (EXIT_* are part of the CLI module's surface)
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUN_FAILED,
    InputError,
    OceanClosureError,
    exit_code,
)

#: The status after the reader of the output went away: 128 + SIGPIPE, what a shell reports for a
#: program that a closed pipe stopped (``yes | head -1``).
EXIT_BROKEN_PIPE = 141


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oceanclosure", description="Closure-augmented finite-volume simulation.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
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
    run.add_argument("--resume", action="store_true",
                     help="continue a run stopped by SIGINT (its file is marked incomplete) where it stopped")
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
    try:
        code = _main(argv)
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is seen below
        return code
    except BrokenPipeError:  # the reader went away (`| head -1`): normal Unix use, not an error
        _discard_stdout()
        return EXIT_BROKEN_PIPE


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so that Python's own flush at exit finds no closed pipe to complain about."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor (a captured stdout): nothing is flushed at exit
        pass


def _main(argv) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except BrokenPipeError as err:
        if _stdout_reader_gone():
            raise  # our reader went away: `main` exits quietly
        return _report(err, args)  # another pipe (a worker, a socket) broke: that is an error
    except KeyboardInterrupt as err:  # SIGINT; a run says how far it got and where its output is
        print(str(err) or "interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # the last line of defence: one message, no traceback
        return _report(err, args)


def _report(err: Exception, args) -> int:
    """One message for ``err`` on stderr (a traceback with --debug); its exit code."""
    if args.debug:
        raise err
    code = exit_code(err)
    kind = "" if isinstance(err, OceanClosureError) else f"{type(err).__name__}: "
    print(f"error: {kind}{err}", file=sys.stderr)
    if code == EXIT_INTERNAL:
        print("this looks like a bug in oceanclosure; rerun with --debug for the traceback", file=sys.stderr)
    return code


def _stdout_reader_gone() -> bool:
    """Whether stdout is a pipe whose reader has closed it (poll reports an error on its write end)."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):  # no descriptor (captured output)
        return True


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
    raise InputError(f"unknown command {args.command}")


def command_run(args) -> int:
    import xarray as xr

    from .analysis import hovmoller_png
    from .cases import load_case
    from .closures import NoClosure
    from .io import check_writable
    from .runner import RunBlowUpError, RunInterrupted, run_to_file
    from .summary import print_summary

    case = load_case(args.case, args.overrides)
    out = args.out if args.out is not None else case.resolve_path(case.output.file)
    if out.suffix.lower() != ".nc":
        raise InputError(f"--out: give a netCDF file name ending in .nc, got {out}")
    png = out.with_suffix(".png") if case.output.plot and not args.no_plot else None
    if not args.resume:  # a resumed run continues its own file, and redraws the PNG drawn from it
        for path in filter(None, (out, png)):
            check_writable(path, args.overwrite)  # refuse before computing anything
    started = time.perf_counter()
    try:
        with _progress() as progress:
            run_to_file(case, out, closure=NoClosure() if args.closure == "none" else None, progress=progress,
                        baseline=args.closure == "case" and not args.no_baseline, overwrite=args.overwrite,
                        resume=args.resume)
    except RunBlowUpError as err:
        print(f"wrote the output up to t = {err.t:g} of {case.time.stop:g} to {out}, marked incomplete",
              file=sys.stderr)
        raise
    except RunInterrupted as err:
        if err.path is None:
            raise
        raise RunInterrupted(f"{err}\nto continue it: {resume_command(args)}", err.path, err.t, err.stop) from None
    with xr.open_dataset(out, decode_times=False, decode_timedelta=False) as ds:  # read lazily, not loaded
        if "closure_untrained" in ds.attrs:
            print(f"warning: {ds.attrs['closure_untrained']}", file=sys.stderr)
        if png is not None:
            hovmoller_png(ds, png, overwrite=args.overwrite or args.resume,
                          title=f"{case.directory.name}: {ds.attrs['scheme']}")
        print_summary(case, ds, out, png, time.perf_counter() - started,
                      closure=NoClosure() if args.closure == "none" else None)
    return EXIT_OK


def resume_command(args) -> str:
    """The command that continues the run ``args`` describes: the same case and options, plus --resume."""
    import shlex

    words = ["oceanclosure", "run", str(args.case)]
    if args.out is not None:
        words += ["--out", str(args.out)]
    for override in args.overrides:
        words += ["--set", override]
    words += ["--closure", "none"] if args.closure == "none" else []
    words += [flag for flag, on in (("--no-baseline", args.no_baseline), ("--no-plot", args.no_plot)) if on]
    return " ".join(map(shlex.quote, words + ["--resume"]))


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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
