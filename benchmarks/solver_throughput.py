"""Solver throughput: periodic 1D viscous Burgers, MUSCL van Leer + Godunov, SSP-RK3.

    u_t + (u²/2)_x = ν u_xx   on [0, 2π), periodic, float32

"Ours" is `oceanclosure.simulation.Simulation(Burgers(...), stepper="ssprk3")`
timed through `Simulation.advance` (one jitted `lax.scan`). It is compared, in
the same process, on the same problem (nx, dt, number of steps, initial
condition), with

  (a) jax     -- a plain hand-written JAX version of exactly the same scheme
                 (one van Leer slope per cell, `jnp.roll`, SSP-RK3 in ours' Butcher form)
                 in one jitted `lax.fori_loop`;
  (b) jax-cfd -- jax-cfd's own periodic `advect_van_leer` + `diffuse` (through
                 `oceanclosure.cfd.periodic_advection_diffusion_tendency`) with
                 the face velocity ½·(u_i + u_{i+1})/2, so that the face flux
                 v·u ≈ u²/2 as in Burgers; SSP-RK3 in a jitted `lax.fori_loop`.
                 A different (Lax-Wendroff/flux-limited) scheme: a throughput
                 reference only, not a correctness reference;
  (c) numpy   -- the scheme of (a) in vectorised NumPy (`np.roll`), float32,
                 with fewer steps at large nx (numbers are per step).

Ratios are throughputs, ours / baseline (= baseline time / our time): > 1 means
ours is faster. Compile time is excluded (each function is warmed up once on
the exact arguments that are timed); every number is the best of --repeats.

Correctness: after the timed steps ours and (a) must agree to float32 round-off
(max |Δu| <= --tol, default 1e-4), and (c) must agree with (a) run for the same
number of steps; otherwise the script exits with status 1.

Usage:
  python benchmarks/solver_throughput.py                     # CPU default (< 2 min on 2 cores)
  python benchmarks/solver_throughput.py --nx 1024 16384 --steps 500 --repeats 7
  python benchmarks/solver_throughput.py --device-size       # nx up to 2^20 (GPU)
  python benchmarks/solver_throughput.py --json results.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

# run from a checkout without installing: make the repository root importable
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from oceanclosure import cfd  # noqa: E402
from oceanclosure.boundaries import BoundaryConditions  # noqa: E402
from oceanclosure.grid import Grid  # noqa: E402
from oceanclosure.models.burgers import Burgers  # noqa: E402
from oceanclosure.simulation import Simulation  # noqa: E402

DEFAULT_NX = (256, 1024, 4096, 16384, 65536)
DEVICE_NX = (256, 1024, 4096, 16384, 65536, 262144, 1048576)
DTYPE = np.float32


# --- (a) hand-written JAX ------------------------------------------------------


def _van_leer_jnp(a, b):
    """The same guarded van Leer formula as `oceanclosure.fluxes.van_leer`."""
    denominator = jnp.abs(a) + jnp.abs(b)
    nonzero = denominator > 0
    safe = jnp.where(nonzero, denominator, 1.0)
    return jnp.where(nonzero, (a * jnp.abs(b) + jnp.abs(a) * b) / safe, 0.0)


def _tendency_jnp(u, nu, dx):
    """-(F_{i+1/2} - F_{i-1/2}) / dx with MUSCL van Leer + Godunov + central diffusion."""
    u_right = jnp.roll(u, -1)  # u_{i+1}
    d_plus = u_right - u  # u_{i+1} - u_i
    d_minus = jnp.roll(d_plus, 1)  # u_i - u_{i-1}
    slope = _van_leer_jnp(d_minus, d_plus)
    face_left = u + 0.5 * slope  # left state at face i+1/2
    face_right = jnp.roll(u - 0.5 * slope, -1)  # right state at face i+1/2
    flux = 0.5 * jnp.maximum(jnp.maximum(face_left, 0) ** 2, jnp.minimum(face_right, 0) ** 2)
    flux = flux - nu * d_plus / dx
    return -(flux - jnp.roll(flux, 1)) / dx


@partial(jax.jit, static_argnames="dx")
def run_handwritten_jax(u, dt, nu, n_steps, dx):
    """n_steps SSP-RK3 steps in one fori_loop (n_steps is traced: no recompiles).

    SSP-RK3 in the Butcher form of `timestepping.STEPPERS["ssprk3"]` (the same
    arithmetic as ours, so the two agree to a few float32 ulps; the Shu-Osher
    form is the same method but drifts ~1e-4 apart near the shock in 2000 steps).
    """

    def body(_, u):
        k0 = _tendency_jnp(u, nu, dx)
        k1 = _tendency_jnp(u + dt * k0, nu, dx)
        k2 = _tendency_jnp(u + dt * (0.25 * k0 + 0.25 * k1), nu, dx)
        return u + dt * (k0 / 6 + k1 / 6 + (2 / 3) * k2)

    return jax.lax.fori_loop(0, n_steps, body, u)


# --- (b) jax-cfd ----------------------------------------------------------------


def make_jax_cfd_runner(grid: Grid, dt: float):
    """jax-cfd van Leer advection + diffusion, SSP-RK3 (dt is static: jax-cfd's limiter uses it)."""

    def tendency(u, nu):
        # face velocity at the upper face of cell i: half the mean of u_i and u_{i+1},
        # so the advective flux v·u ≈ u²/2 (Burgers); ½ keeps the same wave speed/CFL.
        velocity = 0.25 * (u + jnp.roll(u, -1))
        return cfd.periodic_advection_diffusion_tendency(u, (velocity,), nu, grid, dt)

    @jax.jit
    def run(u, nu, n_steps):
        def body(_, u):
            k0 = tendency(u, nu)
            k1 = tendency(u + dt * k0, nu)
            k2 = tendency(u + dt * (0.25 * k0 + 0.25 * k1), nu)
            return u + dt * (k0 / 6 + k1 / 6 + (2 / 3) * k2)

        return jax.lax.fori_loop(0, n_steps, body, u)

    return run


# --- (c) NumPy ------------------------------------------------------------------


def _tendency_np(u, nu, dx):
    u_right = np.roll(u, -1)
    d_plus = u_right - u
    d_minus = np.roll(d_plus, 1)
    denominator = np.abs(d_minus) + np.abs(d_plus)
    nonzero = denominator > 0
    safe = np.where(nonzero, denominator, DTYPE(1))
    slope = np.where(nonzero, (d_minus * np.abs(d_plus) + np.abs(d_minus) * d_plus) / safe, DTYPE(0))
    face_left = u + DTYPE(0.5) * slope
    face_right = np.roll(u - DTYPE(0.5) * slope, -1)
    flux = DTYPE(0.5) * np.maximum(np.maximum(face_left, DTYPE(0)) ** 2, np.minimum(face_right, DTYPE(0)) ** 2)
    flux = flux - nu * d_plus / dx
    return -(flux - np.roll(flux, 1)) / dx


def run_numpy(u, dt, nu, n_steps, dx):
    """The scheme of (a), SSP-RK3 in the same Butcher form, float32 throughout."""
    u = np.array(u, dtype=DTYPE)
    dt, nu, dx = DTYPE(dt), DTYPE(nu), DTYPE(dx)
    sixth, two_thirds, quarter = DTYPE(1 / 6), DTYPE(2 / 3), DTYPE(0.25)
    for _ in range(n_steps):
        k0 = _tendency_np(u, nu, dx)
        k1 = _tendency_np(u + dt * k0, nu, dx)
        k2 = _tendency_np(u + dt * (quarter * k0 + quarter * k1), nu, dx)
        u = u + dt * (sixth * k0 + sixth * k1 + two_thirds * k2)
    return u


# --- timing ---------------------------------------------------------------------


def interleaved_best(fns: dict, repeats: dict) -> dict:
    """Best wall time of each blocking callable, timing them round-robin.

    Round-robin (ours, a, b, c, ours, a, ...) rather than one after the other, so a
    burst of load from another process on a small shared machine hits every
    implementation alike instead of skewing one ratio.
    """
    best = {name: math.inf for name in fns}
    for r in range(max(repeats.values())):
        for name, fn in fns.items():
            if r < repeats[name]:
                start = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - start)
    return best


