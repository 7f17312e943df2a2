"""Connections to a warehouse, and the one place that knows how engines differ.

Everything else asks a `Warehouse` what it can do (`capabilities`) instead of
testing which engine it is. A target is a URL:

- ``duckdb:///abs/path/warehouse.duckdb`` or ``duckdb://relative.duckdb``
  (relative to the project folder); ``duckdb://`` is in memory;
- ``postgres://user[:password]@host[:port]/database`` (or ``postgresql://``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import ibis
import ibis.expr.types as ir
import sqlglot as sg
import sqlglot.expressions as sge
from ibis.backends.sql import SQLBackend

from warehouse_kit.errors import TransientError, WarehouseKitError


class ConnectionFailed(TransientError):
    """The warehouse could not be reached or opened."""


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do, declared once per engine."""

    transactions: bool
    """DDL and DML inside one transaction commit or roll back together."""
    try_cast: bool
    """A native cast that yields NULL instead of failing on a bad value."""
    reads_files: bool
    """Reads CSV, Parquet and JSON files itself (no transfer needed)."""


ENGINES: dict[str, Capabilities] = {
    "duckdb": Capabilities(transactions=True, try_cast=True, reads_files=True),
    "postgres": Capabilities(transactions=True, try_cast=False, reads_files=False),
}


class Executor(Protocol):
    """Runs statements inside an open transaction."""

    def __call__(self, statement: sge.Expression) -> list[tuple[Any, ...]]: ...


class Warehouse:
    """An open connection to a target warehouse.

    `con` is the Ibis backend; expressions built on `table()` run there.
    """

    def __init__(self, con: SQLBackend, kind: str, url: str):
        self.con = con
        self.kind = kind
        self.url = url
        self.capabilities = ENGINES[kind]

    def __repr__(self) -> str:
        return f"Warehouse({redact(self.url)})"

    def table(self, name: str, schema: str) -> ir.Table:
        return self.con.table(name, database=schema)

    def exists(self, name: str, schema: str) -> bool:
        if schema not in self.con.list_databases():
            return False
        return name in self.con.list_tables(database=schema)

    def ensure_schema(self, schema: str) -> None:
        self.con.create_database(schema, force=True)

    def to_sqlglot(self, expr: ir.Table) -> sge.Query:
        """The query an expression compiles to on this engine."""
        query: sge.Query = self.con.compiler.to_sqlglot(expr)
        return query

    def sql(self, expr: ir.Table, *, pretty: bool = True) -> str:
        return self.to_sqlglot(expr).sql(dialect=self.kind, pretty=pretty)

    @contextmanager
    def transaction(self) -> Iterator[Executor]:
        """Run statements that commit together or not at all.

        Yields a function that executes one sqlglot statement and returns its
        rows (an empty list for statements without a result).
        """
        if self.kind == "duckdb":
            raw = self.con.con  # type: ignore[attr-defined]
            raw.begin()
            try:
                yield lambda stmt: _fetch(raw.execute(stmt.sql(dialect="duckdb")))
            except BaseException:
                raw.rollback()
                raise
            raw.commit()
        else:
            raw = self.con.con  # type: ignore[attr-defined]
            with raw.transaction(), raw.cursor() as cursor:

                def execute(stmt: sge.Expression) -> list[tuple[Any, ...]]:
                    cursor.execute(stmt.sql(dialect=self.kind))
                    return cursor.fetchall() if cursor.description else []

                yield execute

    def execute(self, statement: sge.Expression) -> list[tuple[Any, ...]]:
        """Run one statement in its own transaction."""
        with self.transaction() as run:
            return run(statement)

    def close(self) -> None:
        self.con.disconnect()


def _fetch(cursor: Any) -> list[tuple[Any, ...]]:
    return cursor.fetchall() if cursor.description else []


def table_ref(name: str, schema: str) -> sge.Table:
    """A quoted `schema.name` reference; names are data, never SQL."""
    return sg.table(name, db=schema, quoted=True)


_ENGINE_SCHEMES = {"duckdb": "duckdb", "postgres": "postgres", "postgresql": "postgres"}


def engine_of(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in _ENGINE_SCHEMES:
        known = ", ".join(sorted(_ENGINE_SCHEMES))
        raise WarehouseKitError(
            f"unsupported target {redact(url)!r}: the URL scheme must be one of {known}"
        )
    return _ENGINE_SCHEMES[scheme]


def duckdb_path(url: str, base_dir: Path | None = None) -> str:
    """The database path of a DuckDB URL (``:memory:`` when it has none)."""
    parts = urlsplit(url)
    raw = parts.netloc + parts.path
    if raw in ("", ":memory:"):
        return ":memory:"
    path = Path(raw)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return str(path)


def connect(url: str, *, base_dir: Path | None = None, read_only: bool = False) -> Warehouse:
    """Open the warehouse at `url`."""
    kind = engine_of(url)
    try:
        if kind == "duckdb":
            path = duckdb_path(url, base_dir)
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            con = ibis.duckdb.connect(path, read_only=read_only)
        else:
            con = ibis.connect(url.replace("postgresql://", "postgres://", 1))
    except Exception as exc:  # every driver raises its own class
        raise ConnectionFailed(f"cannot open {redact(url)}: {_first_line(exc)}") from exc
    return Warehouse(con, kind, url)  # type: ignore[arg-type]


def redact(url: str) -> str:
    """The URL with any password replaced by ``***``, safe to print or store."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return re.split(r"\n", text, maxsplit=1)[0]
