"""The normal, Student's t and chi-square distributions, and a root finder.

What the experiment statistics need of scipy, on numpy and the standard library, so the core
install needs no scipy. Each function takes floats or numpy arrays (broadcast together, as
scipy's) and returns a numpy float or array; nan propagates, arguments outside the domain
give nan. tests/test_distributions.py checks each against scipy from the centre to tails of
1e-300: the worst relative error is about 1e-13, where ``exp`` of an exponent near -690 turns
its last bit into 1e-13 of the result.

Normal
    ``sf(x) = erfc(x / sqrt(2)) / 2`` (relative accuracy deep in the tail) and Wichura's
    AS241 quantile (`statistics.NormalDist.inv_cdf`).
Student's t
    For ``x > 0``, ``sf(x) = I_w(df/2, 1/2) / 2`` and ``P(0 < T < x) = I_v(1/2, df/2) / 2``, with
    ``w = df / (df + x^2)``, ``v = x^2 / (df + x^2)`` and I the regularized incomplete beta
    function: the smaller of the two is computed, the other is 1/2 minus it. I is the
    continued fraction of DiDonato & Morris (1992, ACM TOMS 708, ``bfrac``), which takes v as
    given rather than ``1 - w``: with Welch degrees of freedom in the millions, w is
    ``1 - 1e-7`` and ``1 - w`` would keep 9 digits. ``log B(df/2, 1/2)`` comes from an asymptotic
    series of ``log(Gamma(a + 1/2) / Gamma(a))`` for large a (lgamma's difference would lose 7
    digits at df = 1e9). The quantile is Newton's method on ``log sf`` against ``log x`` (for
    small df the tail is a power of x, a straight line there) inside a bracket: the normal
    quantile below, the tail's power law above. Above `NORMAL_DF` the t is the normal.
Chi-square
    ``sf(x) = Q(k/2, x/2)``, the regularized upper incomplete gamma function: its series below
    ``x/2 = k/2 + 1``, Legendre's continued fraction (modified Lentz) above. Its factor
    ``x^a e^-x / Gamma(a)`` comes from lgamma, whose rounding grows with k: 1e-13 at k = 100,
    enough for a sample ratio test's few variants (about 1e-11 at k = 1e4).
Root finder
    `brentq`: Brent's method (1973), as scipy's.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from statistics import NormalDist
from typing import Any

import numpy as np

FloatOrArray = Any
"""A float, or a numpy array of floats (arguments broadcast together, as numpy's)."""

NORMAL_DF = 1e25
"""Degrees of freedom above which the t is the normal (they differ by about x^4 / 4 df)."""

EPS = 2.0**-52
MAX_TERMS = 10_000
SQRT_HALF = math.sqrt(0.5)
LOG_PI = math.log(math.pi)
STANDARD_NORMAL = NormalDist()


def _apply(scalar: Callable[..., float], *args: FloatOrArray) -> FloatOrArray:
    """`scalar` of floats, or elementwise of arrays broadcast together (a numpy float or array)."""
    if all(isinstance(a, int | float) for a in args):
        return np.float64(scalar(*(float(a) for a in args)))

    def of_floats(*values: Any) -> float:  # Python floats: inf on overflow, as in C
        return scalar(*(float(v) for v in values))

    with np.errstate(all="ignore"):  # the floating-point flags the scalar code meant to raise
        result = np.asarray(np.frompyfunc(of_floats, len(args), 1)(*args), dtype=float)
    return result[()] if result.ndim == 0 else result


# --- normal ------------------------------------------------------------------------------


def _norm_sf(x: float) -> float:
    return 0.5 * math.erfc(x * SQRT_HALF)


def _norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x * SQRT_HALF)


def _norm_ppf(q: float) -> float:
    if not 0 < q < 1:
        return -math.inf if q == 0 else math.inf if q == 1 else math.nan
    return STANDARD_NORMAL.inv_cdf(q)


def norm_pdf(x: FloatOrArray) -> FloatOrArray:
    """The standard normal density."""
    with np.errstate(over="ignore"):  # x^2 = inf: a density of 0
        return np.exp(-0.5 * np.square(x)) / math.sqrt(2 * math.pi)


