"""Power, sample size and minimum detectable effect of a planned experiment.

One variant against the control, with a two-sample normal test (what the
fixed engine's tests become at these sizes). `Arms` says what the lift's
variance is made of:

- a mean metric: the control's per-unit standard deviation ``sd`` and the
  variant's ``sd_variant`` (default: the same), so
  ``se = sqrt(sd^2 / n_c + sd_variant^2 / n_t)`` (unequal variances, as Welch's);
- a proportion ``p`` (no ``sd``): ``se = sqrt(p_c (1 - p_c) / n_c + p_t (1 - p_t) / n_t)``
  with ``p_t = p_c + effect``, the unpooled normal formula; with ``pooled`` (the
  pooled z test), the variance under the null is ``p (1 - p) (1/n_c + 1/n_t)`` with
  ``p`` the rate of both arms, as statsmodels' ``power_proportions_2indep``.

CUPED's `variance_reduction` (the share of variance the covariate explains, 0
to 1) scales every variance by ``1 - variance_reduction``. With ``s0`` and ``s1``
the lift's standard errors under the null and the alternative,

    power = Phi((|effect| - z_{1 - alpha/2} s0) / s1) + Phi((-|effect| - z_{1 - alpha/2} s0) / s1)

two-sided (the second term is the far tail), the first term with
``z_{1 - alpha}`` one-sided: statsmodels' ``normal_power_het`` (``NormalIndPower``
when ``s0 = s1`` and the sds are equal). `sample_size` and
`minimum_detectable_effect` solve that equation for ``n`` and ``effect``. With
several variants, plan each comparison with its two weights and read the total
for all; alpha is per comparison (divide it for a Bonferroni plan).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from warehouse_kit.analytics.experiments.distributions import brentq, norm_cdf, norm_ppf
from warehouse_kit.core.errors import WarehouseKitError


class PlanError(WarehouseKitError, ValueError):
    """A plan's inputs do not make sense."""


@dataclass(frozen=True)
class Plan:
    """A planned comparison: how many units, what effect, what power."""

    units: int
    """Units in all the arms together (the control's and the variant's shares of it)."""
    control_units: int
    variant_units: int
    effect: float
    """The absolute lift (treatment - control) planned for."""
    relative_effect: float | None
    power: float
    alpha: float
    sided: str
    baseline: float
    sd: float
    days: float | None = None
    """How long collecting `units` takes at the given units per day."""
    method: str = "normal"
    """The variance formula: normal (one sd), unequal variances, or two proportions."""

    def __str__(self) -> str:
        relative = f" ({self.relative_effect:+.2%})" if self.relative_effect is not None else ""
        days = f", about {math.ceil(self.days)} days" if self.days is not None else ""
        return (
            f"{self.units:,} units ({self.control_units:,} control, {self.variant_units:,} "
            f"variant){days} to detect a lift of {self.effect:+.4g}{relative} over a baseline of "
            f"{self.baseline:.4g} (sd {self.sd:.4g}) with {self.power:.0%} power, "
            f"alpha {self.alpha} {self.sided}-sided ({self.method})"
        )


@dataclass(frozen=True)
class Arms:
    """What the lift's variance is made of: each arm's per-unit sd, or a proportion."""

    sd: float | None = None
    """The control's per-unit standard deviation (None: a proportion, `rate`)."""
    sd_variant: float | None = None
    """The variant's (default: `sd`)."""
    rate: float | None = None
    """The control's proportion, for a binomial metric."""
    pooled: bool = False
    """The pooled two-proportion z test: the variance under the null pools the arms."""
    weights: tuple[float, float] = (0.5, 0.5)
    variance_factor: float = 1.0
    """1 - CUPED's variance reduction."""

    def spreads(self, effect: float) -> tuple[float, float]:
        """sqrt(units) times the lift's standard error, under the null and the alternative."""
        w_c, w_t = _shares(self.weights)
        if self.rate is None:
            assert self.sd is not None
            sd_t = self.sd if self.sd_variant is None else self.sd_variant
            alternative = math.sqrt((self.sd**2 / w_c + sd_t**2 / w_t) * self.variance_factor)
            return alternative, alternative
        p_c, p_t = self.rate, self.rate + effect
        alternative = math.sqrt(
            (p_c * (1 - p_c) / w_c + p_t * (1 - p_t) / w_t) * self.variance_factor
        )
        if not self.pooled:
            return alternative, alternative
        p = w_c * p_c + w_t * p_t
        return math.sqrt(p * (1 - p) * (1 / w_c + 1 / w_t) * self.variance_factor), alternative


def power(
    units: float, effect: float, arms: Arms, *, alpha: float = 0.05, sided: str = "two"
) -> float:
    """The probability of a significant result with `units` units and a true `effect`."""
    null, alternative = arms.spreads(effect)
    shift = abs(effect) * math.sqrt(units)
    z = norm_ppf(1 - alpha / 2 if sided == "two" else 1 - alpha)
    near = norm_cdf((shift - z * null) / alternative)
    if sided != "two":
        return float(near)
    return float(near + norm_cdf((-shift - z * null) / alternative))


