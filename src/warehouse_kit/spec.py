"""The pipeline file format, as frozen pydantic models.

A pipeline file has one top-level key, ``pipeline``, holding `PipelineSpec`.
`load_pipeline_spec` reads a file, resolves ``${VAR}`` references from the
environment and validates it, turning every problem into a `ConfigError` that
names the file, the key path and what was expected::

    pipelines/x.yml: pipeline.transformations[1].operations[0]: unknown operation
    'dedupe'; did you mean 'deduplicate'?

Operations, sources and checks are discriminated unions (on ``op``, ``type``,
and ``type`` or ``check``), so a YAML mapping parses straight into the class
that implements it. An operation may be written in short form, by its name
alone, when its options all have defaults. What every format shares (the base
model, durations, the error formatter) is in `warehouse_kit.config`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, model_validator

from warehouse_kit.config import (
    Column,
    Columns,
    Duration,
    Expression,
    Name,
    Spec,
    parse,
    read_yaml,
    resolve_variables,
)
from warehouse_kit.quality.checks import Checks

# --- operations -----------------------------------------------------------------


class Deduplicate(Spec):
    """Keep one row per key: the last by `order_by` (or the first, with keep: first).

    Without a key, exact duplicate rows (ignoring load metadata) collapse to one.
    Rows with a NULL in the key are not duplicates of each other and pass through.
    """

    op: Literal["deduplicate"]
    key: Columns | None = None
    order_by: Columns | None = None
    keep: Literal["last", "first"] = "last"


class TypeCasting(Spec):
    """Cast columns to declared types; a value that does not parse becomes NULL.

    Text is trimmed before it is cast. Types are Ibis type names: int64,
    float64, decimal(12,2), date, timestamp, boolean, string.
    """

    op: Literal["type_casting"]
    columns: dict[Column, str] = Field(min_length=1)
    max_unparsed: float = Field(default=0.05, ge=0, le=1)
    """The share of a column's non-empty values that may fail to parse before the run
    warns with the count (and, under ``schema_contract: freeze``, fails the model)."""


class Fill(Spec):
    fill: Any


NullRule = Literal["drop", "keep"] | Fill


class NullHandling(Spec):
    """Per column: drop the row, keep the NULL, or fill a value.

    Blank text is treated as NULL first (``blank_is_null``), since a CSV cannot
    tell the two apart. The short form only does that.
    """

    op: Literal["null_handling"]
    columns: dict[Column, NullRule] = Field(default_factory=dict)
    blank_is_null: bool = True


class JoinTables(Spec):
    """Join another model; `on` names shared columns or maps this side to that side."""

    op: Literal["join_tables"]
    with_: str = Field(alias="with")
    on: Columns | dict[Column, Column]
    how: Literal["inner", "left", "right", "outer"] = "left"
    columns: Columns | None = None
    """Columns to take from the joined model (default: all but the join keys)."""


class Rule(Spec):
    name: Name
    condition: Expression
    action: Literal["filter", "flag"] = "filter"
    """filter keeps the rows where the condition is true; flag adds a boolean column."""


class ApplyBusinessRules(Spec):
    op: Literal["apply_business_rules"]
    rules: list[Rule] = Field(min_length=1)


class CalculateMetrics(Spec):
    """Add (or replace) columns computed from SQL expressions, in order."""

    op: Literal["calculate_metrics"]
    columns: dict[Column, Expression] = Field(min_length=1)


class AggregateMetrics(Spec):
    """Group by columns and compute measures (SQL aggregate expressions)."""

    op: Literal["aggregate_metrics"]
    group_by: Columns = Field(default_factory=list)
    measures: dict[Column, Expression] = Field(min_length=1)


class HistoryColumns(Spec):
    """The names of a type-2 dimension's bookkeeping columns."""

    effective_from: Name = "effective_from"
    effective_to: Name = "effective_to"
    is_current: Name = "is_current"
    is_deleted: Name = "is_deleted"


