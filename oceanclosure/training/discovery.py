"""Discovery over an ensemble: each member's sparsity path, inclusion probabilities, the final model.

Each member of ``--ensemble K`` starts from its own perturbed coefficients and fits its
own bootstrap of the start times and observation points (`trainer.member_pools`,
`trainer.member_bags`), then builds and scores its own path (`selection.Discovery`).
A term's inclusion probability is the fraction of members whose chosen model keeps
it (ensemble SINDy, Fasel et al. 2022). The final model keeps the terms whose
inclusion is at least ``training.inclusion`` (0.5 by default) and refits them on all
the data, from the mean of the members that kept them. Per term the report gives
that mean and the 2.5–97.5 percentile interval over those members.

With one member there is no bagging: the path is built on all the data, the chosen
model is the final one, and its interval is a point.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from .hygiene import collinearity_warnings
from .selection import (
    REFIT_WINDOWS,
    Coefficients,
    Discovery,
    Misfits,
    PathResult,
    Shared,
    _path,
    _spread,
    refit,
    term_samples,
    term_scales,
)


@dataclasses.dataclass
class Found:
    """What discovery found: each member's path and closure, the inclusion, the final closure."""

    names: tuple
    paths: list
    closures: list
    final: object
    final_theta: np.ndarray
    inclusion: np.ndarray
    cutoff: float

    def report(self) -> dict:
        """Plain data for the training manifest and `discover`."""
        chosen = np.stack([p.chosen.theta for p in self.paths])
        kept = np.stack([p.chosen.active for p in self.paths])
        terms: dict = {}
        for k, (output, term) in enumerate(self.names):
            values = chosen[kept[:, k], k]
            in_final = bool(self.final_theta[k] != 0)
            mean = float(values.mean()) if in_final and values.size else 0.0
            low, high = (np.percentile(values, [2.5, 97.5]) if in_final and values.size else (0.0, 0.0))
            terms.setdefault(output, {})[term] = {"mean": mean, "low": float(low), "high": float(high),
                                                  "inclusion": float(self.inclusion[k]),
                                                  "final": float(self.final_theta[k])}
        first = self.paths[0]
        return {"terms": terms, "criterion": first.kind, "n_eff": first.n_eff, "inclusion_cutoff": self.cutoff,
                "members": len(self.paths), "selected": [p.selected for p in self.paths],
                "path": [point.record(self.names) for point in first.points]}


def discover_members(trainer) -> Found | None:
    """Run discovery on every member of a trained `Trainer`; None when there is nothing to select."""
    settings = trainer.settings
    template = trainer.member_closure(0)
    coefficients = Coefficients.of(template)
    if settings.selection == "none" or coefficients.size == 0:
        return None
    discoveries, paths = [], []
    shared = Shared.of(trainer.problems, trainer.graphdef, _member(trainer.state.params, 0, settings.ensemble),
                       trainer.rest, settings)
    for member in range(settings.ensemble):
        params = _member(trainer.state.params, member, settings.ensemble)
        bags = [_member(b, member, settings.ensemble) for b in trainer.bags] if trainer.bags else None
        found = Discovery(trainer.problems, trainer.graphdef, params, trainer.rest, settings, bags,
                          trainer.pools[member], shared)
        discoveries.append(found)
        paths.append(found.run())
    closures = [nnx.merge(trainer.graphdef, d.params_for(p.chosen.theta), trainer.rest)
                for d, p in zip(discoveries, paths)]
    inclusion = np.mean([p.chosen.active for p in paths], axis=0)
    final_theta = _final(trainer, shared, paths, inclusion)
    final = nnx.merge(trainer.graphdef, discoveries[0].params_for(final_theta), trainer.rest)
    return Found(coefficients.names, paths, closures, final, final_theta, inclusion, settings.inclusion)


def _member(tree, member: int, members: int):
    return tree if members == 1 else jax.tree_util.tree_map(lambda x: x[member], tree)


def _final(trainer, shared: Shared, paths: list[PathResult], inclusion: np.ndarray) -> np.ndarray:
    """The single member's choice, or the consensus terms refitted on all the data from the members' mean."""
    settings = trainer.settings
    if len(paths) == 1:
        return paths[0].chosen.theta
    support = inclusion >= settings.inclusion - 1e-12
    chosen = np.stack([p.chosen.theta for p in paths])
    kept = np.stack([p.chosen.active for p in paths])
    start = np.array([chosen[kept[:, k], k].mean() if kept[:, k].any() else 0.0 for k in range(chosen.shape[1])])
    params = _member(trainer.state.params, 0, settings.ensemble)
    starts = [_spread(p.train_starts, REFIT_WINDOWS) for p in trainer.problems]
    everything = Misfits(shared.functions, params, starts)
    return refit(everything, start, support, settings.refit_iterations)[0]


def perturb_members(trainer) -> None:
    """Give ensemble members 1..K-1 their own initial weights (member 0 keeps the case's).

    Library coefficients move by N(0, (1e-3 · RMS(∂u/∂t) / RMS(T))²), a contribution
    of about the default pruning threshold; other arrays by 1% of their RMS (zeros stay zero).
    """
    settings = trainer.settings
    if settings.ensemble == 1:
        return
    template = _member(trainer.state.params, 0, settings.ensemble)
    coefficients = Coefficients.of(trainer.member_closure(0))
    terms, tendencies = term_scales(trainer.problems, coefficients) if coefficients.size else (None, None)
    library = {path for path, _ in coefficients.parts}
    rng = np.random.default_rng([settings.seed, 2**32 - 2])

    def move(keypath, value):
        value = np.asarray(value)
        noise = rng.standard_normal(value.shape)
        if _path(keypath) in library:
            return value  # replaced below, from θ
        rms = float(np.sqrt(np.mean(value[0] ** 2))) if value[0].size else 0.0
        noise[0] = 0.0
        return jnp.asarray(value + 0.01 * rms * noise, dtype=value.dtype)

    params = jax.tree_util.tree_map_with_path(move, trainer.state.params)
    if coefficients.size:
        theta = coefficients.get(template)
        scale = 1e-3 * tendencies / np.where(terms > 0, terms, 1.0)
        members = [theta] + [theta + scale * rng.standard_normal(theta.shape) for _ in range(settings.ensemble - 1)]
        stacked = [coefficients.put(template, jnp.asarray(m)) for m in members]
        moved = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *stacked)
        params = jax.tree_util.tree_map_with_path(
            lambda kp, v, m: m if _path(kp) in library else v, params, moved)
    trainer.state.params = params


def library_warnings(trainer) -> list[str]:
    """Collinearity of each library part's terms over the training truth (`hygiene`)."""
    coefficients = Coefficients.of(trainer.member_closure(0))
    out = []
    for _, lib in coefficients.parts:
        samples = [term_samples(p, lib, p.train_starts) for p in trainer.problems]
        values = {t: np.concatenate([s[:, k].ravel() for s in samples]) for k, t in enumerate(lib.terms)}
        out += collinearity_warnings(values)
    return out
