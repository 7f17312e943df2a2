"""The statistics of an experiment, computed from sufficient statistics only.

Nothing here sees a unit: every function takes the few sums the warehouse
computed per arm (`Sums`) or the estimates made from them. The arithmetic
works as well on numpy arrays of sums as on floats, so simulations run
thousands of experiments at once through the very same code.

Conventions
-----------
Arm estimate
    The mean of a metric's per-unit values over the arm's units, with the
    variance of that mean ``s^2 / n`` (``s^2`` the sample variance, n - 1).
Ratio metric (delta method)
    ``R = sum(y) / sum(x)`` over an arm's units, with
    ``Var(R) = (s_yy - 2 R s_xy + R^2 s_xx) / (n * mean(x)^2)``: the first-order
    Taylor expansion of ``mean(y) / mean(x)`` (Deng, Knoblich & Lu, "Applying
    the Delta Method in Metric Analytics", KDD 2018).
Absolute lift
    ``treatment - control``, with a Welch t interval (Welch-Satterthwaite
    degrees of freedom) for means and proportions, a z interval for ratios.
Relative lift
    ``treatment / control - 1``, by the delta method:
    ``Var = Var(t) / c^2 + t^2 Var(c) / c^4``, with a z interval. It is not
    computed (`relative_lift` says why) when the control's estimate is not
    positive or is within 10 standard errors of 0 (``se / c > 0.1``), where
    the first-order approximation fails.
CUPED (Deng, Xu, Kohavi & Walker, WSDM 2013)
    ``y_adj = y - theta * (c - mean(c))`` with ``c`` the unit's value of the
    same metric over a pre-period, and ``theta = sum S_yc / sum S_cc`` pooled
    within arms (the covariate's slope in a regression with a dummy per arm;
    pooling keeps the treatment effect out of theta). ``mean(c)`` is over every
    arm, so adjusted means stay on the metric's scale. The uncertainty of theta
    is ignored, as usual (it is O(1/n)).
Sequential (always-valid) intervals
    An asymptotic confidence sequence (Waudby-Smith, Arbour, Sinha, Kennedy &
    Ramdas, "Time-uniform central limit theory and asymptotic confidence
    sequences", Annals of Statistics 2024): the normal-mixture boundary of
    Robbins (1970), the mSPRT of Johari, Pekelis & Walsh ("Always valid
    inference", Operations Research 2022), applied to the estimate and its
    variance. With ``V`` the lift's variance, ``n`` units so far and ``N`` the
    tuning parameter `planned_units`, the mixing variance is ``tau^2 = r V`` with
    ``r = rho(alpha) * n / N`` and ``rho(alpha) = -2 ln(alpha) + ln(1 - 2 ln(alpha))``,
    which makes the interval narrowest at ``n = N``. Half-width:
    ``sqrt(V (1 + r) / r * (ln(1 + r) - 2 ln(alpha)))``; p-value ``min(1, 1/L)``
    with the mixture likelihood ratio ``L = exp(r z^2 / (2 (1 + r))) / sqrt(1 + r)``.
    Valid at every look, so results may be read daily. A one-sided test uses
    the same boundary on one side (conservative).
Bayesian (Gaussian approximation)
    The lift's likelihood is ``N(estimate, V)``; the prior is ``N(0, s0^2)``
    (``s0 = prior_sd * |control|`` for the absolute lift, `prior_sd` itself for
    the relative lift), or flat when `prior_sd` is None. Chance to beat control
    is the posterior probability that the lift is on the metric's better side;
    expected loss (risk) is ``E[max(0, -lift)]`` (``E[max(0, lift)]`` when lower
    is better): what shipping the variant costs on average if it is worse.
Sample ratio mismatch
    Pearson's chi-square goodness of fit of the units per variant against the
    configured weights, k - 1 degrees of freedom.
Multiple comparisons
    Holm (1979) step-down and Benjamini-Hochberg (1995) step-up adjusted
    p-values, across every (variant, metric) comparison.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
from scipy import stats as sps  # type: ignore[import-untyped]

Number = Any
"""A float, or a numpy array of them (one per simulated experiment)."""

Side = Literal["two", "greater", "less"]
"""The alternative: two-sided, or the lift is greater (less) than 0."""

RELATIVE_MAX_CV = 0.1
"""The largest standard error / control estimate for which a relative lift is given."""


@dataclass(frozen=True)
class Sums:
    """The sufficient statistics of one metric in one arm: sums over its units.

    ``y`` is the metric's per-unit value; ``x`` a ratio metric's denominator;
    ``c`` the CUPED covariate. Sums add up, so arms pool and days accumulate.
    """

    n: Number
    y: Number
    yy: Number
    x: Number = 0.0
    xx: Number = 0.0
    xy: Number = 0.0
    c: Number = 0.0
    cc: Number = 0.0
    yc: Number = 0.0

    def __add__(self, other: Sums) -> Sums:
        return Sums(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @classmethod
    def of(cls, y: Any, x: Any = None, c: Any = None, *, axis: int = -1) -> Sums:
        """The sums of per-unit values (numpy arrays), along `axis` (for tests and
        simulations; the warehouse computes them in SQL)."""
        y = np.asarray(y, dtype=float)
        x = np.zeros_like(y) if x is None else np.asarray(x, dtype=float)
        c = np.zeros_like(y) if c is None else np.asarray(c, dtype=float)

        def total(values: Any) -> Any:
            return values.sum(axis=axis)

        return cls(
            n=total(np.ones_like(y)),
            y=total(y),
            yy=total(y * y),
            x=total(x),
            xx=total(x * x),
            xy=total(x * y),
            c=total(c),
            cc=total(c * c),
            yc=total(y * c),
        )


@dataclass(frozen=True)
class Estimate:
    """An arm's value of a metric and the variance of that value."""

    value: Number
    variance: Number
    n: Number


