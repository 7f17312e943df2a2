"""An experiment's sufficient statistics, computed in the warehouse in one aggregation.

The query, as one Ibis expression:

1. **exposed units**: the exposure rows of the experiment inside its window
   (``[start, end)``, cut at `as_of` when given), one row per unit with its
   first exposure. A unit logged in more than one variant is a *crossover*:
   its variant is NULL, so it is counted and kept out of every arm. Variants
   travel through the query as small integer codes (their index in
   `logged_variants`, found by a first, cheap query): grouping tens of
   millions of units by an integer is much faster than by a string.
2. **per-unit values**: each metric's events are joined to the units and
   aggregated per unit: only events at or after the unit's first exposure and
   before the end count. With CUPED, the same aggregate over the
   ``pre_period_days`` before the first exposure is the unit's covariate.
   Units without events have 0 everywhere, so they are left out of the sums.
3. **per-variant sums**: units (counted from step 1), and for each metric
   sum(y), sum(y^2) and, as needed, the sums and cross products of a ratio's
   denominator and of the covariate: the `Sums` that `stats` works from.

Only those few rows (one per variant) leave the warehouse; the rows of units
and events never do. NULL values in a metric's `value` count as 0.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir

from warehouse_kit.analytics.experiments.named import (
    column_named,
    events_path,
    require_same_type,
    table_named,
    timestamp_named,
)
from warehouse_kit.analytics.experiments.spec import (
    BinomialMetric,
    EventsSpec,
    Experiment,
    MeanMetric,
    RatioMetric,
)
from warehouse_kit.analytics.experiments.sums import Sums
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.sqlexpr import to_ibis

AnyMetric = BinomialMetric | MeanMetric | RatioMetric


@dataclass(frozen=True)
class ExperimentStats:
    """What the warehouse returns for an experiment: a few numbers per variant."""

    units: dict[str, int]
    """Exposed units per configured variant."""
    sums: dict[str, dict[str, Sums]]
    """Variant -> metric -> sums."""
    crossovers: int = 0
    """Units logged in more than one variant (left out of every arm)."""
    unknown: dict[str, int] = field(default_factory=dict)
    """Units logged in variants the experiment does not declare (left out)."""
    window: tuple[datetime, datetime] | None = None
    """The window analysed: [start, min(end, as_of))."""


def analysis_window(experiment: Experiment, as_of: datetime | None) -> tuple[datetime, datetime]:
    start, end = experiment.window()
    if as_of is not None:
        if as_of <= start:
            raise ConfigError(
                f"as_of {as_of} is not after the experiment's start {start}", file=experiment.file
            )
        end = min(end, as_of)
    return start, end


def sufficient_statistics(
    warehouse: Warehouse, experiment: Experiment, as_of: datetime | None = None
) -> ExperimentStats:
    """List the logged variants, run the one aggregation, and return its sums per variant."""
    window = analysis_window(experiment, as_of)
    logged = logged_variants(warehouse, experiment, window)
    rows = warehouse.rows(statistics_expr(warehouse, experiment, window, logged))
    return collect_statistics(experiment, rows, window, logged)


MAX_LOGGED_VARIANTS = 1000


def logged_variants(
    warehouse: Warehouse, experiment: Experiment, window: tuple[datetime, datetime]
) -> list[str]:
    """The experiment's variants, then any other variant its exposures log in `window`."""
    rows = _exposure_rows(warehouse, experiment, window)
    found = rows.select("variant").distinct().limit(MAX_LOGGED_VARIANTS + 1)
    names = {row["variant"] for row in warehouse.rows(found)} - {None}
    if len(names) > MAX_LOGGED_VARIANTS:
        raise ConfigError(
            f"the exposures log more than {MAX_LOGGED_VARIANTS} distinct variants: "
            "is this the column that holds the variant?",
            file=experiment.file,
            key_path="experiment.exposures.variant",
        )
    declared = list(experiment.variants)
    return declared + sorted(names - set(declared))


