"""Tests for oceanclosure.analytic (exact reference solutions)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oceanclosure import analytic as an

# ---------------------------------------------------------------------------
# High-order finite differences (independent of the module under test)
# ---------------------------------------------------------------------------

_OFFSETS = np.arange(-5, 6)  # 11-point central stencil


def _fd_weights(m: int, offsets=_OFFSETS) -> np.ndarray:
    """Weights w with sum_j w_j f(x + o_j h) ~ h^m f^(m)(x) (Vandermonde solve)."""
    o = np.asarray(offsets, dtype=np.float64)
    n = o.size
    A = np.array([o**i / math.factorial(i) for i in range(n)])
    rhs = np.zeros(n)
    rhs[m] = 1.0
    return np.linalg.solve(A, rhs)


def dx(fun, x, t, h, m=1):
    w = _fd_weights(m)
    return sum(wj * fun(x + oj * h, t) for wj, oj in zip(w, _OFFSETS)) / h**m


def dt(fun, x, t, k):
    w = _fd_weights(1)
    return sum(wj * fun(x, t + oj * k) for wj, oj in zip(w, _OFFSETS)) / k


def test_fd_helper_is_high_order():
    f = lambda x, t: np.sin(2 * x) * np.exp(-t)  # noqa: E731
    x = np.linspace(0, 3, 7)
    np.testing.assert_allclose(dx(f, x, 0.3, 1e-2, 1), 2 * np.cos(2 * x) * np.exp(-0.3), atol=1e-12)
    np.testing.assert_allclose(dx(f, x, 0.3, 1e-2, 3), -8 * np.cos(2 * x) * np.exp(-0.3), atol=1e-8)
    np.testing.assert_allclose(dt(f, x, 0.3, 1e-2), -f(x, 0.3), atol=1e-12)


# ---------------------------------------------------------------------------
# Linear advection-diffusion and heat kernel
# ---------------------------------------------------------------------------


def test_advected_diffused_sine_residual_and_ic():
    c, kap, A, k, off, x0 = 0.7, 0.05, 1.3, 3.0, 0.4, 0.2
    f = lambda x, t: an.advected_diffused_sine(  # noqa: E731
        x, t, velocity=c, diffusivity=kap, amplitude=A, wavenumber=k, offset=off, x0=x0
    )
    x = np.linspace(0.0, 2 * np.pi, 41)
    t = 0.8
    h = 1e-2
    res = dt(f, x, t, h) + c * dx(f, x, t, h) - kap * dx(f, x, t, h, 2)
    assert np.max(np.abs(res)) < 1e-9
    # wrong diffusivity gives a clearly nonzero residual (the test can fail)
    assert np.max(np.abs(res + (kap - 0.06) * dx(f, x, t, h, 2))) > 1e-3
    np.testing.assert_allclose(f(x, 0.0), off + A * np.sin(k * (x - x0)), atol=1e-15)
    out = f(x.reshape(41, 1), t)
    assert out.shape == (41, 1) and out.dtype == np.float64


def test_advected_diffused_sine_2d_residual():
    cx, cy, kap, kx, ky = 0.5, -0.3, 0.02, 2.0, 1.0
    g = lambda x, y, t: an.advected_diffused_sine_2d(  # noqa: E731
        x, y, t, velocity=(cx, cy), diffusivity=kap, kx=kx, ky=ky
    )
    x = np.linspace(0, 2 * np.pi, 13)[:, None]
    y = np.linspace(0, 2 * np.pi, 11)[None, :]
    t, h = 0.6, 1e-2
    u_t = dt(lambda xx, tt: g(xx, y, tt), x, t, h)
    u_x = dx(lambda xx, tt: g(xx, y, tt), x, t, h)
    u_xx = dx(lambda xx, tt: g(xx, y, tt), x, t, h, 2)
    u_y = dx(lambda yy, tt: g(x, yy, tt), y, t, h)
    u_yy = dx(lambda yy, tt: g(x, yy, tt), y, t, h, 2)
    res = u_t + cx * u_x + cy * u_y - kap * (u_xx + u_yy)
    assert res.shape == (13, 11)
    assert np.max(np.abs(res)) < 1e-9
    np.testing.assert_allclose(g(x, y, 0.0), np.sin(kx * x) * np.sin(ky * y), atol=1e-15)


def test_heat_kernel_residual_and_mass():
    kap, t0, x0, M = 0.3, 0.5, 1.0, 2.5
    f = lambda x, t: an.heat_kernel(x, t, diffusivity=kap, t0=t0, x0=x0, mass=M)  # noqa: E731
    x = np.linspace(-3.0, 5.0, 33)
    t, h = 0.7, 1e-2
    res = dt(f, x, t, h) - kap * dx(f, x, t, h, 2)
    assert np.max(np.abs(res)) < 1e-9
    assert np.max(np.abs(dt(f, x, t, h) - 1.1 * kap * dx(f, x, t, h, 2))) > 1e-3
    xx = np.linspace(-40, 40, 20001)
    for t in (0.0, 1.0, 5.0):
        assert abs(np.trapezoid(f(xx, t), xx) - M) < 1e-10
    with pytest.raises(ValueError):
        f(x, -t0)


# ---------------------------------------------------------------------------
# Advecting shock (viscous Burgers)
# ---------------------------------------------------------------------------


def _naive_shock(x, t, nu):
    re = 1.0 / nu
    t0 = np.exp(re / 8.0)
    den = 1.0 + np.sqrt((t + 1.0) / t0) * np.exp(re * x**2 / (4.0 * t + 4.0))
    # NaN wherever the naive formula breaks down (overflow, 0 * inf)
    return np.where(np.isfinite(den), (x / (t + 1.0)) / den, np.nan)


@pytest.mark.parametrize("nu,h", [(1e-2, 1e-3), (1e-3, 1e-4)])
def test_advecting_shock_residual(nu, h):
    f = lambda x, t: an.advecting_shock(x, t, nu=nu)  # noqa: E731
    x = np.linspace(0.05, 1.0, 191)
    t = 0.5
    u = f(x, t)
    u_t, u_x, u_xx = dt(f, x, t, h), dx(f, x, t, h), dx(f, x, t, h, 2)
    scale = np.max(np.abs(u_t)) + np.max(np.abs(nu * u_xx))
    res = u_t + u * u_x - nu * u_xx
    assert np.max(np.abs(res)) < 1e-7 * scale
    assert np.max(np.abs(res + 0.2 * nu * u_xx)) > 1e-3 * scale


def test_advecting_shock_overflow_safe_and_matches_naive():
    x = np.linspace(-1.0, 1.0, 2001)
    for t in (0.0, 0.5, 2.0):
        # naive formula is finite at Re = 100: must agree
        np.testing.assert_allclose(
            an.advecting_shock(x, t, nu=1e-2), _naive_shock(x, t, 1e-2), rtol=1e-13, atol=1e-300
        )
        for re in (5000.0, 2e4):
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                u = an.advecting_shock(x, t, nu=1.0 / re)
            assert np.all(np.isfinite(u))
            assert np.all(np.abs(u) <= np.abs(x) / (t + 1.0) + 1e-15)
            with np.errstate(all="ignore"):
                naive = _naive_shock(x, t, 1.0 / re)
            ok = np.isfinite(naive)
            assert ok.sum() > 100
            np.testing.assert_allclose(u[ok], naive[ok], rtol=1e-12, atol=1e-300)
    # Re = 5000: naive fails (t0 = exp(625) overflows) but ours is a sharp front
    with np.errstate(all="ignore"):
        assert not np.all(np.isfinite(_naive_shock(x, 0.0, 1 / 5000.0)))
    u = an.advecting_shock(x, 0.0, nu=1 / 5000.0)
    assert u[np.argmin(np.abs(x - 0.3))] == pytest.approx(0.3, rel=1e-12)  # inviscid ramp
    assert abs(u[np.argmin(np.abs(x - 0.7))]) < 1e-100  # beyond the shock


def test_advecting_shock_boundary_value():
    for nu in (1e-1, 1e-2, 2e-4):
        for t in (0.0, 0.3, 3.0):
            assert an.advecting_shock(0.0, t, nu=nu) == 0.0
            assert an.advecting_shock(np.array([0.0, 0.0]), t, nu=nu).tolist() == [0.0, 0.0]
    # odd in x
    x = np.linspace(0, 1, 11)
    np.testing.assert_array_equal(an.advecting_shock(-x, 0.4, nu=1e-3), -an.advecting_shock(x, 0.4, nu=1e-3))


# ---------------------------------------------------------------------------
# Cole-Hopf periodic Burgers
# ---------------------------------------------------------------------------


def test_cole_hopf_initial_condition():
    for kw in (
        dict(nu=0.01),
        dict(nu=0.05, amplitude=-0.7, offset=0.3, wavenumber=2, period=1.0),
        dict(nu=1.0, amplitude=2.0, offset=-1.0, wavenumber=3, period=5.0),
    ):
        L = kw.get("period", 2 * np.pi)
        x = np.linspace(0, L, 64, endpoint=False)
        u0 = kw.get("offset", 0.0) + kw.get("amplitude", 1.0) * np.sin(
            kw.get("wavenumber", 1) * 2 * np.pi * x / L
        )
        np.testing.assert_allclose(an.cole_hopf_burgers(x, 0.0, **kw), u0, atol=1e-15)
        # and continuity from t = 0+ (goes through the series/quadrature paths)
        np.testing.assert_allclose(an.cole_hopf_burgers(x, 1e-9, **kw), u0, atol=1e-7)


@pytest.mark.parametrize(
    "kw,t,h",
    [
        (dict(nu=0.1, amplitude=1.0, offset=0.5), 0.8, 1e-2),  # Bessel-series regime
        (dict(nu=0.01, amplitude=1.0, offset=0.25), 1.5, 1e-3),  # shock, quadrature regime
        (dict(nu=0.02, amplitude=-0.8, wavenumber=2, period=3.0), 0.3, 1e-3),
    ],
)
def test_cole_hopf_residual(kw, t, h):
    nu = kw["nu"]
    f = lambda x, tt: an.cole_hopf_burgers(x, tt, **kw)  # noqa: E731
    L = kw.get("period", 2 * np.pi)
    x = np.linspace(0, L, 157)
    u = f(x, t)
    u_t, u_x, u_xx = dt(f, x, t, h), dx(f, x, t, h), dx(f, x, t, h, 2)
    scale = np.max(np.abs(u_t)) + np.max(np.abs(nu * u_xx))
    res = u_t + u * u_x - nu * u_xx
    assert np.max(np.abs(res)) < 1e-7 * scale
    assert np.max(np.abs(res + 0.2 * nu * u_xx)) > 1e-3 * scale


def test_cole_hopf_mean_conserved():
    for kw in (dict(nu=0.01, offset=0.3), dict(nu=0.1, offset=-0.5, wavenumber=2, period=2.0)):
        L = kw.get("period", 2 * np.pi)
        x = np.linspace(0, L, 2048, endpoint=False)  # periodic trapezoid: spectral
        for t in (0.0, 0.2, 1.0, 3.0):
            u = an.cole_hopf_burgers(x, t, **kw)
            assert abs(u.mean() - kw["offset"]) < 1e-12
            assert np.all(np.abs(u - kw["offset"]) <= 1.0 + 1e-12)  # max principle


def _fourier_heat_solve(x, t, nu, A, k, L, n=256):
    """Independent reference: FFT heat solve of phi0 = exp(r cos(k xi)), r = A/(2 nu k)."""
    xi = np.linspace(0, L, n, endpoint=False)
    r = A / (2 * nu * k)
    phi0 = np.exp(r * (np.cos(k * xi) - 1.0))
    kk = 2 * np.pi * np.fft.rfftfreq(n, d=L / n)
    ph = np.fft.rfft(phi0) * np.exp(-nu * kk**2 * t) / n
    # evaluate the trigonometric interpolant at arbitrary x
    wts = np.where((np.arange(kk.size) == 0) | (np.arange(kk.size) == n // 2), 1.0, 2.0)
    e = np.exp(1j * np.outer(x, kk))
    phi = np.real(e @ (wts * ph))
    dphi = np.real(e @ (wts * 1j * kk * ph))
    return -2 * nu * dphi / phi


def test_cole_hopf_matches_independent_fourier_solve():
    x = np.linspace(0.0, 2 * np.pi, 37)
    for nu, A in ((0.2, 1.0), (0.5, -1.0), (0.15, 0.8)):
        for t in (0.05, 0.5, 2.0):
            ref = _fourier_heat_solve(x, t, nu, A, 1.0, 2 * np.pi)
            for method in ("auto", "bessel", "quadrature"):
                u = an.cole_hopf_burgers(x, t, nu=nu, amplitude=A, method=method)
                np.testing.assert_allclose(u, ref, atol=1e-11)
    # offset = Galilean shift of the zero-mean solution
    ref = _fourier_heat_solve(x - 0.7 * 0.5, 0.5, 0.2, 1.0, 1.0, 2 * np.pi)
    np.testing.assert_allclose(an.cole_hopf_burgers(x, 0.5, nu=0.2, offset=0.7), 0.7 + ref, atol=1e-11)


def test_cole_hopf_quadrature_vs_bessel_and_symmetry():
    x = np.linspace(0.0, 2 * np.pi, 101)
    for nu, t in ((0.1, 1.0), (0.05, 3.0), (0.03, 10.0), (0.01, 20.0)):
        ub = an.cole_hopf_burgers(x, t, nu=nu, method="bessel")
        uq = an.cole_hopf_burgers(x, t, nu=nu, method="quadrature")
        np.testing.assert_allclose(ub, uq, atol=1e-10)
    # A -> -A is a half-period shift: -sin(x) = sin(x + pi)
    for nu, t in ((0.01, 0.7), (0.1, 0.4)):
        np.testing.assert_allclose(
            an.cole_hopf_burgers(x, t, nu=nu, amplitude=-1.0),
            an.cole_hopf_burgers(x + np.pi, t, nu=nu, amplitude=1.0),
            atol=1e-12,
        )
    # the Bessel series alone is *not* accurate in the steep-shock regime,
    # which is why "auto" switches to the quadrature there
    xs = np.array([np.pi - 0.05, np.pi + 0.01])
    bad = an.cole_hopf_burgers(xs, 1.0, nu=0.01, method="bessel")
    good = an.cole_hopf_burgers(xs, 1.0, nu=0.01)
    assert np.max(np.abs(bad - good)) > 1e-3


def test_cole_hopf_high_precision_reference_small_nu():
    mp = pytest.importorskip("mpmath")
    nu, k = 0.01, 1.0
    xs = [0.3, np.pi - 0.05, np.pi - 0.003, np.pi + 0.01, 5.0]
    with mp.workdps(70):
        r = mp.mpf(1) / (2 * mp.mpf(nu) * k)
        bess = [mp.besseli(n, r) for n in range(200)]
        for t in (1e-3, 0.5, 2.0):
            ref = []
            for x in xs:
                xm = mp.mpf(x)
                phi, dphi = bess[0], mp.mpf(0)
                for n in range(1, 200):
                    c = bess[n] * mp.exp(-mp.mpf(nu) * n * n * k * k * t)
                    phi += 2 * c * mp.cos(n * k * xm)
                    dphi -= 2 * n * k * c * mp.sin(n * k * xm)
                ref.append(float(-2 * mp.mpf(nu) * dphi / phi))
            u = an.cole_hopf_burgers(np.array(xs), t, nu=nu)
            np.testing.assert_allclose(u, ref, atol=1e-10)


def test_cole_hopf_bad_args():
    with pytest.raises(ValueError):
        an.cole_hopf_burgers(0.0, -1.0, nu=0.1)
    with pytest.raises(ValueError):
        an.cole_hopf_burgers(0.0, 1.0, nu=0.0)
    with pytest.raises(ValueError):
        an.cole_hopf_burgers(0.0, 1.0, nu=0.1, method="nope")


# ---------------------------------------------------------------------------
# KdV
# ---------------------------------------------------------------------------


def _kdv_residual(f, x, t, h, a=6.0, b=1.0, with_scale=False):
    u = f(x, t)
    u_t, u_xxx = dt(f, x, t, h), b * dx(f, x, t, h, 3)
    res = u_t + a * u * dx(f, x, t, h) + u_xxx
    if with_scale:
        return res, np.max(np.abs(u_t)) + np.max(np.abs(u_xxx))
    return res


def test_kdv_one_soliton_residual():
    f = lambda x, t: an.kdv_one_soliton(x, t, eta=0.9, x0=-1.0)  # noqa: E731
    x = np.linspace(-10, 10, 201)
    res = _kdv_residual(f, x, 0.7, 1e-2)
    assert np.max(np.abs(res)) < 1e-7
    assert np.max(np.abs(_kdv_residual(f, x, 0.7, 1e-2, a=5.5))) > 1e-2
    assert np.max(f(x, 0.0)) == pytest.approx(2 * 0.9**2, rel=1e-3)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert np.all(np.isfinite(an.kdv_one_soliton(np.array([-1e4, 1e4]), 0.0, eta=3.0, x0=0.0)))


@pytest.mark.parametrize("t", [-3.0, 0.0, 1.25, 4.0])
def test_kdv_two_soliton_residual(t):
    f = lambda x, tt: an.kdv_two_soliton(x, tt)  # noqa: E731
    x = np.linspace(-25, 25, 301)
    assert np.max(np.abs(_kdv_residual(f, x, t, 1e-2))) < 2e-7
    assert np.max(np.abs(_kdv_residual(f, x, t, 1e-2, a=5.5))) > 1e-2


def test_kdv_two_soliton_against_hirota_direct():
    # direct (naive) evaluation of 2 (log F)'' where it cannot overflow
    e1, e2, x1, x2 = 1.2, 0.8, -6.0, -2.0
    A = ((e1 - e2) / (e1 + e2)) ** 2
    x = np.linspace(-15, 15, 61)
    for t in (-1.0, 0.5, 2.0):
        a1, a2 = 2 * e1, 2 * e2
        E1 = np.exp(a1 * (x - x1) - 8 * e1**3 * t)
        E2 = np.exp(a2 * (x - x2) - 8 * e2**3 * t)
        F = 1 + E1 + E2 + A * E1 * E2
        F1 = a1 * E1 + a2 * E2 + A * (a1 + a2) * E1 * E2
        F2 = a1**2 * E1 + a2**2 * E2 + A * (a1 + a2) ** 2 * E1 * E2
        naive = 2 * (F * F2 - F1**2) / F**2
        np.testing.assert_allclose(an.kdv_two_soliton(x, t), naive, atol=1e-11)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        big = an.kdv_two_soliton(np.linspace(-2e3, 2e3, 9), 50.0)
    assert np.all(np.isfinite(big))


def test_kdv_two_soliton_far_apart_is_sum_of_one_solitons():
    e1, e2, x1, x2 = 1.2, 0.8, -6.0, -2.0
    logA = 2 * np.log((e1 - e2) / (e1 + e2))
    tc = (x2 - x1) / (4 * (e1**2 - e2**2))  # collision time
    x = np.linspace(-150, 150, 6001)
    T = 15.0
    # before the collision: the slow soliton carries the phase shift
    before = an.kdv_one_soliton(x, tc - T, eta=e1, x0=x1) + an.kdv_one_soliton(
        x, tc - T, eta=e2, x0=x2 - logA / (2 * e2)
    )
    # after: the fast soliton is shifted forward by -log(A)/(2 eta1) > 0
    after = an.kdv_one_soliton(x, tc + T, eta=e1, x0=x1 - logA / (2 * e1)) + an.kdv_one_soliton(
        x, tc + T, eta=e2, x0=x2
    )
    np.testing.assert_allclose(an.kdv_two_soliton(x, tc - T), before, atol=1e-10)
    np.testing.assert_allclose(an.kdv_two_soliton(x, tc + T), after, atol=1e-10)
    # ...and without the phase shift it would not match
    unshifted = an.kdv_one_soliton(x, tc + T, eta=e1, x0=x1) + an.kdv_one_soliton(x, tc + T, eta=e2, x0=x2)
    assert np.max(np.abs(an.kdv_two_soliton(x, tc + T) - unshifted)) > 0.1


@pytest.mark.parametrize("a,b", [(1.0, 0.5), (-2.0, 0.1), (6.0, 1.0), (0.3, 2.0)])
def test_kdv_general_scaling_residual(a, b):
    for sol, params in (
        ("kdv_one_soliton", dict(eta=0.8, x0=0.5)),
        ("kdv_two_soliton", dict()),
    ):
        f = lambda x, t: an.kdv_general(x, t, a=a, b=b, solution=sol, **params)  # noqa: E731
        x = np.linspace(-20, 20, 201)
        res, scale = _kdv_residual(f, x, 0.4, 4e-3, a=a, b=b, with_scale=True)
        assert np.max(np.abs(res)) < 1e-8 * scale
        if (a, b) != (6.0, 1.0):
            # the naive guess without the time rescaling is wrong
            g = lambda x, t: (6 * b / a) * an.get_analytic(sol)(x, t, **params)  # noqa: E731
            assert np.max(np.abs(_kdv_residual(g, x, 0.4, 1e-2, a=a, b=b))) > 1e-2 * scale
    with pytest.raises(ValueError):
        an.kdv_general(0.0, 0.0, a=1.0, b=-1.0, eta=1.0, x0=0.0)
    with pytest.raises(ValueError):
        an.kdv_general(0.0, 0.0, a=0.0, b=1.0, eta=1.0, x0=0.0)


# ---------------------------------------------------------------------------
# Cell averages
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("order", [1, 2, 4, 8])
def test_cell_average_exact_for_polynomials(order):
    rng = np.random.default_rng(order)
    edges = np.sort(rng.uniform(-2, 3, 12))
    lo, hi = edges[:-1], edges[1:]
    deg = 2 * order - 1
    coef = rng.normal(size=deg + 2)
    p = np.polynomial.Polynomial(coef[: deg + 1])
    P = p.integ()
    exact = (P(hi) - P(lo)) / (hi - lo)
    np.testing.assert_allclose(an.cell_average(p, lo, hi, order=order), exact, rtol=1e-12, atol=1e-12)
    # one degree more is not integrated exactly
    q = np.polynomial.Polynomial(np.r_[np.zeros(deg + 1), 1.0])
    Q = q.integ()
    err = an.cell_average(q, lo, hi, order=order) - (Q(hi) - Q(lo)) / (hi - lo)
    assert np.max(np.abs(err)) > 1e-10


def test_cell_average_sine_and_shapes():
    x = np.linspace(0, 2 * np.pi, 33)
    lo, hi = x[:-1], x[1:]
    avg = an.cell_average(np.sin, lo, hi, order=8)
    np.testing.assert_allclose(avg, (np.cos(lo) - np.cos(hi)) / (hi - lo), atol=1e-14)
    out = an.cell_average(np.sin, lo.reshape(4, 8), hi.reshape(4, 8), order=3)
    assert out.shape == (4, 8) and out.dtype == np.float64
    # cell average of an analytic solution
    f = lambda x: an.advected_diffused_sine(x, 0.3, velocity=1.0, diffusivity=0.1)  # noqa: E731
    ref = (np.cos(lo - 0.3) - np.cos(hi - 0.3)) / (hi - lo) * np.exp(-0.1 * 0.3)
    np.testing.assert_allclose(an.cell_average(f, lo, hi), ref, atol=1e-14)


@pytest.mark.parametrize("order", [2, 5])
def test_cell_average_2d_exact_for_polynomials(order):
    xe = np.linspace(-1.0, 2.0, 6)
    ye = np.array([0.0, 0.3, 1.1, 2.0])
    xl, xh = xe[:-1, None], xe[1:, None]
    yl, yh = ye[None, :-1], ye[None, 1:]
    d = 2 * order - 1
    for p, q in ((d, d), (d, 0), (1, d - 1)):
        f = lambda x, y: x**p * y**q  # noqa: E731
        exact = ((xh ** (p + 1) - xl ** (p + 1)) / (p + 1) / (xh - xl)) * (
            (yh ** (q + 1) - yl ** (q + 1)) / (q + 1) / (yh - yl)
        )
        got = an.cell_average_2d(f, xl, xh, yl, yh, order)
        assert got.shape == (5, 3)
        np.testing.assert_allclose(got, exact, rtol=1e-12, atol=1e-12)
    f = lambda x, y: x ** (d + 1)  # noqa: E731
    got = an.cell_average_2d(f, xl, xh, yl, yh, order)
    exact = (xh ** (d + 2) - xl ** (d + 2)) / (d + 2) / (xh - xl) * np.ones((1, 3))
    assert np.max(np.abs(got - exact)) > 1e-10


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------


def test_registry():
    required = {
        "advecting_shock",
        "cole_hopf_burgers",
        "advected_diffused_sine",
        "heat_kernel",
        "kdv_one_soliton",
        "kdv_two_soliton",
    }
    assert required <= set(an.ANALYTIC)
    for name, fn in an.ANALYTIC.items():
        assert an.get_analytic(name) is fn
        assert fn.__doc__ and "PDE" in fn.__doc__
    assert an.get_analytic("advecting_shock") is an.advecting_shock
    with pytest.raises(ValueError) as exc:
        an.get_analytic("no_such_solution")
    for name in required:
        assert name in str(exc.value)


def test_linear_delay_method_of_steps_pieces():
    from oceanclosure.analytic import linear_delay

    x = np.zeros(3)
    for t in (0.0, 0.3, 1.0, 1.7, 2.5):
        pieces = 1 - t
        if t > 1:
            pieces += (t - 1) ** 2 / 2
        if t > 2:
            pieces -= (t - 2) ** 3 / 6
        np.testing.assert_allclose(linear_delay(x, t), pieces, rtol=1e-14)
    # The ODE holds: u'(t) = -u(t - 1), checked by central differences.
    h = 1e-5
    for t in (0.5, 1.5, 2.5, 3.3):
        du = (linear_delay(x, t + h) - linear_delay(x, t - h)) / (2 * h)
        np.testing.assert_allclose(du, -linear_delay(x, t - 1), rtol=1e-7, atol=1e-9)


def test_distributed_delay_decay_satisfies_the_integral_equation():
    from scipy.integrate import quad

    from oceanclosure.analytic import distributed_delay_decay

    u = lambda s: 1.0 if s <= 0 else float(distributed_delay_decay(0.0, s))
    for t in (0.2, 0.6, 1.0):
        h = 1e-6
        du = (u(min(t + h, 1.0)) - u(t - h)) / (min(t + h, 1.0) - (t - h))
        integral = quad(u, t - 1, t, points=[0.0])[0]
        assert du == pytest.approx(-integral, rel=1e-5)
    with pytest.raises(ValueError, match="closed form"):
        distributed_delay_decay(0.0, 1.5)