def auto_steps(nx: int, budget: float, lo: int, hi: int) -> int:
    """Steps so that one timed run does about `budget` cell updates."""
    return int(min(hi, max(lo, round(budget / nx))))


def bench_one(nx: int, args) -> dict:
    grid = Grid.uniform(nx, [0.0, 2 * math.pi])
    model = Burgers(grid, BoundaryConditions.periodic(1), "muscl_vanleer", nu=args.nu)
    x = grid.centers()
    u0_host = (np.sin(x) + 0.5 * np.sin(2 * x + 0.3)).astype(DTYPE)

    dt = args.cfl * Simulation(model, stepper="ssprk3").stable_dt(u0_host)
    sim = Simulation(model, stepper="ssprk3", dt=dt)
    dt = sim.choose_dt(u0_host)  # checks stability
    steps = args.steps or auto_steps(nx, args.budget, 20, args.max_steps)
    t_end = steps * dt
    # the dt ours actually uses (float32 arithmetic inside `advance`), shared by every baseline
    dt_eff = float(np.float32(t_end) / np.float32(steps))

    state0 = sim.initial_state(jnp.asarray(u0_host))
    u0 = state0.fields["u"]
    nu32, dt32 = jnp.float32(args.nu), jnp.float32(dt_eff)
    dx = grid.dx
    row = {"nx": nx, "steps": steps, "dt": dt_eff, "nu": args.nu}

    fns, repeats, results = {}, {}, {}

    def ours():
        results["ours"] = jax.block_until_ready(sim.advance(state0, t_end, steps).fields["u"])

    def hand():
        results["jax"] = jax.block_until_ready(run_handwritten_jax(u0, dt32, nu32, steps, dx))

    fns["ours"], fns["jax"] = ours, hand
    if not args.skip_cfd:
        cfd_run = make_jax_cfd_runner(grid, dt_eff)

        def jaxcfd():
            results["jaxcfd"] = jax.block_until_ready(cfd_run(u0, nu32, steps))

        fns["jaxcfd"] = jaxcfd
    if not args.skip_numpy:
        np_steps = min(steps, auto_steps(nx, args.numpy_budget, 3, 200))
        u0_np = np.asarray(u0_host)

        def numpy_run():
            results["numpy"] = run_numpy(u0_np, dt_eff, args.nu, np_steps, dx)

        fns["numpy"] = numpy_run
        row["numpy_steps"] = np_steps

    for name, fn in fns.items():  # warm-up: compiles, and fills `results`
        fn()
        repeats[name] = args.repeats if name != "numpy" else max(1, min(args.repeats, 3))
    best = interleaved_best(fns, repeats)

    row["ours_us_per_step"] = 1e6 * best["ours"] / steps
    row["ours_mcells_per_s"] = nx * steps / best["ours"] / 1e6
    row["jax_us_per_step"] = 1e6 * best["jax"] / steps
    row["ratio_vs_jax"] = best["jax"] / best["ours"]
    u_ours, u_hand = np.asarray(results["ours"]), np.asarray(results["jax"])
    row["finite"] = bool(np.all(np.isfinite(u_ours)))
    row["maxdiff_ours_vs_jax"] = float(np.max(np.abs(u_ours - u_hand)))
    if "jaxcfd" in fns:
        row["jaxcfd_us_per_step"] = 1e6 * best["jaxcfd"] / steps
        row["ratio_vs_jaxcfd"] = best["jaxcfd"] / best["ours"]
        # a different scheme: only a sanity number, not checked
        row["maxdiff_jaxcfd_vs_jax"] = float(np.max(np.abs(np.asarray(results["jaxcfd"]) - u_hand)))
    if "numpy" in fns:
        np_steps = row["numpy_steps"]
        row["numpy_us_per_step"] = 1e6 * best["numpy"] / np_steps
        row["ratio_vs_numpy"] = row["numpy_us_per_step"] / row["ours_us_per_step"]
        u_ref = np.asarray(run_handwritten_jax(u0, dt32, nu32, np_steps, dx))
        row["maxdiff_numpy_vs_jax"] = float(np.max(np.abs(results["numpy"] - u_ref)))
    return row