def statistics_expr(
    warehouse: Warehouse,
    experiment: Experiment,
    window: tuple[datetime, datetime],
    logged: list[str],
) -> ir.Table:
    """The aggregation, as an Ibis expression: one row per logged variant, by ``code``
    (its index in `logged`; NULL: crossovers).

    Units without events add 0 to every sum, so the sums run over the units
    with events only and the unit counts come straight from the exposures:
    no join of every exposed unit to its (mostly empty) values.
    """
    units = exposed_units(warehouse, experiment, window, logged)
    values = unit_values(warehouse, experiment, units, window)
    measures: dict[str, ir.Scalar] = {}
    for index, metric in enumerate(experiment.metrics):
        measures.update(_metric_sums(index, metric, values, uses_cuped(experiment, metric)))
    sums = values.group_by("code").aggregate(**measures).rename(summed="code")
    counts = units.group_by("code").aggregate(units=units.count())
    joined = counts.left_join(sums, counts.code.identical_to(sums.summed))
    return joined.select("code", "units", **{name: joined[name].fill_null(0) for name in measures})


def exposed_units(
    warehouse: Warehouse,
    experiment: Experiment,
    window: tuple[datetime, datetime],
    logged: list[str],
) -> ir.Table:
    """One row per exposed unit: ``unit``, ``first`` and ``code``, its variant's index
    in `logged` (NULL for a crossover)."""
    rows = _exposure_rows(warehouse, experiment, window)
    code = rows.variant.cases(*((name, index) for index, name in enumerate(logged)))
    rows = rows.select("unit", "at", code=code)
    grouped = rows.group_by("unit").aggregate(
        first=rows.at.min(), low=rows.code.min(), high=rows.code.max()
    )
    single = grouped.low == grouped.high
    return grouped.select("unit", "first", code=ibis.ifelse(single, grouped.low, ibis.null()))


def variant_names(code: ir.IntegerValue, logged: list[str]) -> ir.StringValue:
    """`code` (from `exposed_units`) as the variant's name again."""
    names: ir.StringValue = code.cases(*((index, name) for index, name in enumerate(logged)))
    return names


def _exposure_rows(
    warehouse: Warehouse, experiment: Experiment, window: tuple[datetime, datetime]
) -> ir.Table:
    """The experiment's exposure rows in `window`: ``unit``, ``variant``, ``at``."""
    spec = experiment.exposures
    path = "experiment.exposures"
    table = table_named(warehouse, spec.table, experiment, f"{path}.table")
    unit = column_named(table, spec.unit, experiment, f"{path}.unit")
    variant = column_named(table, spec.variant, experiment, f"{path}.variant").cast("string")
    at = timestamp_named(table, spec.timestamp, experiment, f"{path}.timestamp")
    start, end = window
    keep = (at >= ibis.literal(start)) & (at < ibis.literal(end))
    if spec.where:
        keep &= to_ibis(spec.where, table, where=experiment.where(f"{path}.where"))
    return table.filter(keep).select(unit=unit, variant=variant, at=at)


def unit_values(
    warehouse: Warehouse,
    experiment: Experiment,
    units: ir.Table,
    window: tuple[datetime, datetime],
) -> ir.Table:
    """The units with events in the window: ``unit``, ``code`` and each metric's
    values (``m<i>_y``, ``m<i>_x``, ``m<i>_c``). A unit without events has 0 everywhere."""
    result: ir.Table | None = None
    for source, indexed in _by_source(experiment).items():
        per_unit = _aggregate_source(warehouse, experiment, source, indexed, units, window)
        result = per_unit if result is None else _outer_join(result, per_unit)
    assert result is not None  # an experiment has at least one metric
    names = [name for name in result.columns if name not in ("unit", "code")]
    result = result.mutate(**{name: result[name].fill_null(0) for name in names})
    for index, metric in enumerate(experiment.metrics):
        if isinstance(metric, BinomialMetric):
            # a unit converted when it has a matching event: 1, else 0
            result = result.mutate(**_binary(result, f"m{index}_y"))
            if uses_cuped(experiment, metric):
                result = result.mutate(**_binary(result, f"m{index}_c"))
    return result


