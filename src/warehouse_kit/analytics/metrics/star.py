"""A semantic model in one warehouse: its table, its joins, and what each name means.

Every column a query can use has one canonical name: the fact table's columns
keep theirs (``amount``), a joined table's are qualified (``dim_customer.segment``),
a type-2 dimension's current version adds ``current``
(``dim_customer.current.segment``), and computed dimensions keep their own
(``first_order_date``). The relation a query aggregates has exactly these
columns, so a SQL expression, once its column references are resolved to
canonical names, is translated by `warehouse_kit.core.sqlexpr` as is.

A bare name is a computed dimension, else the fact table's column, else the
column of the one joined table that has it (two: an error listing both).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import ibis.expr.types as ir
import sqlglot
import sqlglot.expressions as sge
from sqlglot.errors import SqlglotError

from warehouse_kit.analytics.metrics import cache
from warehouse_kit.analytics.metrics.keys import catalog_keys, covers, model_key
from warehouse_kit.analytics.metrics.layer import ModelDef, Where
from warehouse_kit.analytics.metrics.spec import Dimension
from warehouse_kit.analytics.metrics.spec import Join as JoinSpec
from warehouse_kit.core.backends import Warehouse, redact
from warehouse_kit.core.catalog import Catalog
from warehouse_kit.core.errors import ConfigError, ExpressionError, column_hint, did_you_mean
from warehouse_kit.core.models import Dimension as DimensionMaterialization
from warehouse_kit.core.models import Model
from warehouse_kit.core.sqlexpr import DIALECT, columns_used

CURRENT = "current"


@dataclass(frozen=True)
class Join:
    """How the model's rows reach one other table."""

    name: str
    table: ir.Table
    display: str
    """``schema.table``, for messages."""
    left: tuple[str, ...]
    """Fields on the model's side (canonical names)."""
    right: tuple[str, ...]
    """Columns of `table`."""
    fan_out: bool = False
    """Several rows of `table` per key: see `warehouse_kit.analytics.metrics.relation`."""
    current: str | None = None
    """For ``dim.current``: the is-current flag that keeps one version per member."""
    how: str = "left"
    """``left`` or ``inner`` (rows of the model without a match drop out)."""
    checked: bool = True
    """Whether `right` is known to be a key of `table` (else the engine is asked, once)."""


@dataclass(frozen=True)
class Versions:
    """How a type-2 dimension's current version is found: its natural key and flag."""

    natural: tuple[str, ...]
    is_current: str


@dataclass(frozen=True)
class Compiled:
    """A SQL expression whose columns are canonical names."""

    source: str
    """The expression as the user wrote it (messages quote it)."""
    node: sge.Expression
    fields: frozenset[str]
    where: str