# --- a 6-field column with reactions ------------------------------------------------

COLUMN_TRACERS = ("N", "P", "Z", "D", "DIC", "TA")
COLUMN_PARAMETERS = {"mu": 1.0, "kn": 0.5, "g": 0.8, "kp": 0.3, "a": 0.3, "m": 0.05, "mz": 0.02, "r": 0.1,
                     "c": 6.6}
COLUMN_REACTIONS = {
    "N": "-mu*N/(kn + N)*P + r*D",
    "P": "mu*N/(kn + N)*P - g*P**2/(kp + P**2)*Z - m*P",
    "Z": "a*g*P**2/(kp + P**2)*Z - mz*Z",
    "D": "(1 - a)*g*P**2/(kp + P**2)*Z + m*P + mz*Z - r*D",
    "DIC": "c*(-mu*N/(kn + N)*P + r*D)",
    "TA": "mu*N/(kn + N)*P - r*D",
}


def column_reactions(q, p):
    """The same reactions on a stacked (6, n) array, written by hand."""
    n, ph, z, d = q[0], q[1], q[2], q[3]
    uptake = p["mu"] * n / (p["kn"] + n) * ph
    grazing = p["g"] * ph**2 / (p["kp"] + ph**2) * z
    s_n = -uptake + p["r"] * d
    return jnp.stack([s_n, uptake - grazing - p["m"] * ph, p["a"] * grazing - p["mz"] * z,
                      (1 - p["a"]) * grazing + p["m"] * ph + p["mz"] * z - p["r"] * d, p["c"] * s_n,
                      uptake - p["r"] * d])


