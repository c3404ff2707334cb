"""Accuracy per cost of a trained closure against refining the grid without one.

On unseen seeds of a case with a random initial-condition family (default
cases/burgers_random_waves, seeds 200-219; its training uses seeds 0-10, and seeds 100-119 chose
between closure variants, so they are not unseen), runs

* the truth: the case without closure on a grid ``--truth-refine`` (64) times finer
  than the case's nx, cell-averaged (`analysis.coarse_grain`) onto each grid below;
* no closure (the case's scheme) at 1x, 2x, 4x, 8x, 16x the case's nx;
* the trained closure (``closure/parameters.npz``) at 1x, 2x, 4x, 8x,

and reports per seed the time-mean RMS error (`analysis.time_mean_rms`) against the
truth on the grid each runs on, the wall time of each run after JIT warm-up (the second
of two identical `Simulation.run` calls), the equivalent-resolution factor (the
refinement r at which no closure matches the closure's error at 1x, by linear
interpolation of log error against log r; "> 16" when even 16x does not), the speedup
at equal error (the no-closure wall time at r, interpolated the same way, over the
closure's), and the ratio closure / no closure at 1x, 2x, 4x, 8x. A run that blows up
or is refused is reported as such, never dropped. Writes a PNG of error against wall
time to the path given (default benchmarks/accuracy_per_cost.png).

    taskset -c 0 python benchmarks/accuracy_per_cost.py [PNG] [--case DIR] [--seeds 20] [--first-seed 200]

Uses only the public API: `oceanclosure.load_case`, `Case.with_overrides`,
`oceanclosure.resolve`, `Simulation.run`, `oceanclosure.analysis`.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import xarray as xr

import oceanclosure as oc
from oceanclosure import analysis
from oceanclosure.closures import NoClosure

REFINE = (1, 2, 4, 8, 16)
CLOSURE_REFINE = (1, 2, 4, 8)


_SIMULATIONS: dict = {}


def _run(case, closure=None):
    """(u as a DataArray (time, x), wall seconds of the warm run) or (None, the error's text).

    One `Simulation` per (nx, closure or not) is reused across seeds (only the initial
    fields differ), so each is compiled once.
    """
    try:
        setup = oc.resolve(case, closure)
        key = (case.grid.nx, closure is None)
        sim = _SIMULATIONS.setdefault(key, setup.simulation)
        u0 = setup.fields0
        stop, interval = case.time.stop, case.time.output_interval
        sim.run(u0, stop, interval)  # JIT warm-up
        start = time.perf_counter()
        trajectory = sim.run(u0, stop, interval)
        wall = time.perf_counter() - start
    except Exception as err:  # a blow-up or a refusal is a result, reported
        return None, f"{type(err).__name__}: {str(err)[:160]}"
    x = setup.grid.centers()
    u = xr.DataArray(np.asarray(trajectory.fields["u"], float), dims=("time", "x"),
                     coords={"time": trajectory.times, "x": x})
    return u, wall


def _crossing(r, log_err, target):
    """log r at which the piecewise-linear log error falls to ``target`` (None beyond the range)."""
    for k in range(len(r) - 1):
        a, b = log_err[k], log_err[k + 1]
        if (a - target) * (b - target) <= 0 and a != b:
            return r[k] + (target - a) / (b - a) * (r[k + 1] - r[k])
    return None


def measure_seed(case, seed: int, truth_refine: int) -> dict:
    nx = case.grid.nx
    seeded = case.with_overrides([f"initial_condition.family.seed={seed}"])
    fine, _ = _run(seeded.with_overrides([f"grid.nx={nx * truth_refine}"]), NoClosure())
    out = {"seed": seed, "base": {}, "closure": {}}
    for f in REFINE:
        out["base"][f] = _error(seeded, nx * f, fine, truth_refine // f, NoClosure())
    for f in CLOSURE_REFINE:
        out["closure"][f] = _error(seeded, nx * f, fine, truth_refine // f, None)
    return out


def _error(case, nx, fine, factor, closure):
    u, wall = _run(case.with_overrides([f"grid.nx={nx}"]), closure)
    if u is None:
        return {"error": math.nan, "wall": math.nan, "failed": wall}
    truth = analysis.coarse_grain(fine, factor)
    err = analysis.time_mean_rms(u, truth.assign_coords(x=u.x))
    return {"error": float(err), "wall": wall, "failed": None if np.isfinite(err) else "not finite"}


def summarise(result: dict) -> dict:
    base, closure = result["base"], result["closure"]
    r = np.log(np.array(REFINE, float))
    log_err = np.log([base[f]["error"] for f in REFINE])
    log_wall = np.log([base[f]["wall"] for f in REFINE])
    target = math.log(closure[1]["error"]) if closure[1]["failed"] is None else math.nan
    cross = _crossing(r, log_err, target) if math.isfinite(target) else None
    if cross is None:
        factor = math.inf if math.isfinite(target) and target < log_err[-1] else (1.0 if math.isfinite(target) else math.nan)
        speedup = math.nan
    else:
        factor = math.exp(cross)
        speedup = math.exp(np.interp(cross, r, log_wall)) / closure[1]["wall"]
    ratios = {f: closure[f]["error"] / base[f]["error"] for f in CLOSURE_REFINE}
    return {"factor": factor, "speedup": speedup, "ratios": ratios}


def _plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for kind, marker, f_list in (("base", "o", REFINE), ("closure", "s", CLOSURE_REFINE)):
        err = np.array([[res[kind][f]["error"] for f in f_list] for res in results])
        wall = np.array([[res[kind][f]["wall"] for f in f_list] for res in results])
        ax.loglog(np.nanmedian(wall, 0), np.exp(np.nanmean(np.log(err), 0)), marker + "-",
                  label="no closure" if kind == "base" else "closure")
        for f, w, e in zip(f_list, np.nanmedian(wall, 0), np.exp(np.nanmean(np.log(err), 0))):
            ax.annotate(f"{f}x", (w, e), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("wall time per run after JIT warm-up [s] (median over seeds)")
    ax.set_ylabel("time-mean RMS error (geometric mean over seeds)")
    ax.set_title(f"accuracy per cost, {len(results)} unseen seeds")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("png", nargs="?", default="benchmarks/accuracy_per_cost.png")
    parser.add_argument("--case", default="cases/burgers_random_waves")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=200)
    parser.add_argument("--truth-refine", type=int, default=64)
    args = parser.parse_args(argv)
    case = oc.load_case(args.case)
    results = []
    print(f"case {args.case}, nx = {case.grid.nx}, truth {args.truth_refine}x finer; errors are time-mean RMS")
    print("seed " + " ".join(f"{f:>2}x-none" for f in REFINE) + "  closure  eq.res speedup " +
          " ".join(f"ratio{f}x" for f in CLOSURE_REFINE))
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        res = measure_seed(case, seed, args.truth_refine)
        res.update(summarise(res))
        results.append(res)
        fails = [f"{k} {f}x: {v['failed']}" for k in ("base", "closure") for f, v in res[k].items() if v["failed"]]
        print(f"{seed:4d} " + " ".join(f"{res['base'][f]['error']:9.3g}" for f in REFINE)
              + f" {res['closure'][1]['error']:8.3g} {res['factor']:6.2f} {res['speedup']:7.2f} "
              + " ".join(f"{res['ratios'][f]:7.3f}" for f in CLOSURE_REFINE) + ("  " + "; ".join(fails) if fails else ""),
              flush=True)
    _report(results)
    _plot(results, args.png)
    print(f"wrote {args.png}")


def _report(results):
    factors = np.array([r["factor"] for r in results])
    speedups = np.array([r["speedup"] for r in results])
    print("\nequivalent-resolution factor: median {:.2f}, min {:.2f}, max {:.2f}, geometric mean {:.2f}".format(
        np.nanmedian(factors), np.nanmin(factors), np.nanmax(factors), math.exp(np.nanmean(np.log(factors)))))
    print("speedup at equal error: median {:.2f}, min {:.2f}, max {:.2f}".format(
        np.nanmedian(speedups), np.nanmin(speedups), np.nanmax(speedups)))
    for f in CLOSURE_REFINE:
        ratios = np.array([r["ratios"][f] for r in results])
        print(f"closure / no closure at {f}x: median {np.nanmedian(ratios):.3f}, max {np.nanmax(ratios):.3f}, "
              f"min {np.nanmin(ratios):.3f}, above 1.05: {int(np.sum(ratios > 1.05))}, failed runs: "
              f"{sum(1 for r in results if r['closure'][f]['failed'])}")
    walls = {k: np.nanmedian([[r[k][f]["wall"] for f in (1,)] for r in results]) for k in ("base", "closure")}
    print(f"median wall at 1x: no closure {walls['base']:.3f} s, closure {walls['closure']:.3f} s")


if __name__ == "__main__":
    main()
