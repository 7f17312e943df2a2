"""A query, compiled: the metrics asked for, as one Ibis table expression.

1. The metrics asked for, and the metrics they are computed from; the measures
   among them grouped by semantic model.
2. Per model: its rows (`relation`: joins, computed dimensions, the query's
   conditions), grouped by period and `by`, each measure one aggregate; so the
   measures of one model share one scan.
3. Models joined on the groups (a FULL OUTER JOIN, NULL matching NULL): each
   fact is aggregated on its own before any join, so two facts never multiply
   each other's rows (revenue per order and sessions per visit stay right).
4. Ratio and derived metrics; windows; comparisons (see `windows`).

Everything runs in the engine; the result is a row per period and group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import ibis
import ibis.expr.types as ir
from ibis.common.exceptions import IbisError, IbisTypeError
from ibis.expr.datatypes.cast import highest_precedence

from warehouse_kit.analytics.metrics import cache, periods
from warehouse_kit.analytics.metrics.grain import grain_of, measured, reads
from warehouse_kit.analytics.metrics.groups import Group, Resolved
from warehouse_kit.analytics.metrics.groups import groups as by_groups
from warehouse_kit.analytics.metrics.keys import ManyToManyJoin
from warehouse_kit.analytics.metrics.layer import MetricDef, SemanticLayer
from warehouse_kit.analytics.metrics.measures import expressions
from warehouse_kit.analytics.metrics.relation import refuse_fan_out, relation
from warehouse_kit.analytics.metrics.spec import QueryOptions
from warehouse_kit.analytics.metrics.star import Star, open_star
from warehouse_kit.analytics.metrics.windows import compared, evaluate, windowed
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.catalog import Catalog, load_catalog
from warehouse_kit.core.errors import ConfigError, did_you_mean, first_line
from warehouse_kit.core.sqlexpr import to_ibis


@dataclass(frozen=True)
class _Bounds:
    """The time range a query reads, and the first period it shows."""

    low: date | datetime | None
    high: date | datetime | None
    first: date | datetime | None
    """Periods before this one were read only for windows and comparisons."""


def compile_query(
    layer: SemanticLayer,
    options: QueryOptions,
    warehouse: Warehouse,
    catalog: Catalog | None = None,
) -> ir.Table:
    """The query `options` describes, over `warehouse` (the same expression again while
    no run changed the warehouse: `cache`)."""
    cache.refresh(warehouse)
    catalog = catalog if catalog is not None else load_catalog(layer.project, allow_empty=True)
    key = options.model_dump_json()
    return cache.query(
        warehouse, (layer, catalog), key, lambda: _compiled(layer, options, warehouse, catalog)
    )


def _compiled(
    layer: SemanticLayer, options: QueryOptions, warehouse: Warehouse, catalog: Catalog
) -> ir.Table:
    closure = layer.closure(options.metrics)
    groups = [group.name for group in by_groups(options)]
    period = options.grain
    keys = [period, *groups] if period else list(groups)
    bounds = _bounds(options)
    parts, models = [], _by_model(closure)
    try:
        for model, measures in models.items():
            star = open_star(layer.models[model], catalog, warehouse)
            parts.append(_aggregated(star, measures, options, bounds, len(models) > 1))
        table = evaluate(_joined(_aligned(parts, keys, list(models)), keys), closure)
    except IbisError as exc:  # a bug or a gap of the layer: still one line that says where
        raise ConfigError(
            f"query: cannot build {', '.join(options.metrics)} by {', '.join(keys) or 'nothing'} "
            f"(models {', '.join(models)}): {first_line(exc)}"
        ) from exc
    columns = {name: [name] for name in options.metrics}
    if period is not None:
        table = _with_windows(table, closure, options, bounds.first, groups, columns)
        table = _with_comparisons(table, options, period, groups, columns)
        if bounds.first is not None:
            table = table.filter(table[period] >= ibis.literal(bounds.first))
    shown = [*keys, *(c for cs in columns.values() for c in cs)]
    if list(table.columns) != shown:  # a select of every column costs Ibis its compile time
        table = table.select(*shown)
    for index, sql in enumerate(options.having):
        table = table.filter(_having(sql, table, f"query: having[{index}]"))
    return _ordered(table, options, keys)


def _by_model(closure: Sequence[MetricDef]) -> dict[str, list[MetricDef]]:
    found: dict[str, list[MetricDef]] = {}
    for metric in closure:
        if metric.model is not None:
            found.setdefault(metric.model, []).append(metric)
    return found


def _bounds(options: QueryOptions) -> _Bounds:
    start, end, grain = options.start, options.end, options.grain
    if grain is None:
        return _Bounds(start, end, None)
    low = periods.floor(start, grain) if start is not None else None
    high = periods.ceil(end, grain) if end is not None else None
    back = max(
        [
            (options.rolling or 1) - 1,
            *(
                1 if c == "previous_period" else periods.last_year_periods(grain)
                for c in options.compare
            ),
        ]
    )
    if low is None or back == 0:
        return _Bounds(low, high, None)
    return _Bounds(periods.shift(low, grain, -back), high, low)


def _aggregated(
    star: Star,
    measures: Sequence[MetricDef],
    options: QueryOptions,
    bounds: _Bounds,
    across: bool = False,
) -> ir.Table:
    """One model's measures, per period and group (`across`: the query reads other models)."""
    groups = {group.name: _group_in(star, measures, group, across) for group in by_groups(options)}
    used = {field for group in groups.values() for field in group.fields}
    filters = [star.compile(sql, f"query: where[{i}]") for i, sql in enumerate(options.where)]
    for measure in measures:
        for compiled in expressions(measure, star):
            refuse_fan_out(star, compiled, f"metric {measure.name!r}")
    grains = {measure.name: grain_of(star, measure) for measure in measures}
    for measure in measures:
        used |= reads(star, measure, grains[measure.name])
    per_key = {grain.dimension for grain in grains.values() if grain and grain.dimension}
    time = _time(star, options, bounds)
    try:
        rows, totals = relation(star, used | ({time} if time else set()), filters, per_key)
    except ManyToManyJoin as exc:
        names = ", ".join(m.name for m in measures)
        raise ManyToManyJoin(f"query: metrics {names}: {exc.message}") from None
    if time is not None:
        rows = _in_range(rows, time, bounds, star)
    by = {name: group.value(rows) for name, group in groups.items()}
    if options.grain is not None and time is not None:
        by = {options.grain: periods.bucket(rows[time], options.grain), **by}
    grouped = {group.field: name for name, group in groups.items() if group.field}
    parts = measured(star, measures, grains, rows, by, grouped, totals)
    return _joined(parts, list(by))


