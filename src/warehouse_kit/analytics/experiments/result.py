"""What `analyze` returns: an `ExperimentResult`, for notebooks, the console and JSON.

One `Comparison` per (metric, variant): the control's and the variant's
values, the absolute lift (variant - control) and the relative lift
(variant / control - 1) with their intervals, and, by engine, the p-value
(adjusted across comparisons) or the chance to beat control and the expected
loss. A `Comparison` whose `note` is set lacks what the note explains, or
cautions about a figure. `ExperimentResult.notes` starts with the conventions
that produced the figures (see `conventions`).
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from warehouse_kit.analytics.experiments.family import SrmTest
from warehouse_kit.core.templating import Prose, render

if TYPE_CHECKING:
    import pandas as pd

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


@dataclass(frozen=True)
class Banner:
    """A status line, shown large: green when `ok`, red otherwise."""

    headline: str
    detail: str
    ok: bool

    def __repr__(self) -> str:
        return f"{self.headline}\n{self.detail}"

    def _repr_html_(self) -> str:
        return render("experiment_banner.html.j2", banner=self)


@dataclass(frozen=True)
class ExperimentResult:
    """An experiment's analysis."""

    experiment: str
    engine: str
    alpha: float
    sided: str
    correction: str
    window: tuple[datetime, datetime]
    control: str
    units: dict[str, int]
    srm: SrmTest
    comparisons: list[Comparison]
    crossovers: int = 0
    unknown_variants: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def comparison(self, metric: str, variant: str | None = None) -> Comparison:
        """The comparison of `metric` for `variant` (default: the only, or first, treatment)."""
        for found in self.comparisons:
            if found.metric == metric and variant in (None, found.variant):
                return found
        raise KeyError(f"no comparison of {metric!r} for {variant or 'any variant'}")

    @property
    def sample_ratio_mismatch(self) -> bool:
        return self.srm.mismatch

    # --- output --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["window"] = [moment.isoformat() for moment in self.window]
        data["srm"] = {**asdict(self.srm), "mismatch": self.srm.mismatch}
        return _finite(data)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_frame(self) -> pd.DataFrame:
        """A row per comparison (pandas)."""
        import pandas as pd

        rows = []
        for c in self.comparisons:
            row = {k: v for k, v in asdict(c).items() if k not in ("cuped", "units")}
            row["control_units"], row["variant_units"] = c.units
            for key in ("absolute_ci", "relative_ci"):
                low, high = row.pop(key) or (None, None)
                row[f"{key}_low"], row[f"{key}_high"] = low, high
            row["cuped_variance_reduction"] = c.cuped.variance_reduction if c.cuped else None
            rows.append(row)
        return pd.DataFrame(rows)

    def headline(self) -> str:
        """What was computed, in one line."""
        start, end = self.window
        level = f"{1 - self.alpha:.0%}"
        method = {
            "fixed": f"fixed horizon, {level} intervals",
            "sequential": f"sequential, {level} always-valid intervals (asymptotic confidence "
            f"sequence, narrowest at {self.settings.get('planned_units', 0):,} units)",
            "bayesian": f"Bayesian, {level} credible intervals ({_prior(self.settings)})",
        }[self.engine]
        sided = "two-sided" if self.sided == "two" else "one-sided"
        correction = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "no"}[self.correction]
        return (
            f"{self.experiment}: {method}; {sided}; {correction} correction; "
            f"from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"
        )

    def srm_line(self) -> str:
        split = ", ".join(f"{name} {count:,}" for name, count in self.units.items())
        verdict = "MISMATCH" if self.srm.mismatch else "ok"
        return (
            f"units: {split}; sample ratio {verdict} "
            f"(chi-square {self.srm.chi2:.3g}, p = {self.srm.p_value:.3g})"
        )

    @property
    def primary_metric(self) -> str:
        """The first primary metric (the first metric when none is primary)."""
        primary = [c.metric for c in self.comparisons if c.role == "primary"]
        return (primary or [c.metric for c in self.comparisons])[0]

    def srm_banner(self) -> Banner:
        """The sample ratio check, to show first: a mismatch voids every lift."""
        if self.srm.mismatch:
            headline = "SAMPLE RATIO MISMATCH: do not trust any lift below"
        else:
            headline = "Sample ratio OK"
        return Banner(headline, self.srm_line(), ok=not self.srm.mismatch)

    def conclusion(self) -> Prose:
        """What the analysis says, in plain language: the sample ratio first (a mismatch
        voids every lift), then the primary metrics, the guardrails, the rest, and what to do.
        """
        return Prose(self._conclusion())

    def _conclusion(self) -> str:
        if self.srm.mismatch:
            return " ".join(
                [
                    f"Do not use these results: the sample ratio is off ({self.srm_split()}, "
                    f"chi-square p = {self.srm.p_value:.3g} < {self.srm.alpha}).",
                    "The assignment or the exposure logging is broken, so every lift below "
                    "is suspect, however significant it looks.",
                    "Find and fix the cause, then analyse the experiment again.",
                ]
            )
        primary = [c for c in self.comparisons if c.role == "primary"]
        guardrails = [c for c in self.comparisons if c.role == "guardrail"]
        others = [c for c in self.comparisons if c.role not in ("primary", "guardrail")]
        lines = [f"The sample ratio is as planned ({self.srm_split()})."]
        lines += [_finding(c, self.alpha, self.engine) for c in primary]
        harmed = [c for c in guardrails if c.verdict == "worse"]
        if harmed:
            lines += [_finding(c, self.alpha, self.engine) for c in harmed]
        elif guardrails:
            names = ", ".join(c.metric for c in guardrails)
            lines.append(f"No guardrail got worse ({names}).")
        lines += [
            _finding(c, self.alpha, self.engine) for c in others if c.verdict != "inconclusive"
        ]
        lines.append(_advice(primary, harmed, self.engine))
        lines += [f"Caution: {warning}." for warning in self.warnings]
        return " ".join(lines)

    def srm_split(self) -> str:
        """The units per variant and the share each was meant to get."""
        total = sum(self.srm.expected.values()) or 1
        return ", ".join(
            f"{name} {count:,} units, {self.srm.expected.get(name, 0) / total:.0%} planned"
            for name, count in self.units.items()
        )

    def to_table(self) -> Group:
        """For the console (rich): the headline, warnings, a row per comparison, notes."""
        parts: list[Any] = [Text(self.headline(), style="bold"), Text(self.srm_line())]
        parts += [Text(f"warning: {w}", style="bold red") for w in self.warnings]
        bayesian = self.engine == "bayesian"
        table = Table(show_lines=False)
        for header in _HEADERS[bayesian]:
            table.add_column(header, justify="left" if header in _LEFT else "right")
        for c in self.comparisons:
            table.add_row(*_cells(c, bayesian), style=_STYLE.get(c.verdict))
        parts.append(table)
        parts += [Text(f"note: {note}", style="dim") for note in self.notes()]
        return Group(*parts)

    def notes(self) -> list[str]:
        """The conventions used, what CUPED did, and why a comparison lacks something."""
        lines = (
            [f"conventions: {self.settings['conventions']}"]
            if "conventions" in self.settings
            else []
        )
        for c in self.comparisons:
            if c.cuped is not None and c.absolute_ci is not None:
                theta = f"theta {c.cuped.theta:.3g}"
                if c.cuped.variant_theta is not None:
                    theta = (
                        f"theta {c.cuped.theta:.3g} control, {c.cuped.variant_theta:.3g} variant"
                    )
                lines.append(
                    f"{c.metric} ({c.variant}): CUPED interval {_interval(c.absolute_ci)}, "
                    f"{_interval(c.cuped.unadjusted_ci)} without it "
                    f"(variance -{c.cuped.variance_reduction:.0%}, {theta})"
                )
            if c.note:
                lines.append(f"{c.metric} ({c.variant}): {c.note}")
        return lines

    def __rich__(self) -> Group:
        return self.to_table()

    def __str__(self) -> str:
        buffer = io.StringIO()
        Console(file=buffer, width=200, color_system=None).print(self.to_table())
        return buffer.getvalue()

    def _repr_html_(self) -> str:
        bayesian = self.engine == "bayesian"
        return render(
            "experiment_result.html.j2",
            result=self,
            headers=_HEADERS[bayesian],
            rows=[_cells(c, bayesian) for c in self.comparisons],
            notes=self.notes(),
        )


