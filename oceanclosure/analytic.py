"""Exact solutions used as truths and test references.

Everything here is plain float64 NumPy/SciPy (no JAX), so the references are
independent of the solver code they are used to check.

Conventions
-----------
* ``x`` (and ``y``) may be arrays of any shape (or scalars); ``t`` is a float.
  Every solution returns a float64 ``numpy.ndarray`` with the broadcast shape of
  the spatial arguments (0-d for scalar input).
* All physical parameters are keyword-only.

Contents
--------
advected_diffused_sine, advected_diffused_sine_2d
    Linear advection-diffusion of a Fourier mode.
heat_kernel
    Gaussian fundamental solution of the heat equation on the line.
advecting_shock
    Viscous Burgers "advecting shock", overflow-safe for large Reynolds number.
cole_hopf_burgers
    Periodic viscous Burgers with a sine initial condition, exact via Cole-Hopf.
kdv_one_soliton, kdv_two_soliton, kdv_general
    KdV solitons for ``u_t + 6 u u_x + u_xxx = 0`` and the rescaling to
    ``u_t + a u u_x + b u_xxx = 0``.
cell_average, cell_average_2d
    Gauss-Legendre cell averages of a callable (finite-volume references).
ANALYTIC, get_analytic
    Name -> function registry.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.special import expit, ive, logsumexp

from .errors import InputError

__all__ = [
    "advected_diffused_sine",
    "advected_diffused_sine_2d",
    "heat_kernel",
    "advecting_shock",
    "cole_hopf_burgers",
    "kdv_one_soliton",
    "kdv_two_soliton",
    "kdv_general",
    "cell_average",
    "linear_delay",
    "distributed_delay_decay",
    "cell_average_2d",
    "ANALYTIC",
    "get_analytic",
]


def _as_f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _scalar_t(t) -> float:
    t_arr = np.asarray(t, dtype=np.float64)
    if t_arr.ndim != 0:
        raise InputError("t must be a scalar")
    return float(t_arr)


# ---------------------------------------------------------------------------
# Linear advection-diffusion
# ---------------------------------------------------------------------------


def advected_diffused_sine(
    x,
    t,
    *,
    velocity: float,
    diffusivity: float,
    amplitude: float = 1.0,
    wavenumber: float = 1.0,
    offset: float = 0.0,
    x0: float = 0.0,
) -> np.ndarray:
    r"""Advected, diffused sine wave.

    PDE (periodic, or on the line)::

        u_t + c u_x = kappa u_xx

    Solution::

        u(x, t) = offset + A sin(k (x - x0 - c t)) exp(-kappa k^2 t)

    with ``c = velocity``, ``kappa = diffusivity``, ``A = amplitude``,
    ``k = wavenumber`` (angular wavenumber; on a periodic domain of length L
    use ``k = 2 pi m / L`` for integer m).
    """
    x = _as_f64(x)
    t = _scalar_t(t)
    k = float(wavenumber)
    decay = np.exp(-float(diffusivity) * k * k * t)
    return offset + amplitude * np.sin(k * (x - x0 - velocity * t)) * decay


def advected_diffused_sine_2d(
    x,
    y,
    t,
    *,
    velocity,
    diffusivity: float,
    kx: float = 1.0,
    ky: float = 1.0,
    amplitude: float = 1.0,
    offset: float = 0.0,
    x0: float = 0.0,
    y0: float = 0.0,
) -> np.ndarray:
    r"""Advected, diffused product of sines in 2D.

    PDE::

        u_t + cx u_x + cy u_y = kappa (u_xx + u_yy)

    Solution::

        u = offset + A sin(kx (x - x0 - cx t)) sin(ky (y - y0 - cy t))
                       * exp(-kappa (kx^2 + ky^2) t)

    ``velocity = (cx, cy)``.  ``x`` and ``y`` are broadcast against each other.
    """
    x = _as_f64(x)
    y = _as_f64(y)
    t = _scalar_t(t)
    cx, cy = (float(v) for v in velocity)
    decay = np.exp(-float(diffusivity) * (kx * kx + ky * ky) * t)
    return offset + amplitude * (
        np.sin(kx * (x - x0 - cx * t)) * np.sin(ky * (y - y0 - cy * t)) * decay
    )


def heat_kernel(
    x,
    t,
    *,
    diffusivity: float,
    t0: float = 1.0,
    x0: float = 0.0,
    mass: float = 1.0,
) -> np.ndarray:
    r"""Spreading Gaussian: fundamental solution of the heat equation.

    PDE (on the real line)::

        u_t = kappa u_xx

    Solution (a delta of the given mass released at time ``-t0``)::

        u(x, t) = M / sqrt(4 pi kappa (t + t0)) * exp(-(x - x0)^2 / (4 kappa (t + t0)))

    ``int u dx = M`` for all t.  Requires ``t + t0 > 0``.
    """
    x = _as_f64(x)
    t = _scalar_t(t)
    tau = t + float(t0)
    if tau <= 0.0:
        raise InputError("heat_kernel requires t + t0 > 0")
    s = 4.0 * float(diffusivity) * tau
    return mass / np.sqrt(np.pi * s) * np.exp(-((x - x0) ** 2) / s)


# ---------------------------------------------------------------------------
# Viscous Burgers
# ---------------------------------------------------------------------------


def advecting_shock(x, t, *, nu: float) -> np.ndarray:
    r"""Viscous Burgers "advecting shock" (a standard closure benchmark).

    PDE::

        u_t + u u_x = nu u_xx,      Re = 1 / nu

    Solution::

        u(x, t) = (x / (t + 1)) / (1 + sqrt((t + 1) / t0) exp(Re x^2 / (4 t + 4))),
        t0 = exp(Re / 8)

    ``u(0, t) = 0``.  The naive formula overflows for Re >~ 5700 (``exp(Re/8)``)
    and for large ``Re x^2``; it is evaluated here as::

        u = (x / (t + 1)) * expit(-z),
        z = 0.5 log(t + 1) - Re / 16 + Re x^2 / (4 (t + 1)),

    which is identical in exact arithmetic (``1/(1+e^z) = expit(-z)``) and finite
    for every Re.  Requires ``t > -1``.
    """
    x = _as_f64(x)
    t = _scalar_t(t)
    if t <= -1.0:
        raise InputError("advecting_shock requires t > -1")
    if not nu > 0:
        raise InputError(f"advecting_shock needs nu > 0 (Re = 1/nu), got nu = {nu}")
    re = 1.0 / float(nu)
    tp1 = t + 1.0
    z = 0.5 * np.log(tp1) - re / 16.0 + re * x * x / (4.0 * tp1)
    return (x / tp1) * expit(-z)


# --- Cole-Hopf -------------------------------------------------------------

# Relative size below which Bessel/Fourier terms are dropped.
_CH_TERM_TOL = 1e-18
# Bessel series is used only if min(phi)/max(phi) exceeds this (see docstring).
_CH_RATIO_MIN = 1e-4
# Trapezoid spacing factor (h = alpha / sqrt(curvature)); error ~ exp(-2 pi^2/alpha^2).
_CH_QUAD_ALPHA = 0.35
# Window half-width: integrand below exp(-_CH_QUAD_TAIL) * max outside it.
_CH_QUAD_TAIL = 60.0
# Max number of (x, node) pairs per quadrature chunk (memory bound).
_CH_CHUNK = 4_000_000


def _ch_bessel_coeffs(r: float, nu: float, k: float, t: float) -> np.ndarray:
    """c_n = ive(n, r) exp(-nu n^2 k^2 t), n = 0..N, N chosen adaptively."""
    n_max = int(np.ceil(np.sqrt(90.0 * abs(r)))) + 20
    if t > 0.0:
        # time decay alone kills terms with nu k^2 n^2 t > 45
        n_max = min(n_max, int(np.ceil(np.sqrt(45.0 / (nu * k * k * t)))) + 20)
    while True:
        n = np.arange(n_max + 1, dtype=np.float64)
        c = ive(n, r) * np.exp(-nu * k * k * n * n * t)
        if abs(c[-1]) <= _CH_TERM_TOL * abs(c[0]) or n_max > 100_000:
            break
        n_max *= 2
    # trim the negligible tail
    big = np.nonzero(np.abs(c) > _CH_TERM_TOL * abs(c[0]))[0]
    return c[: big[-1] + 1]


def _ch_bessel_ratio(c: np.ndarray) -> float:
    """min/max of phi over x (attained at cos(kx) = +-1)."""
    sgn = np.where(np.arange(c.size) % 2 == 0, 1.0, -1.0)
    w = np.where(np.arange(c.size) == 0, 1.0, 2.0)
    p_plus = abs(np.sum(w * c))
    p_minus = abs(np.sum(w * sgn * c))
    hi = max(p_plus, p_minus)
    return min(p_plus, p_minus) / hi if hi > 0 else 0.0


def _ch_bessel_eval(xi: np.ndarray, c: np.ndarray, nu: float, k: float) -> np.ndarray:
    """w = -2 nu phi_x / phi from phi = c0 + 2 sum c_n cos(n k x)."""
    out = np.empty(xi.size)
    flat = xi.ravel()
    n = np.arange(1, c.size, dtype=np.float64)
    cn = c[1:]
    step = max(1, _CH_CHUNK // max(1, c.size))
    for s in range(0, flat.size, step):
        arg = np.multiply.outer(flat[s : s + step], n * k)
        phi = c[0] + 2.0 * (np.cos(arg) @ cn)
        dphi = -2.0 * (np.sin(arg) @ (n * k * cn))
        out[s : s + step] = -2.0 * nu * dphi / phi
    return out.reshape(xi.shape)


def _ch_quadrature_eval(
    xi: np.ndarray, amp: float, r: float, nu: float, k: float, t: float
) -> np.ndarray:
    """w(x, t) = < A sin(k xi) > under weights exp(r cos(k xi) - (x-xi)^2/(4 nu t)).

    Trapezoid rule on the line in s = xi - x (all weights positive, log-sum-exp
    stabilised, so no cancellation however small phi is).
    """
    curv = abs(r) * k * k + 1.0 / (2.0 * nu * t)
    h = _CH_QUAD_ALPHA / np.sqrt(curv)
    h = min(h, 2.0 * np.pi / k / 64.0)
    half = np.sqrt(4.0 * nu * t * (2.0 * abs(r) + _CH_QUAD_TAIL))
    m = int(np.ceil(half / h))
    s = h * np.arange(-m, m + 1, dtype=np.float64)
    gauss = -(s * s) / (4.0 * nu * t)
    flat = xi.ravel()
    out = np.empty(flat.size)
    step = max(1, _CH_CHUNK // s.size)
    for i in range(0, flat.size, step):
        phase = k * (flat[i : i + step, None] + s[None, :])
        logw = r * np.cos(phase) + gauss[None, :]
        logw -= logw.max(axis=1, keepdims=True)
        wgt = np.exp(logw)
        out[i : i + step] = amp * np.sum(wgt * np.sin(phase), axis=1) / wgt.sum(axis=1)
    return out.reshape(xi.shape)


def cole_hopf_burgers(
    x,
    t,
    *,
    nu: float,
    amplitude: float = 1.0,
    offset: float = 0.0,
    wavenumber: int = 1,
    period: float = 2.0 * np.pi,
    method: str = "auto",
) -> np.ndarray:
    r"""Periodic viscous Burgers with a sine initial condition (exact, Cole-Hopf).

    PDE (periodic, length ``L = period``)::

        u_t + (u^2 / 2)_x = nu u_xx,
        u(x, 0) = offset + A sin(k x),   k = 2 pi m / L,  m = wavenumber, A = amplitude.

    Galilean shift: ``u(x, t) = offset + w(x - offset t, t)`` where w solves the
    same PDE with ``w(x, 0) = A sin(k x)``.  Cole-Hopf: ``w = -2 nu phi_x / phi``
    with ``phi_t = nu phi_xx`` and

        phi(x, 0) = exp(-(1/2nu) int_0^x w0) ~ exp(r cos(k x)),   r = A / (2 nu k).

    Two exact representations of phi are used:

    * Bessel (Fourier) series, with ``I_n`` the modified Bessel functions
      (evaluated scaled, ``ive(n, r) = I_n(r) e^{-|r|}``, so nothing overflows)::

          phi = I_0(r) + 2 sum_{n>=1} I_n(r) exp(-nu n^2 k^2 t) cos(n k x)
          w   = 4 nu k sum n I_n(r) e^{-nu n^2 k^2 t} sin(n k x) / phi

      Terms are kept up to the first N with ``|c_N| <= 1e-18 |c_0|``; the
      starting guess is ``N = min(sqrt(90 |r|), sqrt(45/(nu k^2 t))) + 20``
      (``I_n(r)/I_0(r) ~ exp(-n^2 / 2r)``), doubled until the tail is negligible.
      The series sums terms of both signs: where phi's dynamic range
      ``min phi / max phi`` (attained at cos(kx) = +-1) is small, i.e. a steep
      shock at early time and small nu, it loses ~log10(max/min) digits.

    * Heat-kernel integral (always positive weights, no cancellation)::

          w(x, t) = int (x - xi)/t  W(xi) dxi / int W(xi) dxi
                  = int A sin(k xi) W(xi) dxi / int W(xi) dxi,
          W(xi)   = exp(r cos(k xi) - (x - xi)^2 / (4 nu t)),

      (the second form, by parts, is bounded by |A| and avoids the 1/t),

      evaluated by the trapezoid rule in ``s = xi - x`` on ``|s| <= R``,
      ``R = sqrt(4 nu t (2|r| + 60))`` (outside, W < e^{-60} max W), spacing
      ``h = 0.35 / sqrt(|r| k^2 + 1/(2 nu t))`` (capped at L/64; the trapezoid
      error for this analytic integrand is ~ exp(-2 pi^2 / 0.35^2)), with
      log-sum-exp stabilisation.

    ``method="auto"`` (default) uses the Bessel series when
    ``min phi / max phi > 1e-4`` (error <~ 1e-12) and the quadrature otherwise;
    ``"bessel"`` / ``"quadrature"`` force one (quadrature needs t > 0).  Accuracy
    is <= 1e-10 (typically ~1e-13) for nu >= 0.01 and |A| <= 1, any t >= 0; at
    ``t = 0`` the initial condition is returned exactly.  The spatial mean is
    ``offset`` for all t.
    """
    x = _as_f64(x)
    t = _scalar_t(t)
    if t < 0.0:
        raise InputError("cole_hopf_burgers requires t >= 0")
    if nu <= 0.0:
        raise InputError("cole_hopf_burgers requires nu > 0")
    if method not in ("auto", "bessel", "quadrature"):
        raise InputError(f"unknown method {method!r}")
    k = 2.0 * np.pi * float(wavenumber) / float(period)
    amp = float(amplitude)
    xi = x - offset * t
    if amp == 0.0:
        return np.full(x.shape, float(offset))
    if t == 0.0:
        return offset + amp * np.sin(k * xi)
    r = amp / (2.0 * nu * k)

    use_bessel = method == "bessel"
    if method != "quadrature":
        c = _ch_bessel_coeffs(r, float(nu), k, t)
        if method == "auto":
            use_bessel = _ch_bessel_ratio(c) > _CH_RATIO_MIN
    if use_bessel:
        w = _ch_bessel_eval(xi, c, float(nu), k)
    else:
        w = _ch_quadrature_eval(xi, amp, r, float(nu), k, t)
    return offset + w


# ---------------------------------------------------------------------------
# KdV
# ---------------------------------------------------------------------------


def kdv_one_soliton(x, t, *, eta: float, x0: float) -> np.ndarray:
    r"""KdV one-soliton.

    PDE::

        u_t + 6 u u_x + u_xxx = 0

    Solution (speed ``4 eta^2``, amplitude ``2 eta^2``)::

        u(x, t) = 2 eta^2 sech^2(eta (x - x0 - 4 eta^2 t))

    (evaluated as ``8 eta^2 e^{-2|z|} / (1 + e^{-2|z|})^2``, overflow-free).
    """
    x = _as_f64(x)
    t = _scalar_t(t)
    z = np.abs(eta * (x - x0 - 4.0 * eta * eta * t))
    e = np.exp(-2.0 * z)
    return 8.0 * eta * eta * e / (1.0 + e) ** 2


def kdv_two_soliton(
    x,
    t,
    *,
    eta1: float = 1.2,
    eta2: float = 0.8,
    x1: float = -6.0,
    x2: float = -2.0,
) -> np.ndarray:
    r"""KdV two-soliton (Hirota form).

    PDE::

        u_t + 6 u u_x + u_xxx = 0

    Solution::

        u = 2 d^2/dx^2 log F,
        F = 1 + e^{th1} + e^{th2} + A e^{th1 + th2},
        th_i = 2 eta_i (x - x_i) - 8 eta_i^3 t,   A = ((eta1 - eta2)/(eta1 + eta2))^2.

    Closed form: writing ``F = sum_i exp(l_i)`` with l_i linear in x of slope
    p_i (l = [0, th1, th2, log A + th1 + th2], p = [0, 2eta1, 2eta2,
    2eta1 + 2eta2]),
    ``F F'' - F'^2 = (1/2) sum_{i,j} (p_i - p_j)^2 e^{l_i + l_j}``, so

        u = 2 sum_{i<j} (p_i - p_j)^2 exp(l_i + l_j - 2 log F),

    a sum of non-negative terms with non-positive exponents (log F by
    log-sum-exp): overflow-free and without cancellation.  For large separation
    it is two solitons of amplitude ``2 eta_i^2`` (with phase shifts).
    """
    x = _as_f64(x)
    t = _scalar_t(t)
    a_coef = ((eta1 - eta2) / (eta1 + eta2)) ** 2
    th1 = 2.0 * eta1 * (x - x1) - 8.0 * eta1**3 * t
    th2 = 2.0 * eta2 * (x - x2) - 8.0 * eta2**3 * t
    with np.errstate(divide="ignore"):
        log_a = np.log(a_coef) if a_coef > 0 else -np.inf
    ell = np.stack([np.zeros_like(th1), th1, th2, log_a + th1 + th2])
    p = np.array([0.0, 2.0 * eta1, 2.0 * eta2, 2.0 * (eta1 + eta2)])
    log_f = logsumexp(ell, axis=0)
    u = np.zeros_like(th1)
    for i in range(4):
        for j in range(i + 1, 4):
            u += (p[i] - p[j]) ** 2 * np.exp(ell[i] + ell[j] - 2.0 * log_f)
    return 2.0 * u


def kdv_general(
    x,
    t,
    *,
    a: float,
    b: float,
    solution: str | Callable = "kdv_one_soliton",
    **params,
) -> np.ndarray:
    r"""KdV solution for general coefficients by rescaling a standard one.

    PDE::

        u_t + a u u_x + b u_xxx = 0,    a != 0, b > 0.

    If U solves ``U_tau + 6 U U_x + U_xxx = 0`` then

        u(x, t) = (6 b / a) U(x, b t)

    (substituting ``u = alpha U(x, beta t)`` gives ``beta U_tau + a alpha U U_x
    + b U_xxx = 0``, so ``beta = b`` and ``a alpha = 6 b``).  ``solution`` is
    ``"kdv_one_soliton"``, ``"kdv_two_soliton"`` or a callable ``U(x, t, **params)``;
    ``params`` are passed to it (so e.g. the soliton speed is ``4 eta^2 b``).
    """
    if a == 0.0:
        raise InputError("kdv_general requires a != 0")
    if b <= 0.0:
        raise InputError("kdv_general requires b > 0")
    fn = solution if callable(solution) else {
        "kdv_one_soliton": kdv_one_soliton,
        "one_soliton": kdv_one_soliton,
        "kdv_two_soliton": kdv_two_soliton,
        "two_soliton": kdv_two_soliton,
    }.get(solution)
    if fn is None:
        raise InputError(f"unknown KdV solution {solution!r}")
    return (6.0 * b / a) * fn(x, b * _scalar_t(t), **params)


# ---------------------------------------------------------------------------
# Cell averages
# ---------------------------------------------------------------------------


def cell_average(f: Callable, edges_lo, edges_hi, *, order: int = 8) -> np.ndarray:
    r"""Cell averages ``(1/(hi-lo)) int_lo^hi f(x) dx`` by Gauss-Legendre quadrature.

    ``order`` nodes per cell, exact for polynomials of degree ``<= 2*order - 1``.
    ``f`` must accept an array and act elementwise; it is called once with an
    array of shape ``broadcast(lo, hi).shape + (order,)``.
    """
    lo = _as_f64(edges_lo)
    hi = _as_f64(edges_hi)
    lo, hi = np.broadcast_arrays(lo, hi)
    nodes, weights = np.polynomial.legendre.leggauss(int(order))
    mid = 0.5 * (lo + hi)[..., None]
    half = 0.5 * (hi - lo)[..., None]
    vals = _as_f64(f(mid + half * nodes))
    return 0.5 * np.sum(vals * weights, axis=-1)


def cell_average_2d(f: Callable, x_lo, x_hi, y_lo, y_hi, order: int = 8) -> np.ndarray:
    r"""Cell averages of ``f(x, y)`` over rectangles by tensor Gauss-Legendre.

    ``(1/|cell|) int int f dx dy`` over ``[x_lo, x_hi] x [y_lo, y_hi]``; the four
    edge arrays are broadcast together (e.g. ``x_lo[:, None]`` and
    ``y_lo[None, :]`` for a grid).  Exact for polynomials of degree
    ``<= 2*order - 1`` in each variable.  ``f`` is called once with arrays of
    shape ``cells.shape + (order, order)``.
    """
    xl, xh, yl, yh = np.broadcast_arrays(*(_as_f64(a) for a in (x_lo, x_hi, y_lo, y_hi)))
    nodes, weights = np.polynomial.legendre.leggauss(int(order))
    xm = (0.5 * (xl + xh))[..., None, None]
    xhalf = (0.5 * (xh - xl))[..., None, None]
    ym = (0.5 * (yl + yh))[..., None, None]
    yhalf = (0.5 * (yh - yl))[..., None, None]
    X = xm + xhalf * nodes[:, None]
    Y = ym + yhalf * nodes[None, :]
    vals = _as_f64(f(X, Y))
    return 0.25 * np.einsum("...ij,i,j->...", vals, weights, weights)


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------

# --------------------------------------------------------------------------
# delay differential equations (closure tests)


def linear_delay(x, t, *, coefficient=-1.0, delay=1.0, initial=1.0):
    """Method of steps for du/dt = c u(t − τ) with constant history u = u₀ on [−τ, 0].

    PDE: u_t = c u(x, t − τ), no spatial coupling, so every cell obeys the delay ODE.

    u(t) = u₀ Σ_{k=0}^{n} c^k (t − (k − 1)τ)^k / k!  for (n − 1)τ ≤ t ≤ nτ,
    e.g. with c = −1, τ = 1: 1 − t on [0, 1], 1 − t + (t − 1)²/2 on [1, 2].
    Independent of x (returned broadcast to x's shape); t ≤ 0 gives the history.
    """
    if delay <= 0:
        raise InputError(f"linear_delay: delay must be > 0, got {delay}")
    if t <= 0:
        return np.full(np.shape(x), float(initial), dtype=np.float64)
    n = int(np.floor(t / delay)) + 1
    total, factorial = 0.0, 1.0
    for k in range(n + 1):
        factorial = factorial * k if k else 1.0
        total += coefficient**k * (t - (k - 1) * delay) ** k / factorial
    return np.full(np.shape(x), initial * total, dtype=np.float64)


def distributed_delay_decay(x, t):
    """du/dt = −∫_{t−1}^{t} u(s) ds with u = 1 on [−1, 0]: u = 1 − sin t on [0, 1].

    PDE: u_t = −∫ u(x, s) ds over [t − 1, t], no spatial coupling.

    (Differentiating, u'' = −u(t) + u(t − 1) = 1 − u on [0, 1], u(0) = 1,
    u'(0) = −1.) Only t in [0, 1] is covered.
    """
    if not 0.0 <= t <= 1.0 + 1e-12:
        raise InputError(f"distributed_delay_decay is known in closed form on t in [0, 1], not t = {t:g}")
    return np.full(np.shape(x), 1.0 - np.sin(t), dtype=np.float64)


ANALYTIC: dict[str, Callable[..., np.ndarray]] = {
    "advecting_shock": advecting_shock,
    "cole_hopf_burgers": cole_hopf_burgers,
    "advected_diffused_sine": advected_diffused_sine,
    "advected_diffused_sine_2d": advected_diffused_sine_2d,
    "heat_kernel": heat_kernel,
    "kdv_one_soliton": kdv_one_soliton,
    "kdv_two_soliton": kdv_two_soliton,
    "kdv_general": kdv_general,
    "linear_delay": linear_delay,
    "distributed_delay_decay": distributed_delay_decay,
}


def get_analytic(name: str) -> Callable[..., np.ndarray]:
    """Return the analytic solution registered under ``name``.

    Raises ValueError listing the known names if ``name`` is unknown.
    """
    try:
        return ANALYTIC[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(ANALYTIC))
        raise InputError(f"unknown analytic solution {name!r}; known: {known}") from None
