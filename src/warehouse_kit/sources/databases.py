"""Tables or queries read from another database (PostgreSQL, DuckDB).

The connection URL is a secret: it may carry a password, so it is never
printed; errors name the source instead.
"""

from __future__ import annotations

from pathlib import Path

import ibis
from ibis.backends.sql import SQLBackend

from warehouse_kit.errors import SourceError, first_line
from warehouse_kit.models import Batch
from warehouse_kit.spec import DatabaseTable, DuckDBSource, PostgresSource


def read_database(source: PostgresSource | DuckDBSource, table: DatabaseTable, root: Path) -> Batch:
    where = f"source {source.name}, table {table.name}"
    con = _connect(source, root, where)
    try:
        if table.query:
            expr = con.sql(table.query)
            shown = f"{source.name}: query"
        else:
            name = table.table or table.name
            expr = con.table(name, database=source.schema_)
            shown = f"{source.name}: {source.schema_}.{name}"
    except Exception as exc:  # the driver's own error says what is missing
        raise SourceError(f"{where}: {first_line(exc)}") from exc
    return Batch(expr, shown, filterable=True)


def _connect(source: PostgresSource | DuckDBSource, root: Path, where: str) -> SQLBackend:
    try:
        if isinstance(source, PostgresSource):
            url = source.connection.get_secret_value().replace("postgresql://", "postgres://", 1)
            con: SQLBackend = ibis.connect(url)
        else:
            con = ibis.duckdb.connect(str(root / source.path), read_only=True)
    except Exception as exc:  # every driver raises its own class
        raise SourceError(f"{where}: cannot connect: {_without_secrets(first_line(exc))}") from exc
    return con


def _without_secrets(message: str) -> str:
    # psycopg echoes neither user nor password, but a malformed URL may be quoted back.
    return "invalid connection URL" if "://" in message else message