@dataclass(frozen=True)
class Lift:
    """A difference (or relative difference) between two arms, with its variance."""

    estimate: Number
    variance: Number
    df: Number = math.inf
    """Degrees of freedom of its t distribution (inf: normal)."""

    @property
    def se(self) -> Number:
        return np.sqrt(self.variance)


# --- arm estimates ----------------------------------------------------------------------


def _centered(total: Number, square: Number, n: Number) -> Number:
    """Sum of squared deviations from the mean, from the sums."""
    return square - total * total / n


def _cross(a: Number, b: Number, ab: Number, n: Number) -> Number:
    return ab - a * b / n


def mean_estimate(s: Sums) -> Estimate:
    """The arm's mean of y, and the variance of that mean (sample variance / n)."""
    variance = _centered(s.y, s.yy, s.n) / (s.n - 1)
    return Estimate(s.y / s.n, variance / s.n, s.n)


def ratio_estimate(s: Sums) -> Estimate:
    """sum(y) / sum(x), with its delta-method variance."""
    ratio = s.y / s.x
    s_yy = _centered(s.y, s.yy, s.n) / (s.n - 1)
    s_xx = _centered(s.x, s.xx, s.n) / (s.n - 1)
    s_xy = _cross(s.x, s.y, s.xy, s.n) / (s.n - 1)
    mean_x = s.x / s.n
    variance = (s_yy - 2 * ratio * s_xy + ratio * ratio * s_xx) / (s.n * mean_x * mean_x)
    return Estimate(ratio, variance, s.n)


def cuped_theta(arms: Sequence[Sums]) -> Number:
    """The covariate's slope pooled within arms: sum S_yc / sum S_cc (0 if c is constant)."""
    s_yc = sum(_cross(a.y, a.c, a.yc, a.n) for a in arms)
    s_cc = sum(_centered(a.c, a.cc, a.n) for a in arms)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s_cc > 0, s_yc / np.where(s_cc > 0, s_cc, 1.0), 0.0)[()]