@partial(jax.jit, static_argnames=("steps",))
def run_handwritten_column(q0, dt, steps: int, h: float, kappa: float, w: float, p):
    """Upwind sinking of D (w < 0), central diffusion, no-flux walls, reactions; SSP-RK3."""
    sinking = jnp.asarray([0, 0, 0, 1, 0, 0], q0.dtype)[:, None] * w

    def tendency(q):
        inner = -kappa * (q[:, 1:] - q[:, :-1]) / h + sinking * q[:, 1:]  # w < 0: the upwind cell is above
        zero = jnp.zeros_like(q[:, :1])
        flux = jnp.concatenate([zero, inner, zero], axis=1)
        return -(flux[:, 1:] - flux[:, :-1]) / h + column_reactions(q, p)

    def step(_, q):
        k0 = tendency(q)
        k1 = tendency(q + dt * k0)
        k2 = tendency(q + dt * (0.25 * k0 + 0.25 * k1))
        return q + dt * (k0 / 6 + k1 / 6 + 2 * k2 / 3)

    return jax.lax.fori_loop(0, steps, step, q0)


def bench_column(args, nz: int = 20) -> dict:
    from oceanclosure.boundaries import Flux
    from oceanclosure.models import AdvectionDiffusionReaction, Variable
    from oceanclosure.models.reactions import ExpressionReactions

    grid = Grid.uniform(nz, [-100.0, 0.0], dims=("z",))
    bc = BoundaryConditions.from_sides(dims=("z",), bottom=Flux(), top=Flux())
    kappa, w = 1.0, -1.0
    reactions = ExpressionReactions(COLUMN_REACTIONS, COLUMN_TRACERS, ("z",), tuple(COLUMN_PARAMETERS))
    model = AdvectionDiffusionReaction(grid, bc, "upwind", variables=[Variable(n) for n in COLUMN_TRACERS],
                                       diffusivity=kappa, velocity={"D": (w,)}, reactions=reactions,
                                       parameters=COLUMN_PARAMETERS)
    (z,) = grid.mesh()
    fields = {n: (1.0 + 0.5 * k + 0.2 * np.cos(np.pi * z / 100)).astype(DTYPE) for k, n in enumerate(COLUMN_TRACERS)}
    sim = Simulation(model, stepper="ssprk3", cfl=0.5)
    steps = args.column_steps
    dt = sim.choose_dt(fields)
    t_end = steps * dt
    dt_eff = float(np.float32(t_end) / np.float32(steps))
    state0 = sim.initial_state({k: jnp.asarray(v) for k, v in fields.items()})
    q0 = jnp.stack([state0.fields[n] for n in COLUMN_TRACERS])
    p32 = {k: jnp.float32(v) for k, v in COLUMN_PARAMETERS.items()}
    results = {}

    def ours():
        results["ours"] = jax.block_until_ready(sim.advance(state0, t_end, steps).fields)

    def hand():
        results["jax"] = jax.block_until_ready(run_handwritten_column(q0, jnp.float32(dt_eff), steps, grid.step[0],
                                                                      kappa, w, p32))

    fns = {"ours": ours, "jax": hand}
    for fn in fns.values():
        fn()
    best = interleaved_best(fns, {name: args.repeats for name in fns})
    ours_q = np.stack([np.asarray(results["ours"][n]) for n in COLUMN_TRACERS])
    return {"nz": nz, "fields": len(COLUMN_TRACERS), "steps": steps, "dt": dt_eff,
            "ours_us_per_step": 1e6 * best["ours"] / steps, "jax_us_per_step": 1e6 * best["jax"] / steps,
            "ratio_vs_jax": best["jax"] / best["ours"], "finite": bool(np.all(np.isfinite(ours_q))),
            "maxdiff_ours_vs_jax": float(np.max(np.abs(ours_q - np.asarray(results["jax"]))))}