@dataclass
class Star:
    """A semantic model's fact table and joins, open in one warehouse."""

    model: ModelDef
    fact: ir.Table
    display: str
    joins: dict[str, Join]
    versions: dict[str, Versions] = field(default_factory=dict)
    key: tuple[str, ...] = ()
    """The columns identifying a row of `fact` (`keys.model_key`; empty: unknown)."""
    warehouse: Warehouse | None = None

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def computed(self) -> dict[str, Dimension]:
        return self.model.spec.dimensions

    def join_of(self, name: str) -> Join | None:
        """The join a canonical field comes from (None: the fact or a computed dimension)."""
        if name in self.computed or "." not in name:
            return None
        return self.joins[name.rsplit(".", 1)[0]]

    def resolve(self, parts: Sequence[str], where: str) -> str:
        """The canonical name of a column reference (``segment``, ``dim_customer.segment``)."""
        if len(parts) == 1:
            return self._bare(parts[0], where)
        if len(parts) == 3 and parts[1] == CURRENT:
            join = self._current(parts[0], where)
            return self._join_column(join, parts[2], where)
        if len(parts) == 2 and parts[0] in self.joins:
            return self._join_column(self.joins[parts[0]], parts[1], where)
        name = ".".join(parts)
        joins = ", ".join(self.joins) or "none"
        raise ConfigError(f"{where}: {name!r} names no join of model {self.name} (joins: {joins})")

    def compile(self, sql: str, where: str) -> Compiled:
        """`sql` with its column references resolved to canonical names."""
        node = _parse(sql, where)
        found: set[str] = set()

        def canonical(part: sge.Expression) -> sge.Expression:
            if not isinstance(part, sge.Column):
                return part
            name = self.resolve([p.name for p in part.parts], f"{where}: in expression {sql!r}")
            found.add(name)
            return sge.column(sge.to_identifier(name, quoted=True))

        rewritten = true_division(node.transform(canonical))
        return Compiled(sql, rewritten, frozenset(found), where)

    def columns(self) -> list[str]:
        """Every name a query can use, for messages."""
        names = [*self.computed, *self.fact.columns]
        return names + [f"{j.name}.{c}" for j in self.joins.values() for c in j.table.columns]

    def _bare(self, name: str, where: str) -> str:
        if name in self.computed or name in self.fact.columns:
            return name
        found = [f"{j.name}.{name}" for j in self.joins.values() if name in j.table.columns]
        if len(found) == 1:
            return found[0]
        if found:
            raise ConfigError(f"{where}: {name!r} is ambiguous: write {' or '.join(found)}")
        names = [c for j in self.joins.values() for c in j.table.columns]
        hint = did_you_mean(name, [*self.computed, *self.fact.columns, *names])
        where_to_look = [f"{self.display}: {', '.join(self.fact.columns)}"]
        if self.computed:
            where_to_look.insert(0, f"computed: {', '.join(self.computed)}")
        where_to_look += [
            f"{j.name}: {', '.join(j.table.columns)}" for j in self.joins.values() if not j.current
        ]
        raise ConfigError(
            f"{where}: unknown column {name!r} in model {self.name}{hint} "
            f"columns: {'; '.join(where_to_look)}".replace("  ", " ")
        )

    def _join_column(self, join: Join, column: str, where: str) -> str:
        if column not in join.table.columns:
            hint = column_hint(column, list(join.table.columns))
            raise ConfigError(
                f"{where}: {join.display} (join {join.name}) has no column {column!r}; {hint}"
            )
        return f"{join.name}.{column}"

    def _current(self, name: str, where: str) -> Join:
        """The join to the current version of dimension `name`, made on first use."""
        key = f"{name}.{CURRENT}"
        if key in self.joins:
            return self.joins[key]
        versions = self.versions.get(name)
        if name not in self.joins or versions is None:
            known = ", ".join(self.versions) or "none"
            raise ConfigError(
                f"{where}: {name}.{CURRENT} needs a type-2 dimension of the project "
                f"(type-2 joins of model {self.name}: {known})"
            )
        dimension = self.joins[name]
        self.joins[key] = Join(
            key,
            dimension.table,
            dimension.display,
            left=tuple(f"{name}.{column}" for column in versions.natural),
            right=versions.natural,
            current=versions.is_current,
        )
        return self.joins[key]


def true_division(node: sge.Expression) -> sge.Expression:
    """Every ``a / b`` as ``CAST(a AS DOUBLE) / b``.

    sqlexpr means true division, but on PostgreSQL two integers from a subquery
    (counts, once aggregated) are divided as integers (6 / 39 = 0): sqlglot adds
    its cast only where it knows the operands' types. An explicit cast always holds.
    """

    def cast(part: sge.Expression) -> sge.Expression:
        if isinstance(part, sge.Div) and not isinstance(part.this, sge.Cast):
            left = sge.Cast(this=part.this.copy(), to=sge.DataType.build("DOUBLE"))
            return sge.Div(this=left, expression=part.expression.copy())
        return part

    return node.transform(cast)


def _parse(sql: str, where: str) -> sge.Expression:
    try:
        return sqlglot.parse_one(sql, read=DIALECT)
    except SqlglotError:
        columns_used(sql, where=where)  # raises the same, well-worded, syntax error
        raise ExpressionError(f"{where}: in expression {sql!r}: syntax error") from None


# --- opening a model in a warehouse ---------------------------------------------------


def open_star(model: ModelDef, catalog: Catalog, warehouse: Warehouse) -> Star:
    """The model's tables in `warehouse`, its joins from the catalog and its file, checked."""
    fact, display, node = _table(model.spec.table, catalog, warehouse, model.where, "table")
    key = model_key(model.spec.key, node)
    for column in model.spec.key or ():
        if column not in fact.columns:
            hint = column_hint(column, list(fact.columns))
            raise model.where.error(f"{display} has no column {column!r}; {hint}", "key")
    star = Star(model, fact, display, {}, key=key, warehouse=warehouse)
    for dimension in _dimensions_of(node, catalog):
        table, shown, _ = _table(dimension.id, catalog, warehouse, model.where, "table")
        assert dimension.keys is not None  # _dimensions_of keeps dimensions only
        key = (dimension.keys.surrogate,)
        star.joins[dimension.name] = Join(dimension.name, table, shown, key, key)
        _add_versions(star, dimension.name, dimension)
    for name, spec in model.spec.joins.items():
        where = Where(model.where.file, f"{model.where.key_path}.joins.{name}")
        star.joins[name] = _declared_join(star, name, spec, catalog, warehouse, where)
    _check_joins(star)
    _check_dimensions(star)
    return star


