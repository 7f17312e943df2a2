"""The pipeline format's sources: files, databases and Kafka topics, each landing in bronze.

Part of the pipeline format (`spec`), which re-exports every name here.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal

import ibis
import sqlglot
import sqlglot.expressions as sge
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from sqlglot.errors import SqlglotError

from warehouse_kit.core.config import Column, Columns, Duration, Expression, Name, Spec
from warehouse_kit.core.retries import Retries

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


PiiTag = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")] | Literal[False] | None
"""A column's kind of personal data (``email``, ``name``...), or false for a column
derived from personal data that is not personal itself (a hash)."""
PiiTags = dict[Column, PiiTag]
"""Columns of a source table that hold personal data: ``{email: email}``."""


class FileTable(Spec):
    name: Name
    path: str | None = None
    """A file, folder or glob, relative to the source path (default: from `pattern`)."""
    format: Literal["csv", "parquet", "json"] | None = None
    incremental: Incremental | None = None
    schema_contract: SchemaContract | None = None
    """Default: the source's."""
    pii: PiiTags = Field(default_factory=dict)
    """Its columns that hold personal data, by kind: ``{email: email, last_name: name}``."""


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
    retries: Retries | None = None
    """How landing a table is tried again after a transient fault (the connection lost,
    a broker unreachable); default: the pipeline's."""


_WRITES = (sge.DML, sge.DDL, sge.Drop, sge.Alter, sge.Command, sge.Into, sge.Lock)
"""What a source query may not hold anywhere: it only reads (SELECT INTO creates a table,
a data-modifying WITH writes, FOR UPDATE locks the source's rows)."""


def single_select(sql: str, dialect: str) -> sge.Query:
    """`sql` parsed as one SELECT in `dialect` (``postgres``, ``duckdb``), else a ValueError.

    A source reads the statement sqlglot renders from this, never the text as written.
    """
    try:
        parsed = sqlglot.parse(sql, read=dialect)
        # A trailing ";" or comment after the last ";" is no statement.
        statements = [s for s in parsed if s is not None and not isinstance(s, sge.Semicolon)]
    except SqlglotError as exc:
        problem = str(exc).strip().splitlines()[0]
        raise ValueError(f"the query is not valid {dialect} SQL: {problem}") from None
    if len(statements) != 1:
        raise ValueError(f"a query is one SELECT statement, not {len(statements)}")
    query = statements[0]
    found = query.find(*_WRITES)
    if not isinstance(query, sge.Query) or found is not None:
        what = _statement(found or query)
        raise ValueError(f"a query is one SELECT statement that only reads: {what} is not allowed")
    return query


def _statement(node: sge.Expression) -> str:
    if isinstance(node, sge.Command):
        return str(node.this).upper()
    return {"into": "SELECT INTO", "lock": "FOR UPDATE/SHARE"}.get(node.key, node.key.upper())


class DatabaseTable(Spec):
    name: Name
    table: str | None = None
    """The table to read (default: `name`)."""
    query: Expression | None = None
    """One SELECT to read instead of a table, in the source's SQL dialect; parsed with
    sqlglot, and what the source runs is the statement sqlglot renders from it."""
    incremental: Incremental | None = None
    schema_contract: SchemaContract | None = None
    """Default: the source's."""
    pii: PiiTags = Field(default_factory=dict)
    """Its columns that hold personal data, by kind: ``{email: email, last_name: name}``."""

    dialect: ClassVar[str] = ""
    """The source's SQL dialect, which its queries are parsed in."""

    @field_validator("query")
    @classmethod
    def _one_select(cls, value: str | None) -> str | None:
        if value is not None and cls.dialect:
            single_select(value, cls.dialect)
        return value

    @model_validator(mode="after")
    def _table_or_query(self) -> DatabaseTable:
        if self.table and self.query:
            raise ValueError("give either table or query, not both")
        return self


class PostgresTable(DatabaseTable):
    dialect = "postgres"


class DuckDBTable(DatabaseTable):
    dialect = "duckdb"


class DatabaseSource(Spec):
    """What every database source has: tables (or queries) mirrored in bronze."""

    name: Name
    load: Literal["append", "replace"] = "replace"
    incremental: Incremental | None = None
    """For every table (a table's own `incremental` wins); implies appending."""
    schema_contract: SchemaContract | None = None
    """For every table (a table's own wins); default: the pipeline's."""
    retries: Retries | None = None
    """How landing a table is tried again after a transient fault (the connection lost,
    a broker unreachable); default: the pipeline's."""