# --- report ---------------------------------------------------------------------

TABLE = [
    ("nx", "nx", "d"),
    ("steps", "steps", "d"),
    ("ours µs/step", "ours_us_per_step", ".1f"),
    ("ours Mcell-upd/s", "ours_mcells_per_s", ".1f"),
    ("ours/(a) jax", "ratio_vs_jax", ".2f"),
    ("ours/(b) jax-cfd", "ratio_vs_jaxcfd", ".2f"),
    ("ours/(c) numpy", "ratio_vs_numpy", ".2f"),
]
DETAIL = [
    ("nx", "nx", "d"),
    ("(a) jax µs/step", "jax_us_per_step", ".1f"),
    ("(b) jax-cfd µs/step", "jaxcfd_us_per_step", ".1f"),
    ("(c) numpy µs/step", "numpy_us_per_step", ".1f"),
    ("(c) steps", "numpy_steps", "d"),
    ("max|ours-(a)|", "maxdiff_ours_vs_jax", ".1e"),
    ("max|(c)-(a)|", "maxdiff_numpy_vs_jax", ".1e"),
]


def markdown_table(rows, cols) -> str:
    cells = [["—" if r.get(key) is None else format(r[key], spec) for _, key, spec in cols] for r in rows]
    widths = [max(len(name), *(len(c[i]) for c in cells)) for i, (name, _, _) in enumerate(cols)]
    lines = ["| " + " | ".join(name.rjust(w) for (name, _, _), w in zip(cols, widths)) + " |"]
    lines.append("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    lines += ["| " + " | ".join(v.rjust(w) for v, w in zip(c, widths)) + " |" for c in cells]
    return "\n".join(lines)


def environment() -> dict:
    device = jax.devices()[0]
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = list(range(os.cpu_count() or 1))
    return {
        "jax_version": jax.__version__,
        "jaxlib_version": getattr(jax.lib, "__version__", None),
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "device": str(device),
        "platform": device.platform,
        "device_kind": getattr(device, "device_kind", None),
        "x64": bool(jax.config.jax_enable_x64),
        "cpus_usable": cpus,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nx", type=int, nargs="+", default=None, help=f"grid sizes (default {' '.join(map(str, DEFAULT_NX))})")
    parser.add_argument(
        "--device-size",
        action="store_true",
        help=f"accelerator sizes: nx = {' '.join(map(str, DEVICE_NX))}, --budget 2^28, --max-steps 5000",
    )
    parser.add_argument("--steps", type=int, default=0, help="RK steps per timed run, every nx (default: about --budget cell updates)")
    parser.add_argument("--budget", type=float, default=None, help="cell updates per timed run when --steps is not given (default 2^23)")
    parser.add_argument("--max-steps", type=int, default=None, help="cap on the automatic step count (default 2000)")
    parser.add_argument("--numpy-budget", type=float, default=2**20, help="cell updates per NumPy run (3..200 steps, <= steps)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per implementation, best kept (NumPy: at most 3)")
    parser.add_argument("--nu", type=float, default=0.02, help="viscosity ν (default 0.02)")
    parser.add_argument("--cfl", type=float, default=0.5, help="fraction of the stable dt (default 0.5)")
    parser.add_argument("--tol", type=float, default=1e-4, help="largest max|ours - (a)| and max|(c) - (a)| accepted")
    parser.add_argument("--skip-cfd", action="store_true", help="skip baseline (b)")
    parser.add_argument("--skip-numpy", action="store_true", help="skip baseline (c)")
    parser.add_argument("--json", metavar="FILE", help="also write the numbers to FILE")
    parser.add_argument("--column-steps", type=int, default=20000,
                        help="RK steps of the 6-field reacting column (default 20000; 0 skips it)")
    args = parser.parse_args(argv)
    nxs = args.nx or (DEVICE_NX if args.device_size else DEFAULT_NX)
    if args.budget is None:
        args.budget = 2.0**28 if args.device_size else 2.0**23
    if args.max_steps is None:
        args.max_steps = 5000 if args.device_size else 2000

    env = environment()
    header = (
        f"periodic viscous Burgers 1D: muscl_vanleer + Godunov, central diffusion, ssprk3, float32, "
        f"nu={args.nu}, dt={args.cfl} x stable dt\n"
        f"jax {env['jax_version']}, numpy {env['numpy_version']}, python {env['python_version']}, "
        f"device {env['device']} ({env['platform']}: {env['device_kind']}), x64={env['x64']}, "
        f"usable CPUs {env['cpus_usable']}" + (f", XLA_FLAGS={env['xla_flags']!r}" if env["xla_flags"] else "")
    )
    print(header, flush=True)
    rows = []
    for nx in nxs:
        t0 = time.perf_counter()
        row = bench_one(nx, args)
        rows.append(row)
        print(
            f"  nx={nx}: ours {row['ours_us_per_step']:.1f} µs/step, (a) {row['jax_us_per_step']:.1f} µs/step"
            f"  [{time.perf_counter() - t0:.1f} s]",
            flush=True,
        )
    print()
    print(markdown_table(rows, TABLE))
    print()
    print(markdown_table(rows, DETAIL))
    print()
    print(
        "ratios: throughput ours / baseline = baseline time / our time (> 1: ours faster); "
        "Mcell-upd/s: 1e6 cells advanced by one full RK step per second; best of --repeats, compile excluded"
    )

    column = None
    if args.column_steps:
        column = bench_column(args)
        print()
        print(f"6-field column (N, P, Z, D, DIC, TA; nz = {column['nz']}; reactions, diffusion, sinking D, flux walls; "
              f"ssprk3, float32, {column['steps']} steps): ours {column['ours_us_per_step']:.1f} µs/step, "
              f"hand-written jax {column['jax_us_per_step']:.1f} µs/step, ours/(a) = {column['ratio_vs_jax']:.2f}, "
              f"max|ours-(a)| = {column['maxdiff_ours_vs_jax']:.1e}")

    failures = []
    if column is not None and not (column["finite"] and column["maxdiff_ours_vs_jax"] <= args.tol):
        failures.append(f"column: max|ours - (a)| = {column['maxdiff_ours_vs_jax']:.3e} > {args.tol:g} or not finite")
    for r in rows:
        if not r["finite"]:
            failures.append(f"nx={r['nx']}: ours is not finite")
        if not r["maxdiff_ours_vs_jax"] <= args.tol:
            failures.append(f"nx={r['nx']}: max|ours - (a)| = {r['maxdiff_ours_vs_jax']:.3e} > {args.tol:g}")
        if "maxdiff_numpy_vs_jax" in r and not r["maxdiff_numpy_vs_jax"] <= args.tol:
            failures.append(f"nx={r['nx']}: max|(c) - (a)| = {r['maxdiff_numpy_vs_jax']:.3e} > {args.tol:g}")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({**env, "args": vars(args), "rows": rows, "column": column, "failures": failures}, f, indent=2)
        print(f"wrote {args.json}")

    if failures:
        print("CORRECTNESS FAILURE:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print(f"correctness OK: max|ours - (a)| and max|(c) - (a)| <= {args.tol:g} at every nx")
    return 0


if __name__ == "__main__":
    sys.exit(main())
