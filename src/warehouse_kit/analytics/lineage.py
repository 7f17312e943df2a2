"""The KPI layer's lineage: metric -> the metrics it is computed from -> gold columns.

A ratio or derived metric reads other metrics; a measure (sum, count, custom...) reads
the columns of its semantic model's star: the lineage of the measure alone, compiled by
`metrics.compile_query` to the Ibis expression a query runs, walked like a model's
(`core.lineage`). A computed dimension such as ``is_sale`` is folded into the measure,
so the columns it reads (``status``) count. The gold columns lead on down through the
stored lineage of the models (`core.lineage_graph`).
"""

from __future__ import annotations

from collections.abc import Iterable

from warehouse_kit.analytics.metrics.compile import compile_query
from warehouse_kit.analytics.metrics.layer import SemanticLayer
from warehouse_kit.analytics.metrics.spec import QueryOptions
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.lineage import METRIC, ColumnRef, expression_lineage
from warehouse_kit.core.lineage_graph import LineageGraph


def metric_lineage(
    layer: SemanticLayer, warehouse: Warehouse, names: Iterable[str] | None = None
) -> LineageGraph:
    """The lineage of the metrics `names` (default: all) and of those they read.

    An unknown name raises a `ConfigError` with a did-you-mean.
    """
    wanted = list(layer.metrics) if names is None else list(names)
    tables = _model_ids(layer)
    edges: dict[ColumnRef, tuple[ColumnRef, ...]] = {}
    for metric in layer.closure(wanted):
        node = ColumnRef(METRIC, metric.name)
        if not metric.is_measure:
            edges[node] = tuple(ColumnRef(METRIC, name) for name in metric.inputs)
            continue
        expr = compile_query(layer, QueryOptions(metrics=[metric.name]), warehouse, layer.catalog)
        found = expression_lineage(expr, {})[metric.name]
        edges[node] = tuple(
            ColumnRef(tables.get(ref.table, ref.table), ref.column) for ref in found
        )
    return LineageGraph(edges)


def _model_ids(layer: SemanticLayer) -> dict[str, str]:
    """``schema.table`` -> the id of the model whose table it is (``gold.fact_orders``)."""
    catalog = layer.catalog
    return {
        f"{catalog.schema_of(node)}.{model.name}": node
        for node, model in catalog.graph.models.items()
    }
