"""Column-level lineage: which input columns each column of a model is computed from.

It is read off the model's planned Ibis expression, the very object the run compiles
to SQL, by walking its operations: a projected or aggregated column's value expression
names the fields it reads; a filter, sort, limit, distinct or join reference passes a
column through unchanged; a union reads the column of both sides. The leaves are the
model's inputs (other models' tables), so every operation, SQL business rule
(`sqlexpr` compiles to the same operations), Python model and fact lookup is covered
the same way, and the answer is exact for what runs.

Walking Ibis rather than running ``sqlglot.lineage`` over the compiled SQL: the SQL
is the expression flattened into nested subqueries and CTEs whose names Ibis makes
up; sqlglot would have to re-resolve them (and stars, UNNEST, window aliases) per
column and per dialect, while the expression already says which field is which.

What the expression does not show is added from what writes the table: a dimension's
surrogate key and history columns (`materialize.scd2`), a bronze table's source and
load metadata, and the quarantine table a model's checks divert rows to.

Only value dependencies count: a column a filter or join condition reads shapes
which rows there are, not what a value is, and is left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import ibis.expr.operations as ops
import ibis.expr.types as ir

from warehouse_kit.core.materialize import dimension, history
from warehouse_kit.core.models import Dimension
from warehouse_kit.core.planner import Planned
from warehouse_kit.core.transforms import LOAD_METADATA

SOURCE_PREFIX = "source:"
METRIC = "metric"
"""The table of the KPI layer's nodes: ``ColumnRef(METRIC, "revenue")`` is ``metric:revenue``."""
"""How a source table is named among tables: ``source:shop_orders.orders``."""


@dataclass(frozen=True, order=True)
class ColumnRef:
    """A column of a table: a model (``silver.orders``) or a source
    (``source:<source name>.<table>``)."""

    table: str
    column: str

    def __str__(self) -> str:
        if self.table == METRIC:
            return f"{METRIC}:{self.column}"
        return f"{self.table}.{self.column}"


ColumnLineage = Mapping[str, tuple[ColumnRef, ...]]
"""An output column -> the input columns it is directly computed from."""


def model_lineage(item: Planned) -> ColumnLineage:
    """Each output column of a planned model, and the input columns it is computed from.

    A bronze model's columns come from its source's table of the same name; its load
    metadata (``_loaded_at``, ``_source``, ``_batch_id``) are made by the load and have
    no input column.
    """
    if item.batch is not None:
        source = source_table(item)
        return {
            name: () if name in LOAD_METADATA else (ColumnRef(source, name),)
            for name in item.output
        }
    expr = item.definition if item.definition is not None else item.expr
    found = expression_lineage(expr, _input_names(item))
    if isinstance(item.model.materialization, Dimension) and item.model.keys is not None:
        found = _with_dimension_columns(item, found)
    return {name: found.get(name, ()) for name in item.output}


def quarantine_lineage(item: Planned) -> ColumnLineage:
    """The columns of the table a model's checks divert rows to: the model's rows, so the
    same inputs as the model's columns, before a dimension adds its keys and history."""
    expr = item.definition if item.definition is not None else item.expr
    return expression_lineage(expr, _input_names(item))


def source_table(item: Planned) -> str:
    """A bronze model's source table: ``source:<source>.<table>``."""
    source = item.model.source or item.model.pipeline or "source"
    return f"{SOURCE_PREFIX}{source}.{item.model.name}"


def source_location(item: Planned) -> str:
    """What a bronze model's source reads, as the run reports it (``shop_orders:
    seeds/orders_seed.csv``)."""
    return item.batch.description if item.batch is not None else ""


def _input_names(item: Planned) -> dict[ops.Relation, str]:
    """Each input table's operation -> the id of the model it is."""
    return {
        table.op(): item.upstream.get(ref, _table_name(table.op()))
        for ref, table in item.inputs.items()
    }


def expression_lineage(
    expr: ir.Table, names: Mapping[ops.Relation, str]
) -> dict[str, tuple[ColumnRef, ...]]:
    """Each column of `expr` -> the columns of its leaf tables it is computed from; a leaf
    is named by `names`, else ``schema.table``."""
    walker = _Walker(names)
    return {name: walker.inputs(expr.op(), name) for name in expr.columns}


