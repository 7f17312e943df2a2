"""Planning: every selected model's expression, built against its inputs' schemas.

Nothing is read but sources' column names and the warehouse's catalog, and
nothing is written; so a typo in a column, a bad expression or a missing input
stops a run before it starts, and ``--dry-run`` is the plan printed with its SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import ibis
import ibis.expr.types as ir

from warehouse_kit.core import materialize, quality, state
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.catalog import Catalog
from warehouse_kit.core.errors import ConfigError, ModelError, WarehouseKitError, first_line
from warehouse_kit.core.materialize.schema import Fitted, Place, held
from warehouse_kit.core.models import (
    Batch,
    BuildContext,
    Dimension,
    DimensionKeys,
    Guard,
    Merge,
    Model,
    Table,
    Tally,
    View,
)
from warehouse_kit.core.operations import DimensionOptions
from warehouse_kit.core.physical import Index
from warehouse_kit.core.quality import CheckContext
from warehouse_kit.core.transforms import LOAD_METADATA

METADATA_TYPES = ibis.schema(
    dict(zip(LOAD_METADATA, ("timestamp", "string", "string"), strict=True))
)
"""The types of the load metadata columns bronze adds."""


@dataclass(frozen=True)
class Planned:
    """A model ready to run: what it writes, where, and from which inputs."""

    model: Model
    schema: str
    expr: ir.Table
    inputs: dict[str, ir.Table]
    output: ibis.Schema
    batch: Batch | None = None
    watermark: ir.Scalar | None = None
    """For an incremental model: the input's highest ``_loaded_at`` once this run is done."""
    guards: tuple[Guard, ...] = ()
    """What the data must meet before the model is written (`BuildContext.guards`)."""
    definition: ir.Table | None = None
    """An incremental model's expression over all its input, apart from which rows are new."""
    tallies: tuple[Tally, ...] = ()
    """What its operations set apart or could not read, counted when it is written."""
    keeps_rows: bool = False
    """Rows in = rows out + quarantined + dropped (`BuildContext.keeps_rows`)."""
    fitted: Fitted | None = None
    """How the rows were held to the table's schema contract, and what the write changes
    in the table first."""
    indexes: tuple[Index, ...] = ()
    """Its table's indexes, checked against its columns (`materialize.indexes.design`)."""
    upstream: Mapping[str, str] = field(default_factory=dict)
    """Each input reference -> the id of the model it resolves to (for `lineage`)."""
    notes: tuple[str, ...] = ()
    """What its operations chose by themselves (`BuildContext.notes`: types inferred)."""

    def sql(self, dialect: str) -> str:
        if self.batch is not None:
            engine = ibis.get_backend(self.batch.table)
            return str(ibis.to_sql(self.batch.table, dialect=engine.name))
        return str(ibis.to_sql(self.expr, dialect=dialect))