def cuped_estimate(s: Sums, theta: Number, covariate_mean: Number) -> Estimate:
    """The arm's mean of y - theta (c - covariate_mean), and its variance."""
    s_yy = _centered(s.y, s.yy, s.n)
    s_cc = _centered(s.c, s.cc, s.n)
    s_yc = _cross(s.y, s.c, s.yc, s.n)
    variance = (s_yy - 2 * theta * s_yc + theta * theta * s_cc) / (s.n - 1)
    value = s.y / s.n - theta * (s.c / s.n - covariate_mean)
    return Estimate(value, variance / s.n, s.n)


# --- lifts -----------------------------------------------------------------------------


def absolute_lift(control: Estimate, treatment: Estimate, *, welch: bool = True) -> Lift:
    """treatment - control; Welch-Satterthwaite degrees of freedom, or normal."""
    variance = control.variance + treatment.variance
    if not welch:
        return Lift(treatment.value - control.value, variance)
    spread = control.variance**2 / (control.n - 1) + treatment.variance**2 / (treatment.n - 1)
    if isinstance(spread, int | float) and not spread > 0:
        return Lift(treatment.value - control.value, variance)  # no variation in either arm yet
    df = variance**2 / spread
    return Lift(treatment.value - control.value, variance, df)


def relative_lift(control: Estimate, treatment: Estimate) -> Lift:
    """treatment / control - 1, with its delta-method variance (normal)."""
    c, t = control.value, treatment.value
    variance = treatment.variance / c**2 + t**2 * control.variance / c**4
    return Lift(t / c - 1, variance)


def relative_problem(control: Estimate) -> str | None:
    """Why a relative lift over this control would mislead, or None when it is fine."""
    if not control.value > 0:
        return f"the control's value {control.value:.6g} is not positive: no relative lift"
    se = math.sqrt(control.variance)
    if se / control.value > RELATIVE_MAX_CV:
        return (
            f"the control's value {control.value:.6g} is too close to 0 for its standard "
            f"error {se:.3g}: no relative lift (read the absolute one)"
        )
    return None


# --- fixed-horizon tests ---------------------------------------------------------------


def _quantile(lift: Lift, level: Number) -> Number:
    return sps.t.ppf(level, lift.df)  # the normal's when df is infinite


def _sf(lift: Lift, z: Number) -> Number:
    return sps.t.sf(z, lift.df)


def p_value(lift: Lift, side: Side = "two") -> Number:
    """The fixed-horizon p-value of lift = 0 against `side`."""
    z = lift.estimate / lift.se
    if side == "two":
        return 2 * _sf(lift, np.abs(z))
    return _sf(lift, z if side == "greater" else -z)


def interval(lift: Lift, alpha: float, side: Side = "two") -> tuple[Number, Number]:
    """The fixed-horizon 1 - alpha confidence interval (one bound infinite when one-sided)."""
    if side == "two":
        half = _quantile(lift, 1 - alpha / 2) * lift.se
        return lift.estimate - half, lift.estimate + half
    half = _quantile(lift, 1 - alpha) * lift.se
    if side == "greater":
        return lift.estimate - half, np.inf + 0 * lift.estimate
    return -np.inf + 0 * lift.estimate, lift.estimate + half


# --- sequential tests --------------------------------------------------------------------


def mixture_ratio(alpha: float, units: Number, planned_units: Number) -> Number:
    """r = tau^2 / V: rho(alpha) * units / planned_units (see the module's conventions)."""
    rho = -2 * math.log(alpha) + math.log(1 - 2 * math.log(alpha))
    return rho * np.asarray(units, dtype=float) / planned_units


def sequential_interval(
    lift: Lift, alpha: float, units: Number, planned_units: Number, side: Side = "two"
) -> tuple[Number, Number]:
    """The always-valid 1 - alpha interval at `units` exposed units so far."""
    r = mixture_ratio(alpha, units, planned_units)
    half = lift.se * np.sqrt((1 + r) / r * (np.log1p(r) - 2 * math.log(alpha)))
    low, high = lift.estimate - half, lift.estimate + half
    if side == "greater":
        return low, np.inf + 0 * high
    if side == "less":
        return -np.inf + 0 * low, high
    return low, high


