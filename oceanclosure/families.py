"""Random initial-condition families: a seeded law that draws a field on a grid.

``random_fourier`` (``[initial_condition] family = { kind = "random_fourier", ... }``), on a
1-D grid with domain [x0, x0 + L]:

    u₀(x) = Σ_{k=1..modes} a_k sin(k·2π(x − x0)/L + φ_k),

    rng = numpy.random.default_rng(seed)
    a = amplitude · rng.standard_normal(modes) / k,   k = 1, ..., modes
    φ = rng.uniform(0, 2π, modes)                     (drawn after a, in this order)

so u₀ has zero mean over the domain. The state is its exact cell averages: with
c = 2πk/L, the average of sin(c(x − x0) + φ) over a cell [a, b] is

    (cos(c(a − x0) + φ) − cos(c(b − x0) + φ)) / (c (b − a))
        = sin(c(m − x0) + φ) · sinc(c h / 2),     m = (a + b)/2, h = b − a,

evaluated in the second, cancellation-free form (sinc(s) = sin(s)/s), so averages of
averages over a refined grid equal the coarse averages to rounding. With
``sampling = "point"`` the state is u₀ at the cell centres instead.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError
from .grid import Grid
from .quadrature import SAMPLINGS

__all__ = ["fourier_sine_series", "random_fourier", "random_fourier_coefficients"]


def random_fourier_coefficients(modes: int, amplitude: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The wavenumbers k = 1..modes, amplitudes a_k and phases φ_k of the ``random_fourier`` law.

    ``a = amplitude · N(0, 1) / k`` then ``φ ~ U(0, 2π)``, both from ``numpy.random.default_rng(seed)``.
    """
    if isinstance(modes, bool) or not isinstance(modes, (int, np.integer)) or modes < 1:
        raise InputError(f"random_fourier: modes must be an int >= 1, got {modes!r}")
    if not (np.isfinite(amplitude) and amplitude >= 0):
        raise InputError(f"random_fourier: amplitude must be a finite number >= 0, got {amplitude!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"random_fourier: seed must be an int >= 0, got {seed!r}")
    rng = np.random.default_rng(seed)
    k = np.arange(1, modes + 1)
    a = amplitude * rng.standard_normal(modes) / k
    phi = rng.uniform(0, 2 * np.pi, modes)
    return k, a, phi


def fourier_sine_series(grid: Grid, k: np.ndarray, a: np.ndarray, phi: np.ndarray,
                        sampling: str = "cell_average") -> np.ndarray:
    """Σ_k a_k sin(k·2π(x − x0)/L + φ_k) on a 1-D grid: exact cell averages, or centre values.

    Args:
      grid: a 1-D grid (any dimension name), domain [x0, x0 + L].
      k, a, phi: integer wavenumbers (per domain length), amplitudes and phases, shape (modes,).
      sampling: ``"cell_average"`` (exact averages, see the module doc) or ``"point"``.

    Returns:
      float64 array of shape ``grid.array_shape``.
    """
    if grid.ndim != 1:
        raise InputError(f"fourier_sine_series: needs a 1-D grid, got dims {list(grid.dims)}")
    if sampling not in SAMPLINGS:
        raise InputError(f"fourier_sine_series: sampling must be one of {', '.join(map(repr, SAMPLINGS))}, "
                         f"got {sampling!r}")
    k, a, phi = (np.asarray(v, dtype=np.float64) for v in (k, a, phi))
    n = grid.nx
    # c (x_i − x0) = 2πk (i + ½)/n at the centres, exact in the index (no x0 cancellation)
    angle = 2 * np.pi * np.outer(k, (np.arange(n) + 0.5) / n) + phi[:, None]
    weight = a if sampling == "point" else a * np.sinc(k / n)  # sinc(c h/2) = np.sinc(k/n)
    return weight @ np.sin(angle)


def random_fourier(grid: Grid, modes: int, amplitude: float, seed: int,
                   sampling: str = "cell_average") -> np.ndarray:
    """The ``random_fourier`` family on ``grid``: the law of the module doc, float64, ``grid.array_shape``."""
    return fourier_sine_series(grid, *random_fourier_coefficients(modes, amplitude, seed), sampling)