def norm_sf(x: FloatOrArray) -> FloatOrArray:
    """P(Z > x) for the standard normal."""
    return _apply(_norm_sf, x)


def norm_cdf(x: FloatOrArray) -> FloatOrArray:
    """P(Z <= x) for the standard normal."""
    return _apply(_norm_cdf, x)


def norm_ppf(q: FloatOrArray) -> FloatOrArray:
    """The standard normal quantile: the x with P(Z <= x) = q."""
    return _apply(_norm_ppf, q)


# --- Student's t -------------------------------------------------------------------------


def _log_gamma_ratio(a: float) -> float:
    """log(Gamma(a + 1/2) / Gamma(a)); for large a by its asymptotic series (Bernoulli
    polynomials at 1/2), lgamma's difference losing log10(a) digits."""
    if a < 15:
        return math.log(math.gamma(a + 0.5) / math.gamma(a))
    inverse, series = 1 / a, 0.0
    for coefficient in reversed((-1 / 8, 1 / 192, -1 / 640, 17 / 14336, -31 / 18432)):
        series = series * inverse * inverse + coefficient
    return 0.5 * math.log(a) + series * inverse  # next term under 4e-16 at a = 15


def _beta_fraction(a: float, b: float, x: float, y: float, lam: float) -> float:
    """I_x(a, b) / (x^a y^b / B(a, b)) for ``lam = (a + b) y - b >= 0`` (y = 1 - x, both
    given): the continued fraction of DiDonato & Morris (1992)."""
    c, c0, c1 = 1 + lam, b / a, 1 + 1 / a
    p, s = 1.0, a + 1
    an, bn, an1, bn1 = 0.0, 1.0, 1.0, c / c1
    ratio = c1 / c
    for n in range(1, MAX_TERMS):
        t, w = n / a, n * (b - n) * x
        alpha = p * (p + c0) * (a / s) ** 2 * (w * x)
        beta = n + w / s + (1 + t) / (c1 + 2 * t) * (c + n * (1 + y))
        p, s = 1 + t, s + 2
        an, an1 = an1, alpha * an + beta * an1
        bn, bn1 = bn1, alpha * bn + beta * bn1
        previous, ratio = ratio, an1 / bn1
        if abs(ratio - previous) <= EPS * ratio:
            return ratio
        an, bn, an1, bn1 = an / bn1, bn / bn1, ratio, 1.0  # rescale
    raise ArithmeticError(f"the incomplete beta fraction did not converge: a={a}, b={b}, x={x}")


def _t_logs(x: float, df: float) -> tuple[float, float, float, float]:
    """w = df / (df + x^2), v = x^2 / (df + x^2) and their logs, without forming x^2 / df
    where it would overflow or underflow (x from 1e-300 to 1e300)."""
    r = x * x / df
    log_r = math.log(r) if 0 < r < math.inf else 2 * math.log(x) - math.log(df)
    if r <= 1:
        return 1 / (1 + r), r / (1 + r), -math.log1p(r), log_r - math.log1p(r)
    s = 1 / r
    return s / (1 + s), 1 / (1 + s), -log_r - math.log1p(s), -math.log1p(s)


def _t_halves(x: float, df: float) -> tuple[float, float]:
    """P(T > x) and P(0 < T < x) for x >= 0, each to a relative accuracy of 1e-13."""
    if df > NORMAL_DF:
        return _norm_sf(x), 0.5 * math.erf(x * SQRT_HALF)
    if x == 0 or x == math.inf:
        return (0.5, 0.0) if x == 0 else (0.0, 0.5)
    a = df / 2
    w, v, log_w, log_v = _t_logs(x, df)
    log_beta = 0.5 * LOG_PI - _log_gamma_ratio(a)  # log B(a, 1/2)
    front = math.exp(a * log_w + 0.5 * log_v - log_beta)  # w^a v^(1/2) / B(a, 1/2)
    lam = (a + 0.5) * v - 0.5  # of I_w(a, 1/2); -lam of I_v(1/2, a), from v: no cancellation
    if lam >= 0:  # x is in the tail: I_w(a, 1/2) is the smaller
        upper = 0.5 * front * _beta_fraction(a, 0.5, w, v, lam) if front > 0 else 0.0
        return upper, 0.5 - upper
    central = 0.5 * front * _beta_fraction(0.5, a, v, w, -lam)
    return 0.5 - central, central