def sequential_p_value(
    lift: Lift, alpha: float, units: Number, planned_units: Number, side: Side = "two"
) -> Number:
    """min(1, 1 / mixture likelihood ratio): the always-valid p-value at this look."""
    r = mixture_ratio(alpha, units, planned_units)
    z = lift.estimate / lift.se
    log_ratio = r * z * z / (2 * (1 + r)) - 0.5 * np.log1p(r)
    p = np.minimum(1.0, np.exp(-log_ratio))
    if side == "greater":
        p = np.where(z > 0, p, 1.0)
    elif side == "less":
        p = np.where(z < 0, p, 1.0)
    return p[()] if isinstance(p, np.ndarray) else p


# --- Bayesian --------------------------------------------------------------------------


@dataclass(frozen=True)
class Posterior:
    """A normal posterior of a lift."""

    mean: Number
    sd: Number

    def interval(self, alpha: float) -> tuple[Number, Number]:
        """The equal-tailed 1 - alpha credible interval."""
        half = sps.norm.ppf(1 - alpha / 2) * self.sd
        return self.mean - half, self.mean + half

    def chance_to_beat(self, higher_is_better: bool = True) -> Number:
        """The posterior probability that the lift is on the better side of 0."""
        z = self.mean / self.sd
        return sps.norm.cdf(z if higher_is_better else -z)

    def expected_loss(self, higher_is_better: bool = True) -> Number:
        """E[max(0, -lift)] (E[max(0, lift)] when lower is better): the risk of shipping."""
        m = self.mean if higher_is_better else -self.mean
        z = m / self.sd
        return self.sd * sps.norm.pdf(z) - m * sps.norm.cdf(-z)


def posterior(lift: Lift, prior_sd: Number | None = None) -> Posterior:
    """The posterior of a lift with likelihood N(estimate, variance) and prior N(0, prior_sd^2)
    (flat when prior_sd is None)."""
    if prior_sd is None:
        return Posterior(lift.estimate, lift.se)
    precision = 1 / lift.variance + 1 / np.square(prior_sd)
    return Posterior(lift.estimate / lift.variance / precision, np.sqrt(1 / precision))


# --- whole-experiment tests --------------------------------------------------------------


@dataclass(frozen=True)
class SrmTest:
    """Units per variant against the configured weights."""

    observed: dict[str, int]
    expected: dict[str, float]
    chi2: float
    p_value: float
    alpha: float

    @property
    def mismatch(self) -> bool:
        return self.p_value < self.alpha


def sample_ratio_mismatch(
    counts: dict[str, int], weights: dict[str, float], alpha: float = 0.001
) -> SrmTest:
    """Pearson's chi-square goodness of fit of `counts` to `weights` (normalised)."""
    total_weight = sum(weights.values())
    total = sum(counts.get(name, 0) for name in weights)
    expected = {name: total * w / total_weight for name, w in weights.items()}
    observed = {name: int(counts.get(name, 0)) for name in weights}
    if total == 0:
        return SrmTest(observed, expected, 0.0, 1.0, alpha)
    chi2 = sum((observed[n] - expected[n]) ** 2 / expected[n] for n in weights)
    p = float(sps.chi2.sf(chi2, len(weights) - 1))
    return SrmTest(observed, expected, float(chi2), p, alpha)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error rate)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg step-up adjusted p-values (false discovery rate)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i], reverse=True)
    adjusted = [0.0] * m
    running = 1.0
    for rank_from_top, index in enumerate(order):
        rank = m - rank_from_top
        running = min(running, m * p_values[index] / rank)
        adjusted[index] = min(1.0, running)
    return adjusted


def adjust(p_values: Sequence[float], method: Literal["holm", "bh", "none"]) -> list[float]:
    if method == "holm":
        return holm(p_values)
    if method == "bh":
        return benjamini_hochberg(p_values)
    return list(p_values)
