"""The pipeline file format, as frozen pydantic models.

A pipeline file has one top-level key, ``pipeline``, holding `PipelineSpec`.
`load_pipeline_spec` reads a file, resolves ``${VAR}`` references from the
environment and validates it, turning every problem into a `ConfigError` that
names the file, the key path and what was expected::

    pipelines/x.yml: pipeline.transformations[1].operations[0]: unknown operation
    'dedupe'; did you mean 'deduplicate'?

Operations (`warehouse_kit.core.operations`), sources, checks, monitors and alerts
are discriminated unions (on ``op``, ``type``, ``type`` or ``check``, ``type``, and
``channel``; monitoring's are in `warehouse_kit.core.spec_monitoring`), so a YAML
mapping parses straight into the class that implements it. What every format shares
(the base model, durations, the error formatter) is in `warehouse_kit.core.config`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from warehouse_kit.core.config import (
    Column,
    Columns,
    Name,
    Spec,
    parse,
)
from warehouse_kit.core.cron import Cron
from warehouse_kit.core.errors import ConfigError, ConfigErrors
from warehouse_kit.core.operations import Operations
from warehouse_kit.core.physical import Indexes
from warehouse_kit.core.quality.checks import Checks
from warehouse_kit.core.retries import Retries
from warehouse_kit.core.shortform import missing_pieces, stand_in
from warehouse_kit.core.spec_lakehouse import LakehouseSpec, LakeTableSpec
from warehouse_kit.core.spec_monitoring import (
    Alert,
    AlertType,
    EmailAlert,
    Monitor,
    MonitoringSpec,
    WebhookAlert,
)
from warehouse_kit.core.spec_sources import (
    DatabaseSource,
    DatabaseTable,
    DuckDBSource,
    DuckDBTable,
    FilesSource,
    FileTable,
    Incremental,
    KafkaSource,
    KafkaTopic,
    PiiTag,
    PostgresSource,
    PostgresTable,
    SchemaContract,
    Source,
    SourceTable,
    single_select,
)
from warehouse_kit.core.yamlfile import read_yaml, resolve_variables

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


class ColumnSpec(Spec):
    """What a column is: its description, and whether it holds personal data."""

    description: str = ""
    pii: PiiTag = None
    """The kind of personal data it holds (email, name, phone, address...); false: derived
    from personal data but not personal itself (a hash). Default: as its inputs are."""


class ModelSpec(Spec):
    name: Name
    from_: str | None = Field(default=None, alias="from")
    """The model it starts from (``customers`` or ``bronze.customers``); default: its own name."""
    description: str = ""
    operations: Operations = Field(default_factory=list)
    columns: dict[Column, str | ColumnSpec] = Field(default_factory=dict)
    """Each column's description, or ``{description: ..., pii: <category> | false}``."""
    incremental: IncrementalModel | None = None
    materialized: Literal["table", "view"] = "table"
    """table: its rows are written on each build; view: a view over its inputs, which
    shows what they hold when it is read (DuckDB and PostgreSQL). A view keeps no rows,
    so it is neither incremental nor a dimension, and no check quarantines its rows."""
    quality_checks: Checks = Field(default_factory=list)
    """Checks of this model's rows, run before it is published (see warehouse_kit.core.quality)."""
    schema_contract: SchemaContract | None = None
    """Default: the pipeline's."""
    indexes: Indexes | None = None
    """Indexes of its table (PostgreSQL creates them): each a column, a list of columns, or
    {columns: [...], unique: true}. Default: a dimension's keys, a fact's dimension keys;
    [] for none."""
    partition_by: Columns = Field(default_factory=list)
    """Columns its table is partitioned by where the engine lays out files by them (Spark
    folders, BigQuery date partitions; Snowflake clusters by them)."""
    cluster_by: Columns = Field(default_factory=list)
    """Columns its table is clustered by (Snowflake and BigQuery CLUSTER BY)."""
    retries: Retries | None = None
    """How its write is tried again after a transient fault (the connection lost, a lock
    not granted); default: the pipeline's."""


