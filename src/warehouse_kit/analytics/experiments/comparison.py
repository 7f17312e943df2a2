"""One comparison: a metric, a variant against the control, its figures and its verdict.

A `Comparison` holds the control's and the variant's values, the absolute lift
(variant - control) and the relative lift (variant / control - 1) with their
intervals, and, by engine, the p-value (adjusted across comparisons) or the
chance to beat control and the expected loss; `Cuped` says what CUPED did to
it. A `Comparison` whose `note` is set lacks what the note explains, or
cautions about a figure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

Interval = tuple[float, float]


@dataclass(frozen=True)
class Cuped:
    """What CUPED did to a comparison."""

    theta: float
    variance_reduction: float
    """1 - adjusted / unadjusted variance of the absolute lift."""
    unadjusted_ci: Interval
    """The absolute lift's interval without the adjustment, to compare widths."""
    variant_theta: float | None = None
    """The variant's own theta, when each arm has its own (`theta` is then the control's)."""


@dataclass(frozen=True)
class Comparison:
    """One metric, one variant against the control."""

    metric: str
    type: str
    role: str
    variant: str
    higher_is_better: bool
    units: tuple[int, int]
    """Units in the control and in the variant."""
    control_value: float | None = None
    variant_value: float | None = None
    absolute: float | None = None
    absolute_ci: Interval | None = None
    relative: float | None = None
    relative_ci: Interval | None = None
    relative_p_value: float | None = None
    """The relative lift's p-value (delta method; not adjusted, as the absolute one is)."""
    p_value: float | None = None
    p_adjusted: float | None = None
    chance_to_beat: float | None = None
    expected_loss: float | None = None
    relative_expected_loss: float | None = None
    """The Bayesian risk on the relative lift: E[max(0, -lift)] on the worse side."""
    cuped: Cuped | None = None
    verdict: str = "inconclusive"
    """better, worse (significantly, or by the posterior), or inconclusive."""
    note: str = ""

    def but(self, **changes: Any) -> Comparison:
        return replace(self, **changes)

    def with_verdict(self, alpha: float) -> Comparison:
        """better / worse when the adjusted p-value (or the posterior) says so."""
        if self.absolute is None:
            return self
        up = self.absolute > 0
        if self.chance_to_beat is not None:
            if self.chance_to_beat >= 1 - alpha:
                return self.but(verdict="better")
            return self.but(verdict="worse" if self.chance_to_beat <= alpha else "inconclusive")
        if self.p_adjusted is None or not self.p_adjusted < alpha:
            return self.but(verdict="inconclusive")
        return self.but(verdict="better" if up == self.higher_is_better else "worse")
