"""An experiment day by day: its lifts and intervals as they stood at the end of each day.

`cumulative` answers "what would the analysis have said, had we looked every
evening?": for each day of the window, the experiment analysed on the data
up to the end of that day, exactly as ``analyze(..., as_of=<next midnight>)``
would. With the sequential engine the intervals are always valid, so the
whole path may be read, not only its end::

    daily = experiments.cumulative("checkout_redesign")   # sequential by default
    daily[daily.metric == "conversion"][["day", "relative", "relative_ci_low"]]

The warehouse runs one aggregation: that of `sufficient` once per cutoff,
glued together with UNION ALL, so a row per (day, variant) comes back and
every statistic is computed from those sums.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis

from warehouse_kit.analytics.experiments.analyze import analyze_stats, opened_warehouse
from warehouse_kit.analytics.experiments.catalog import find_experiment
from warehouse_kit.analytics.experiments.engines import Engine
from warehouse_kit.analytics.experiments.spec import Experiment
from warehouse_kit.analytics.experiments.sufficient import (
    ExperimentStats,
    analysis_window,
    collect_statistics,
    logged_variants,
    statistics_expr,
)
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.project import Project

if TYPE_CHECKING:
    import pandas as pd

DAY = timedelta(days=1)


def daily_windows(
    experiment: Experiment, as_of: datetime | None = None
) -> list[tuple[datetime, datetime]]:
    """``[start, end of day k)`` for each day k of the window (cut at `as_of`)."""
    start, end = analysis_window(experiment, as_of)
    cutoffs = []
    cutoff = start + DAY
    while cutoff < end:
        cutoffs.append(cutoff)
        cutoff += DAY
    return [(start, cutoff) for cutoff in [*cutoffs, end]]


def daily_statistics(
    warehouse: Warehouse, experiment: Experiment, as_of: datetime | None = None
) -> list[ExperimentStats]:
    """The sufficient statistics as of the end of each day, in one aggregation."""
    windows = daily_windows(experiment, as_of)
    logged = logged_variants(warehouse, experiment, analysis_window(experiment, as_of))
    parts = [
        statistics_expr(warehouse, experiment, window, logged).mutate(
            day=ibis.literal(index, "int32")
        )
        for index, window in enumerate(windows)
    ]
    rows_by_day: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in warehouse.rows(ibis.union(*parts, distinct=False)):
        rows_by_day[row.pop("day")].append(row)
    return [
        collect_statistics(experiment, rows_by_day[index], window, logged)
        for index, window in enumerate(windows)
    ]


def cumulative(
    experiment: Experiment | str,
    *,
    project: Project | str | Path = ".",
    target: str | None = None,
    warehouse: Warehouse | None = None,
    engine: Engine = "sequential",
    as_of: datetime | None = None,
) -> pd.DataFrame:
    """A row per (day, metric, variant): `analyze`'s comparison on the data up to that day.

    Columns: ``day`` (the last day included), those of `ExperimentResult.to_frame`
    (``absolute``, ``relative``, their ``_ci_low`` / ``_ci_high``, ``p_adjusted``,
    ``verdict``, ...) and ``units`` (exposed units in every arm so far).
    Only the sequential engine's intervals may be read at every day; the
    others are shown as they would have been, had one stopped there.
    """
    import pandas as pd

    project = Project.of(project)
    if isinstance(experiment, str):
        experiment = find_experiment(experiment, project)
    with opened_warehouse(project, target, warehouse) as opened:
        daily = daily_statistics(opened, experiment, as_of)
    frames = []
    for sums in daily:
        frame = analyze_stats(experiment, sums, engine=engine).to_frame()
        frame.insert(0, "day", _last_day(sums))
        frame.insert(1, "units", sum(sums.units.values()))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _last_day(sums: ExperimentStats) -> date:
    assert sums.window is not None  # daily_statistics sets it
    return (sums.window[1] - timedelta(microseconds=1)).date()