class StageSpec(Spec):
    stage: Name
    schema_: Name | None = Field(default=None, alias="schema")
    """The schema its tables go to (default: the stage name)."""
    operations: Operations = Field(default_factory=list)
    """Applied to every table of the previous stage that no model here starts from."""
    models: list[ModelSpec] = Field(default_factory=list)
    drop_load_metadata: bool = False
    """Drop bronze's ``_loaded_at``, ``_source`` and ``_batch_id`` from this stage's tables
    (dimensions never keep them). An incremental model reads ``_loaded_at`` from its first
    input, so a stage before one should keep them."""


class DestinationSpec(Spec):
    type: Literal["duckdb", "postgres", "postgresql", "spark", "snowflake", "bigquery"] | None = (
        None
    )
    """The engine the pipeline is written for: a run on a target of another engine is
    refused (see `catalog.Catalog.target`). Leave it out to run on any. An engine that
    is not installed, or that warehouse-kit does not run on (snowflake, bigquery), needs
    a target given (--target, WK_TARGET, target: in warehouse.yml), which then wins."""
    database: str | None = None
    """The name the DDL files carry; with ``type: duckdb``, also the DuckDB file
    (``<database>.duckdb``) used when neither --target, WK_TARGET nor warehouse.yml set one."""
    schema_: Name | None = Field(default=None, alias="schema")
    """The schema of the last stage (gold)."""
    tables: list[Name] = Field(default_factory=list)
    """The tables the pipeline publishes; each a model of the last stage, declared in this
    file or in Python (models/*.py). Default: every model of the last stage of this file."""
    lakehouse: LakehouseSpec | None = None
    """Publish gold tables as Hive-partitioned Parquet too, after each successful run."""

    @field_validator("type")
    @classmethod
    def _one_spelling(cls, value: str | None) -> str | None:
        return "postgres" if value == "postgresql" else value


class PipelineSpec(Spec):
    name: Name
    type: Literal["ELT", "ETL"] = "ELT"
    description: str = ""
    schedule: Cron | None = None
    """When `wk schedule` runs it: a cron expression, in UTC (a sixth field: seconds)."""
    retries: Retries | None = None
    """The default of its sources and models: ``{attempts: 3, backoff: 2s}``; default: none."""
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
    path: Path,
    *,
    display: str | None = None,
    environ: Mapping[str, str] | None = None,
    root: Path | None = None,
) -> PipelineSpec:
    """Read and validate a pipeline file.

    What its short form leaves out and cannot be inferred (`shortform`) is reported all
    at once, with the first other problem, as `ConfigErrors`; `root` anchors the CSV
    files whose headers name columns in those errors' snippets.
    """
    display = display or str(path)
    data = read_yaml(path, display=display)
    data = resolve_variables(data, file=display, environ=os.environ if environ is None else environ)
    missing = missing_pieces(data, file=display, root=root)
    if not missing:
        return parse(PipelineFile, data, file=display).pipeline
    try:
        parse(PipelineFile, stand_in(data), file=display)
    except ConfigError as other:
        missing.append(other)
    raise ConfigErrors(missing)


__all__ = [  # the sources' part of the format is in spec_sources
    "Alert",
    "AlertType",
    "ColumnSpec",
    "DatabaseSource",
    "DatabaseTable",
    "DestinationSpec",
    "DuckDBSource",
    "DuckDBTable",
    "EmailAlert",
    "FileTable",
    "FilesSource",
    "Incremental",
    "IncrementalModel",
    "KafkaSource",
    "KafkaTopic",
    "LakeTableSpec",
    "LakehouseSpec",
    "ModelSpec",
    "Monitor",
    "MonitoringSpec",
    "PiiTag",
    "PipelineFile",
    "PipelineSpec",
    "PostgresSource",
    "PostgresTable",
    "SchemaContract",
    "Source",
    "SourceTable",
    "StageSpec",
    "WebhookAlert",
    "load_pipeline_spec",
    "single_select",
]