class DimensionOptions(Spec):
    """A dimension keyed by an integer surrogate key that never changes for a version.

    Type 1 (``scd: 1``) overwrites: attributes follow the latest data, and
    members that disappear from the input stay, so old facts keep their key.
    Type 2 (``scd: 2``) keeps history: a change closes the current version
    and opens a new one, each valid over [effective_from, effective_to).
    Row -1 is the unknown member that facts with no match point to.
    """

    key: Columns
    surrogate_key: Name | None = None
    """Default: the model name without ``dim_``, plus ``_key`` (dim_customer -> customer_key)."""
    columns: Columns | None = None
    """Attribute columns (default: all but load metadata)."""
    scd: Literal[1, 2] = 1
    strategy: Literal["check", "updated_at"] = "check"
    """check: a change is a tracked column whose value differs (NULL-safe);
    updated_at: a change is a newer value of the `updated_at` column."""
    updated_at: Column | None = None
    track: Columns | None = None
    """Columns whose change opens a version (check strategy; default: every attribute but type1)."""
    type1: Columns = Field(default_factory=list)
    """Columns overwritten on every version of the member (a corrected name, say)."""
    deletes: Literal["ignore", "invalidate", "new_record"] = "ignore"
    """What a member missing from the input means: nothing (the input need not be a full
    snapshot); or, the input being a full snapshot, the end of its current version, or a
    new version flagged deleted."""
    changed_at: Column | None = None
    """When each snapshot was taken: changes happen then (check strategy), deletes and
    returns too (both strategies). Default ``_loaded_at`` when the input has it, else the
    time of the run."""
    history_columns: HistoryColumns = Field(default_factory=HistoryColumns)

    @model_validator(mode="after")
    def _consistent(self) -> DimensionOptions:
        history_only = {"type1": self.type1, "track": self.track, "updated_at": self.updated_at}
        if self.scd == 1:
            given = [name for name, value in history_only.items() if value]
            if given or self.deletes != "ignore" or self.strategy != "check":
                raise ValueError(f"{', '.join(given) or 'strategy/deletes'} need scd: 2")
        if self.strategy == "updated_at" and not self.updated_at:
            raise ValueError("the updated_at strategy needs updated_at: the column to compare")
        if self.track and set(self.track) & set(self.type1):
            raise ValueError("a column is either tracked (type 2) or type1, not both")
        return self


class CreateDimensions(DimensionOptions):
    op: Literal["create_dimensions"]


class FactDimension(Spec):
    dimension: str
    """The dimension model (``dim_customer`` or ``gold.dim_customer``)."""
    key: Columns
    """The fact's columns that hold the dimension's natural key."""
    at: Column | None = None
    """The fact's event time, to pick the version valid then (default: the op's event_time)."""


class BuildFacts(Spec):
    """Replace natural keys with the dimensions' surrogate keys.

    A fact row whose member is not in the dimension (or has no version valid
    at the fact's event time) gets key -1, the unknown member.
    """

    op: Literal["build_facts"]
    dimensions: list[FactDimension] = Field(min_length=1)
    event_time: Column | None = None
    """When each fact happened: a type-2 dimension is joined to the version valid then.
    Without it, or where it is NULL, facts take each member's current version."""
    columns: Columns | None = None
    """Columns to keep besides the surrogate keys (default: all the others)."""


class CreateDateDimension(Spec):
    """A date dimension covering the dates of a column of the input, whole years."""

    op: Literal["create_date_dimension"]
    column: Column
    fiscal_year_start_month: int = Field(default=1, ge=1, le=12)


Operation = Annotated[
    Deduplicate
    | TypeCasting
    | NullHandling
    | JoinTables
    | ApplyBusinessRules
    | CalculateMetrics
    | AggregateMetrics
    | CreateDimensions
    | BuildFacts
    | CreateDateDimension,
    Field(discriminator="op", title="operation"),
]

