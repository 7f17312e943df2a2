"""Tables or queries read from another database (PostgreSQL, DuckDB).

A query is one SELECT in the source's dialect; the source runs the statement
sqlglot parsed from it, rendered again (see `spec.single_select`).

The connection URL is a secret: it may carry a password, so it is never
printed; errors name the source instead. Every column is read as nullable:
a source's NOT NULL is its own constraint, not one bronze keeps.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import ibis.expr.types as ir
from ibis.backends.sql import SQLBackend

from warehouse_kit.core.errors import SourceError, first_line
from warehouse_kit.core.extras import missing_extra
from warehouse_kit.core.models import Batch
from warehouse_kit.core.spec import DatabaseTable, DuckDBSource, PostgresSource, single_select


def read_database(source: PostgresSource | DuckDBSource, table: DatabaseTable, root: Path) -> Batch:
    where = f"source {source.name}, table {table.name}"
    con = _connect(source, root, where)
    try:
        if table.query:
            # What runs is the statement sqlglot parsed (one SELECT, checked when the
            # file was read) rendered again, never the text as written.
            statement = single_select(table.query, source.type)
            expr = con.sql(statement.sql(dialect=source.type))
            shown = f"{source.name}: query"
        else:
            name = table.table or table.name
            expr = con.table(name, database=source.schema_)
            shown = f"{source.name}: {source.schema_}.{name}"
    except Exception as exc:  # the driver's own error says what is missing
        raise SourceError(f"{where}: {first_line(exc)}") from exc
    return Batch(_nullable(expr), shown, filterable=True)


def _nullable(expr: ir.Table) -> ir.Table:
    """The same table (the same SQL), typed with every column nullable.

    Ibis refuses to union `!int32` with `int32`, and its joins drop the `!`, so a
    NOT NULL cursor broke every incremental load after the first; typed nullable,
    bronze is also created without the source's NOT NULL, so a source that later
    allows NULL (or drops the column) still lands.
    """
    op = expr.op()
    schema = ibis.schema({name: dtype.copy(nullable=True) for name, dtype in op.schema.items()})
    return op.copy(schema=schema).to_expr()


def _connect(source: PostgresSource | DuckDBSource, root: Path, where: str) -> SQLBackend:
    try:
        if isinstance(source, PostgresSource):
            url = source.connection.get_secret_value().replace("postgresql://", "postgres://", 1)
            con: SQLBackend = ibis.connect(url)
        else:
            con = ibis.duckdb.connect(str(root / source.path), read_only=True)
    except Exception as exc:  # every driver raises its own class
        hint = missing_extra(exc, where)  # its driver is in an extra
        if hint is not None:
            raise hint from exc
        raise SourceError(f"{where}: cannot connect: {_without_secrets(first_line(exc))}") from exc
    return con


def _without_secrets(message: str) -> str:
    # psycopg echoes neither user nor password, but a malformed URL may be quoted back.
    return "invalid connection URL" if "://" in message else message
