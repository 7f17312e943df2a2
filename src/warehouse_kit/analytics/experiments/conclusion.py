"""An experiment's conclusion in plain language: what `ExperimentResult.conclusion` says.

The sample ratio comes first (a mismatch voids every lift, so nothing else is
said), then a sentence per primary metric, the guardrails (each one that got
worse, or that none did), the other metrics that moved, what to do, and the
warnings as cautions.
"""

from __future__ import annotations

from collections.abc import Sequence

from warehouse_kit.analytics.experiments.comparison import Comparison
from warehouse_kit.analytics.experiments.family import SrmTest
from warehouse_kit.analytics.experiments.formatting import interval, number, p_value, percent


def conclude(
    comparisons: Sequence[Comparison],
    *,
    srm: SrmTest,
    split: str,
    alpha: float,
    engine: str,
    warnings: Sequence[str],
) -> str:
    """The conclusion as one paragraph; `split` is the units per variant, as written in it."""
    if srm.mismatch:
        return " ".join(
            [
                f"Do not use these results: the sample ratio is off ({split}, "
                f"chi-square p = {srm.p_value:.3g} < {srm.alpha}).",
                "The assignment or the exposure logging is broken, so every lift below "
                "is suspect, however significant it looks.",
                "Find and fix the cause, then analyse the experiment again.",
            ]
        )
    primary = [c for c in comparisons if c.role == "primary"]
    guardrails = [c for c in comparisons if c.role == "guardrail"]
    others = [c for c in comparisons if c.role not in ("primary", "guardrail")]
    lines = [f"The sample ratio is as planned ({split})."]
    lines += [_finding(c, alpha, engine) for c in primary]
    harmed = [c for c in guardrails if c.verdict == "worse"]
    if harmed:
        lines += [_finding(c, alpha, engine) for c in harmed]
    elif guardrails:
        names = ", ".join(c.metric for c in guardrails)
        lines.append(f"No guardrail got worse ({names}).")
    lines += [_finding(c, alpha, engine) for c in others if c.verdict != "inconclusive"]
    lines.append(_advice(primary, harmed, engine))
    lines += [f"Caution: {warning}." for warning in warnings]
    return " ".join(lines)


def _finding(c: Comparison, alpha: float, engine: str) -> str:
    """One comparison as a sentence. It opens with the metric, so it never starts with a
    lowercase variant name."""
    metric = f"On {c.metric} ({c.role})"
    if c.absolute is None or c.absolute_ci is None:
        return f"{metric}, {c.variant} was not compared ({c.note or 'no data'})."
    if c.relative is not None and c.relative_ci is not None:
        change = f"{percent(c.relative)} {interval(c.relative_ci, percent=True)}"
    else:
        change = f"{number(c.absolute, sign=True)} {interval(c.absolute_ci)}"
    evidence = f"{change}, {_evidence(c, alpha, engine)}"
    if c.verdict in ("better", "worse"):
        return f"{metric}, {c.variant} is {c.verdict}: {evidence}."
    return f"{metric}, {c.variant} shows no clear difference: {evidence}."


def _evidence(c: Comparison, alpha: float, engine: str) -> str:
    if c.chance_to_beat is not None:
        return f"chance to beat control {c.chance_to_beat:.1%}"
    kind = "always-valid p" if engine == "sequential" else "p"
    return f"adjusted {kind} = {p_value(c.p_adjusted)} (alpha {alpha:g})"


def _advice(primary: list[Comparison], harmed: list[Comparison], engine: str) -> str:
    if harmed:
        return "Do not ship as it is: a guardrail got worse."
    if not primary:
        return "No primary metric is declared: decide on the metrics above."
    if any(c.verdict == "worse" for c in primary):
        return "Do not ship: the primary metric got worse."
    if all(c.verdict == "better" for c in primary):
        return "The variant wins on its primary metric: ship it."
    if engine == "sequential":
        return "Not conclusive yet: keep the experiment running (the intervals stay valid)."
    return (
        "Not conclusive: the data cannot tell the variants apart on the primary metric "
        "at this sample size."
    )
