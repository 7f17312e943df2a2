"""The statistics of an experiment, computed from sufficient statistics only.

Nothing here sees a unit: every function takes the few sums the warehouse
computed per arm (`Sums`) or the estimates made from them. The arithmetic
works as well on numpy arrays of sums as on floats, so simulations run
thousands of experiments at once through the very same code.

Conventions
-----------
Where a convention is a choice, `StatisticsSpec` (an experiment's ``statistics:``)
picks it; `conventions` maps each choice onto these functions and names its reference.

Arm estimate
    The mean of a metric's per-unit values over the arm's units, with the
    variance of that mean ``s^2 / n``; ``s^2`` divides by n - 1 (``ddof=1``), or by
    n (``ddof=0``: ``p (1 - p)`` for a proportion, as statsmodels' z tests and
    GrowthBook's proportions).
Ratio metric (delta method)
    ``R = sum(y) / sum(x)`` over an arm's units, with
    ``Var(R) = (s_yy - 2 R s_xy + R^2 s_xx) / (n * mean(x)^2)``: the first-order
    Taylor expansion of ``mean(y) / mean(x)`` (Deng, Knoblich & Lu, "Applying
    the Delta Method in Metric Analytics", KDD 2018).
Absolute lift
    ``treatment - control``, with a Welch t interval (Welch-Satterthwaite
    degrees of freedom, from each arm's variance: a ratio's by the delta method,
    as GrowthBook) or a z interval. The pooled two-proportion z test takes
    its p-value from the variance under the null, ``p (1 - p) (1/n_c + 1/n_t)``
    with ``p`` the rate of both arms together (statsmodels ``proportions_ztest``),
    and its interval from the unpooled (Wald) variance, as statsmodels'
    ``confint_proportions_2indep(method="wald")``: near alpha the two may disagree.
Relative lift
    ``(treatment - control) / |control|`` (``treatment / control - 1`` for a
    positive control), by the delta method:
    ``Var = Var(t) / c^2 + t^2 Var(c) / c^4``, with a z interval or a t interval on
    the absolute lift's Welch-Satterthwaite degrees of freedom (GrowthBook).
    Or, as tea-tasting's ``Mean`` and ``RatioOfMeans``, the delta method on
    ``log(t / c)``: ``Var = Var(t) / t^2 + Var(c) / c^2``, a t interval on the Welch
    degrees of freedom of those two log-scale variances, exponentiated: the
    asymmetric ``[r e^-h, r e^h] - 1`` with ``r = t / c`` (`log_relative_lift`; both
    arms of one sign; its p-value tests ``log(t / c) = 0``). A relative lift is not
    computed when the control's value is within its own 1 - alpha interval of 0
    (``|c| / se(c) <= z_{1 - alpha/2}``), where the ratio's interval (Fieller's) is
    unbounded; when ``se(c) / |c| > 0.1`` the interval is given with a caution,
    the first-order approximation being rough there.
CUPED (Deng, Xu, Kohavi & Walker, WSDM 2013)
    ``y_adj = y - theta * (c - mean(c))`` with ``c`` the unit's value of the
    same metric over a pre-period. ``theta = sum S_yc / sum S_cc`` over the arms
    given: pooled within arms (the covariate's slope in a regression with a
    dummy per arm; pooling keeps the treatment effect out of theta), one arm's
    own (Lin 2013's regression with treatment x covariate interactions), or
    the arms summed into one (GrowthBook, tea-tasting). ``mean(c)`` is over every
    arm, so adjusted means stay on the metric's scale. The relative lift divides
    the adjusted difference ``d`` by the adjusted control mean, or (GrowthBook) by
    the unadjusted one ``b`` (`cuped_base`): ``Var = (Var(t') + Var(c')) / b^2 +
    2 d Cov(c', b) / b^3 + d^2 Var(b) / b^4``, where GrowthBook's mean metrics put
    the unadjusted ``t`` for ``b + d`` (O(1/sqrt(n)) apart). The uncertainty of
    theta and of mean(c) is ignored, as usual (it is O(1/n)).
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
    The lift's likelihood is ``N(estimate, V)`` (``V`` from n - 1 or n variances);
    the prior is ``N(0, s0^2)`` (``s0 = prior_sd * |control|`` for the absolute
    lift, `prior_sd` itself for the relative lift), or flat when `prior_sd` is
    None. Chance to beat control is the posterior probability that the lift is
    on the metric's better side; expected loss (risk) is ``E[max(0, -lift)]``
    (``E[max(0, lift)]`` when lower is better): what shipping the variant
    costs on average if it is worse.
Sample ratio mismatch and multiple comparisons
    See `family`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from warehouse_kit.analytics.experiments.distributions import (
    norm_cdf,
    norm_pdf,
    norm_ppf,
    t_ppf,
    t_sf,
)
from warehouse_kit.analytics.experiments.sums import Number, Sums

Side = Literal["two", "greater", "less"]
"""The alternative: two-sided, or the lift is greater (less) than 0."""

RELATIVE_CAUTION_CV = 0.1
"""Above this standard error / |control|, a relative interval comes with a caution."""


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
    null_variance: Number | None = None
    """The estimate's variance if there were no lift, when the test uses another than
    `variance` (the pooled two-proportion z test)."""
    log_sign: Number | None = None
    """Set when the lift is ``s log(t / c)``, s the control's sign: its interval is reported
    on the relative scale (`reported`)."""

    @property
    def se(self) -> Number:
        return np.sqrt(self.variance)

    def reported(self, x: Number) -> Number:
        """A value on the lift's scale as reported: itself, or a log-scale lift's relative
        lift ``s (exp(s x) - 1)`` (``(t - c) / |c|``; increasing in x)."""
        if self.log_sign is None:
            return x
        return self.log_sign * np.expm1(self.log_sign * x)


# --- arm estimates ----------------------------------------------------------------------


def _centered(total: Number, square: Number, n: Number) -> Number:
    """Sum of squared deviations from the mean, from the sums."""
    return square - total * total / n


def _cross(a: Number, b: Number, ab: Number, n: Number) -> Number:
    return ab - a * b / n


def mean_estimate(s: Sums, ddof: int = 1) -> Estimate:
    """The arm's mean of y, and the variance of that mean (variance / n, the variance's
    sum of squares divided by n - ddof)."""
    variance = _centered(s.y, s.yy, s.n) / (s.n - ddof)
    return Estimate(s.y / s.n, variance / s.n, s.n)


def ratio_estimate(s: Sums, ddof: int = 1) -> Estimate:
    """sum(y) / sum(x), with its delta-method variance."""
    ratio = s.y / s.x
    s_yy = _centered(s.y, s.yy, s.n) / (s.n - ddof)
    s_xx = _centered(s.x, s.xx, s.n) / (s.n - ddof)
    s_xy = _cross(s.x, s.y, s.xy, s.n) / (s.n - ddof)
    mean_x = s.x / s.n
    variance = (s_yy - 2 * ratio * s_xy + ratio * ratio * s_xx) / (s.n * mean_x * mean_x)
    return Estimate(ratio, variance, s.n)


def cuped_theta(arms: Sequence[Sums]) -> Number:
    """The covariate's slope pooled within `arms`: sum S_yc / sum S_cc (0 if c is constant).

    One arm: its own slope; the arms summed into one (``[a + b]``): the slope over all units.
    """
    s_yc = sum(_cross(a.y, a.c, a.yc, a.n) for a in arms)
    s_cc = sum(_centered(a.c, a.cc, a.n) for a in arms)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s_cc > 0, s_yc / np.where(s_cc > 0, s_cc, 1.0), 0.0)[()]


def cuped_base(s: Sums, theta: Number, ddof: int = 1) -> tuple[Estimate, Number]:
    """The arm's unadjusted mean of y, and its covariance with the CUPED-adjusted mean."""
    s_yy = _centered(s.y, s.yy, s.n)
    s_yc = _cross(s.y, s.c, s.yc, s.n)
    return mean_estimate(s, ddof), (s_yy - theta * s_yc) / (s.n - ddof) / s.n