def _outer_join(left: ir.Table, right: ir.Table) -> ir.Table:
    """The per-unit values of two event sources, side by side (units in either)."""
    right = right.rename(right_unit="unit", right_code="code")
    joined = left.outer_join(right, left.unit == right.right_unit)
    names = [n for n in (*left.columns, *right.columns) if n not in ("unit", "code")]
    return joined.select(
        unit=ibis.coalesce(joined.unit, joined.right_unit),
        code=ibis.coalesce(joined.code, joined.right_code),
        **{name: joined[name] for name in names if not name.startswith("right_")},
    )


def _binary(table: ir.Table, name: str) -> dict[str, ir.Value]:
    return {name: _double(ibis.ifelse(table[name] > 0, 1.0, 0.0))}


def _double(value: ir.Value) -> ir.Value:
    """A CAST in the query even where Ibis believes the type: PostgreSQL reads ``1.0`` as
    numeric, whose sums are slow and come back as decimals."""
    return ops.Cast(value, to=dt.float64).to_expr()


def _by_source(experiment: Experiment) -> dict[EventsSpec, list[tuple[int, AnyMetric]]]:
    groups: dict[EventsSpec, list[tuple[int, AnyMetric]]] = defaultdict(list)
    for index, metric in enumerate(experiment.metrics):
        groups[experiment.events_of(metric)].append((index, metric))
    return dict(groups)


def _aggregate_source(
    warehouse: Warehouse,
    experiment: Experiment,
    source: EventsSpec,
    metrics: list[tuple[int, AnyMetric]],
    units: ir.Table,
    window: tuple[datetime, datetime],
) -> ir.Table:
    """Per unit, each metric's post-exposure aggregate (and pre-period covariate)."""
    first_index = metrics[0][0]
    path = events_path(experiment, first_index)
    table = table_named(warehouse, source.table, experiment, f"{path}.table")
    unit = column_named(table, source.unit, experiment, f"{path}.unit")
    at = timestamp_named(table, source.timestamp, experiment, f"{path}.timestamp")
    require_same_type(units.unit, unit, experiment, f"{path}.unit")
    row_values: dict[str, ir.Value] = {}
    for index, metric in metrics:
        row_values.update(_row_values(index, metric, table, experiment))
    # Metrics often sum the same per-event value (a purchase counted by a conversion, an
    # orders-per-user mean and a ratio's denominator): each distinct value is summed once.
    column_of = _first_equal(row_values)
    rows = table.select(
        unit=unit, at=at, **{c: row_values[c] for c in dict.fromkeys(column_of.values())}
    )
    pre = experiment.cuped.pre_period_days if experiment.cuped else 0
    joined = rows.join(units, "unit")
    joined = joined.filter(
        (joined.at >= joined.first - ibis.interval(days=pre)) & (joined.at < window[1])
    )
    post = joined.at >= joined.first
    sums: dict[str, tuple[str, bool]] = {}  # measure -> (summed column, after exposure)
    for index, metric in metrics:
        parts = ("y", "x") if isinstance(metric, RatioMetric) else ("y",)
        for part in parts:
            sums[f"m{index}_{part}"] = (column_of[f"r{index}_{part}"], True)
        if uses_cuped(experiment, metric):
            sums[f"m{index}_c"] = (column_of[f"r{index}_y"], False)
    distinct = {pair: f"s_{i}" for i, pair in enumerate(dict.fromkeys(sums.values()))}
    # CASE inside the sum rather than a FILTER clause: DuckDB sums it faster
    per_unit = joined.group_by("unit", "code").aggregate(
        **{
            name: ibis.ifelse(post if after else ~post, joined[column], 0.0).sum()
            for (column, after), name in distinct.items()
        }
    )
    return per_unit.select("unit", "code", **{m: per_unit[distinct[p]] for m, p in sums.items()})


