"""Closure overhead: the cost of a time step with each closure kind vs the bare step.

Periodic 1D viscous Burgers (MUSCL van Leer + Godunov, central diffusion,
SSP-RK3, float32, the problem of `solver_throughput.py`), timed through
`Simulation.advance` (one jitted `lax.scan`) with

  bare     -- no closure;
  library  -- a 4-term `LibraryClosure`:
              dx·u_x², dx³·u_xx², dx²·u_x·u_xx, dx·u·u_xx (nonzero coefficients);
  delay    -- the paper's distributed-delay net: `DistributedDelayClosure` over
              `NeuralClosure([u, u_x, u_xx, nu, dx], hidden=(10, 7, 5, 5, 3), swish,
              output_scale=|u|)`, τ₁ = 0.075, τ₂ = 0, buffer_dt = τ₁/37 (a 40-level
              buffer of D values; D is evaluated once per step, each stage reads
              the buffer);
  mlp      -- a 3×32 swish MLP, `NeuralClosure([u, u_x, u_xx], hidden=(32, 32, 32))`,
              evaluated at every Runge-Kutta stage.

Every closure's µs/step is printed as well as its ratio to the bare step (XLA
fusion can make ratios misleading on their own). For the MLP the script also
prints the FLOPs per cell (2·Σ fan_in·fan_out multiply-adds of the dense layers
per evaluation × evaluations per step = stages) and the FLOP rate it reaches:

  in the solver  -- MLP FLOPs per step / (mlp step time − bare step time), i.e. the
                    time the closure adds (features, network, sum) charged to the
                    network's FLOPs;
  standalone     -- the same network, jitted alone on the same cells' features, the
                    same number of evaluations (stages × steps) in one `fori_loop`
                    (each evaluation's input depends on the previous output, so
                    nothing is hoisted or reused), in two layouts: a (nx, 3) array
                    through `NeuralClosure.network`, and the (3, nx) array through
                    `NeuralClosure.network_columns` that the closure itself uses.
                    The goal compares with the faster of the two.

Goals (issue 3) at nx = 4096: library ≤ 1.5×, delay ≤ 6×, MLP in-solver rate
≥ 0.5 × standalone. The script reports them; it exits with status 1 only if a
run is not finite.

Timing as in `solver_throughput.py`: compile excluded (each function is run once
on the exact arguments first), `block_until_ready`, the variants timed
round-robin, the best of --repeats kept.

Usage:
  python benchmarks/closure_overhead.py                      # nx = 64, 256, 4096
  python benchmarks/closure_overhead.py --nx 4096 --steps 1000 --repeats 7
  python benchmarks/closure_overhead.py --json overhead.json
  taskset -c 1 python benchmarks/closure_overhead.py         # one core: steadier numbers
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

# run from a checkout without installing: make the repository root importable
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.solver_throughput import auto_steps, environment, interleaved_best, markdown_table  # noqa: E402
from oceanclosure.boundaries import BoundaryConditions  # noqa: E402
from oceanclosure.closures.delay import DistributedDelayClosure  # noqa: E402
from oceanclosure.closures.library import LibraryClosure  # noqa: E402
from oceanclosure.closures.neural import NeuralClosure  # noqa: E402
from oceanclosure.grid import Grid  # noqa: E402
from oceanclosure.models.burgers import Burgers  # noqa: E402
from oceanclosure.simulation import Simulation  # noqa: E402

DEFAULT_NX = (64, 256, 4096)
DTYPE = np.float32
LIBRARY_TERMS = ("dx*u_x**2", "dx**3*u_xx**2", "dx**2*u_x*u_xx", "dx*u*u_xx")
LIBRARY_COEFFICIENTS = (0.05, 0.02, -0.03, 0.04)
TAU1 = 0.075
BUFFER_LEVELS = 40
MLP_HIDDEN = (32, 32, 32)
GOALS = {"library": 1.5, "delay": 6.0}
GOAL_NX = 4096
GOAL_RATE_FRACTION = 0.5


def make_closures() -> dict:
    """The three closures of the benchmark (float32 weights under the default config)."""
    library = LibraryClosure(list(LIBRARY_TERMS), list(LIBRARY_COEFFICIENTS), trainable=False)
    net = NeuralClosure(["u", "u_x", "u_xx", "nu", "dx"], hidden=(10, 7, 5, 5, 3), activation="swish",
                        output_scale="abs_u", parameters=["nu"], seed=1)
    # buffer_dt = τ₁/37 gives L = ⌈37⌉ + 3 = 40 levels (nudged up so rounding cannot make it 38)
    delay = DistributedDelayClosure(net, tau1=TAU1, buffer_dt=TAU1 / (BUFFER_LEVELS - 3) * (1 + 1e-9))
    if delay.length != BUFFER_LEVELS:
        raise AssertionError(f"the delay buffer has {delay.length} levels, expected {BUFFER_LEVELS}")
    mlp = NeuralClosure(["u", "u_x", "u_xx"], hidden=MLP_HIDDEN, activation="swish", seed=2)
    _scale_last_layer(mlp, 0.05)  # a modest correction, so that the run stays close to Burgers
    return {"library": library, "delay": delay, "mlp": mlp}


def _scale_last_layer(closure: NeuralClosure, factor: float) -> None:
    last = closure.layers[-1]
    last.kernel[...] = last.kernel[...] * factor
    last.bias[...] = last.bias[...] * factor


def dense_flops(closure: NeuralClosure) -> int:
    """FLOPs of one evaluation of the network at one cell: 2·Σ fan_in·fan_out."""
    sizes = (closure.n_inputs,) + closure.hidden + (len(closure.variables),)
    return 2 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def standalone_runner(closure: NeuralClosure, layout: str):
    """``run(q, n)``: n chained evaluations of the network alone on the feature array q.

    layout ``"cells"``: q is (nx, n_inputs) and `NeuralClosure.network` is used;
    ``"columns"``: q is (n_inputs, nx) and `NeuralClosure.network_columns` (the
    layout the closure evaluates in) is used.
    """

    @jax.jit
    def run(q, n_evaluations):
        def body(_, y):
            # the input depends on the previous output (one add per input and cell), so
            # XLA can neither hoist the network out of the loop nor reuse an evaluation
            if layout == "cells":
                return closure.network(q + 1e-7 * y[:, None])[:, 0]
            return closure.network_columns(q + 1e-7 * y[None, :])[0]

        return jax.lax.fori_loop(0, n_evaluations, body, jnp.zeros(q.shape[0 if layout == "cells" else 1], q.dtype))

    return run


def bench_one(nx: int, args, closures: dict) -> dict:
    grid = Grid.uniform(nx, [0.0, 2 * math.pi])
    model = Burgers(grid, BoundaryConditions.periodic(1), "muscl_vanleer", nu=args.nu)
    x = grid.centers()
    u0_host = (np.sin(x) + 0.5 * np.sin(2 * x + 0.3)).astype(DTYPE)
    dt = args.cfl * Simulation(model, stepper="ssprk3").stable_dt(u0_host)
    steps = args.steps or auto_steps(nx, args.budget, 20, args.max_steps)
    t_end = steps * dt
    row = {"nx": nx, "steps": steps, "dt": dt}

    sims = {"bare": Simulation(model, stepper="ssprk3", dt=dt)}
    sims.update({name: Simulation(model, closure, stepper="ssprk3", dt=dt) for name, closure in closures.items()})
    stages = sims["bare"].tableau.stages
    results, fns = {}, {}
    for name, sim in sims.items():
        state0 = sim.initial_state(jnp.asarray(u0_host))

        def run(name=name, sim=sim, state0=state0):
            results[name] = jax.block_until_ready(sim.advance(state0, t_end, steps).fields["u"])

        fns[name] = run

    mlp = closures["mlp"]
    features = mlp.input_stack({"u": jnp.asarray(u0_host)}, grid, model.physics)  # (nx, 3)
    evaluations = stages * steps
    for layout, q in (("cells", features), ("columns", features.T)):
        standalone = standalone_runner(mlp, layout)

        def alone(standalone=standalone, q=q, layout=layout):
            results[f"standalone_{layout}"] = jax.block_until_ready(standalone(q, evaluations))

        fns[f"standalone_{layout}"] = alone
    for fn in fns.values():  # warm-up: compiles
        fn()
    best = interleaved_best(fns, {name: args.repeats for name in fns})

    bare = best["bare"] / steps
    row["bare_us_per_step"] = 1e6 * bare
    for name in closures:
        per_step = best[name] / steps
        row[f"{name}_us_per_step"] = 1e6 * per_step
        row[f"{name}_ratio"] = per_step / bare
        row[f"{name}_finite"] = bool(np.all(np.isfinite(np.asarray(results[name]))))
        row[f"{name}_maxdiff_vs_bare"] = float(np.max(np.abs(np.asarray(results[name]) - np.asarray(results["bare"]))))
    flops_cell = dense_flops(mlp) * stages
    row["mlp_flops_per_cell_step"] = flops_cell
    extra = best["mlp"] / steps - bare
    row["mlp_added_us_per_step"] = 1e6 * extra
    row["mlp_gflops_in_solver"] = flops_cell * nx / extra / 1e9 if extra > 0 else math.inf
    row["mlp_gflops_whole_step"] = flops_cell * nx / (best["mlp"] / steps) / 1e9
    for layout in ("cells", "columns"):
        row[f"mlp_gflops_standalone_{layout}"] = dense_flops(mlp) * nx * evaluations / best[f"standalone_{layout}"] / 1e9
    row["mlp_gflops_standalone"] = max(row["mlp_gflops_standalone_cells"], row["mlp_gflops_standalone_columns"])
    row["mlp_standalone_us_per_step"] = 1e6 * min(best["standalone_cells"], best["standalone_columns"]) / steps
    row["mlp_rate_fraction"] = row["mlp_gflops_in_solver"] / row["mlp_gflops_standalone"]
    return row


TABLE = [
    ("nx", "nx", "d"),
    ("steps", "steps", "d"),
    ("bare µs/step", "bare_us_per_step", ".1f"),
    ("library µs/step", "library_us_per_step", ".1f"),
    ("library ×", "library_ratio", ".2f"),
    ("delay µs/step", "delay_us_per_step", ".1f"),
    ("delay ×", "delay_ratio", ".2f"),
    ("mlp µs/step", "mlp_us_per_step", ".1f"),
    ("mlp ×", "mlp_ratio", ".2f"),
]
MLP_TABLE = [
    ("nx", "nx", "d"),
    ("FLOPs/cell/step", "mlp_flops_per_cell_step", "d"),
    ("added µs/step", "mlp_added_us_per_step", ".1f"),
    ("alone µs/step", "mlp_standalone_us_per_step", ".1f"),
    ("GFLOP/s in solver", "mlp_gflops_in_solver", ".2f"),
    ("GFLOP/s whole step", "mlp_gflops_whole_step", ".2f"),
    ("GFLOP/s alone (nx, 3)", "mlp_gflops_standalone_cells", ".2f"),
    ("GFLOP/s alone (3, nx)", "mlp_gflops_standalone_columns", ".2f"),
    ("solver/standalone", "mlp_rate_fraction", ".2f"),
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nx", type=int, nargs="+", default=list(DEFAULT_NX), help="grid sizes (default 64 256 4096)")
    parser.add_argument("--steps", type=int, default=0, help="RK steps per timed run, every nx (default: about --budget cell updates)")
    parser.add_argument("--budget", type=float, default=2.0**22, help="cell updates per timed run when --steps is not given")
    parser.add_argument("--max-steps", type=int, default=2000, help="cap on the automatic step count")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per variant, best kept")
    parser.add_argument("--nu", type=float, default=0.02, help="viscosity ν (default 0.02)")
    parser.add_argument("--cfl", type=float, default=0.5, help="fraction of the bare model's stable dt (default 0.5)")
    parser.add_argument("--json", metavar="FILE", help="also write the numbers to FILE")
    args = parser.parse_args(argv)

    env = environment()
    closures = make_closures()
    mlp = closures["mlp"]
    print(
        f"periodic viscous Burgers 1D: muscl_vanleer + Godunov, central diffusion, ssprk3, float32, nu={args.nu}, "
        f"dt={args.cfl} x stable dt\n"
        f"library: {len(LIBRARY_TERMS)} terms {list(LIBRARY_TERMS)}; delay: distributed, tau1={TAU1}, "
        f"{closures['delay'].length}-level buffer of D values, D = [u,u_x,u_xx,nu,dx] 10-7-5-5-3 swish x |u| "
        f"(D once per step); mlp: [u,u_x,u_xx] {'-'.join(map(str, MLP_HIDDEN))} swish, "
        f"{dense_flops(mlp)} FLOPs/cell/evaluation\n"
        f"jax {env['jax_version']}, device {env['device']} ({env['platform']}), x64={env['x64']}, "
        f"usable CPUs {env['cpus_usable']}" + (f", XLA_FLAGS={env['xla_flags']!r}" if env["xla_flags"] else ""),
        flush=True,
    )
    rows = []
    for nx in args.nx:
        t0 = time.perf_counter()
        row = bench_one(nx, args, closures)
        rows.append(row)
        print(f"  nx={nx}: bare {row['bare_us_per_step']:.1f} µs/step, library {row['library_ratio']:.2f}x, "
              f"delay {row['delay_ratio']:.2f}x, mlp {row['mlp_ratio']:.2f}x  [{time.perf_counter() - t0:.1f} s]",
              flush=True)
    print()
    print(markdown_table(rows, TABLE))
    print()
    print(markdown_table(rows, MLP_TABLE))
    print()
    print("×: closure step time / bare step time; best of --repeats, compile excluded. GFLOP/s in solver: the MLP's "
          "dense FLOPs per step / (mlp − bare) step time; alone: the network by itself on the same cells' features, "
          "the same number of evaluations; solver/standalone: in solver / the faster alone")

    failures = [f"nx={r['nx']}: {name} run is not finite" for r in rows for name in ("library", "delay", "mlp")
                if not r[f"{name}_finite"]]
    goals = []
    for r in rows:
        if r["nx"] != GOAL_NX:
            continue
        for name, limit in GOALS.items():
            goals.append((f"{name} <= {limit}x at nx={GOAL_NX}", r[f"{name}_ratio"] <= limit, f"{r[f'{name}_ratio']:.2f}x"))
        goals.append((f"mlp in-solver rate >= {GOAL_RATE_FRACTION} x standalone at nx={GOAL_NX}",
                      r["mlp_rate_fraction"] >= GOAL_RATE_FRACTION, f"{r['mlp_rate_fraction']:.2f}"))
    for what, met, value in goals:
        print(f"goal {what}: {'met' if met else 'MISSED'} ({value})")

    if args.json:
        goal_records = [{"goal": g, "met": m, "value": v} for g, m, v in goals]
        with open(args.json, "w") as f:
            json.dump({**env, "args": vars(args), "rows": rows, "goals": goal_records, "failures": failures}, f, indent=2)
        print(f"wrote {args.json}")
    if failures:
        print("FAILURE:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