def _t_log_pdf(x: float, df: float) -> float:
    _, _, log_w, _ = _t_logs(x, df)
    log_norm = _log_gamma_ratio(df / 2) - 0.5 * (LOG_PI + math.log(df))
    return log_norm + (df + 1) / 2 * log_w


def _t_sf(x: float, df: float) -> float:
    if math.isnan(x) or not df > 0:
        return math.nan
    if x < 0:
        return 1 - _t_sf(-x, df)  # 1/2 or more: no digits lost
    return _t_halves(x, df)[0]


def _t_isf(q: float, df: float) -> float:
    """The x > 0 with P(T > x) = q, for 0 < q < 1/2.

    Newton's method on log P(T > x) against log x; near the centre (q > 1/4) on
    log P(0 < T < x) = log(1/2 - q) instead, exact there, so that x keeps its digits as q
    nears 1/2. The root stays bracketed: a step out of the bracket bisects it.
    """
    z = -_norm_ppf(q)
    if df > NORMAL_DF:
        return z
    central = q > 0.25
    target = 0.5 - q if central else q
    low = z * (1 - 1e-9)  # the normal's tail is lighter
    # the tail's power law is above P(T > x): where it is q is above the root
    log_norm = _log_gamma_ratio(df / 2) - 0.5 * (LOG_PI + math.log(df))
    log_high = (log_norm + (df - 1) / 2 * math.log(df) - math.log(q)) / df
    high = math.exp(log_high) * (1 + 1e-9) if log_high < 709 else sys.float_info.max
    if high == sys.float_info.max and _t_halves(high, df)[0] > q:
        return math.inf  # beyond the largest float
    x = min(max(_cornish_fisher(z, df), low), high)
    for _ in range(200):
        upper, centre = _t_halves(x, df)
        value = centre if central else upper
        if (value > target) == central:
            high = x
        else:
            low = x
        if value > 0:
            gap = math.log(value / target)
            slope = math.exp(math.log(x) + _t_log_pdf(x, df) - math.log(value))
            step = -gap / slope if central else gap / slope  # d log x
            if abs(step) < 1e-10:  # Newton converges quadratically: this step ends it
                return x * math.exp(step)
            x = x * math.exp(step)
        if not (value > 0 and low < x < high):  # bisect the bracket, in log x
            x = math.sqrt(low) * math.sqrt(high)
    raise ArithmeticError(f"the t quantile did not converge: q={q}, df={df}")


def _cornish_fisher(z: float, df: float) -> float:
    """The t quantile from the normal's z, to 1/df^4 (Abramowitz & Stegun 26.7.5)."""
    z2 = z * z
    g1 = (z2 + 1) * z / 4
    g2 = ((5 * z2 + 16) * z2 + 3) * z / 96
    g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384
    g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160
    return z + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df


def _t_ppf(p: float, df: float) -> float:
    if math.isnan(p) or not df > 0 or not 0 <= p <= 1:
        return math.nan
    if p in (0, 1):
        return math.inf if p == 1 else -math.inf
    if p == 0.5:
        return 0.0
    return -_t_isf(p, df) if p < 0.5 else _t_isf(1 - p, df)  # 1 - p is exact above 1/2


def t_sf(x: FloatOrArray, df: FloatOrArray) -> FloatOrArray:
    """P(T > x) for Student's t with df degrees of freedom (df = inf: the normal)."""
    return _apply(_t_sf, x, df)


def t_ppf(p: FloatOrArray, df: FloatOrArray) -> FloatOrArray:
    """The quantile of Student's t with df degrees of freedom: the x with P(T <= x) = p."""
    return _apply(_t_ppf, p, df)


# --- chi-square --------------------------------------------------------------------------