def _finding(c: Comparison, alpha: float, engine: str) -> str:
    """One comparison as a sentence. It opens with the metric, so it never starts with a
    lowercase variant name."""
    metric = f"On {c.metric} ({c.role})"
    if c.absolute is None or c.absolute_ci is None:
        return f"{metric}, {c.variant} was not compared ({c.note or 'no data'})."
    if c.relative is not None and c.relative_ci is not None:
        change = f"{_percent(c.relative)} {_interval(c.relative_ci, percent=True)}"
    else:
        change = f"{_number(c.absolute, sign=True)} {_interval(c.absolute_ci)}"
    evidence = f"{change}, {_evidence(c, alpha, engine)}"
    if c.verdict in ("better", "worse"):
        return f"{metric}, {c.variant} is {c.verdict}: {evidence}."
    return f"{metric}, {c.variant} shows no clear difference: {evidence}."


def _evidence(c: Comparison, alpha: float, engine: str) -> str:
    if c.chance_to_beat is not None:
        return f"chance to beat control {c.chance_to_beat:.1%}"
    kind = "always-valid p" if engine == "sequential" else "p"
    return f"adjusted {kind} = {_p(c.p_adjusted)} (alpha {alpha:g})"


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


_LEFT = ("metric", "variant", "verdict")
_STYLE = {"better": "green", "worse": "bold red"}
_HEADERS = {
    False: (
        "metric", "variant", "mean: control -> variant", "absolute lift [CI]", "relative lift [CI]",
        "p adj.", "CUPED", "verdict",
    ),
    True: (
        "metric", "variant", "mean: control -> variant", "absolute lift [CI]", "relative lift [CI]",
        "P(better)", "risk", "CUPED", "verdict",
    ),
}  # fmt: skip