OPERATIONS: tuple[type[Spec], ...] = get_args(get_args(Operation)[0])
SHORT_FORMS = tuple(
    str(get_args(cls.model_fields["op"].annotation)[0])
    for cls in OPERATIONS
    if all(not field.is_required() for key, field in cls.model_fields.items() if key != "op")
)
"""The operations that may be written by name alone: every option has a default."""


def _short_form(value: Any) -> Any:
    """``deduplicate`` is ``{op: deduplicate}``."""
    return {"op": value} if isinstance(value, str) else value


Operations = list[
    Annotated[
        Operation,
        BeforeValidator(_short_form, json_schema_input_type=Literal[SHORT_FORMS] | Operation),
    ]
]


# --- sources --------------------------------------------------------------------


SchemaContract = Literal["evolve", "freeze", "discard"]
"""What a table does when the columns written to it change (see `materialize.schema`):
evolve adds new columns and widens types; freeze fails on any change; discard ignores
new columns. Missing columns are NULL under evolve and discard."""


class Incremental(Spec):
    """Load only rows past the stored watermark of `cursor`.

    Rows whose cursor is within `lookback` of the watermark are read again and
    loaded once: a row equal (on `key`, or on every column) to one already
    loaded in that window is skipped. A file batch may also bring rows older
    than the lookback: they are loaded and reported, since nothing can vouch
    that they are new.
    """

    cursor: Column
    lookback: Duration | float = timedelta(0)
    """How far behind the watermark rows may still arrive: a duration, or a number for
    numeric cursors."""
    key: Columns | None = None
    type: str | None = None
    """The cursor's type when the source gives text (CSV): default timestamp."""


class FileTable(Spec):
    name: Name
    path: str | None = None
    """A file, folder or glob, relative to the source path (default: from `pattern`)."""
    format: Literal["csv", "parquet", "json"] | None = None
    incremental: Incremental | None = None
    schema_contract: SchemaContract | None = None
    """Default: the source's."""


