"""Sparse discovery: scale-aware pruning, refits, and a model chosen by an information criterion.

After a-posteriori training (`trainer.Trainer`) has fitted every candidate term of a
closure's library parts, the path of sparser models is built through the solver:

1. **Scale.** Each term k of output o is measured by its contribution relative to
   that output's tendency over the training truth,

       r_ok = |c_ok| · RMS(T_k) / RMS(∂u_o/∂t),

   where RMS(T_k) is the term's RMS over the training snapshots and the tendency is
   the truth's own (consecutive snapshots differenced). One default threshold then
   serves ν = 0.01 and ν = 1, or a Z² in mmol m⁻³: r is dimensionless.
2. **Prune and refit.** Terms with r < ``relative_threshold`` are dropped and the
   survivors refitted from their values. Then, while terms remain, each of the
   ``max_candidates`` weakest is tried out: the model without it is refitted, and
   the removal that leaves the lowest training misfit is taken. Every model on the
   way is a point of the path.
3. **Refits** are Levenberg–Marquardt on the rollout misfits of the training
   windows (the residual vector of `rollout.window_misfits`, Jacobian by forward-mode
   AD through the solver, one column per library coefficient). The model is linear in
   its coefficients but the rollout is not, so LM iterates; it converges in a few
   iterations where a first-order optimizer would need thousands of steps to settle
   the nearly collinear directions (u u_x against u² u_x). Non-library parameters
   (a network, a delay kernel) are held at their trained values.
4. **Selection.** Each path point is scored on the selection windows
   (``selection_times``) by

       AIC = n_eff log(MSE) + 2 p,        BIC = n_eff log(MSE) + p log(n_eff),

   p the number of terms, MSE the mean squared misfit. Misfits of a rollout are not
   independent: model error is smooth in space and persists in time. n_eff is the
   number of effectively independent misfits, estimated once, from the full model's
   misfits, by the AR(1) rule n_eff = n Π_a (1 − ρ_a)/(1 + ρ_a) over the axes a
   (windows, times, cells), ρ_a the lag-one autocorrelation along a (Bretherton et
   al. 1999). White observation noise gives ρ ≈ 0 and n_eff ≈ n; smooth model error
   gives a small n_eff, so a term must explain much of it to be kept.

The path, the criterion and the chosen model are returned as plain data for
`training.api` to record and `discover` to print.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..closures.base import ClosureSum
from ..closures.library import LibraryClosure
from .rollout import Problem, batch_loss, window_misfits

#: Selection windows used per configuration (spread evenly over ``selection_times``).
SELECTION_WINDOWS = 32
#: Training windows used per configuration in a refit.
REFIT_WINDOWS = 64


# --- where the library coefficients are ------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Coefficients:
    """The library coefficients of a closure as one flat vector θ.

    Attributes:
      parts: ``[(path, LibraryClosure)]``: each library part and the path of its
        ``coefficients`` array in the parameter state.
      names: ``[(output, term)]`` per entry of θ.
    """

    parts: tuple
    names: tuple

    @classmethod
    def of(cls, closure) -> "Coefficients":
        parts = tuple(_library_parts(closure, ()))
        names = tuple((o, t) for _, lib in parts for o in lib.free_outputs for t in lib.terms)
        return cls(parts, names)

    @property
    def size(self) -> int:
        return len(self.names)

    def get(self, params) -> np.ndarray:
        """θ from a parameter state (one member)."""
        leaves = dict(_leaves(params))
        return np.concatenate([np.asarray(leaves[path], dtype=np.float64).ravel() for path, _ in self.parts])

    def put(self, params, theta):
        """The parameter state with its library coefficients replaced by θ (traceable)."""
        offsets, start = {}, 0
        for path, lib in self.parts:
            n = len(lib.free_outputs) * len(lib.terms)
            offsets[path] = (start, n)
            start += n

        def swap(keypath, value):
            key = _path(keypath)
            if key not in offsets:
                return value
            first, n = offsets[key]
            return jnp.reshape(theta[first:first + n], value.shape).astype(value.dtype)

        return jax.tree_util.tree_map_with_path(swap, params)


def _library_parts(closure, prefix: tuple):
    if isinstance(closure, LibraryClosure):
        if isinstance(closure.coefficients, nnx.Param):
            yield prefix + ("coefficients",), closure
    elif isinstance(closure, ClosureSum):
        for k, part in enumerate(closure.closures):
            yield from _library_parts(part, prefix + ("closures", str(k)))


def _path(keypath) -> tuple:
    names = tuple(str(getattr(k, "key", getattr(k, "name", k))) for k in keypath)
    return names[:-1] if names and names[-1] == "value" else names


def _leaves(params):
    return [(_path(k), v) for k, v in jax.tree_util.tree_flatten_with_path(params)[0]]


# --- scales ------------------------------------------------------------------------------


def term_scales(problems: Sequence[Problem], coefficients: Coefficients) -> tuple[np.ndarray, np.ndarray]:
    """(RMS of each θ entry's term, RMS of its output's tendency) over the training truth."""
    term_sq = np.zeros(coefficients.size)
    tendency_sq = np.zeros(coefficients.size)
    count = 0
    for problem in problems:
        index = np.unique(np.concatenate([problem.train_starts, problem.train_starts + 1]))
        index = index[index < len(problem.times)]
        term_sq += _term_mean_squares(problem, coefficients, index)
        tendency_sq += _tendency_mean_squares(problem, coefficients)
        count += 1
    return np.sqrt(term_sq / count), np.sqrt(tendency_sq / count)


def term_samples(problem: Problem, lib: LibraryClosure, index: np.ndarray) -> np.ndarray:
    """The library's terms on the truth snapshots ``index``: (snapshots, terms, cells)."""
    sim = problem.sim

    def values(*fields):
        return jnp.stack(lib.term_values(dict(zip(lib.variables, fields)), sim.grid, sim.model.physics))

    snapshots = [jnp.asarray(np.asarray(problem.truth[n])[index]) for n in lib.variables]
    stacked = jax.vmap(values)(*snapshots)
    return np.asarray(stacked, dtype=np.float64).reshape(stacked.shape[0], stacked.shape[1], -1)