def cuped_estimate(s: Sums, theta: Number, covariate_mean: Number, ddof: int = 1) -> Estimate:
    """The arm's mean of y - theta (c - covariate_mean), and its variance."""
    s_yy = _centered(s.y, s.yy, s.n)
    s_cc = _centered(s.c, s.cc, s.n)
    s_yc = _cross(s.y, s.c, s.yc, s.n)
    variance = (s_yy - 2 * theta * s_yc + theta * theta * s_cc) / (s.n - ddof)
    value = s.y / s.n - theta * (s.c / s.n - covariate_mean)
    return Estimate(value, variance / s.n, s.n)


# --- lifts -----------------------------------------------------------------------------


def welch_df(control: Estimate, treatment: Estimate) -> Number:
    """The Welch-Satterthwaite degrees of freedom of treatment - control (inf when neither
    arm varies yet)."""
    variance = control.variance + treatment.variance
    spread = control.variance**2 / (control.n - 1) + treatment.variance**2 / (treatment.n - 1)
    if isinstance(spread, int | float) and not spread > 0:
        return math.inf  # no variation in either arm yet
    return variance**2 / spread


def absolute_lift(control: Estimate, treatment: Estimate, *, welch: bool = True) -> Lift:
    """treatment - control; Welch-Satterthwaite degrees of freedom, or normal."""
    variance = control.variance + treatment.variance
    df = welch_df(control, treatment) if welch else math.inf
    return Lift(treatment.value - control.value, variance, df)


def pooled_proportion_lift(control: Sums, treatment: Sums) -> Lift:
    """p_t - p_c with the unpooled (Wald) variance, and the pooled one for its test."""
    e_c, e_t = mean_estimate(control, ddof=0), mean_estimate(treatment, ddof=0)
    rate = (control.y + treatment.y) / (control.n + treatment.n)
    null = rate * (1 - rate) * (1 / control.n + 1 / treatment.n)
    return Lift(e_t.value - e_c.value, e_c.variance + e_t.variance, null_variance=null)


