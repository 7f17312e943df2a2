"""What the experiments dashboard (``notebooks/apps/experiments.py``) shows, computed here.

One refresh opens the warehouse read-only, runs the experiment's analysis
(one aggregation of sufficient statistics, `experiments.analyze`) and, when
the experiment has sequential settings, its day-by-day path (one more
aggregation, `experiments.cumulative`), then closes it: no unit row reaches
Python, and a dashboard left open never stops a `wk run`::

    from warehouse_kit.apps import experiments_dashboard as board

    board.experiment_keys()                       # the picker's choices
    view = board.experiment_view("checkout_redesign")
    view.result.srm_banner(), view.lifts, view.daily, view.conclusion
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from warehouse_kit.analytics import experiments
from warehouse_kit.analytics.experiments import Experiment, ExperimentResult
from warehouse_kit.analytics.experiments.engines import Engine
from warehouse_kit.apps.notebook import open_warehouse
from warehouse_kit.core.errors import WarehouseKitError
from warehouse_kit.core.project import Project

ProjectLike = Project | str | Path
LIFT_FORMATS: dict[str, str | None] = {
    "control_value": ",.4g", "variant_value": ",.4g", "p_adjusted": ".3g",
    **dict.fromkeys(("relative", "relative_ci_low", "relative_ci_high"), "+.1%"),
}  # fmt: skip
"""How the lifts table writes its numbers: means to four significant digits (as the report
does), relative lifts as percentages."""


@dataclass(frozen=True)
class ExperimentView:
    """One experiment as the dashboard shows it."""

    experiment: Experiment
    result: ExperimentResult
    lifts: pd.DataFrame
    """A row per (metric, variant), as `ExperimentResult.to_frame`, with ``label`` naming
    the row in charts (the metric, and the variant when there are several)."""
    daily: pd.DataFrame | None
    """The primary metric's comparisons as of the end of each day, with the sequential
    engine's always-valid intervals; None when the experiment has no ``sequential:``."""

    @property
    def key(self) -> str:
        return self.experiment.key

    @property
    def conclusion(self) -> str:
        """What the analysis says, in plain language (`ExperimentResult.conclusion`)."""
        return self.result.conclusion()

    @property
    def title(self) -> str:
        """The experiment's key and, when it has one, its description."""
        description = self.experiment.description
        return f"{self.key}: {description}" if description else self.key


def experiment_keys(project: ProjectLike = ".") -> list[str]:
    """The project's experiments (``analytics/experiments/*.yml``), by key, in file order."""
    keys = list(experiments.load_experiments(project))
    if not keys:
        raise WarehouseKitError(
            "no experiments in analytics/experiments/: add a <key>.yml there "
            "(see `wk ab` and the README's A/B tests section)"
        )
    return keys


def experiment_view(
    key: str,
    *,
    engine: Engine | None = None,
    project: ProjectLike = ".",
    target: str | None = None,
    wait_s: float = 10.0,
) -> ExperimentView:
    """The analysis of experiment `key` with `engine` (default: the file's), and its
    primary metric day by day; one read-only connection, closed on return."""
    project = Project.of(project)
    experiment = experiments.find_experiment(key, project)
    with open_warehouse(target, project=project, wait_s=wait_s) as warehouse:
        result = experiments.analyze(experiment, warehouse=warehouse, engine=engine)
        daily = None
        if experiment.sequential is not None:
            path = experiments.cumulative(experiment, warehouse=warehouse, engine="sequential")
            daily = path[path.metric == result.primary_metric].reset_index(drop=True)
    return ExperimentView(experiment, result, _labelled(result.to_frame()), daily)


def _labelled(lifts: pd.DataFrame) -> pd.DataFrame:
    """`lifts` with a ``label`` per row: the metric, plus the variant when there are several."""
    several = lifts["variant"].nunique() > 1
    labels = lifts["metric"] + (" (" + lifts["variant"] + ")" if several else "")
    return lifts.assign(label=labels)
