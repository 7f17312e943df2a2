"""KPIs defined once, over the gold layer, as Ibis expressions that run on any engine.

Metrics live in the project's ``analytics/`` folder (YAML; one file per subject
area, or ``analytics/<metric>.yml`` holding one metric)::

    models:
      orders:
        table: gold.fact_orders      # joins to its dimensions come from the catalog
        time: dim_date.date
        dimensions:
          is_sale: "status IN ('completed', 'shipped')"
    metrics:
      revenue: {type: sum, expr: amount, filter: is_sale, format: ",.2f"}
      orders: {type: count_distinct, expr: order_id, filter: is_sale, additive: true}
      aov: {type: ratio, numerator: revenue, denominator: orders}

and are queried from Python::

    from warehouse_kit import metrics

    metrics.query(["revenue", "orders", "aov"], by=["segment"], grain="month").to_pandas()

    metrics.query("revenue", by=["date_trunc('quarter', dim_date.date) AS quarter"],
                  having="revenue > 1000", time="signup_date", grain="year")

    with metrics.connect() as warehouse:              # or any Warehouse
        expr = metrics.query(["revenue"], grain="month", compare="last_year",
                             warehouse=warehouse)     # lazy: an Ibis expression
        ibis.to_sql(expr)

Grouping by a type-2 dimension's attribute (``dim_customer.segment``) gives
its value when each fact happened (the fact's surrogate key points to the
version valid then); ``dim_customer.current.segment`` gives today's value.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from warehouse_kit.analytics.metrics.compile import compile_query
from warehouse_kit.analytics.metrics.layer import MetricDef, SemanticLayer, load
from warehouse_kit.analytics.metrics.spec import QueryOptions
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.config import parse
from warehouse_kit.core.project import Project

__all__ = ["SemanticLayer", "connect", "describe", "load", "query"]

Project_ = Project | str | Path


def query(
    metrics: str | Sequence[str],
    *,
    by: str | Sequence[str] | None = None,
    grain: str | None = None,
    time: str | None = None,
    where: str | Sequence[str] | None = None,
    having: str | Sequence[str] | None = None,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    compare: str | Sequence[str] | None = None,
    cumulative: bool | None = None,
    rolling: int | None = None,
    order_by: str | Sequence[str] | None = None,
    limit: int | None = None,
    warehouse: Warehouse | None = None,
    project: Project_ | SemanticLayer = ".",
    target: str | None = None,
) -> ir.Table:
    """Metrics per period (`grain`: day, week, month, quarter, year) and group (`by`).

    `metrics` names metrics, or one saved query (whose settings the other
    arguments override). `by` takes columns or named SQL expressions
    (``"date_trunc('quarter', dim_date.date) AS quarter"``). `where` holds SQL
    conditions on the models' columns, `having` on the result's (``"revenue >
    1000"``: metrics, groups, the period), applied last. `start` and `end`
    (exclusive) bound the time, in whole periods with a grain; `time` names which
    of a model's time columns they and the grain apply to (default: its first).
    `compare` adds, per metric, its value in the ``previous_period`` or
    ``last_year`` and the relative change; `cumulative` and `rolling` (N
    periods) add windowed values. `order_by` takes result columns (``-revenue``
    for descending).

    With `warehouse`, the result is a lazy Ibis expression over it. Without,
    the project's warehouse is opened read-only for the query only and the
    (small) result comes back as an in-memory Ibis table, so nothing keeps the
    file open while a pipeline writes.
    """
    layer = project if isinstance(project, SemanticLayer) else load(project)
    given = {
        "by": by, "grain": grain, "time": time, "where": where, "having": having,
        "start": start, "end": end, "compare": compare, "cumulative": cumulative,
        "rolling": rolling, "order_by": order_by, "limit": limit,
    }  # fmt: skip
    options = _options(layer, metrics, {k: v for k, v in given.items() if v is not None})
    if warehouse is not None:
        return compile_query(layer, options, warehouse, layer.catalog)
    with connect(layer.project, target) as opened:
        result = opened.con.to_pyarrow(compile_query(layer, options, opened, layer.catalog))
    return ibis.memtable(result)


def _options(
    layer: SemanticLayer, metrics: str | Sequence[str], given: dict[str, Any]
) -> QueryOptions:
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    if len(names) == 1 and names[0] in layer.queries:
        saved = layer.queries[names[0]].options.model_dump(exclude_defaults=True)
        data = {**saved, **given}
    else:
        data = {"metrics": names, **given}
    options: QueryOptions = parse(QueryOptions, data, file="query")
    return options


@contextmanager
def connect(
    project: Project_ = ".", target: str | None = None, *, wait_s: float = 10.0
) -> Iterator[Warehouse]:
    """The project's warehouse (or `target`), read-only, for a `with` block.

    While a pipeline holds a DuckDB file (it lets go when its run ends), retries
    for up to `wait_s` seconds.
    """
    with Project.of(project).reading(target, wait_s=wait_s) as warehouse:
        yield warehouse


def describe(project: Project_ | SemanticLayer = ".") -> pd.DataFrame:
    """Every metric: name, label, type, model, format and description."""
    layer = project if isinstance(project, SemanticLayer) else load(project)
    rows = [_row(metric) for metric in layer.metrics.values()]
    columns = ["metric", "label", "type", "model", "format", "description"]
    return pd.DataFrame(rows, columns=columns).sort_values("metric", ignore_index=True)


def _row(metric: MetricDef) -> dict[str, Any]:
    spec = metric.spec
    return {
        "metric": metric.name,
        "label": metric.label,
        "type": spec.type,
        "model": metric.model or ", ".join(metric.inputs),
        "format": spec.format or "",
        "description": spec.description,
    }