class Planner:
    def __init__(self, catalog: Catalog, warehouse: Warehouse, *, full_refresh: bool):
        self.catalog = catalog
        self.warehouse = warehouse
        self.full_refresh = full_refresh

    def plan(self, ids: Sequence[str]) -> dict[str, Planned]:
        """Each model's expression and output schema, in order; raises on the first problem."""
        planned: dict[str, Planned] = {}
        for node in ids:
            planned[node] = self._plan_one(node, planned)
        return planned

    def _plan_one(self, node: str, planned: dict[str, Planned]) -> Planned:
        graph = self.catalog.graph
        model = graph.models[node]
        upstream = dict(zip(model.inputs, graph.upstream[node], strict=True))
        inputs = {ref: self._input(node, parent, planned) for ref, parent in upstream.items()}
        models = {ref: graph.models[p] for ref, p in upstream.items()}
        watermark, definition = None, None
        schema = self.catalog.schema_of(node)

        def readable(reference: str) -> ir.Table | None:
            return self._readable(upstream[reference], planned)

        def context_of(tables: dict[str, ir.Table]) -> BuildContext:
            return BuildContext(
                tables,
                self.warehouse,
                model,
                models,
                self.full_refresh,
                schema=schema,
                readable=readable,
            )

        if isinstance(model.materialization, Merge):
            # What the model is, apart from which rows are new: whether it is up to date.
            definition = _expression(self._build(model, context_of(dict(inputs))))
            watermark = self._incremental_input(model, inputs, planned)
        context = context_of(inputs)
        built = self._build(model, context)
        if isinstance(built, Batch):
            if model.checks:
                raise ConfigError(
                    f"{node}: checks run from silver on; bronze keeps rows as they came"
                )
            fitted = None
            if built.fingerprints == () and self.warehouse.exists(model.name, schema):
                # No new file: the table stays as it is (see `materialize.load_source`).
                output = _landed_schema(self.warehouse.table(model.name, schema).schema())
            else:
                place = self._place(model, schema)
                fitted = held(place, model, built.table, where=built.description)
                built = replace(built, table=fitted.rows)
                output = _landed_schema(fitted.rows.schema())
            return Planned(
                model,
                schema,
                built.table,
                inputs,
                output,
                batch=built,
                fitted=fitted,
                upstream=upstream,
                notes=tuple(context.notes),
            )
        if isinstance(model.materialization, View):
            self._view_allowed(model)
        if isinstance(model.materialization, Dimension) and model.keys is not None:
            built = materialize.prepare(model, model.materialization.options, built)
        fitted = held(self._place(model, schema), model, built, where="the model's rows")
        built = fitted.rows
        if isinstance(model.materialization, Dimension) and model.keys is not None:
            output = _dimension_schema(model.materialization.options, model.keys, built)
        else:
            output = built.schema()
        if model.checks:
            quality.validate(model.checks, built, self.check_context(model, planned))
        indexes = (
            ()
            if isinstance(model.materialization, View)
            else materialize.indexes.design(model, list(output), self.surrogate_keys(model))
        )
        guards = tuple(context.guards)
        return Planned(
            model,
            schema,
            built,
            inputs,
            output,
            watermark=watermark,
            guards=guards,
            definition=definition,
            tallies=tuple(context.tallies),
            keeps_rows=context.keeps_rows and isinstance(model.materialization, Table),
            fitted=fitted,
            indexes=indexes,
            upstream=upstream,
            notes=tuple(context.notes),
        )

    def _build(self, model: Model, context: BuildContext) -> ir.Table | Batch:
        try:
            return model.build(context)
        except WarehouseKitError:
            raise
        except Exception as exc:  # Ibis or user code: name the model
            raise ModelError(model.id, f"cannot build its expression: {first_line(exc)}") from exc

    def _view_allowed(self, model: Model) -> None:
        """Refuse what a view cannot be: on an engine without views, a view whose checks
        would set rows apart, or one with a physical design."""
        if not self.warehouse.capabilities.views:
            raise ConfigError(
                f"{model.id} is materialized: view, which needs DuckDB or PostgreSQL: this "
                f"{self.warehouse.kind} warehouse keeps tables only (use materialized: table)",
                file=model.origin,
            )
        quarantining = [check.name for check in model.checks if check.action == "quarantine"]
        if quarantining:
            raise ConfigError(
                f"{model.id} is a view, which holds no rows to set apart: its check "
                f"{quarantining[0]} cannot quarantine (use action: reject or warn, or "
                "materialized: table)",
                file=model.origin,
            )
        physical = model.physical
        if physical.indexes or physical.partition_by or physical.cluster_by:
            raise ConfigError(
                f"{model.id} is a view, which has no indexes, partitions or clusters: leave "
                "out indexes, partition_by and cluster_by (or use materialized: table)",
                file=model.origin,
            )

    def _incremental_input(
        self, model: Model, inputs: dict[str, ir.Table], planned: dict[str, Planned]
    ) -> ir.Scalar:
        """Narrow an incremental model's first input to the rows it has not built from yet
        (or whose dimension versions changed since); returns the watermark those rows take
        it to."""
        assert isinstance(model.materialization, Merge)
        primary = inputs[model.inputs[0]]
        if "_loaded_at" not in primary.columns:
            raise ConfigError(
                f"incremental: its input {model.inputs[0]} has no _loaded_at to tell new rows",
                file=model.origin,
            )
        schema = self.catalog.schema_of(model.id)
        # A view standing there (the model was one) holds no rows to build on.
        exists = not self.full_refresh and self.warehouse.relation(model.name, schema) == "table"
        existing = self.warehouse.table(model.name, schema) if exists else None
        mark = state.watermark(self.warehouse, model.id) if exists else None
        keys = self.surrogate_keys(model)
        options = model.materialization.options
        since = state.watermark_run(self.warehouse, model.id) if exists else None
        histories = self._histories(model, inputs)
        inputs[model.inputs[0]] = materialize.incoming(
            primary, existing, options, mark, keys, histories=histories, since=since
        )
        return primary._loaded_at.max()

    def _histories(self, model: Model, inputs: dict[str, ir.Table]) -> list[materialize.History]:
        """The type-2 dimensions a fact looks up, whose versions say which run wrote them."""
        graph = self.catalog.graph
        found = []
        for reference in model.dimensions:
            keys = graph.models[graph.resolve(reference, model)].keys
            table = inputs.get(reference)
            if keys is None or not keys.valid_from or table is None:
                continue
            if materialize.history.RUN_ID in table.columns:
                found.append(materialize.History(keys.surrogate, table))
        return found

    def _input(self, node: str, parent: str, planned: dict[str, Planned]) -> ir.Table:
        name = self.catalog.graph.models[parent].name
        schema = self.catalog.schema_of(parent)
        if parent in planned:
            return ibis.table(planned[parent].output, name=name, database=schema)
        if self.warehouse.exists(name, schema):
            return ibis.table(
                self.warehouse.table(name, schema).schema(), name=name, database=schema
            )
        raise ModelError(
            node, f"its input {parent} is not built yet; select it too (--select +{node})"
        )

    def _readable(self, parent: str, planned: dict[str, Planned]) -> ir.Table | None:
        """`parent`'s rows as the engine can read them now: the source batch it lands in
        this run, else its table as built before; None when neither exists yet."""
        item = planned.get(parent)
        if item is not None and item.batch is not None and item.batch.fingerprints != ():
            return item.expr
        name, schema = self.catalog.graph.models[parent].name, self.catalog.schema_of(parent)
        return self.warehouse.table(name, schema) if self.warehouse.exists(name, schema) else None

    def _place(self, model: Model, schema: str) -> Place:
        return Place(self.warehouse, schema, model.name, model.id, self.full_refresh)

    def check_context(
        self, model: Model, planned: dict[str, Planned] | None = None
    ) -> CheckContext:
        """What a model's checks need: other tables (relationships), the last count, its key."""
        graph = self.catalog.graph

        def tables(reference: str) -> ir.Table:
            parent = graph.resolve(reference, model)
            if planned is not None:
                return self._input(model.id, parent, planned)
            return self.warehouse.table(graph.models[parent].name, self.catalog.schema_of(parent))

        previous = None if planned is not None else state.checked_rows(self.warehouse, model.id)
        return CheckContext(model.id, self.warehouse, tables, previous_rows=previous, key=model.key)

    def surrogate_keys(self, model: Model) -> list[str]:
        """The surrogate-key columns a fact holds, one per dimension it references."""
        graph = self.catalog.graph
        found = []
        for reference in model.dimensions:
            keys = graph.models[graph.resolve(reference, model)].keys
            if keys is not None:
                found.append(keys.surrogate)
        return found