def _gamma_upper(a: float, x: float) -> float:
    """Q(a, x) = Gamma(a, x) / Gamma(a), the regularized upper incomplete gamma function."""
    front = math.exp(a * math.log(x) - x - math.lgamma(a))  # x^a e^-x / Gamma(a)
    if x < a + 1:  # the series of P(a, x)
        term = total = 1 / a
        for n in range(1, MAX_TERMS):
            term *= x / (a + n)
            total += term
            if term < EPS * total:
                return 1 - front * total
        raise ArithmeticError(f"the incomplete gamma series did not converge: a={a}, x={x}")
    tiny = 1e-300  # the continued fraction of Q(a, x), by the modified Lentz method
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    fraction = d
    for n in range(1, MAX_TERMS):
        an = -n * (n - a)
        b += 2
        d = an * d + b
        d = 1 / (d if abs(d) > tiny else tiny)
        c = b + an / c
        c = c if abs(c) > tiny else tiny
        fraction *= d * c
        if abs(d * c - 1) < EPS:
            return front * fraction
    raise ArithmeticError(f"the incomplete gamma fraction did not converge: a={a}, x={x}")


def _chi2_sf(x: float, k: float) -> float:
    if math.isnan(x) or not k > 0:
        return math.nan
    if x <= 0 or x == math.inf or k == math.inf:
        return 0.0 if x == math.inf else 1.0
    return _gamma_upper(k / 2, x / 2)


def chi2_sf(x: FloatOrArray, k: FloatOrArray) -> FloatOrArray:
    """P(X > x) for the chi-square distribution with k degrees of freedom."""
    return _apply(_chi2_sf, x, k)


# --- root finding ------------------------------------------------------------------------


def brentq(
    f: Callable[[float], float],
    a: float,
    b: float,
    *,
    xtol: float = 2e-12,
    rtol: float = 4 * EPS,
    maxiter: int = 100,
) -> float:
    """A root of f in [a, b], where f changes sign, by Brent's method (1973): inverse
    quadratic interpolation or the secant while they shrink the bracket fast enough,
    bisection otherwise. Stops within ``xtol + rtol |x|`` of the root."""
    x_prev, x_cur = a, b
    f_prev, f_cur = f(a), f(b)
    if f_prev == 0 or f_cur == 0:
        return a if f_prev == 0 else b
    if math.isnan(f_prev) or math.isnan(f_cur) or (f_prev < 0) == (f_cur < 0):
        raise ValueError(f"f(a) and f(b) must differ in sign: f({a})={f_prev}, f({b})={f_cur}")
    x_blk = f_blk = s_prev = s_cur = 0.0
    for _ in range(maxiter):
        if (f_prev < 0) != (f_cur < 0):  # the root is between x_cur and x_blk, the contrapoint
            x_blk, f_blk = x_prev, f_prev
            s_prev = s_cur = x_cur - x_prev
        if abs(f_blk) < abs(f_cur):  # keep the best guess in x_cur
            x_prev, x_cur, x_blk = x_cur, x_blk, x_cur
            f_prev, f_cur, f_blk = f_cur, f_blk, f_cur
        tolerance = (xtol + rtol * abs(x_cur)) / 2
        bisect = (x_blk - x_cur) / 2
        if f_cur == 0 or abs(bisect) < tolerance:
            return x_cur
        if abs(s_prev) > tolerance and abs(f_cur) < abs(f_prev):
            if x_prev == x_blk:  # secant
                trial = -f_cur * (x_cur - x_prev) / (f_cur - f_prev)
            else:  # inverse quadratic interpolation
                d_prev = (f_prev - f_cur) / (x_prev - x_cur)
                d_blk = (f_blk - f_cur) / (x_blk - x_cur)
                trial = (
                    -f_cur * (f_blk * d_blk - f_prev * d_prev) / (d_blk * d_prev * (f_blk - f_prev))
                )
            if 2 * abs(trial) < min(abs(s_prev), 3 * abs(bisect) - tolerance):
                s_prev, s_cur = s_cur, trial
            else:
                s_prev = s_cur = bisect
        else:
            s_prev = s_cur = bisect
        x_prev, f_prev = x_cur, f_cur
        x_cur += s_cur if abs(s_cur) > tolerance else math.copysign(tolerance, bisect)
        f_cur = f(x_cur)
    raise ArithmeticError(f"Brent's method did not converge in {maxiter} iterations")