def plan(
    baseline: float,
    *,
    sd: float | None = None,
    sd_variant: float | None = None,
    mde: float | None = None,
    relative: bool = True,
    units: int | None = None,
    alpha: float = 0.05,
    power_target: float = 0.8,
    sided: str = "two",
    weights: tuple[float, float] = (0.5, 0.5),
    variance_reduction: float = 0.0,
    units_per_day: float | None = None,
    pooled: bool = False,
) -> Plan:
    """Solve for what is missing: the units for an `mde`, or the MDE for `units`.

    `baseline` is the control's mean (a proportion for a binomial metric, when `sd` is
    None); `mde` is relative (0.05 is +5%) unless `relative` is False. With both `mde`
    and `units`, the plan reports the power they give. `sd_variant` is the variant's sd
    when it differs; `pooled` plans a proportion for the pooled two-proportion z test.
    """
    _check(baseline, sd, sd_variant, alpha, power_target, variance_reduction)
    if sd_variant is not None and sd is None:
        raise PlanError("sd_variant needs sd (the control's)")
    rate = None if sd is not None else _rate(baseline)
    arms = Arms(sd, sd_variant, rate, pooled, weights, 1 - variance_reduction)
    if mde is None and units is None:
        raise PlanError("give the minimum detectable effect (mde), the units, or both")
    if mde is not None:
        effect = mde * baseline if relative else mde
        if effect == 0:
            raise PlanError("the minimum detectable effect must not be 0")
        if rate is not None and not 0 < rate + effect < 1:
            raise PlanError(f"the variant's rate {rate + effect:.4g} must be between 0 and 1")
        if units is None:
            units = sample_size(effect, arms, alpha=alpha, power_target=power_target,
                                sided=sided)  # fmt: skip
    else:
        assert units is not None
        effect = minimum_detectable_effect(
            units, arms, alpha=alpha, power_target=power_target, sided=sided
        )
    w_c, w_t = _shares(weights)
    return Plan(
        units=units,
        control_units=math.ceil(units * w_c),
        variant_units=math.ceil(units * w_t),
        effect=effect,
        relative_effect=effect / baseline if baseline else None,
        power=power(units, effect, arms, alpha=alpha, sided=sided),
        alpha=alpha,
        sided=sided,
        baseline=baseline,
        sd=_sd(baseline, sd) * math.sqrt(1 - variance_reduction),
        days=units / units_per_day if units_per_day else None,
        method=_method(arms),
    )


def sample_size(
    effect: float,
    arms: Arms,
    *,
    alpha: float = 0.05,
    power_target: float = 0.8,
    sided: str = "two",
) -> int:
    """The fewest units (both arms) that reach `power_target` for an absolute `effect`."""
    exact = solve_units(effect, arms, alpha=alpha, power_target=power_target, sided=sided)
    return math.ceil(exact - 1e-9)


def solve_units(
    effect: float, arms: Arms, *, alpha: float, power_target: float, sided: str
) -> float:
    """The units (not rounded) at which the power is `power_target`."""
    null, alternative = arms.spreads(effect)
    z = norm_ppf(1 - alpha / 2 if sided == "two" else 1 - alpha)
    guess = ((z * null + norm_ppf(power_target) * alternative) / effect) ** 2

    def gap(units: float) -> float:
        return power(units, effect, arms, alpha=alpha, sided=sided) - power_target

    # the far tail only adds power, so the one-tail guess is an upper bound (power > alpha
    # makes it positive)
    return float(brentq(gap, guess * 1e-6, guess * 1.0001, xtol=1e-10, rtol=1e-14))


def minimum_detectable_effect(
    units: float,
    arms: Arms,
    *,
    alpha: float = 0.05,
    power_target: float = 0.8,
    sided: str = "two",
) -> float:
    """The smallest absolute (positive) effect that `units` units detect with `power_target`."""

    def gap(effect: float) -> float:
        return power(units, effect, arms, alpha=alpha, sided=sided) - power_target

    null, _ = arms.spreads(0.0)
    z = norm_ppf(1 - alpha / 2 if sided == "two" else 1 - alpha)
    high = (z + norm_ppf(power_target)) * null / math.sqrt(units) * 1.0001
    if arms.rate is not None:  # the variance moves with the effect: widen up to a rate of 1
        ceiling = 1 - arms.rate - 1e-12
        while gap(high) < 0 and high < ceiling:
            high = min(2 * high, ceiling)
        if gap(high) < 0:
            raise PlanError(
                f"no lift over a rate of {arms.rate} reaches the power with {units} units"
            )
    return float(brentq(gap, high * 1e-6, high, xtol=1e-15, rtol=1e-14))


def _method(arms: Arms) -> str:
    if arms.rate is None:
        return "normal, unequal variances" if arms.sd_variant is not None else "normal"
    return "two proportions, pooled z" if arms.pooled else "two proportions, unpooled z"


def _shares(weights: tuple[float, float]) -> tuple[float, float]:
    control, variant = weights
    if not (control > 0 and variant > 0):
        raise PlanError(f"weights must be positive, not {weights}")
    return control / (control + variant), variant / (control + variant)


def _sd(baseline: float, sd: float | None) -> float:
    return sd if sd is not None else math.sqrt(_rate(baseline) * (1 - _rate(baseline)))


def _rate(baseline: float) -> float:
    if not 0 < baseline < 1:
        raise PlanError(
            f"without sd the baseline is a proportion, strictly between 0 and 1, not {baseline}"
        )
    return baseline


def _check(
    baseline: float,
    sd: float | None,
    sd_variant: float | None,
    alpha: float,
    power_target: float,
    reduction: float,
) -> None:
    for name, value in (("sd", sd), ("sd_variant", sd_variant)):
        if value is not None and not value > 0:
            raise PlanError(f"{name} must be positive, not {value}")
    if not 0 < alpha < 0.5:
        raise PlanError(f"alpha must be between 0 and 0.5, not {alpha}")
    if not alpha < power_target < 1:
        raise PlanError(f"power must be between alpha ({alpha}) and 1, not {power_target}")
    if not 0 <= reduction < 1:
        raise PlanError(f"variance_reduction must be from 0 to under 1, not {reduction}")
    if baseline == 0 and sd is None:
        raise PlanError("a baseline of 0 needs sd")
