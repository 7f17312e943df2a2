"""Gather the data dictionary of a project from its definitions and its warehouse."""

from __future__ import annotations

from pathlib import Path

from warehouse_kit.analytics.docs.columns import (
    check_context,
    checks_by_column,
    column_description,
    column_tags,
)
from warehouse_kit.analytics.docs.entries import (
    ColumnEntry,
    DataDictionary,
    ExperimentEntry,
    MetricEntry,
    TableEntry,
)
from warehouse_kit.analytics.docs.profile import profile
from warehouse_kit.analytics.experiments import load_experiments
from warehouse_kit.analytics.experiments.spec import Experiment
from warehouse_kit.analytics.metrics import load as load_metrics
from warehouse_kit.analytics.metrics import query
from warehouse_kit.analytics.metrics.layer import MetricDef, SemanticLayer
from warehouse_kit.core import state
from warehouse_kit.core.backends import Warehouse, redact
from warehouse_kit.core.catalog import Catalog, load_catalog
from warehouse_kit.core.errors import WarehouseKitError, first_line
from warehouse_kit.core.lineage import ColumnRef
from warehouse_kit.core.lineage_graph import of_rows, pii_columns
from warehouse_kit.core.project import Project


def gather(project: Project | str | Path, warehouse: Warehouse) -> DataDictionary:
    """Every model's table (columns, counts, checks, lineage), metric and experiment of
    `project`, with what `warehouse` holds: one aggregate query per table."""
    project = Project.of(project)
    catalog = load_catalog(project)
    layer = load_metrics(project)
    built = state.last_builds(warehouse)
    on_table = _metrics_by_table(layer)
    # Personal data as the tables were built: declared, or computed from declared columns.
    pii = pii_columns(of_rows(state.lineage_rows(warehouse)))
    tables = tuple(
        _table(catalog, node, warehouse, built, on_table.get(_qualified(catalog, node), []), pii)
        for node in catalog.graph.order()
    )
    edges = tuple(
        (parent, node) for node, parents in catalog.graph.upstream.items() for parent in parents
    )
    return DataDictionary(
        project=project.spec.name or project.root.name,
        target=redact(warehouse.url),
        tables=tables,
        metrics=tuple(_metric(layer, metric, warehouse) for metric in layer.metrics.values()),
        experiments=tuple(_experiment(e) for e in load_experiments(project).values()),
        edges=edges,
    )


def _table(
    catalog: Catalog,
    node: str,
    warehouse: Warehouse,
    built: dict[str, tuple[str, str | None, int | None]],
    metrics: list[str],
    pii: dict[ColumnRef, str],
) -> TableEntry:
    model = catalog.graph.models[node]
    schema = catalog.schema_of(node)
    context = check_context(catalog, node, warehouse)
    by_column, whole_table = checks_by_column(model.checks, context)
    found = warehouse.exists(model.name, schema)
    columns: tuple[ColumnEntry, ...] = ()
    rows = None
    if found:
        table = warehouse.table(model.name, schema)
        counted = profile(warehouse, table)
        rows = counted.rows
        columns = tuple(
            ColumnEntry(
                name=name,
                type=str(dtype),
                description=column_description(catalog.graph, node, name),
                tags=column_tags(pii, ColumnRef(f"{schema}.{model.name}", name)),
                checks=tuple(by_column.get(name, ())),
                nulls=counted.nulls[name],
                distinct=counted.distinct.get(name),
            )
            for name, dtype in table.schema().items()
        )
    return TableEntry(
        id=node,
        schema=schema,
        name=model.name,
        description=model.description,
        origin=model.origin,
        built=found,
        view=model.materialization.kind == "view",
        columns=columns,
        rows=rows,
        last_run=built[node][0] if node in built else None,
        checks=tuple(whole_table),
        upstream=catalog.graph.upstream[node],
        downstream=tuple(catalog.graph.downstream()[node]),
        metrics=tuple(metrics),
    )


def _qualified(catalog: Catalog, node: str) -> str:
    return f"{catalog.schema_of(node)}.{catalog.graph.models[node].name}"


def _metrics_by_table(layer: SemanticLayer) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for metric in layer.metrics.values():
        table = _metric_table(layer, metric)
        if table is not None:
            found.setdefault(table, []).append(metric.name)
    return found


def _metric_table(layer: SemanticLayer, metric: MetricDef) -> str | None:
    if metric.model is None:
        return None
    return layer.models[metric.model].spec.table


def _metric(layer: SemanticLayer, metric: MetricDef, warehouse: Warehouse) -> MetricEntry:
    written = metric.spec.model_dump(exclude_defaults=True, exclude={"description"})
    sql, error = "", ""
    try:
        sql = warehouse.sql(query([metric.name], warehouse=warehouse, project=layer))
    except WarehouseKitError as exc:  # a table not built yet: the page says so
        error = first_line(exc)
    return MetricEntry(
        name=metric.name,
        label=metric.label,
        type=str(metric.spec.type),
        description=metric.spec.description,
        definition=tuple((key, str(value)) for key, value in written.items()),
        table=_metric_table(layer, metric),
        sql=sql,
        file=metric.where.file,
        error=error,
    )


def _experiment(experiment: Experiment) -> ExperimentEntry:
    return ExperimentEntry(
        key=experiment.key,
        description=experiment.description,
        variants=tuple(experiment.weights().items()),
        start=str(experiment.start),
        end=str(experiment.end),
        exposures=experiment.exposures.table,
        metrics=tuple(
            (metric.name, metric.type, metric.role, metric.description)
            for metric in experiment.metrics
        ),
        engine=experiment.engine,
        file=experiment.file or "",
    )