def _first_equal(values: dict[str, ir.Value]) -> dict[str, str]:
    """Each name -> the first name whose expression is the same."""
    first: dict[str, str] = {}
    for name, value in values.items():
        same = (kept for kept in dict.fromkeys(first.values()) if values[kept].equals(value))
        first[name] = next(same, name)
    return first


def _row_values(
    index: int, metric: AnyMetric, table: ir.Table, experiment: Experiment
) -> dict[str, ir.Value]:
    """The per-event values a metric sums: ``r<i>_y`` (and ``r<i>_x``), 0 where `where` fails."""
    path = f"experiment.metrics[{index}]"

    def expr(sql: str, key: str) -> ir.Value:
        return to_ibis(sql, table, where=experiment.where(f"{path}.{key}"))

    keep = expr(metric.where, "where").fill_null(False) if metric.where else ibis.literal(True)

    def number(sql: str, key: str) -> ir.Value:
        value = expr(sql, key)
        if not value.type().is_numeric():
            raise ConfigError(
                f"{sql!r} is {value.type()}, not a number", file=experiment.file, key_path=path
            )
        literal = value.op()
        if isinstance(literal, ops.Literal) and literal.value is not None:
            return _double(ibis.ifelse(keep, float(literal.value), 0.0))  # "1": a conversion's
        return _double(ibis.ifelse(keep, value.cast("float64").fill_null(0.0), 0.0))

    if isinstance(metric, BinomialMetric):
        return {f"r{index}_y": _double(ibis.ifelse(keep, 1.0, 0.0))}
    if isinstance(metric, MeanMetric):
        return {f"r{index}_y": number(metric.value, "value")}
    return {
        f"r{index}_y": number(metric.numerator, "numerator"),
        f"r{index}_x": number(metric.denominator, "denominator"),
    }


def _metric_sums(
    index: int, metric: AnyMetric, values: ir.Table, cuped: bool
) -> dict[str, ir.Scalar]:
    y = values[f"m{index}_y"]
    sums = {f"m{index}_y": y.sum(), f"m{index}_yy": (y * y).sum()}
    if isinstance(metric, RatioMetric):
        x = values[f"m{index}_x"]
        sums |= {f"m{index}_x": x.sum(), f"m{index}_xx": (x * x).sum()}
        sums[f"m{index}_xy"] = (x * y).sum()
    if cuped:
        c = values[f"m{index}_c"]
        sums |= {f"m{index}_c": c.sum(), f"m{index}_cc": (c * c).sum()}
        sums[f"m{index}_yc"] = (y * c).sum()
    return sums


def uses_cuped(experiment: Experiment, metric: AnyMetric) -> bool:
    return experiment.cuped is not None and metric.cuped and not isinstance(metric, RatioMetric)


def collect_statistics(
    experiment: Experiment,
    rows: list[dict[str, Any]],
    window: tuple[datetime, datetime],
    logged: list[str],
) -> ExperimentStats:
    """`statistics_expr`'s rows as sums per variant name."""
    units: dict[str, int] = dict.fromkeys(experiment.variants, 0)
    sums: dict[str, dict[str, Sums]] = {}
    crossovers, unknown = 0, {}
    for row in rows:
        variant = None if row["code"] is None else logged[row["code"]]
        if variant is None:
            crossovers = int(row["units"])
        elif variant not in experiment.variants:
            unknown[variant] = int(row["units"])
        else:
            units[variant] = int(row["units"])
            sums[variant] = {
                metric.name: _sums(row, index, int(row["units"]))
                for index, metric in enumerate(experiment.metrics)
            }
    return ExperimentStats(units, sums, crossovers, unknown, window)


_PARTS = ("y", "yy", "x", "xx", "xy", "c", "cc", "yc")


def _sums(row: dict[str, Any], index: int, n: int) -> Sums:
    values = {part: float(row.get(f"m{index}_{part}") or 0.0) for part in _PARTS}
    return Sums(n=n, **values)
