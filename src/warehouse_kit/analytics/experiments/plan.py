"""Power, sample size and minimum detectable effect of a planned experiment.

One variant against the control, with a two-sample z test (what the fixed
engine's Welch test becomes at these sizes). Both arms are assumed to share
the control's per-unit standard deviation ``sd`` (``sqrt(p (1 - p))`` for a
proportion ``p``); CUPED's `variance_reduction` (the share of variance the
covariate explains, 0 to 1) scales it by ``1 - variance_reduction``. With
``n`` units in all and shares ``w_c`` and ``w_t`` for the two arms, the lift
has standard error ``se = sd * sqrt(1 / (n w_c) + 1 / (n w_t))`` and

    power = Phi(effect / se - z_{1 - alpha/2}) + Phi(-effect / se - z_{1 - alpha/2})

two-sided (the second term is the far tail), ``Phi(effect / se - z_{1 - alpha})``
one-sided. `sample_size` and `minimum_detectable_effect` solve that equation
for ``n`` and ``effect`` (statsmodels' ``NormalIndPower`` gives the same
numbers). With several variants, plan each comparison with its two weights and
read the total for all; alpha is per comparison (divide it for a Bonferroni
plan).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import optimize  # type: ignore[import-untyped]
from scipy import stats as sps

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

    def __str__(self) -> str:
        relative = f" ({self.relative_effect:+.2%})" if self.relative_effect is not None else ""
        days = f", about {math.ceil(self.days)} days" if self.days is not None else ""
        return (
            f"{self.units:,} units ({self.control_units:,} control, {self.variant_units:,} "
            f"variant){days} to detect a lift of {self.effect:+.4g}{relative} over a baseline of "
            f"{self.baseline:.4g} (sd {self.sd:.4g}) with {self.power:.0%} power, "
            f"alpha {self.alpha} {self.sided}-sided"
        )


def power(
    units: float,
    effect: float,
    *,
    sd: float,
    alpha: float = 0.05,
    sided: str = "two",
    weights: tuple[float, float] = (0.5, 0.5),
) -> float:
    """The probability of a significant result with `units` units and a true `effect`."""
    w_c, w_t = _shares(weights)
    se = sd * math.sqrt(1 / (units * w_c) + 1 / (units * w_t))
    shift = abs(effect) / se
    if sided == "two":
        z = sps.norm.ppf(1 - alpha / 2)
        return float(sps.norm.cdf(shift - z) + sps.norm.cdf(-shift - z))
    return float(sps.norm.cdf(shift - sps.norm.ppf(1 - alpha)))


def plan(
    baseline: float,
    *,
    sd: float | None = None,
    mde: float | None = None,
    relative: bool = True,
    units: int | None = None,
    alpha: float = 0.05,
    power_target: float = 0.8,
    sided: str = "two",
    weights: tuple[float, float] = (0.5, 0.5),
    variance_reduction: float = 0.0,
    units_per_day: float | None = None,
) -> Plan:
    """Solve for what is missing: the units for an `mde`, or the MDE for `units`.

    `baseline` is the control's mean (a proportion for a binomial metric, when `sd` is
    None); `mde` is relative (0.05 is +5%) unless `relative` is False. With both `mde`
    and `units`, the plan reports the power they give.
    """
    _check(baseline, sd, alpha, power_target, variance_reduction)
    sigma = _sd(baseline, sd) * math.sqrt(1 - variance_reduction)
    if mde is None and units is None:
        raise PlanError("give the minimum detectable effect (mde), the units, or both")
    if mde is not None:
        effect = mde * baseline if relative else mde
        if effect == 0:
            raise PlanError("the minimum detectable effect must not be 0")
        if units is None:
            units = sample_size(effect, sd=sigma, alpha=alpha, power_target=power_target,
                                sided=sided, weights=weights)  # fmt: skip
    else:
        assert units is not None
        effect = minimum_detectable_effect(
            units, sd=sigma, alpha=alpha, power_target=power_target, sided=sided, weights=weights
        )
    w_c, w_t = _shares(weights)
    return Plan(
        units=units,
        control_units=math.ceil(units * w_c),
        variant_units=math.ceil(units * w_t),
        effect=effect,
        relative_effect=effect / baseline if baseline else None,
        power=power(units, effect, sd=sigma, alpha=alpha, sided=sided, weights=weights),
        alpha=alpha,
        sided=sided,
        baseline=baseline,
        sd=sigma,
        days=units / units_per_day if units_per_day else None,
    )


def sample_size(
    effect: float,
    *,
    sd: float,
    alpha: float = 0.05,
    power_target: float = 0.8,
    sided: str = "two",
    weights: tuple[float, float] = (0.5, 0.5),
) -> int:
    """The fewest units (both arms) that reach `power_target` for an absolute `effect`."""
    exact = _solve_units(effect, sd, alpha, power_target, sided, weights)
    return math.ceil(exact - 1e-9)


def _solve_units(
    effect: float,
    sd: float,
    alpha: float,
    power_target: float,
    sided: str,
    weights: tuple[float, float],
) -> float:
    w_c, w_t = _shares(weights)
    z = sps.norm.ppf(1 - alpha / 2 if sided == "two" else 1 - alpha)
    guess = (z + sps.norm.ppf(power_target)) ** 2 * sd**2 * (1 / w_c + 1 / w_t) / effect**2

    def gap(units: float) -> float:
        return power(units, effect, sd=sd, alpha=alpha, sided=sided, weights=weights) - (
            power_target
        )

    # the far tail only adds power, so the one-tail guess is an upper bound (power > alpha
    # makes it positive)
    return float(optimize.brentq(gap, guess * 1e-6, guess * 1.0001, xtol=1e-10, rtol=1e-14))


def minimum_detectable_effect(
    units: float,
    *,
    sd: float,
    alpha: float = 0.05,
    power_target: float = 0.8,
    sided: str = "two",
    weights: tuple[float, float] = (0.5, 0.5),
) -> float:
    """The smallest absolute effect that `units` units detect with `power_target`."""
    w_c, w_t = _shares(weights)
    se = sd * math.sqrt(1 / (units * w_c) + 1 / (units * w_t))
    z = sps.norm.ppf(1 - alpha / 2 if sided == "two" else 1 - alpha)
    guess = (z + sps.norm.ppf(power_target)) * se

    def gap(effect: float) -> float:
        return power(units, effect, sd=sd, alpha=alpha, sided=sided, weights=weights) - (
            power_target
        )

    return float(optimize.brentq(gap, guess * 1e-6, guess * 1.0001, xtol=1e-15, rtol=1e-14))


def _shares(weights: tuple[float, float]) -> tuple[float, float]:
    control, variant = weights
    if not (control > 0 and variant > 0):
        raise PlanError(f"weights must be positive, not {weights}")
    return control / (control + variant), variant / (control + variant)


def _sd(baseline: float, sd: float | None) -> float:
    if sd is not None:
        return sd
    if not 0 < baseline < 1:
        raise PlanError(
            f"without sd the baseline is a proportion, strictly between 0 and 1, not {baseline}"
        )
    return math.sqrt(baseline * (1 - baseline))


def _check(
    baseline: float, sd: float | None, alpha: float, power_target: float, reduction: float
) -> None:
    if sd is not None and not sd > 0:
        raise PlanError(f"sd must be positive, not {sd}")
    if not 0 < alpha < 0.5:
        raise PlanError(f"alpha must be between 0 and 0.5, not {alpha}")
    if not alpha < power_target < 1:
        raise PlanError(f"power must be between alpha ({alpha}) and 1, not {power_target}")
    if not 0 <= reduction < 1:
        raise PlanError(f"variance_reduction must be from 0 to under 1, not {reduction}")
    if baseline == 0 and sd is None:
        raise PlanError("a baseline of 0 needs sd")