def _group_in(star: Star, measures: Sequence[MetricDef], group: Group, across: bool) -> Resolved:
    """A group in a model; when the query reads several models, an error names the
    measures of the one that cannot reach it."""
    try:
        return group.resolve(star)
    except ConfigError as exc:
        if not across:
            raise
        names = ", ".join(m.name for m in measures)
        raise ConfigError(
            f"{group.where}: cannot group {names} (model {star.name}) by "
            f"{group.reference or group.expr!r}: {exc.message.removeprefix(group.where + ': ')}"
        ) from None


def _aligned(parts: list[ir.Table], keys: list[str], models: list[str]) -> list[ir.Table]:
    """The models' aggregates with their groups of one type (an int32 and an int64 key,
    a date and a timestamp period), so they can be matched."""
    if len(parts) < 2:
        return parts
    for key in keys:
        types = [part[key].type() for part in parts]
        try:
            common = highest_precedence(types)
        except IbisTypeError:
            found = ", ".join(f"{t} in model {m}" for t, m in zip(types, models, strict=True))
            raise ConfigError(
                f"query: cannot group by {key!r} across models: its values are {found}"
            ) from None
        parts = [
            part if part[key].type() == common else part.mutate(**{key: part[key].cast(common)})
            for part in parts
        ]
    return parts


