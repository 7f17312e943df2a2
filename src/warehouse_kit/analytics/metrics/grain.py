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
grain, and the query fails naming both. A computed dimension with ``per`` has
one value per ``per`` key: a measure reading only it aggregates once per key.

``count_distinct``, ``min`` and ``max`` give the same at any grain: they read
the model's rows as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import ibis.expr.types as ir

from warehouse_kit.analytics.metrics.layer import MetricDef
from warehouse_kit.analytics.metrics.measures import aggregate, expressions
from warehouse_kit.analytics.metrics.relation import compile_dimension, condition
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


def grain_of(star: Star, metric: MetricDef) -> Grain | None:
    """The grain `metric` is computed at (None: the model's rows)."""
    if metric.spec.type in GRAIN_FREE:
        return None
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
        return Grain(f"dimension {name}", compile_dimension(star, name)[1])
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


def at_grain(
    star: Star, metric: MetricDef, grain: Grain, rows: ir.Table, by: Mapping[str, ir.Value]
) -> ir.Table:
    """`metric` per group of `by`, each owner row counted once per group."""
    expr = _expr(metric, star)
    assert expr is not None
    found = {c.where.rsplit(".", 1)[1]: c for c in expressions(metric, star)}
    columns = {f"__by{i}": value for i, value in enumerate(by.values())}
    columns |= {f"__key{i}": rows[field] for i, field in enumerate(grain.key)}
    columns |= {field: rows[field] for field in sorted(expr.fields)}
    kept = None
    if "filter" in found:  # a column rather than a WHERE: groups without a kept row stay
        kept = "__kept"
        columns[kept] = condition(found["filter"], rows)
    distinct = rows.select(**columns).distinct()
    value = aggregate(metric, star, distinct, kept=kept)
    groups = {name: distinct[f"__by{i}"] for i, name in enumerate(by)}
    if not groups:
        return distinct.aggregate(**{metric.name: value})
    return distinct.group_by(**groups).aggregate(**{metric.name: value})


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
