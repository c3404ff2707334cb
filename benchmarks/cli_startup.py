"""Start-up time of the command line, against a bare Python started the same way.

    python benchmarks/cli_startup.py [--repeat 7]

Each command runs as a fresh process (what a user waits for); the baseline is
``python -c pass`` from the same interpreter, in the same run. Prints the median
wall time of each and its ratio to the baseline, and which heavy modules the
command imported (none is the goal: jax, xarray and sympy load only when a
command runs). The goal of issue 11 is under 0.5 s for --help and --version.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

HEAVY = ("jax", "xarray", "sympy", "numpy", "matplotlib")
COMMANDS = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "import oceanclosure": [sys.executable, "-c", "import oceanclosure"],
    "oceanclosure --version": [sys.executable, "-m", "oceanclosure.cli", "--version"],
    "oceanclosure --help": [sys.executable, "-m", "oceanclosure.cli", "--help"],
}


def median_wall(command: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def heavy_imports(statement: str) -> list[str]:
    probe = f"import sys; {statement}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    return out.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    base = None
    print(f"{'command':<28} {'median s':>9} {'/ baseline':>11}")
    for label, command in COMMANDS.items():
        wall = median_wall(command, args.repeat)
        base = wall if base is None else base
        print(f"{label:<28} {wall:9.3f} {wall / base:11.2f}")
    loaded = heavy_imports("from oceanclosure import cli; cli._parser()")
    print(f"heavy modules loaded by building the parser: {', '.join(loaded) or 'none'}")


if __name__ == "__main__":
    main()
