"""The grain of a measure: the rows it aggregates, whichever table it is defined on.

A model's rows are its table's, each with the one row of every many-to-one join
it reaches. A measure reading a column of the model's table (or computing per
row from one: ``quantity * dim_product.unit_cost``) aggregates those rows. A
measure reading only a joined table's columns (an order's shipping cost, from a
model of order lines; a customer's credit limit, from a fact) must count each
row of that table once per group, not once per model row: it aggregates the
distinct (group, the join's key, the columns it reads) rows. Of several joined
tables it may read one and those that table reaches (``orders`` and
``orders -> customers``); two tables neither of which reaches the other give no
grain, and the query fails naming both.

A computed dimension with ``per`` has one value per ``per`` key: a measure
reading only it aggregates once per key. Its value comes from the dimension's
totals (`dimensions`), matched to the distinct (group, key) rows; when the query
groups by the key itself, each group is one key, so the totals are matched to
the groups after the model's rows are aggregated, never to each row (a cohort's
size, once per cohort and month).

``count_distinct``, ``min`` and ``max`` give the same at any grain: they read
the model's rows as they are (but for a ``per`` dimension's value alone, which
its totals give without joining it to every row).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ibis.expr.types as ir

from warehouse_kit.analytics.metrics.dimensions import Totals, compile_dimension
from warehouse_kit.analytics.metrics.layer import MetricDef
from warehouse_kit.analytics.metrics.measures import aggregate, expressions
from warehouse_kit.analytics.metrics.relation import condition
from warehouse_kit.analytics.metrics.star import Compiled, Star
from warehouse_kit.core.errors import ConfigError

GRAIN_FREE = frozenset({"count_distinct", "min", "max"})
"""Measure types whose value does not change when rows repeat."""


@dataclass(frozen=True)
class Grain:
    """The rows a measure aggregates when they are not the model's own."""

    owner: str
    """What the rows are: ``join orders`` or ``dimension first_order_date``, for messages."""
    key: tuple[str, ...]
    """Fields of the model's rows (canonical names) that identify one owner row."""
    dimension: str | None = None
    """The ``per`` dimension the measure reads alone: its value comes from its totals."""


def grain_of(star: Star, metric: MetricDef) -> Grain | None:
    """The grain `metric` is computed at (None: the model's rows)."""
    expr = _expr(metric, star)
    if expr is None:  # count(*)
        return None
    owners = _owners(star, expr.fields)
    if owners is None:
        return None
    joins = [name for name in owners if name in star.joins]
    computed = sorted(set(owners) - set(joins))
    if computed and len(owners) == 1:
        name = computed[0]
        alone = name if expr.fields == {name} else None
        if alone is None and metric.spec.type in GRAIN_FREE:
            return None
        return Grain(f"dimension {name}", compile_dimension(star, name)[1], alone)
    if metric.spec.type in GRAIN_FREE:
        return None
    for name in sorted(joins):
        if not computed and all(name in _upstream(star, other) for other in joins):
            return Grain(f"join {name}", star.joins[name].left)
    parts = ", ".join(sorted(owners))
    raise ConfigError(
        f"{metric.where.prefix('expr')}: metric {metric.name!r} of model {star.name} reads "
        f"{parts}, joined apart (each repeats the model's rows in its own way): no grain to "
        f"{metric.spec.type} it at; read one joined table (and those it reaches) or the "
        "model's own columns"
    )


def reads(star: Star, metric: MetricDef, grain: Grain | None) -> set[str]:
    """The fields the model's rows must hold for `metric`."""
    found = set(grain.key if grain else ())
    for compiled in expressions(metric, star):
        if grain is None or grain.dimension is None or not compiled.where.endswith(".expr"):
            found |= compiled.fields
    return found


def measured(
    star: Star,
    measures: Sequence[MetricDef],
    grains: Mapping[str, Grain | None],
    rows: ir.Table,
    by: Mapping[str, ir.Value],
    grouped: Mapping[str, str],
    totals: Mapping[str, Totals],
) -> list[ir.Table]:
    """Each measure per group of `by`: those at the model's grain in one aggregate of
    `rows`, each other in a table of its own. `grouped`: the fields the query groups by,
    each -> its group; `totals`: of the ``per`` dimensions the rows may not hold."""
    once = [m for m in measures if _per_group(grains[m.name], grouped)]
    flags = {m.name: flag for m in once if (flag := kept_flag(star, m, rows)) is not None}
    kept = {name: f"__kept{index}" for index, name in enumerate(flags)}
    values = {m.name: aggregate(m, star, rows) for m in measures if grains[m.name] is None}
    parts = [
        at_grain(star, m, grain, rows, by, totals)
        for m in measures
        if (grain := grains[m.name]) is not None and m not in once
    ]
    if not values and not once:
        return parts
    columns = values | {kept[name]: flag for name, flag in flags.items()}
    table = rows.group_by(**by).aggregate(**columns) if by else rows.aggregate(**columns)
    if values:
        parts.insert(0, table.drop(*kept.values()))
    for measure in once:
        flag = kept.get(measure.name)
        groups = table.select(*by, *([flag] if flag else []))
        grain = grains[measure.name]
        assert grain is not None
        parts.append(per_group(star, measure, grain, groups, grouped, totals, flag))
    return parts


