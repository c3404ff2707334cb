"""Issue 8's goals for the 7x7 advecting-shock table, read from the sweep file `oceanclosure evaluate` wrote.

    oceanclosure evaluate cases/burgers_advecting_shock --plot
    python experiments/advecting_shock/goals.py cases/burgers_advecting_shock/output/evaluate.nc

Per closure, on all 49 points and on the held-out ones (no training configuration matches):
the mean and the max of the time-mean RMS error (goals: mean <= 0.0015, max <= 0.004),
and the points with Re >= 250 where the closure's error exceeds max(1/2 x no closure,
1.2 x floor) (goal: none). Prints a Markdown table.
"""

from __future__ import annotations

import argparse

import numpy as np

import oceanclosure

GOAL_MEAN, GOAL_MAX = 0.0015, 0.004


def _stats(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    worst = np.inf if finite.size < values.size else float(finite.max())
    return float(finite.mean()) if finite.size else np.nan, worst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", help="the sweep netCDF file")
    args = parser.parse_args(argv)
    ds = oceanclosure.open_sweep(args.sweep)
    error = ds["time_mean_rms"]
    held = (ds["trained"] == 0).values
    re = 1.0 / ds["physics_nu"].values
    judged = np.broadcast_to(re[None, :] >= 250 - 1e-6, held.shape)
    limit = np.maximum(0.5 * error.sel(closure="none").values, 1.2 * error.sel(closure="floor").values)
    trained = [f"(Nx {int(ds['grid_nx'].values[i])}, Re {re[j]:.0f})" for i, j in zip(*np.nonzero(~held))]
    print(f"{int(held.sum())} held-out points of {held.size}; trained on {len(trained)}: {', '.join(trained)}\n")
    print("| closure | mean (49) | max (49) | held-out mean | held-out max | Re >= 250 points over max(½ none, 1.2 floor) | failed |")
    print("|--|--|--|--|--|--|--|")
    for closure in ds["closure"].values:
        values = error.sel(closure=closure).values
        mean, worst = _stats(values)
        held_mean, held_worst = _stats(values[held])
        over = judged & ~(values <= limit)
        where = ", ".join(f"({int(ds['grid_nx'].values[i])}, {re[j]:.0f})" for i, j in zip(*np.nonzero(over)))
        flag = "" if closure in ("none", "floor") else f"{int(over.sum())}" + (f": {where}" if where else "")
        print(f"| {closure} | {mean:.5f} | {worst:.5f} | {held_mean:.5f} | {held_worst:.5f} | {flag} | "
              f"{int(ds['failed'].sel(closure=closure).sum())} |")
    print(f"\ngoals: mean <= {GOAL_MEAN}, max <= {GOAL_MAX}, no Re >= 250 point over the limit")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
