"""What `analyze` returns: an `ExperimentResult`, for notebooks, the console and JSON.

An `ExperimentResult` holds what was analysed (engine, alpha, window, units),
the sample ratio test and a `Comparison` per (metric, variant) (see
`comparison`), and shows them: as a dict, JSON or a pandas frame, as a status
`Banner` for the sample ratio, as plain-language prose (written by
`conclusion`), as a table for the console and the notebook (laid out by
`table`). Its `notes` start with the conventions that produced the figures
(see `conventions`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from warehouse_kit.analytics.experiments import table
from warehouse_kit.analytics.experiments.comparison import Comparison
from warehouse_kit.analytics.experiments.conclusion import conclude
from warehouse_kit.analytics.experiments.family import SrmTest
from warehouse_kit.analytics.experiments.formatting import interval
from warehouse_kit.core.templating import Prose, render

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Group


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
        return Prose(
            conclude(
                self.comparisons,
                srm=self.srm,
                split=self.srm_split(),
                alpha=self.alpha,
                engine=self.engine,
                warnings=self.warnings,
            )
        )

    def srm_split(self) -> str:
        """The units per variant and the share each was meant to get."""
        total = sum(self.srm.expected.values()) or 1
        return ", ".join(
            f"{name} {count:,} units, {self.srm.expected.get(name, 0) / total:.0%} planned"
            for name, count in self.units.items()
        )

    def to_table(self) -> Group:
        """For the console (rich): the headline, warnings, a row per comparison, notes."""
        return table.console_view(
            self.comparisons,
            bayesian=self.engine == "bayesian",
            headline=self.headline(),
            srm_line=self.srm_line(),
            warnings=self.warnings,
            notes=self.notes(),
        )

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
                    f"{c.metric} ({c.variant}): CUPED interval {interval(c.absolute_ci)}, "
                    f"{interval(c.cuped.unadjusted_ci)} without it "
                    f"(variance -{c.cuped.variance_reduction:.0%}, {theta})"
                )
            if c.note:
                lines.append(f"{c.metric} ({c.variant}): {c.note}")
        return lines

    def __rich__(self) -> Group:
        return self.to_table()

    def __str__(self) -> str:
        return table.plain_text(self.to_table())

    def _repr_html_(self) -> str:
        bayesian = self.engine == "bayesian"
        return render(
            "experiment_result.html.j2",
            result=self,
            headers=table.headers(bayesian),
            rows=[table.cells(c, bayesian) for c in self.comparisons],
            notes=self.notes(),
        )


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