def _per_group(grain: Grain | None, grouped: Mapping[str, str]) -> bool:
    """Whether each group is one key of the grain's ``per`` dimension, whose totals then
    hold the measure's value for the group."""
    return grain is not None and grain.dimension is not None and set(grain.key) <= set(grouped)


def at_grain(
    star: Star,
    metric: MetricDef,
    grain: Grain,
    rows: ir.Table,
    by: Mapping[str, ir.Value],
    totals: Mapping[str, Totals],
) -> ir.Table:
    """`metric` per group of `by`, each owner row counted once per group (a ``per``
    dimension read alone: from its `totals`)."""
    expr = _expr(metric, star)
    assert expr is not None
    found = {c.where.rsplit(".", 1)[1]: c for c in expressions(metric, star)}
    columns = {f"__by{i}": value for i, value in enumerate(by.values())}
    columns |= {f"__key{i}": rows[field] for i, field in enumerate(grain.key)}
    if grain.dimension is None:
        columns |= {field: rows[field] for field in sorted(expr.fields)}
    kept = None
    if "filter" in found:  # a column rather than a WHERE: groups without a kept row stay
        kept = "__kept"
        columns[kept] = condition(found["filter"], rows)
    distinct = rows.select(**columns).distinct()
    if grain.dimension is not None:
        keys = {field: f"__key{i}" for i, field in enumerate(grain.key)}
        distinct = totals[grain.dimension].joined(distinct, keys, grain.dimension)
    value = aggregate(metric, star, distinct, kept=kept)
    groups = {name: distinct[f"__by{i}"] for i, name in enumerate(by)}
    if not groups:
        return distinct.aggregate(**{metric.name: value})
    return distinct.group_by(**groups).aggregate(**{metric.name: value})


def kept_flag(star: Star, metric: MetricDef, rows: ir.Table) -> ir.Scalar | None:
    """Whether a group of `rows` has a row the metric's filter keeps (None: no filter)."""
    found = [c for c in expressions(metric, star) if c.where.endswith(".filter")]
    return condition(found[0], rows).any() if found else None


def per_group(
    star: Star,
    metric: MetricDef,
    grain: Grain,
    groups: ir.Table,
    grouped: Mapping[str, str],
    totals: Mapping[str, Totals],
    kept: str | None,
) -> ir.Table:
    """`metric` of a ``per`` dimension for each of `groups` (the model's rows aggregated
    by the query's groups, among them the dimension's key; `kept`: the column that says
    whether a row of the group passes the metric's filter)."""
    assert grain.dimension is not None
    names = [name for name in groups.columns if name != kept]
    columns = {f"__by{i}": groups[name] for i, name in enumerate(names)}
    table = groups.select(**columns, **({kept: groups[kept]} if kept else {}))
    keys = {field: f"__by{names.index(grouped[field])}" for field in grain.key}
    table = totals[grain.dimension].joined(table, keys, grain.dimension)
    value = aggregate(metric, star, table, kept=kept)
    by = {name: table[f"__by{i}"] for i, name in enumerate(names)}
    return table.group_by(**by).aggregate(**{metric.name: value})


def _expr(metric: MetricDef, star: Star) -> Compiled | None:
    return next((c for c in expressions(metric, star) if c.where.endswith(".expr")), None)


def _owners(star: Star, fields: frozenset[str]) -> set[str] | None:
    """The joins and ``per`` dimensions `fields` come from (None: the model's table)."""
    owners: set[str] = set()
    for name in fields:
        spec = star.computed.get(name)
        if spec is not None and spec.per:
            owners.add(name)
            continue
        if spec is not None:
            inner = _owners(star, compile_dimension(star, name)[0].fields)
            if inner is None:
                return None
            owners |= inner
            continue
        join = star.join_of(name)
        if join is None:
            return None
        owners.add(join.name)
    return owners or None  # a constant (sum(1)): once per model row


def _upstream(star: Star, name: str) -> set[str]:
    """Join `name` and the joins it is reached through (each determines its row)."""
    found = {name}
    for left in star.joins[name].left:
        other = star.join_of(left)
        if other is not None:
            found |= _upstream(star, other.name)
    return found
