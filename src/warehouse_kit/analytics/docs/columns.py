"""What is known of a column without reading its data: description, tags, checks.

A column's description is the one declared in its model (``columns:`` in the pipeline
file); the columns warehouse-kit adds itself (load metadata, a dimension's surrogate key
and version columns, a fact's dimension keys) are described here, so nobody has to
repeat those in every file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import ibis.expr.types as ir

from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.catalog import Catalog
from warehouse_kit.core.dag import Graph
from warehouse_kit.core.lineage import ColumnRef
from warehouse_kit.core.materialize import history
from warehouse_kit.core.models import Dimension, Model, SourceLoad
from warehouse_kit.core.project import Project
from warehouse_kit.core.quality.base import BaseCheck
from warehouse_kit.core.quality.context import CheckContext
from warehouse_kit.core.runner import plan

LOAD_METADATA_DESCRIPTIONS = {
    # the columns of core.transforms.LOAD_METADATA
    "_loaded_at": "When the row was loaded into bronze (load metadata).",
    "_source": "The file or table the row was loaded from (load metadata).",
    "_batch_id": "The load batch the row came in (load metadata; see _wk.batches).",
}
INTERNAL_PREFIX = "_wk_"


def column_description(graph: Graph, node: str, column: str) -> str:
    """The column's description: declared in its model, else the one warehouse-kit
    gives the columns it adds; empty when there is neither (undocumented)."""
    model = graph.models[node]
    declared = model.columns.get(column, "")
    return declared or _generated(graph, model, column)


def column_tags(pii: Mapping[ColumnRef, str], column: ColumnRef) -> tuple[str, ...]:
    """A column's tags: ``pii:KIND`` when it holds personal data, declared or computed from
    a declared column (`core.lineage_graph.pii_columns`)."""
    kind = pii.get(column)
    return (f"pii:{kind}",) if kind else ()


def is_excused(model: Model) -> bool:
    """Whether `undocumented` leaves the model out: a source landed as it arrived (bronze)
    has the source's columns, documented (if at all) where the source is."""
    return isinstance(model.materialization, SourceLoad)


def undocumented(
    project: Project | str | Path = ".",
    *,
    pipelines: Sequence[str | Path] | None = None,
    target: str | None = None,
) -> list[str]:
    """Every column of a silver or gold model (any model but the bronze landing of a
    source) without a description, as ``schema.table.column``.

    The columns are those the pipelines build now, compiled as ``wk run --dry-run``
    does: no warehouse is needed (a DuckDB file that does not exist is not created).
    """
    catalog, planned = plan(project, pipelines=pipelines, target=target)
    missing = []
    for node, item in planned.items():
        if is_excused(item.model):
            continue
        schema = catalog.schema_of(node)
        for column in item.output.names:
            if not column_description(catalog.graph, node, column):
                missing.append(f"{schema}.{item.model.name}.{column}")
    return missing


def check_context(catalog: Catalog, node: str, warehouse: Warehouse) -> CheckContext:
    """What a check needs to say which columns it reads (nothing is run)."""

    def tables(reference: str) -> ir.Table:
        raise NotImplementedError("the data dictionary runs no check")

    model = catalog.graph.models[node]
    return CheckContext(model=node, warehouse=warehouse, tables=tables, key=model.key)


def checks_by_column(
    checks: Iterable[BaseCheck], context: CheckContext
) -> tuple[dict[str, list[str]], list[str]]:
    """The model's checks, each as ``name: the rule``: by the columns each reads, and those
    that read no column in particular (a row count, a NULL share of every column)."""
    by_column: dict[str, list[str]] = {}
    whole_table: list[str] = []
    for check in checks:
        rule = f"{check.name}: {check.describe()}"
        columns = check.columns(context)
        for column in columns:
            by_column.setdefault(column, []).append(rule)
        if not columns:
            whole_table.append(rule)
    return by_column, whole_table


def _generated(graph: Graph, model: Model, column: str) -> str:
    if column in LOAD_METADATA_DESCRIPTIONS:
        return LOAD_METADATA_DESCRIPTIONS[column]
    if column in history.DESCRIPTIONS:
        return history.DESCRIPTIONS[column]
    if column.startswith(INTERNAL_PREFIX):
        return "Bookkeeping of warehouse-kit's own (internal)."
    if model.keys is not None and column == model.keys.surrogate:
        return f"Surrogate key of {model.name}; -1 is the unknown member."
    if isinstance(model.materialization, Dimension):
        found = _history_column(model.materialization, column)
        if found:
            return found
    for reference in model.dimensions:
        dimension = graph.models[graph.resolve(reference, model)]
        if dimension.keys is not None and column == dimension.keys.surrogate:
            return f"Key of {dimension.name}: the member (version) valid when the event happened."
    return ""


def _history_column(dimension: Dimension, column: str) -> str:
    """The description of a column a type-2 dimension adds: the bounds and flags of each
    version."""
    if dimension.options.scd != 2:
        return ""
    names = dimension.options.history_columns
    return {
        names.effective_from: "When this version of the member starts being valid.",
        names.effective_to: "When this version stops being valid (9999-12-31: still current).",
        names.is_current: "Whether this is the member's current version.",
        names.is_deleted: "Whether the member was gone from the source at this version.",
    }.get(column, "")
