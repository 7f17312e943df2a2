"""Tests of an experiment as a whole: the split of its units, and its family of comparisons.

Sample ratio mismatch
    Pearson's chi-square goodness of fit of the units per variant against the
    configured weights, k - 1 degrees of freedom.
Multiple comparisons
    Holm (1979) step-down and Benjamini-Hochberg (1995) step-up adjusted
    p-values, across every (variant, metric) comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from warehouse_kit.analytics.experiments.distributions import chi2_sf


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
    p = float(chi2_sf(chi2, len(weights) - 1))
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