def _cells(c: Comparison, bayesian: bool) -> list[str]:
    tests = (
        [_percent(c.chance_to_beat, plain=True), _number(c.expected_loss)]
        if bayesian
        else [_p(c.p_adjusted)]
    )
    values = ""
    if c.control_value is not None and c.variant_value is not None:
        values = f"{_number(c.control_value)} -> {_number(c.variant_value)}"
        values += " (CUPED-adjusted)" if c.cuped is not None else ""
    cuped = f"var -{c.cuped.variance_reduction:.0%}" if c.cuped is not None else ""
    return [
        f"{c.metric} ({c.role})",
        c.variant,
        values,
        f"{_number(c.absolute, sign=True)} {_interval(c.absolute_ci)}".strip(),
        f"{_percent(c.relative)} {_interval(c.relative_ci, percent=True)}".strip(),
        *tests,
        cuped,
        c.verdict,
    ]


def _number(value: float | None, *, sign: bool = False) -> str:
    if value is None:
        return ""
    return f"{value:+.3g}" if sign else f"{value:.4g}"


def _percent(value: float | None, *, plain: bool = False) -> str:
    if value is None:
        return ""
    return f"{value:.1%}" if plain else f"{value:+.1%}"


def _interval(bounds: Interval | None, *, percent: bool = False) -> str:
    if bounds is None:
        return ""
    shown = [_bound(b, percent) for b in bounds]
    return f"[{shown[0]}, {shown[1]}]"


def _bound(value: float, percent: bool) -> str:
    if math.isinf(value):
        return "-inf" if value < 0 else "+inf"
    return f"{value:+.1%}" if percent else f"{value:+.3g}"


def _p(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"


def _prior(settings: dict[str, Any]) -> str:
    prior_sd = settings.get("prior_sd")
    if prior_sd is None:
        return "flat prior"
    return f"prior N(0, {prior_sd:.0%}) on the relative lift"


def _finite(value: Any) -> Any:
    """JSON has no infinity: an open bound becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