def _table_entry(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


def _by_name(table: type[Spec]) -> BeforeValidator:
    """A table may be given by its name alone."""
    return BeforeValidator(_table_entry, json_schema_input_type=Name | table)


class FilesSource(Spec):
    """CSV, Parquet or JSON files; one table per file, folder or glob.

    CSV columns land as text, so a value that would not parse is kept, not lost.
    """

    type: Literal["files"]
    name: Name
    path: str = "."
    pattern: str = "{table}.*"
    """Where each table's files are, under `path`; ``{table}`` is the table name."""
    format: Literal["csv", "parquet", "json"] | None = None
    """Default: from each file's extension (.csv, .parquet, .json, .ndjson, .jsonl)."""
    tables: list[Annotated[FileTable, _by_name(FileTable)]] = Field(min_length=1)
    load: Literal["append", "replace"] = "append"
    """append keeps every batch of files (a batch already loaded is skipped);
    replace keeps only the latest batch."""
    incremental: Incremental | None = None
    """For every table (a table's own `incremental` wins)."""
    schema_contract: SchemaContract | None = None
    """For every table (a table's own wins); default: the pipeline's."""


class DatabaseTable(Spec):
    name: Name
    table: str | None = None
    """The table to read (default: `name`)."""
    query: Expression | None = None
    """A SELECT to read instead of a table."""
    incremental: Incremental | None = None
    schema_contract: SchemaContract | None = None
    """Default: the source's."""

    @model_validator(mode="after")
    def _table_or_query(self) -> DatabaseTable:
        if self.table and self.query:
            raise ValueError("give either table or query, not both")
        return self


class DatabaseSource(Spec):
    """What every database source has: tables (or queries) mirrored in bronze."""

    name: Name
    tables: list[Annotated[DatabaseTable, _by_name(DatabaseTable)]] = Field(min_length=1)
    load: Literal["append", "replace"] = "replace"
    incremental: Incremental | None = None
    """For every table (a table's own `incremental` wins); implies appending."""
    schema_contract: SchemaContract | None = None
    """For every table (a table's own wins); default: the pipeline's."""


class PostgresSource(DatabaseSource):
    type: Literal["postgres"]
    connection: SecretStr
    """A postgres:// URL, usually ``${SOME_VAR}`` so the password stays out of the file."""
    schema_: str = Field(default="public", alias="schema")


class DuckDBSource(DatabaseSource):
    type: Literal["duckdb"]
    path: str
    schema_: str = Field(default="main", alias="schema")


Source = Annotated[
    FilesSource | PostgresSource | DuckDBSource, Field(discriminator="type", title="source type")
]


# --- models, stages, pipeline ---------------------------------------------------


class IncrementalModel(Spec):
    """Build only from input rows loaded since the last run, and merge them in.

    The model's first input must carry ``_loaded_at`` (bronze rows do, and
    operations keep it). Rows whose dimension keys were unknown (-1) are
    built again on every run, so a late-arriving member repairs them.
    """

    unique_key: Columns
    strategy: Literal["merge", "append"] = "merge"
    """merge replaces rows with the same unique key; append only adds."""


class ModelSpec(Spec):
    name: Name
    from_: str | None = Field(default=None, alias="from")
    """The model it starts from (``customers`` or ``bronze.customers``); default: its own name."""
    description: str = ""
    operations: Operations = Field(default_factory=list)
    columns: dict[Column, str] = Field(default_factory=dict)
    """Column descriptions."""
    incremental: IncrementalModel | None = None
    quality_checks: Checks = Field(default_factory=list)
    """Checks of this model's rows, run before it is published (see warehouse_kit.quality)."""
    schema_contract: SchemaContract | None = None
    """Default: the pipeline's."""


class StageSpec(Spec):
    stage: Name
    schema_: Name | None = Field(default=None, alias="schema")
    """The schema its tables go to (default: the stage name)."""
    operations: Operations = Field(default_factory=list)
    """Applied to every table of the previous stage that no model here starts from."""
    models: list[ModelSpec] = Field(default_factory=list)


class DestinationSpec(Spec):
    type: Literal["duckdb", "postgres"] | None = None
    database: str | None = None
    """With `type`, the target used when neither --target, WK_TARGET nor warehouse.yml set one."""
    schema_: Name | None = Field(default=None, alias="schema")
    """The schema of the last stage (gold)."""
    tables: list[Name] = Field(default_factory=list)
    """The tables the pipeline publishes; each must be a model of the last stage."""


class AlertSpec(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    type: str
    channel: str | None = None


class MonitoringSpec(Spec):
    alerts: list[AlertSpec] = Field(default_factory=list)


class PipelineSpec(Spec):
    name: Name
    type: Literal["ELT", "ETL"] = "ELT"
    description: str = ""
    schedule: str | None = None
    schema_contract: SchemaContract = "evolve"
    """The default of every source and model."""
    sources: list[Source] = Field(default_factory=list)
    transformations: list[StageSpec] = Field(default_factory=list)
    destination: DestinationSpec = Field(default_factory=DestinationSpec)
    quality_checks: Checks = Field(default_factory=list)
    """Checks of every table the pipeline publishes."""
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec)

    @model_validator(mode="after")
    def _bronze_comes_first(self) -> PipelineSpec:
        names = [stage.stage for stage in self.transformations]
        if "bronze" in names[1:]:
            raise ValueError("the bronze stage, where sources land, must come first")
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique, got {names}")
        first = self.transformations[0] if self.transformations else None
        if first is not None and first.stage == "bronze" and first.models:
            raise ValueError("bronze has no models: its tables are the sources' tables")
        return self


class PipelineFile(Spec):
    """A pipeline file: its one key, ``pipeline``."""

    pipeline: PipelineSpec


def load_pipeline_spec(
    path: Path, *, display: str | None = None, environ: Mapping[str, str] | None = None
) -> PipelineSpec:
    """Read and validate a pipeline file."""
    display = display or str(path)
    data = read_yaml(path, display=display)
    data = resolve_variables(data, file=display, environ=os.environ if environ is None else environ)
    return parse(PipelineFile, data, file=display).pipeline