def _dimensions_of(node: Model | None, catalog: Catalog) -> list[Model]:
    """The dimensions a fact built with build_facts holds surrogate keys of."""
    if node is None:
        return []
    found = [catalog.graph.models[catalog.find(reference)] for reference in node.dimensions]
    return [dimension for dimension in found if dimension.keys is not None]


def _add_versions(star: Star, name: str, node: Model | None) -> None:
    materialization = node.materialization if node is not None else None
    if isinstance(materialization, DimensionMaterialization) and materialization.options.scd == 2:
        assert node is not None
        assert node.keys is not None
        flag = materialization.options.history_columns.is_current
        star.versions[name] = Versions(node.keys.natural, flag)


def _declared_join(
    star: Star, name: str, spec: JoinSpec, catalog: Catalog, warehouse: Warehouse, where: Where
) -> Join:
    schema = star.display.split(".", 1)[0]
    table, display, node = _table(spec.table or name, catalog, warehouse, where, "table", schema)
    pairs = spec.on.items() if isinstance(spec.on, dict) else [(c, c) for c in spec.on]
    left = tuple(_left_field(star, name, this, where) for this, _ in pairs)
    right = tuple(that for _, that in pairs)
    for column in right:
        if column not in table.columns:
            hint = column_hint(column, list(table.columns))
            raise where.error(f"{display} has no column {column!r}; {hint}", "on")
    _add_versions(star, name, node)
    fan_out = spec.relationship == "one_to_many"
    checked = fan_out or covers(right, catalog_keys(node))
    return Join(name, table, display, left, right, fan_out, how=spec.type, checked=checked)


def _left_field(star: Star, join: str, reference: str, where: Where) -> str:
    """A join's own side: a column of the fact table, or ``other_join.column``."""
    parts = reference.split(".")
    if len(parts) == 1:
        if reference not in star.fact.columns:
            hint = column_hint(reference, list(star.fact.columns))
            raise where.error(f"{star.display} has no column {reference!r}; {hint}", "on")
        return reference
    other = star.joins.get(parts[0])
    if len(parts) != 2 or other is None or parts[0] == join:
        known = ", ".join(j for j in star.joins if j != join) or "none declared before it"
        raise where.error(f"{reference!r}: write column or join.column (joins: {known})", "on")
    if other.fan_out:
        raise where.error(f"a join cannot start from the one-to-many join {other.name}", "on")
    return star._join_column(other, parts[1], where.prefix("on"))


def _check_joins(star: Star) -> None:
    """Catalog joins: the key must be in the fact (a Python model may have dropped it)."""
    for join in star.joins.values():
        for left in join.left:
            if "." not in left and left not in star.fact.columns:
                hint = column_hint(left, list(star.fact.columns))
                raise star.model.where.error(
                    f"the catalog joins {join.display} on {left!r}, which {star.display} "
                    f"does not have; {hint}; declare the join under joins:"
                )


def _check_dimensions(star: Star) -> None:
    for name in star.computed:
        if name in star.fact.columns:
            raise star.model.where.error(
                f"computed dimension {name!r} has the name of a column of {star.display}",
                f"dimensions.{name}",
            )


def _table(
    reference: str,
    catalog: Catalog,
    warehouse: Warehouse,
    where: Where,
    key: str,
    default_schema: str | None = None,
) -> tuple[ir.Table, str, Model | None]:
    """A table named by a model of the project, by ``schema.table``, or by its name in
    `default_schema`, as it is now."""
    node = _catalog_model(reference, catalog, where, key)
    if node is not None:
        schema, name = catalog.schema_of(node.id), node.name
    elif "." in reference:
        schema, name = reference.split(".", 1)
    elif default_schema is not None:
        schema, name = default_schema, reference
    else:
        raise where.error(
            f"{reference!r} is no model of the project; write schema.table for another table", key
        )
    table = cache.table(warehouse, name, schema)
    if table is None:
        raise where.error(
            f"table {schema}.{name} does not exist in {redact(warehouse.url)}: run `wk run` first",
            key,
        )
    return table, f"{schema}.{name}", node


def _catalog_model(reference: str, catalog: Catalog, where: Where, key: str) -> Model | None:
    models = catalog.graph.models
    if reference in models:
        return models[reference]
    found = [model for model in models.values() if model.name == reference]
    if len(found) > 1:
        ids = ", ".join(model.id for model in found)
        raise where.error(f"{reference!r} names several models: write one of {ids}", key)
    return found[0] if found else None