def _time(star: Star, options: QueryOptions, bounds: _Bounds) -> str | None:
    if options.grain is None and bounds.low is None and bounds.high is None:
        return None
    columns = star.model.spec.time_columns()
    if not columns:
        schema = star.fact.schema()
        dated = [name for name, kind in schema.items() if kind.is_temporal()]
        hint = f" (model {star.name} has {', '.join(dated)}: add time: {dated[0]})" if dated else ""
        raise star.model.where.error(
            f"a grain, start or end needs the model's time: a date or timestamp column{hint}",
            "time",
        )
    name = options.time or next(iter(columns))
    reference = columns.get(name) or (name if name in columns.values() else None)
    if reference is None:
        known = ", ".join(columns)
        hint = did_you_mean(name, list(columns)) or ";"
        raise ConfigError(
            f"query: time: model {star.name} has no time column {name!r}{hint} "
            f"its time columns: {known} (the first is the default)"
        )
    return star.resolve(reference.split("."), star.model.where.prefix("time"))


def _in_range(rows: ir.Table, time: str, bounds: _Bounds, star: Star) -> ir.Table:
    if not rows[time].type().is_temporal():
        raise star.model.where.error(f"{time!r} is a {rows[time].type()}, not a date", "time")
    if bounds.low is not None:
        rows = rows.filter(rows[time] >= ibis.literal(bounds.low))
    if bounds.high is not None:
        rows = rows.filter(rows[time] < ibis.literal(bounds.high))
    return rows


def _joined(parts: list[ir.Table], keys: list[str]) -> ir.Table:
    """The models' aggregates side by side: every group any of them has, with each
    model's values (NULL matching NULL, so a NULL group is one group)."""
    if len(parts) == 1:
        return parts[0]
    if not keys:
        table = parts[0]
        for part in parts[1:]:
            table = table.cross_join(part)
        return table
    # A LEFT JOIN from all the groups: PostgreSQL can FULL JOIN only on plain equalities.
    table = ibis.union(*(part.select(*keys) for part in parts), distinct=True)
    for part in parts:
        values = [name for name in part.columns if name not in keys]
        other = part.select(
            **{f"__{key}": part[key] for key in keys}, **{v: part[v] for v in values}
        )
        match = [table[key].identical_to(other[f"__{key}"]) for key in keys]
        table = table.left_join(other, match).select(*table.columns, *values)
    return table


def _with_windows(
    table: ir.Table,
    closure: Sequence[MetricDef],
    options: QueryOptions,
    since: date | datetime | None,
    groups: list[str],
    columns: dict[str, list[str]],
) -> ir.Table:
    assert options.grain is not None
    kinds = ([None] if options.cumulative else []) + ([options.rolling] if options.rolling else [])
    for rolling in kinds:
        table, suffix = windowed(
            table,
            closure,
            period=options.grain,
            groups=list(groups),
            grain=options.grain,
            rolling=rolling,
            since=since,
        )
        for name in options.metrics:
            output = f"{name}{suffix.replace('__', '_', 1)}"
            table = table.mutate(**{output: table[f"{name}{suffix}"]})
            columns[name].append(output)
    return table


def _with_comparisons(
    table: ir.Table,
    options: QueryOptions,
    period: str,
    groups: list[str],
    columns: dict[str, list[str]],
) -> ir.Table:
    for comparison in options.compare:
        table = compared(
            table,
            options.metrics,
            period=period,
            groups=list(groups),
            grain=period,
            comparison=comparison,
        )
        for name in options.metrics:
            columns[name] += [f"{name}_{comparison}", f"{name}_{comparison}_change"]
    return table


def _ordered(table: ir.Table, options: QueryOptions, keys: list[str]) -> ir.Table:
    order = []
    for item in options.order_by or keys:
        name = item.removeprefix("-")
        if name not in table.columns:
            hint = did_you_mean(name, table.columns) or f"; columns: {', '.join(table.columns)}"
            raise ConfigError(f"query: order_by: no column {name!r} in the result{hint}")
        order.append(ibis.desc(name) if item.startswith("-") else ibis.asc(name))
    table = table.order_by(order) if order else table
    return table.limit(options.limit) if options.limit else table


def _having(sql: str, table: ir.Table, where: str) -> ir.BooleanValue:
    """A condition on the result's columns (a metric, a group, the period)."""
    value = to_ibis(sql, table, where=where)
    if not value.type().is_boolean():
        raise ConfigError(f"{where}: {sql!r} is a {value.type()}, not a condition")
    result: ir.BooleanValue = value
    return result