def relative_lift(
    control: Estimate,
    treatment: Estimate,
    df: Number = math.inf,
    base: Estimate | None = None,
    covariance: Number = 0.0,
) -> Lift:
    """(treatment - control) / |base|, with its delta-method variance.

    `base` is the control by default; else (CUPED's unadjusted control mean) a value of
    the control's arm with this `covariance` with the control's value.
    """
    c, t = control.value, treatment.value
    if base is None:
        variance = treatment.variance / c**2 + t**2 * control.variance / c**4
        return Lift((t - c) / np.abs(c), variance, df)
    b, difference = base.value, t - c
    variance = (
        (treatment.variance + control.variance) / b**2
        + 2 * difference * covariance / b**3
        + difference**2 * base.variance / b**4
    )
    return Lift(difference / np.abs(b), variance, df)


def log_relative_lift(control: Estimate, treatment: Estimate) -> Lift:
    """``s log(t / c)`` (s: the control's sign, so that it has the sign of the relative lift),
    with the delta-method variance ``Var(t) / t^2 + Var(c) / c^2`` and the Welch df of those
    two log-scale variances: tea-tasting's ``Mean`` (``use_t=True``). Arms of one sign."""
    sign = np.sign(control.value)

    def log_of(arm: Estimate) -> Estimate:
        return Estimate(np.log(np.abs(arm.value)), arm.variance / arm.value**2, arm.n)

    lift = absolute_lift(log_of(control), log_of(treatment), welch=True)
    return Lift(sign * lift.estimate, lift.variance, lift.df, log_sign=sign)


def relative_problem(control: Estimate, alpha: float) -> str | None:
    """Why there is no relative lift over this control (it is too near 0), or None."""
    se = math.sqrt(control.variance)
    if control.value == 0 or abs(control.value) <= norm_ppf(1 - alpha / 2) * se:
        return (
            f"the control's value {control.value:.6g} is within its {1 - alpha:.0%} interval "
            f"of 0 (standard error {se:.3g}): no relative lift (read the absolute one)"
        )
    return None


def relative_caution(control: Estimate) -> str | None:
    """A warning that the relative interval is rough (a control noisy for its size), or None."""
    cv = math.sqrt(control.variance) / abs(control.value)
    if cv > RELATIVE_CAUTION_CV:
        return (
            f"the relative interval is wide and approximate: the control's standard error "
            f"is {cv:.0%} of its value"
        )
    return None


# --- fixed-horizon tests ---------------------------------------------------------------


def _quantile(lift: Lift, level: Number) -> Number:
    return t_ppf(level, lift.df)  # the normal's when df is infinite


def _sf(lift: Lift, z: Number) -> Number:
    return t_sf(z, lift.df)


def p_value(lift: Lift, side: Side = "two") -> Number:
    """The fixed-horizon p-value of lift = 0 against `side`."""
    z = lift.estimate / (lift.se if lift.null_variance is None else np.sqrt(lift.null_variance))
    if side == "two":
        return 2 * _sf(lift, np.abs(z))
    return _sf(lift, z if side == "greater" else -z)


def interval(lift: Lift, alpha: float, side: Side = "two") -> tuple[Number, Number]:
    """The fixed-horizon 1 - alpha confidence interval (one-sided: one bound at its limit,
    infinite or a log-scale lift's -1 or 1)."""
    half = _quantile(lift, 1 - alpha / 2 if side == "two" else 1 - alpha) * lift.se
    low, high = lift.estimate - half, lift.estimate + half
    if side == "greater":
        high = np.inf + 0 * high
    elif side == "less":
        low = -np.inf + 0 * low
    return lift.reported(low), lift.reported(high)


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
        half = norm_ppf(1 - alpha / 2) * self.sd
        return self.mean - half, self.mean + half

    def chance_to_beat(self, higher_is_better: bool = True) -> Number:
        """The posterior probability that the lift is on the better side of 0."""
        z = self.mean / self.sd
        return norm_cdf(z if higher_is_better else -z)

    def expected_loss(self, higher_is_better: bool = True) -> Number:
        """E[max(0, -lift)] (E[max(0, lift)] when lower is better): the risk of shipping."""
        m = self.mean if higher_is_better else -self.mean
        z = m / self.sd
        return self.sd * norm_pdf(z) - m * norm_cdf(-z)


def posterior(lift: Lift, prior_sd: Number | None = None) -> Posterior:
    """The posterior of a lift with likelihood N(estimate, variance) and prior N(0, prior_sd^2)
    (flat when prior_sd is None)."""
    if prior_sd is None:
        return Posterior(lift.estimate, lift.se)
    precision = 1 / lift.variance + 1 / np.square(prior_sd)
    return Posterior(lift.estimate / lift.variance / precision, np.sqrt(1 / precision))
