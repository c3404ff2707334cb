"""Biogeochemistry: the wall time of a 360-day column run, and the time to train each case.

For `cases/npzd_oa_quadratic_mortality` (2a) and `cases/npz_oa_missing_detritus` (2b), at
the cases' nz = 20 (float64, SSP-RK3 at the positivity-bounded dt ≈ 0.0090 d, 40 179 steps in one scan):

1. the 360-day run of the low-fidelity model (no closure), after compilation, as one jitted
   scan (no output in between): the baseline;
2. the same run with the shipped trained closure, after compilation, and its ratio to (1);
3. (unless --skip-train) the case trained from scratch with `oceanclosure train`'s code path
   in a temporary copy, wall time included compilation and the truth generation, and the ratio
   of the reference implementation's ~35 h to it.

Each run is timed `--repeats` times after one warm-up; the best is reported.

    python benchmarks/biogeochem.py [--skip-train] [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASES = ("npzd_oa_quadratic_mortality", "npz_oa_missing_detritus")
REFERENCE_TRAINING_S = 35 * 3600.0


def run_seconds(case, closure, repeats: int) -> tuple[float, int]:
    """Best wall time of the case's full run (t = 0 → stop) with ``closure``, after a warm-up."""
    import jax
    import numpy as np

    from oceanclosure.build import build_simulation, dtype_for, initial_fields

    dtype = dtype_for(case.grid.precision)  # float64 for these cases (switches JAX's x64 on)
    sim = build_simulation(case, closure)
    fields = initial_fields(case, sim.grid, dtype)
    state = sim.initial_state(fields)
    dt = sim.choose_dt(fields, times=np.linspace(case.time.start, case.time.stop, 64))
    steps = int(np.ceil((case.time.stop - case.time.start) / dt))
    jax.block_until_ready(sim.advance(state, case.time.stop, steps).fields)  # compile
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(sim.advance(state, case.time.stop, steps).fields)
        best = min(best, time.perf_counter() - start)
    return best, steps


def train_seconds(name: str) -> tuple[float, dict]:
    import oceanclosure
    from oceanclosure.training.api import train

    with tempfile.TemporaryDirectory() as tmp:
        case_dir = shutil.copytree(REPO / "cases" / name, Path(tmp) / name,
                                   ignore=shutil.ignore_patterns("output", "truth", "closure", "checkpoints",
                                                                 "training_log.csv"))
        start = time.perf_counter()
        summary = train(oceanclosure.load_case(case_dir))
        return time.perf_counter() - start, summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-train", action="store_true", help="only time the runs")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    import jax

    import oceanclosure
    from oceanclosure.closures import NoClosure
    from oceanclosure.factory import build_closures

    print(f"jax {jax.__version__}, device {jax.devices()[0]}")
    print("| case | steps | no closure, s | trained closure, s | closure / no closure |")
    print("|---|--:|--:|--:|--:|")
    for name in CASES:
        case = oceanclosure.load_case(REPO / "cases" / name)
        base, steps = run_seconds(case, NoClosure(), args.repeats)
        closed, _ = run_seconds(case, build_closures(case), args.repeats)
        print(f"| {name} | {steps} | {base:.2f} | {closed:.2f} | {closed / base:.2f} |")
    if not args.skip_train:
        print("\n| case | train from scratch, s | reference ~35 h / ours |")
        print("|---|--:|--:|")
        for name in CASES:
            seconds, _ = train_seconds(name)
            print(f"| {name} | {seconds:.0f} | {REFERENCE_TRAINING_S / seconds:.0f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