class _Walker:
    """Traces a column of a relation down to the leaf tables' columns it is computed from."""

    def __init__(self, names: Mapping[ops.Relation, str]):
        self.names = names
        self.seen: dict[tuple[ops.Relation, str], frozenset[ColumnRef]] = {}

    def inputs(self, relation: ops.Relation, column: str) -> tuple[ColumnRef, ...]:
        return tuple(sorted(self._trace(relation, column)))

    def _trace(self, relation: ops.Relation, column: str) -> frozenset[ColumnRef]:
        key = (relation, column)
        if key not in self.seen:
            self.seen[key] = frozenset()  # a cycle cannot happen; this guards the recursion
            self.seen[key] = frozenset(self._step(relation, column))
        return self.seen[key]

    def _step(self, relation: ops.Relation, column: str) -> Iterable[ColumnRef]:
        if isinstance(relation, ops.Project | ops.JoinChain):
            return self._value(relation.values[column])
        if isinstance(relation, ops.Aggregate):
            value = relation.groups.get(column, relation.metrics.get(column))
            return self._value(value)
        if isinstance(relation, ops.Union | ops.Intersection | ops.Difference):
            return self._trace(relation.left, column) | self._trace(relation.right, column)
        parents = [c for c in relation.__children__ if isinstance(c, ops.Relation)]
        if not parents:  # a leaf: an input model's table, or a table the expression reads
            table = self.names.get(relation) or _table_name(relation)
            return [ColumnRef(table, column)]
        # Filter, Sort, Limit, Distinct, DropColumns, FillNull, a join reference...:
        # the column is its parent's.
        return frozenset().union(
            *(self._trace(parent, column) for parent in parents if column in parent.schema)
        )

    def _value(self, value: ops.Value | None) -> frozenset[ColumnRef]:
        found: set[ColumnRef] = set()
        for field in _fields(value):
            found |= self._trace(field.rel, field.name)
        return frozenset(found)


def _fields(value: ops.Node | None) -> list[ops.Field]:
    """The fields a value expression reads, not looking into the relations they belong to."""
    if value is None:
        return []
    found: list[ops.Field] = []
    stack: list[ops.Node] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, ops.Field):
            found.append(node)
            continue
        if isinstance(node, ops.Relation):  # a subquery: every column it gives
            found += [ops.Field(node, name) for name in node.schema]
            continue
        stack += [child for child in node.__children__ if isinstance(child, ops.Node)]
    return found


def _table_name(relation: ops.Relation) -> str:
    """``schema.name`` of a table an expression reads."""
    name = getattr(relation, "name", type(relation).__name__)
    namespace = getattr(relation, "namespace", None)
    schema = getattr(namespace, "database", None) if namespace is not None else None
    return f"{schema}.{name}" if schema else str(name)


def _with_dimension_columns(
    item: Planned, found: dict[str, tuple[ColumnRef, ...]]
) -> dict[str, tuple[ColumnRef, ...]]:
    """The columns a dimension's write adds (`materialize.dimension`, `history`): its
    surrogate key stands for the natural key; a version's bounds are when it changed."""
    keys = item.model.keys
    assert keys is not None
    assert isinstance(item.model.materialization, Dimension)
    names = item.model.materialization.options.history_columns

    def union(*columns: str) -> tuple[ColumnRef, ...]:
        return tuple(sorted({ref for c in columns for ref in found.get(c, ())}))

    changed, seen = dimension.CHANGED_AT, dimension.SEEN_AT
    added = {
        keys.surrogate: union(*keys.natural),
        names.effective_from: union(changed),
        names.effective_to: union(changed),
        names.is_current: union(changed),
        names.is_deleted: union(*keys.natural),
        history.FIRST_SEEN: union(seen),
        history.RUN_ID: (),
    }
    kept = {name: refs for name, refs in found.items() if name not in dimension.HIDDEN}
    return {**kept, **added}