def _term_mean_squares(problem: Problem, coefficients: Coefficients, index: np.ndarray) -> np.ndarray:
    out = []
    for _, lib in coefficients.parts:
        per_term = np.mean(term_samples(problem, lib, index) ** 2, axis=(0, 2))
        out.append(np.tile(per_term, len(lib.free_outputs)))
    return np.concatenate(out)


def _tendency_mean_squares(problem: Problem, coefficients: Coefficients) -> np.ndarray:
    times = np.asarray(problem.times, dtype=np.float64)
    starts = problem.train_starts
    step = times[starts + 1] - times[starts]
    out = []
    for output, _ in coefficients.names:
        values = np.asarray(problem.truth[output], dtype=np.float64)
        rate = (values[starts + 1] - values[starts]).reshape(len(starts), -1) / step[:, None]
        out.append(float(np.mean(rate**2)))
    return np.asarray(out)


def contributions(theta: np.ndarray, scales: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """r = |θ| RMS(T) / RMS(∂u/∂t) per θ entry (module docstring)."""
    terms, tendencies = scales
    return np.abs(theta) * terms / np.where(tendencies > 0, tendencies, 1.0)


# --- misfits and refits --------------------------------------------------------------------


def _spread(indices: np.ndarray, count: int) -> np.ndarray:
    if len(indices) <= count:
        return np.asarray(indices)
    return np.asarray(indices)[np.linspace(0, len(indices) - 1, count).round().astype(int)]


class Functions:
    """The jitted misfit vector, its Jacobian and the misfit fields, compiled once per closure.

    Everything that differs between ensemble members (the non-library parameters,
    the start indices, the bootstrap) is an argument, so members share one compilation.
    """

    def __init__(self, problems, graphdef, rest, coefficients: "Coefficients", window: int):
        self.problems, self.coefficients, self.window = list(problems), coefficients, window

        def closure(theta, params):
            return nnx.merge(graphdef, coefficients.put(params, theta), rest)

        def vector(theta, params, starts, bags):
            model = closure(theta, params)
            return jnp.concatenate([self._configuration(p, model, s, b) for p, s, b in
                                    zip(self.problems, starts, bags)])

        def fields(theta, params, starts):
            model, out = closure(theta, params), []
            for problem, first in zip(self.problems, starts):
                parts = jax.vmap(lambda s, p=problem: window_misfits(p, model, s, self.window))(first)
                out.extend(m * jnp.sqrt(w) for m, w in parts.values())
            return out

        self.vector = jax.jit(vector)
        self.jacobian = jax.jit(jax.jacfwd(vector))
        self.fields = jax.jit(fields)

    def _configuration(self, problem, closure, starts, bag):
        def one(start):
            parts = window_misfits(problem, closure, start, self.window, bag)
            return jnp.concatenate([(m * jnp.sqrt(w)).ravel() for m, w in parts.values()])

        return jax.vmap(one)(starts).ravel()


class Misfits:
    """The weighted rollout misfit vector of θ over fixed windows, and its Jacobian.

    Args:
      functions: the compiled misfit functions (`Functions`).
      params: one member's parameter state (its non-library parameters are kept).
      starts: one array of start indices per configuration.
    """

    def __init__(self, functions: Functions, params, starts):
        self.functions, self.params = functions, params
        self.problems, self.coefficients, self.window = functions.problems, functions.coefficients, functions.window
        self.starts = [jnp.asarray(s, dtype=jnp.int32) for s in starts]

    def vector(self, theta, bags):
        return self.functions.vector(theta, self.params, self.starts, bags)

    def jacobian(self, theta, bags):
        return self.functions.jacobian(theta, self.params, self.starts, bags)

    def mse(self, theta, bags=None) -> float:
        """Σ w misfit² / Σ w over the windows."""
        r = np.asarray(self.vector(jnp.asarray(theta), bags or self._no_bags()), dtype=np.float64)
        return float(r @ r) / self.weight_total(bags)

    def weight_total(self, bags=None) -> float:
        """Σ w over the windows' observed points (times the bootstrap multiplicities)."""
        total = 0.0
        for k, (problem, starts) in enumerate(zip(self.problems, self.starts)):
            n = problem.intervals(self.window)
            for name, weights in problem.weights.items():
                w = np.asarray(weights, dtype=np.float64)
                if bags and bags[k] is not None:
                    w = w * np.asarray(bags[k][name], dtype=np.float64)
                total += sum(float(np.sum(w[s + 1:s + 1 + n])) for s in np.asarray(starts))
        return max(total, 1e-300)

    def residual_fields(self, theta) -> list[np.ndarray]:
        """Each configuration's and field's weighted misfits, (windows, times, *cells)."""
        return [np.asarray(m, dtype=np.float64) for m in self.functions.fields(jnp.asarray(theta), self.params,
                                                                                self.starts)]

    def _no_bags(self):
        return [None] * len(self.problems)


def refit(misfits: Misfits, theta: np.ndarray, active: np.ndarray, iterations: int,
          bags=None) -> tuple[np.ndarray, float]:
    """Levenberg–Marquardt on the active entries of θ (the others held at 0): (θ, ‖r(θ)‖²).

    Minimises ‖r(θ)‖² with steps (JᵀJ + λ diag JᵀJ) δ = −Jᵀr over the active
    columns, λ shrunk after a success and grown after a failure; stops when
    the relative decrease falls below 1e-10 or λ runs away, or where the misfits
    or their Jacobian are not finite (θ is then the last finite point).
    """
    bags = bags or misfits._no_bags()
    theta = np.where(active, theta, 0.0)
    r = np.asarray(misfits.vector(jnp.asarray(theta), bags), dtype=np.float64)
    cost, lam = float(r @ r), 1e-3
    if not active.any():
        return theta, cost
    for _ in range(iterations):
        if not np.isfinite(cost):  # a rollout that blows up at θ: no direction to follow
            break
        jac = np.asarray(misfits.jacobian(jnp.asarray(theta), bags), dtype=np.float64)[:, active]
        if not np.all(np.isfinite(jac)):  # the linearisation blows up (a window near instability): stop here
            break
        normal, gradient = jac.T @ jac, jac.T @ r
        improved = False
        while lam < 1e10:
            damped = normal + lam * np.diag(np.diag(normal) + 1e-300)
            step = np.zeros_like(theta)
            step[active] = -np.linalg.lstsq(damped, gradient, rcond=None)[0]
            trial = theta + step
            r_trial = np.asarray(misfits.vector(jnp.asarray(trial), bags), dtype=np.float64)
            cost_trial = float(r_trial @ r_trial)
            if np.isfinite(cost_trial) and cost_trial < cost:
                converged = (cost - cost_trial) <= 1e-10 * cost
                theta, r, cost, lam, improved = trial, r_trial, cost_trial, max(lam / 3, 1e-12), True
                break
            lam *= 4
        if not improved or converged:
            break
    return theta, cost


# --- information criteria -----------------------------------------------------------------


def effective_size(fields: Sequence[np.ndarray]) -> float:
    """n_eff = Σ_fields n Π_a (1 − ρ_a)/(1 + ρ_a), ρ_a the lag-one autocorrelation along axis a.

    Each field is (windows, times, *cells) of misfits; ρ is clipped to [0, 1) and
    n_eff to [1, n].
    """
    total = 0.0
    for field in fields:
        n = field.size
        if n == 0:
            continue
        factor = 1.0
        for axis in range(field.ndim):
            if field.shape[axis] < 2:
                continue
            rho = _lag_one(field, axis)
            factor *= (1 - rho) / (1 + rho)
        total += min(max(n * factor, 1.0), float(n))
    return max(total, 1.0)


def _lag_one(field: np.ndarray, axis: int) -> float:
    a = np.moveaxis(field, axis, 0)
    num = float(np.sum(a[1:] * a[:-1]))
    den = float(np.sum(a * a))
    return min(max(num / den, 0.0), 0.999) if den > 0 else 0.0


#: The smallest MSE the criteria tell apart: misfits are relative to each field's RMS, and
#: below (float32 machine epsilon)² ≈ 1.4e-14 two fits differ by round-off, not by how well
#: they explain the data. Every model fitting that closely is exact, and the criterion then
#: prefers the fewest terms (a noise-free truth that a library term reproduces exactly).
MSE_FLOOR = float(np.finfo(np.float32).eps) ** 2


def criterion(kind: str, mse: float, n_eff: float, terms: int) -> float:
    """AIC = n_eff log MSE + 2p, BIC = n_eff log MSE + p log n_eff, with MSE floored at `MSE_FLOOR`."""
    penalty = 2.0 if kind == "aic" else math.log(max(n_eff, 1.0))
    return n_eff * math.log(max(mse, MSE_FLOOR)) + penalty * terms


# --- the path --------------------------------------------------------------------------------


@dataclasses.dataclass
class PathPoint:
    """One model on the path: its terms, coefficients and scores."""

    active: np.ndarray
    theta: np.ndarray
    train_mse: float
    selection_mse: float
    criterion: float = math.nan
    validation: float = math.nan

    def record(self, names) -> dict:
        terms = [f"{o}: {t}" for (o, t), a in zip(names, self.active) if a]
        return {"n_terms": int(self.active.sum()), "terms": terms, "train_mse": self.train_mse,
                "selection_mse": self.selection_mse, "criterion": self.criterion, "validation": self.validation}


@dataclasses.dataclass
class PathResult:
    points: list
    selected: int
    n_eff: float
    kind: str

    @property
    def chosen(self) -> PathPoint:
        return self.points[self.selected]


class Discovery:
    """Builds and scores the sparsity path for one member (module docstring).

    Args:
      problems: the training configurations.
      graphdef, params, rest: the trained closure (one member's state).
      settings: the ``[training]`` settings (`trainer.Settings`).
      bags: the member's bootstrap multiplicities per configuration, or None.
      pool: the member's training start indices per configuration, or None.
    """

    def __init__(self, problems, graphdef, params, rest, settings, bags=None, pool=None, shared=None):
        self.problems, self.settings, self.params = list(problems), settings, params
        shared = shared or Shared.of(self.problems, graphdef, params, rest, settings)
        self.coefficients, self.scales = shared.functions.coefficients, shared.scales
        pool = pool or [p.train_starts for p in self.problems]
        train = [_spread(np.sort(s), REFIT_WINDOWS) for s in pool]
        selection = [_spread(p.selection_starts, SELECTION_WINDOWS) for p in self.problems]
        self.bags = list(bags) if bags is not None else None
        self.train = Misfits(shared.functions, params, train)
        self.selection = Misfits(shared.functions, params, selection)
        self._validation = shared.validation and (lambda theta: shared.validation(theta, params))

    def _point(self, theta, active) -> PathPoint:
        theta, cost = refit(self.train, theta, active, self.settings.refit_iterations, self.bags)
        return PathPoint(active.copy(), theta, cost / self.train.weight_total(self.bags), self.selection.mse(theta))

    def run(self) -> PathResult:
        theta = self.coefficients.get(self.params)
        active = np.abs(theta) > 0
        points = [self._point(theta, active)]
        while points[-1].active.any():
            points.append(self._next(points[-1]))
        n_eff = effective_size(self.selection.residual_fields(points[0].theta))
        kind = self.settings.selection
        for point in points:
            point.criterion = criterion(kind, point.selection_mse, n_eff, int(point.active.sum()))
            point.validation = self._validation(point.theta) if self._validation else math.nan
        selected = int(np.argmin([p.criterion for p in points]))
        return PathResult(points, selected, n_eff, kind)

    def _next(self, point: PathPoint) -> PathPoint:
        """Drop the negligible terms, or else the one whose removal costs least."""
        r = contributions(point.theta, self.scales)
        weak = point.active & (r < self.settings.relative_threshold)
        if weak.any():
            return self._point(point.theta, point.active & ~weak)
        order = [k for k in np.argsort(r) if point.active[k]][: self.settings.max_candidates]
        trials = []
        for k in order:
            active = point.active.copy()
            active[k] = False
            trials.append(self._point(point.theta, active))
        return min(trials, key=lambda p: p.train_mse)

    def params_for(self, theta):
        return self.coefficients.put(self.params, jnp.asarray(theta))


@dataclasses.dataclass
class Shared:
    """What every member's `Discovery` shares: the compiled functions and the term scales."""

    functions: Functions
    scales: tuple
    validation: object

    @classmethod
    def of(cls, problems, graphdef, params, rest, settings) -> "Shared":
        coefficients = Coefficients.of(nnx.merge(graphdef, params, rest))
        functions = Functions(problems, graphdef, rest, coefficients, settings.window)
        return cls(functions, term_scales(problems, coefficients),
                   _validation(problems, graphdef, rest, coefficients, settings))


def _validation(problems, graphdef, rest, coefficients: Coefficients, settings):
    chosen = [_spread(p.validation_starts, SELECTION_WINDOWS) for p in problems]
    if not all(len(c) for c in chosen):
        return None

    @jax.jit
    def loss(theta, params):
        closure = nnx.merge(graphdef, coefficients.put(params, theta), rest)
        return sum(batch_loss(p, closure, jnp.asarray(c), settings.window, settings.loss)
                   for p, c in zip(problems, chosen)) / len(problems)

    return lambda theta, params: float(loss(jnp.asarray(theta), params))