class PostgresSource(DatabaseSource):
    type: Literal["postgres", "postgresql"]
    """``postgresql`` is read as ``postgres``."""
    connection: SecretStr
    """A postgres:// URL, usually ``${SOME_VAR}`` so the password stays out of the file."""
    schema_: str = Field(default="public", alias="schema")
    tables: list[Annotated[PostgresTable, _by_name(PostgresTable)]] = Field(min_length=1)

    @field_validator("type")
    @classmethod
    def _one_spelling(cls, value: str) -> str:
        return "postgres"


class DuckDBSource(DatabaseSource):
    type: Literal["duckdb"]
    path: str
    schema_: str = Field(default="main", alias="schema")
    tables: list[Annotated[DuckDBTable, _by_name(DuckDBTable)]] = Field(min_length=1)


def _topic_entry(value: Any) -> Any:
    """A topic given by its name alone lands in the bronze table of that name."""
    if isinstance(value, str):
        return {"topic": value, "name": value}
    if isinstance(value, dict) and "name" not in value and isinstance(value.get("topic"), str):
        return {**value, "name": value["topic"]}
    return value


class KafkaTopic(Spec):
    """A topic, landed in the bronze table `name` (default: the topic's name)."""

    topic: str = Field(min_length=1)
    name: Name
    """The bronze table; name it when the topic's name is not an identifier (``orders.v1``)."""
    columns: dict[Column, str] = Field(default_factory=dict)
    """The message fields to land and their types (``int64``, ``string``, ``timestamp``,
    ``decimal(10, 2)``...); default: every top-level field, typed from the messages (and,
    once landed, from the bronze table). A message whose field does not fit its type is a
    dead letter."""
    schema_contract: SchemaContract | None = None
    """Default: the source's."""
    incremental: None = None  # a stream is appended; its offsets are its watermark

    @field_validator("columns")
    @classmethod
    def _known_types(cls, columns: dict[str, str]) -> dict[str, str]:
        for name, kind in columns.items():
            try:
                ibis.dtype(kind)
            except Exception:  # ibis raises several kinds for a type it cannot parse
                raise ValueError(
                    f"column {name}: {kind!r} is not a type (int64, float64, string, "
                    "boolean, date, timestamp, decimal(10, 2)...)"
                ) from None
        return columns


def _broker(value: str) -> str:
    """A broker is host:port (a name, an IPv4 address or a bracketed IPv6 one; no scheme)."""
    if not re.fullmatch(r"([^\s:,/\[\]]+|\[[0-9a-fA-F:.]+\]):[0-9]{1,5}", value):
        raise ValueError(f"{value!r} is not host:port (like kafka1.example.com:9092)")
    return value


class KafkaSource(Spec):
    """Kafka topics of JSON messages, landed in micro-batches, each exactly once.

    Each batch reads from the offsets stored in ``_wk.stream_offsets`` (not the
    consumer group's), and its rows, dead letters and next offsets commit in one
    warehouse transaction.
    """

    type: Literal["kafka"]
    name: Name
    brokers: Annotated[
        list[Annotated[str, AfterValidator(_broker)]],
        BeforeValidator(
            lambda v: [b.strip() for b in v.split(",") if b.strip()] if isinstance(v, str) else v,
            json_schema_input_type=str | list[str],
        ),
    ] = Field(min_length=1)
    """``host:port``, several separated by commas, or a list."""
    topics: list[Annotated[KafkaTopic, BeforeValidator(_topic_entry)]] = Field(min_length=1)
    format: Literal["json"] = "json"
    start: Literal["earliest", "latest"] = "earliest"
    """Where a partition with no stored offset starts: its first message, or the next one."""
    max_messages: int = Field(default=100_000, gt=0)
    """The most messages one batch reads from a topic."""
    wait: Duration = timedelta(seconds=1)
    """How long a batch reads at most: it ends then, at `max_messages`, or once polls find
    nothing for 0.4 s (every message there was is read)."""
    group_id: str | None = None
    """The consumer group the offsets are committed to after each batch, for other tools'
    lag monitoring only (default: ``warehouse-kit.<name>``); reading never uses them."""
    settings: dict[str, SecretStr] = Field(default_factory=dict)
    """More client settings (librdkafka's names: ``security.protocol``, ``sasl.username``,
    ``sasl.password``...), usually ``${VAR}``: never printed."""
    load: Literal["append"] = "append"
    incremental: None = None
    schema_contract: SchemaContract | None = None
    """For every topic (a topic's own wins); default: the pipeline's."""
    retries: Retries | None = None
    """How landing a table is tried again after a transient fault (the connection lost,
    a broker unreachable); default: the pipeline's."""

    @property
    def tables(self) -> list[KafkaTopic]:
        return self.topics


Source = Annotated[
    FilesSource | PostgresSource | DuckDBSource | KafkaSource,
    Field(discriminator="type", title="source type"),
]
SourceTable = FileTable | DatabaseTable | KafkaTopic
"""What lands in one bronze table: a source's table, query or topic."""
