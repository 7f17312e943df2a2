"""What is computed from the aggregated measures: derived metrics, windows, comparisons.

The measures of a query arrive as one table, a row per period and group. Ratio
and derived metrics are expressions over its columns. Windows run over the
periods of each group (``by``), in order:

- cumulative: every period up to this one (from ``start`` when given);
- rolling N: this period and the N - 1 before it, by time, not by rows, so a
  period without data is still counted as one of the N.

A ratio or derived metric is computed from its inputs' windowed values
(cumulative AOV is cumulative revenue / cumulative orders). So windows need
inputs that add up over periods: sums and counts (min and max take the min or
max), and a count_distinct declared ``additive``.

Comparisons join each row to the row of the same group whose period is one
period back (previous_period) or a year back (last_year: 52 weeks for weeks):
a missing period gives NULL, never the value of another period, as LAG would
over a gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import sqlglot
import sqlglot.expressions as sge

from warehouse_kit.analytics.metrics import periods
from warehouse_kit.analytics.metrics.layer import MetricDef
from warehouse_kit.analytics.metrics.measures import ADDITIVE
from warehouse_kit.analytics.metrics.spec import Derived, Measure, Ratio
from warehouse_kit.analytics.metrics.star import true_division
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.sqlexpr import DIALECT, translate


def evaluate(table: ir.Table, closure: Sequence[MetricDef], suffix: str = "") -> ir.Table:
    """Add each ratio and derived metric of `closure`, computed from columns named
    ``{metric}{suffix}``, as ``{metric}{suffix}``."""
    for metric in closure:
        if metric.is_measure:
            continue
        node = true_division(_expression(metric).transform(lambda n: _renamed(n, suffix)))
        shown = node.sql(dialect=DIALECT)  # what messages quote
        value = translate(node, table, sql=shown, where=metric.where.prefix())
        table = table.mutate(**{f"{metric.name}{suffix}": value})
    return table


def _expression(metric: MetricDef) -> sge.Expression:
    spec = metric.spec
    if isinstance(spec, Ratio):
        return sge.Div(this=sge.column(spec.numerator), expression=sge.column(spec.denominator))
    assert isinstance(spec, Derived)
    return sqlglot.parse_one(spec.expr, read=DIALECT)


def _renamed(node: sge.Expression, suffix: str) -> sge.Expression:
    if isinstance(node, sge.Column):
        return sge.column(sge.to_identifier(f"{node.name}{suffix}", quoted=True))
    return node


def windowed(
    table: ir.Table,
    closure: Sequence[MetricDef],
    *,
    period: str,
    groups: Sequence[str],
    grain: str,
    rolling: int | None,
    since: date | datetime | None = None,
) -> tuple[ir.Table, str]:
    """Add every metric of `closure` over a window of periods; returns the suffix used.

    A cumulative window counts from `since` (the first period shown), though the
    table may start earlier for a rolling window or a comparison.
    """
    suffix = f"__rolling_{rolling}" if rolling else "__cumulative"
    if rolling:
        preceding = periods.interval(grain, rolling - 1)
        window = ibis.range_window(
            preceding=preceding, following=0, group_by=groups, order_by=period
        )
    else:
        window = ibis.cumulative_window(group_by=groups, order_by=period)
    unknown = table[period].isnull()  # facts without a time have no place in a window
    columns = {}
    for metric in closure:
        if metric.is_measure:
            how = _combine(metric, closure)
            counted = table[metric.name]
            if since is not None and not rolling:
                counted = ibis.cases((table[period] >= ibis.literal(since), counted))
            value = getattr(counted, how)().over(window)
            columns[f"{metric.name}{suffix}"] = ibis.cases((unknown, ibis.null()), else_=value)
    return evaluate(table.mutate(**columns), closure, suffix), suffix


def _combine(measure: MetricDef, closure: Sequence[MetricDef]) -> str:
    spec = measure.spec
    if isinstance(spec, Measure):
        if spec.additive is not False and spec.type in ADDITIVE:
            return ADDITIVE[spec.type]
        if spec.additive and spec.type == "count_distinct":
            return "sum"
    users = [m.name for m in closure if measure.name in m.inputs] or [measure.name]
    kind = spec.type if isinstance(spec, Measure) else "custom"
    raise ConfigError(
        f"query: metric {users[-1]!r} cannot be cumulative or rolling: {measure.name!r} is a "
        f"{kind} measure, whose values over periods do not add up (declare additive: true on "
        "a count_distinct whose values never repeat across periods)"
    )


def compared(
    table: ir.Table,
    metrics: Sequence[str],
    *,
    period: str,
    groups: Sequence[str],
    grain: str,
    comparison: str,
) -> ir.Table:
    """Add ``{metric}_{comparison}`` (the value then) and ``{metric}_{comparison}_change``
    (the relative change since, 0.1 for +10%) for each of `metrics`."""
    step = periods.interval(grain) if comparison == "previous_period" else periods.last_year(grain)
    then = table.select(
        __period=table[period] + step,
        **{f"__group{i}": table[g] for i, g in enumerate(groups)},
        **{f"__then_{m}": table[m] for m in metrics},
    )
    match = [table[period] == then["__period"]]
    match += [table[g].identical_to(then[f"__group{i}"]) for i, g in enumerate(groups)]
    joined = table.left_join(then, match)
    columns = {}
    for metric in metrics:
        now, before = joined[metric].cast(dt.float64), joined[f"__then_{metric}"]
        columns[f"{metric}_{comparison}"] = before
        change = (now - before.cast(dt.float64)) / before.cast(dt.float64).nullif(0)
        columns[f"{metric}_{comparison}_change"] = change
    return joined.select(*table.columns, **columns)
