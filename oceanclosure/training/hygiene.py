"""Library hygiene: collinear or empty candidate terms on the training data.

A library closure fits ∂ₜu ≈ Σ_k c_k T_k with no intercept, so its design matrix
has one column per term, T_k stacked over the training snapshots and cells. Two
terms that point the same way on that data,

    ρ_jk = ⟨T_j, T_k⟩ / (‖T_j‖ ‖T_k‖)        (uncentred: the cosine of the raw regressors),

cannot be told apart: c_j T_j + c_k T_k is determined, c_j and c_k separately are
not. ρ is uncentred on purpose: without an intercept, an offset is part of the
regressor, and the centred (Pearson) correlation would call two nearly constant
terms uncorrelated (their small fluctuations are independent) although as
regressors both are mostly the same constant. The condition number of the design with
each column scaled to unit RMS, κ = σ_max / σ_min, catches degeneracies among more
than two terms. A term identically zero on the data has no coefficient to learn.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import InputError

__all__ = ["collinear_terms", "collinearity_warnings", "condition_number", "zero_terms"]


def collinear_terms(term_values: Mapping[str, object], threshold: float = 0.95) -> list[tuple[str, str, float]]:
    """Pairs of terms with |ρ| ≥ ``threshold`` (module docstring), as (term, term, ρ), largest |ρ| first.

    Args:
      term_values: ``{term: values}``, each term's values over the training data
        (any shape, flattened; all the same size).
      threshold: smallest |ρ| reported, in (0, 1].

    ρ keeps its sign (−1: the terms are opposite). Terms that are identically zero
    have no direction and are left out (`zero_terms` names them).
    """
    if not 0.0 < threshold <= 1.0:
        raise InputError(f"collinear_terms: threshold must be in (0, 1], got {threshold}")
    names, design = _design(term_values)
    norms = np.linalg.norm(design, axis=0)
    keep = [k for k in range(len(names)) if norms[k] > 0]
    unit = design[:, keep] / norms[keep]
    cosine = np.clip(unit.T @ unit, -1.0, 1.0)
    pairs = [(names[keep[i]], names[keep[j]], float(cosine[i, j]))
             for i in range(len(keep)) for j in range(i + 1, len(keep)) if abs(cosine[i, j]) >= threshold]
    return sorted(pairs, key=lambda pair: -abs(pair[2]))


def condition_number(term_values: Mapping[str, object]) -> float:
    """κ = σ_max / σ_min of the design with each column scaled to unit RMS.

    Infinite when the design is singular: a zero column, or fewer data points than terms.
    Scaling the columns makes κ independent of the terms' units (``dx**2*u_x**2`` is small).
    """
    _, design = _design(term_values)
    rms = np.sqrt(np.mean(design**2, axis=0))
    if design.shape[0] < design.shape[1] or np.any(rms == 0):
        return float("inf")
    singular = np.linalg.svd(design / rms, compute_uv=False)
    return float(singular[0] / singular[-1]) if singular[-1] > 0 else float("inf")


def zero_terms(term_values: Mapping[str, object]) -> list[str]:
    """The terms whose values are all exactly zero on the data."""
    names, design = _design(term_values)
    return [name for name, column in zip(names, design.T) if not np.any(column)]


def collinearity_warnings(term_values: Mapping[str, object], threshold: float = 0.95,
                          max_condition: float = 1e3) -> list[str]:
    """Readable warnings: zero terms, collinear pairs (|ρ| ≥ ``threshold``), κ > ``max_condition``.

    κ is taken over the non-zero terms, so a zero term is reported once, as itself.
    """
    if not max_condition >= 1.0:
        raise InputError(f"collinearity_warnings: max_condition must be >= 1, got {max_condition}")
    zeros = zero_terms(term_values)
    warnings = [f"library term {name!r} is identically zero on the training data: its coefficient cannot "
                f"be identified (drop the term, or train on data where it is active)" for name in zeros]
    warnings += [f"library terms {a!r} and {b!r} are nearly collinear on the training data (correlation "
                 f"{rho:.3f}): their coefficients trade off, so trust their combined contribution more than "
                 f"either coefficient; consider dropping one" for a, b, rho in collinear_terms(term_values, threshold)]
    active = {k: v for k, v in term_values.items() if k not in zeros}
    kappa = condition_number(active) if len(active) > 1 else 1.0
    if kappa > max_condition:
        warnings.append(f"the library's design matrix (columns scaled to unit RMS) has condition number "
                        f"{kappa:.3g} > {max_condition:.3g} on the training data: some combination of terms is "
                        f"nearly degenerate, so individual coefficients are poorly determined; prune terms or "
                        f"train on more varied data")
    return warnings


def _design(term_values: Mapping[str, object]) -> tuple[list[str], np.ndarray]:
    """(names, matrix with one float64 column per term), checked: same size, finite, at least one term."""
    if not term_values:
        raise InputError("library hygiene: give at least one term's values")
    names = list(term_values)
    columns = [np.asarray(term_values[n], dtype=float).ravel() for n in names]
    sizes = {n: c.size for n, c in zip(names, columns)}
    if len(set(sizes.values())) != 1:
        raise InputError(f"library hygiene: every term needs the same number of values, got {sizes}")
    bad = [n for n, c in zip(names, columns) if not np.all(np.isfinite(c))]
    if bad:
        raise InputError(f"library hygiene: terms {bad} have non-finite values on the training data")
    return names, np.stack(columns, axis=1)