def _expression(built: ir.Table | Batch) -> ir.Table:
    if isinstance(built, Batch):
        raise ConfigError("an incremental model reads other models, not a source")
    return built


def _dimension_schema(
    options: DimensionOptions, keys: DimensionKeys, incoming: ir.Table
) -> ibis.Schema:
    """The columns a dimension table has: its surrogate key first, then the input's."""
    columns = {keys.surrogate: "int64", **dict(incoming.schema().items())}
    if options.scd == 1:
        return ibis.schema(columns)
    for hidden in materialize.dimension.HIDDEN:
        columns.pop(hidden)
    names = options.history_columns
    history = {names.effective_from: "timestamp", names.effective_to: "timestamp"}
    flags = {names.is_current: "boolean", names.is_deleted: "boolean"}
    kept = materialize.history
    bookkeeping = {kept.FIRST_SEEN: "timestamp", kept.RUN_ID: "string"}
    return ibis.schema({**columns, **history, **flags, **bookkeeping})


def _landed_schema(incoming: ibis.Schema) -> ibis.Schema:
    """Bronze adds the load metadata last, whatever a source gives (files: `_batch_id`)."""
    columns = {k: v for k, v in incoming.items() if k not in METADATA_TYPES}
    return ibis.schema({**columns, **dict(METADATA_TYPES.items())})
