"""Connections to a warehouse, and the one place that knows how engines differ.

Everything else asks a `Warehouse` what it can do (`capabilities`) instead of
testing which engine it is. A target is a URL:

- ``duckdb:///abs/path/warehouse.duckdb`` or ``duckdb://relative.duckdb``
  (relative to the project folder); ``duckdb://`` is in memory;
- ``postgres://user[:password]@host[:port]/database`` (or ``postgresql://``);
- ``spark://local[2]``, ``spark://HOST:7077`` or ``sc://HOST:15002`` (Spark Connect), with
  ``?warehouse=FOLDER`` (`core.spark`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlglot as sg
import sqlglot.expressions as sge
from ibis.backends.sql import SQLBackend

from warehouse_kit.core import extras
from warehouse_kit.core.errors import TransientError, WarehouseKitError, first_line
from warehouse_kit.core.extras import missing_extra

if TYPE_CHECKING:
    from warehouse_kit.core.spark import SparkEngine


class ConnectionFailed(TransientError):
    """The warehouse could not be reached or opened."""


READER_ADVICE = (
    "close the warehouse there (a notebook's or a dashboard's connection) or wait for "
    "the run that holds it, then try again"
)
RUN_ADVICE = "wait for that run to finish (or longer: --wait SECONDS), then try again"


class WarehouseBusy(ConnectionFailed):
    """Another process holds the target: a notebook, a dashboard, another run."""

    def __init__(self, place: str, holder: str, waited_s: float, advice: str = READER_ADVICE):
        waited = f" and did not let go within {waited_s:g} s" if waited_s > 0 else ""
        super().__init__(f"cannot open {place}: {holder} has it open{waited}; {advice}")


HolderName = Callable[[int], "str | None"]

Relation = Literal["table", "view"]
"""What a model's name stands for in the warehouse."""
"""Names what the process with this PID does, when it can tell (`runlock`: a run)."""


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do, declared once per engine."""

    transactions: bool
    """DDL and DML inside one transaction commit or roll back together."""
    try_cast: bool
    """A native cast that yields NULL instead of failing on a bad value."""
    reads_files: bool
    """Reads CSV, Parquet and JSON files itself (no transfer needed)."""
    run_lock: str
    """How a run holds its target (`runlock`): ``file``, the lock a writer of the database
    file takes; ``advisory``, a lock the server keeps for a session; ``folder``, a lock
    file in the warehouse folder."""
    indexes: bool = False
    """Creates a model's indexes when it publishes it (`materialize.indexes`). DuckDB does
    not: its ART indexes slow bulk writes, and its zone maps already skip row groups."""
    analyze: bool = False
    """Gathers a table's planner statistics when it publishes it (`materialize.statistics`):
    PostgreSQL's autovacuum comes too late for the run's next models."""
    views: bool = False
    """Keeps views: a model may be ``materialized: view`` (`materialize.view`)."""
    views_bind: bool = False
    """A view holds on to what it reads (PostgreSQL: a table it reads cannot be dropped or
    retyped under it), so replacing a relation sets its views aside and creates them
    again (`materialize.dependents`). DuckDB binds a view each time it is read."""


ENGINES: dict[str, Capabilities] = {
    "duckdb": Capabilities(
        transactions=True,
        try_cast=True,
        reads_files=True,
        run_lock="file",
        views=True,
    ),
    "postgres": Capabilities(
        transactions=True,
        try_cast=False,
        reads_files=False,
        run_lock="advisory",
        indexes=True,
        analyze=True,
        views=True,
        views_bind=True,
    ),
    # Spark has no transactions; `core.spark` publishes a write's tables together by
    # swapping one manifest, so its writes are as atomic as a database's.
    "spark": Capabilities(
        transactions=True,
        # Its TRY_CAST reads a little more than the others': '1.5d' as 1.5, and it trims
        # control characters ('\x01 5' is 5). The checked casts PostgreSQL uses would
        # agree, but Spark fails a number past DECIMAL(38) they compare with.
        try_cast=True,
        reads_files=False,
        run_lock="folder",
    ),
}


_BACKEND_ENGINES = {"duckdb": "duckdb", "postgres": "postgres", "pyspark": "spark"}


def capabilities_of(table: ir.Table) -> Capabilities:
    """What the engine `table` is bound to can do (a source's as well as a warehouse's);
    an engine not listed is taken as PostgreSQL is: without a native TRY_CAST."""
    name = ibis.get_backend(table).name
    return ENGINES.get(_BACKEND_ENGINES.get(name, ""), ENGINES["postgres"])


DRIVERS = {
    "postgres": ("psycopg", "postgres://user:password@host:5432/database"),
    "spark": ("pyspark", "spark://local[2] or sc://host:15002"),
}
"""An engine's driver module (`extras` knows its extra), and the shape of its target URL."""


def engine_missing(engine: str) -> str | None:
    """Why `engine` cannot be a target here, with what it needs; None when it can.

    An engine warehouse-kit does not run on (Snowflake, BigQuery: ``wk ddl`` writes
    their DDL) is named as such; one whose driver is not installed names its extra."""
    if engine not in ENGINES:
        runs = ", ".join(sorted(ENGINES))
        return (
            f"warehouse-kit does not run on {engine} (it runs on {runs}); build on one of "
            f"those with --target, and write {engine}'s DDL with wk ddl --dialect {engine}"
        )
    if engine not in DRIVERS:
        return None
    module, url = DRIVERS[engine]
    try:
        extras.require(engine, module)
    except extras.MissingExtra as missing:
        return f"{missing}, and a target URL {url}"
    return None


class Transaction(Protocol):
    """Statements that commit together or not at all (see `Warehouse.transaction`)."""

    kind: str

    def run(self, statement: sge.Expression) -> list[tuple[Any, ...]]:
        """Execute one statement and return its rows (none for most statements)."""
        ...

    def write(self, statement: sge.Expression) -> int:
        """Execute an INSERT or CREATE TABLE AS and return how many rows it wrote."""
        ...

    def load(self, target: sge.Table, columns: list[str], batches: pa.RecordBatchReader) -> int:
        """Append Arrow record batches to `target`, streaming; returns the rows written."""
        ...

    def columns(self, schema: str, name: str) -> list[tuple[str, str]]:
        """The table's columns as the transaction sees them: (name, Ibis type), in order."""
        ...


_COLUMNS = {
    "duckdb": "SELECT column_name, data_type FROM information_schema.columns "
    "WHERE table_schema = :schema AND table_name = :name ORDER BY ordinal_position",
    # format_type gives the declared type in full (numeric(10,2), not numeric).
    "postgres": "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a "
    "JOIN pg_class AS c ON c.oid = a.attrelid JOIN pg_namespace AS n ON n.oid = c.relnamespace "
    "WHERE n.nspname = :schema AND c.relname = :name AND a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY a.attnum",
}


_RELATION = sg.parse_one(
    "SELECT table_type FROM information_schema.tables WHERE table_schema = :schema "
    "AND table_name = :name AND table_catalog = current_database()"  # not DuckDB's temp
)


class SqlTransaction:
    """A transaction of a SQL database (DuckDB, PostgreSQL)."""

    def __init__(self, kind: str, raw: Any):
        self.kind = kind
        self._raw = raw

    def run(self, statement: sge.Expression) -> list[tuple[Any, ...]]:
        """Execute one statement and return its rows (none for most statements)."""
        cursor = self._execute(statement)
        return cursor.fetchall() if cursor.description else []

    def write(self, statement: sge.Expression) -> int:
        """Execute an INSERT or CREATE TABLE AS and return how many rows it wrote."""
        cursor = self._execute(statement)
        if self.kind == "duckdb":
            return int(cursor.fetchone()[0])
        return int(cursor.rowcount)

    def load(self, target: sge.Table, columns: list[str], batches: pa.RecordBatchReader) -> int:
        """Append Arrow record batches to `target`, streaming; returns the rows written."""
        names = [sg.to_identifier(name, quoted=True) for name in columns]
        if self.kind == "duckdb":
            self._raw.register("_wk_incoming", batches)
            try:
                query = sg.select(*names).from_("_wk_incoming")
                return self.write(sge.insert(query, into=target, columns=names))
            finally:
                self._raw.unregister("_wk_incoming")
        into = sge.Schema(this=target, expressions=names).sql(dialect="postgres")
        rows = 0
        options = pacsv.WriteOptions(include_header=False)
        with self._raw.copy(f"COPY {into} FROM STDIN (FORMAT csv)") as copy:
            for batch in batches:
                sink = pa.BufferOutputStream()
                pacsv.write_csv(pa.Table.from_batches([batch]), sink, write_options=options)
                copy.write(sink.getvalue().to_pybytes())
                rows += batch.num_rows
        return rows

    def columns(self, schema: str, name: str) -> list[tuple[str, str]]:
        from ibis.backends.sql.datatypes import DuckDBType, PostgresType

        query = sge.replace_placeholders(
            sg.parse_one(_COLUMNS[self.kind], dialect=self.kind), schema=schema, name=name
        )
        parse = DuckDBType.from_string if self.kind == "duckdb" else PostgresType.from_string
        return [(column, str(parse(kind))) for column, kind in self.run(query)]

    def _execute(self, statement: sge.Expression) -> Any:
        sql = statement.sql(dialect=self.kind)
        if self.kind == "duckdb":
            return self._raw.execute(sql)
        self._raw.execute(sql)
        return self._raw


class Warehouse:
    """An open connection to a target warehouse.

    `con` is the Ibis backend; expressions built on `table()` run there.
    """

    def __init__(self, con: SQLBackend, kind: str, url: str, spark: SparkEngine | None = None):
        self.con = con
        self.kind = kind
        self.url = url
        self.capabilities = ENGINES[kind]
        self.spark = spark
        self._file_reader: SQLBackend | None = None

    def __repr__(self) -> str:
        return f"Warehouse({redact(self.url)})"

    def table(self, name: str, schema: str) -> ir.Table:
        if self.spark is not None:
            table: ir.Table = self.spark.table(self.con, name, schema)
            return table
        return self.con.table(name, database=schema)

    def tables(self, schema: str) -> list[str]:
        """The tables and views of `schema` (none when it does not exist)."""
        if self.spark is not None:
            return self.spark.catalog.names(schema)
        if schema not in self.con.list_databases():
            return []
        return list(self.con.list_tables(database=schema))

    def exists(self, name: str, schema: str) -> bool:
        if self.spark is not None:
            return self.spark.catalog.has(schema, name)
        if schema not in self.con.list_databases():
            return False
        return name in self.con.list_tables(database=schema)

    def relation(self, name: str, schema: str) -> Relation | None:
        """What stands at `schema.name`: a table, a view, or nothing (None). Asked inside
        a transaction, it answers as the transaction sees it."""
        if self.spark is not None:  # a Spark warehouse keeps tables only
            return "table" if self.spark.catalog.has(schema, name) else None
        query = sge.replace_placeholders(_RELATION.copy(), schema=schema, name=name)
        # On the connection as it is: inside the transaction open on it, if one is.
        cursor = self.con.raw_sql(query.sql(dialect=self.kind))
        try:
            row = cursor.fetchone()
        finally:
            if self.kind != "duckdb":  # DuckDB's cursor is the connection itself
                cursor.close()
        if row is None:
            return None
        return "view" if row[0] == "VIEW" else "table"

    def ensure_schema(self, schema: str) -> None:
        if self.spark is not None and schema in self.spark.catalog.manifest.schemas:
            return
        if schema not in self.con.list_databases():
            self.execute(
                sge.Create(kind="SCHEMA", this=sg.to_identifier(schema, quoted=True), exists=True)
            )

    def scalar(self, expr: ir.Scalar) -> Any:
        """The value of a scalar expression, as a plain Python value (None for NULL)."""
        return self.con.to_pyarrow(expr).as_py()

    def rows(self, expr: ir.Table) -> list[dict[str, Any]]:
        """A (small) table's rows as plain Python values."""
        result: list[dict[str, Any]] = self.con.to_pyarrow(expr).to_pylist()
        return result

    def to_sqlglot(self, expr: ir.Table) -> sge.Query:
        """The query an expression compiles to on this engine."""
        query: sge.Query = self.con.compiler.to_sqlglot(expr)
        return query

    def sql(self, expr: ir.Table, *, pretty: bool = True) -> str:
        return self.to_sqlglot(expr).sql(dialect=self.kind, pretty=pretty)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Run statements that commit together or not at all."""
        if self.spark is not None:
            with self.spark.transaction() as spark_tx:
                yield spark_tx
            return
        raw = self.con.con
        if self.kind == "duckdb":
            raw.begin()
            try:
                yield SqlTransaction("duckdb", raw)
            except BaseException:
                raw.rollback()
                raise
            raw.commit()
        else:
            with raw.transaction(), raw.cursor() as cursor:
                yield SqlTransaction(self.kind, cursor)

    def execute(self, statement: sge.Expression) -> list[tuple[Any, ...]]:
        """Run one statement in its own transaction."""
        with self.transaction() as tx:
            return tx.run(statement)

    def file_reader(self) -> SQLBackend:
        """An engine that reads files: this warehouse when it can, else an in-memory DuckDB."""
        if self.capabilities.reads_files:
            return self.con
        if self._file_reader is None:
            self._file_reader = ibis.duckdb.connect()
        return self._file_reader

    def reconnect(self) -> None:
        """Open the connection again after it was lost (a retry, `retries`): in place, so
        the expressions built on `con` stay valid. A Spark session is not reopened."""
        if self.spark is not None:
            return
        with suppress(Exception):  # it is gone already; closing may fail as well
            self.con.disconnect()
        self.con.reconnect()
        if self.kind == "duckdb":
            use_enough_threads(self.con.con)

    def close(self) -> None:
        if self._file_reader is not None:
            self._file_reader.disconnect()
        if self.spark is None:  # a Spark session serves the whole process
            self.con.disconnect()


def table_ref(name: str, schema: str) -> sge.Table:
    """A quoted `schema.name` reference; names are data, never SQL."""
    return sg.table(name, db=schema, quoted=True)


_ENGINE_SCHEMES = {
    "duckdb": "duckdb",
    "postgres": "postgres",
    "postgresql": "postgres",
    "spark": "spark",
    "sc": "spark",  # Spark Connect
}


def engine_of(url: str) -> str:
    engine = engine_of_known(url)
    if engine is None:
        known = ", ".join(sorted(_ENGINE_SCHEMES))
        raise WarehouseKitError(
            f"unsupported target {redact(url)!r}: the URL scheme must be one of {known}"
        )
    return engine


def engine_of_known(url: str) -> str | None:
    """The engine of `url`, or None when its scheme is none we know."""
    scheme = _SCHEME.match(url)
    return _ENGINE_SCHEMES.get(scheme[1].lower()) if scheme else None


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


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


def connect(
    url: str,
    *,
    base_dir: Path | None = None,
    read_only: bool = False,
    wait_s: float = 0.0,
    name_holder: HolderName | None = None,
) -> Warehouse:
    """Open the warehouse at `url`.

    A DuckDB file takes one writing process, or readers: while another process
    holds it, retries for up to `wait_s` seconds (a run or a dashboard refresh
    lets go when it ends), logging once that it waits and for whom; then raises
    `WarehouseBusy`, naming that process as DuckDB does (PID and program), or
    as `name_holder` does when it knows the process (a run).
    """
    deadline, pause, told = time.monotonic() + wait_s, 0.05, False
    while True:
        try:
            return _open(url, base_dir, read_only)
        except ConnectionFailed as exc:
            found = _lock_holder(exc, name_holder)
            if found is None:
                raise
            (holder, advice), path = found, duckdb_path(url, base_dir)
            left = deadline - time.monotonic()
            if left <= 0:
                raise WarehouseBusy(path, holder, wait_s, advice) from exc.__cause__
            if not told:  # a wait of many seconds must not look like a hang
                log.warning("waiting up to %g s for %s: %s has it open", wait_s, path, holder)
                told = True
            time.sleep(min(pause, left))  # one last try at the deadline
            pause = min(pause * 2, 1.0)


# DuckDB: 'Could not set lock on file "...": Conflicting lock is held in /usr/bin/python3 (PID 7)'
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def _lock_holder(error: ConnectionFailed, name_holder: HolderName | None) -> tuple[str, str] | None:
    """Who holds the DuckDB file, as DuckDB says (or `name_holder`), and what to do about
    it, when that is why it did not open."""
    message = str(error.__cause__)
    if "Could not set lock on file" not in message:
        return None
    found = _LOCK_HOLDER.search(message)
    if not found:
        return "another process", READER_ADVICE
    named = name_holder(int(found["pid"])) if name_holder is not None else None
    if named:
        return named, RUN_ADVICE
    return f"process {found['pid']} ({found['program']})", READER_ADVICE


def _open(url: str, base_dir: Path | None, read_only: bool) -> Warehouse:
    kind = engine_of(url)
    try:
        if kind == "duckdb":
            path = duckdb_path(url, base_dir)
            if read_only and path != ":memory:" and not Path(path).exists():
                raise WarehouseKitError(f"no warehouse at {path}: run `wk run` first")
            if path != ":memory:":
                _require_folder(Path(path))
            settings = dict(parse_qsl(urlsplit(url).query))  # ?memory_limit=2GB&threads=4
            con = ibis.duckdb.connect(path, read_only=read_only, **settings)
            if "threads" not in settings:
                use_enough_threads(con.con)
        elif kind == "spark":
            from warehouse_kit.core.spark import open_spark

            con, spark = open_spark(url, base_dir)
            return Warehouse(con, kind, url, spark)
        else:
            con = ibis.connect(url.replace("postgresql://", "postgres://", 1))
    except WarehouseKitError:
        raise
    except Exception as exc:  # every driver raises its own class
        hint = missing_extra(exc, f"a {kind} target")  # its driver is in an extra
        if hint is not None:
            raise hint from exc
        raise ConnectionFailed(f"cannot open {redact(url)}: {first_line(exc)}") from exc
    return Warehouse(con, kind, url)


def _require_folder(path: Path) -> None:
    # A typo in a target must not become a tree of folders with an empty warehouse in it.
    if not path.parent.is_dir():
        raise WarehouseKitError(
            f"cannot create the warehouse {path}: there is no folder {path.parent} "
            "(create it, or correct the target)"
        )


# DuckDB grows one hash table per thread while it runs at most two threads, and partitions
# them once it runs more. Grouping or joining millions of keys (first exposures, dimension
# keys, SCD2 windows) is about twice as fast partitioned on a 2-core machine
# (benchmarks/README.md), so a warehouse runs at least three.
MIN_DUCKDB_THREADS = 3


def use_enough_threads(con: duckdb.DuckDBPyConnection) -> None:
    """Raise DuckDB's thread count (its default: the cores it may use) to at least
    `MIN_DUCKDB_THREADS`. A ``SET`` rather than a connect option, so that a plain
    ``duckdb.connect`` to the same file in the same process still opens (DuckDB refuses
    a second connection whose options differ). Benchmarks give their hand-written side
    the same."""
    row = con.execute("SELECT current_setting('threads')").fetchone()
    if row is not None and int(row[0]) < MIN_DUCKDB_THREADS:
        con.execute(f"SET threads = {MIN_DUCKDB_THREADS}")


_QUERY_PASSWORD = re.compile(r"(?i)(^|&)(password=)[^&]*")


def redact(url: str) -> str:
    """The URL with any password replaced by ``***``, safe to print or store: the one in
    ``user:password@`` and libpq's ``?password=``."""
    if engine_of_known(url) == "spark":  # local[2] is no host urlsplit can read
        from warehouse_kit.core.spark import redact as redact_spark

        return redact_spark(url)
    parts = urlsplit(url)
    netloc, query = parts.netloc, _QUERY_PASSWORD.sub(r"\1\2***", parts.query)
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    if (netloc, query) == (parts.netloc, parts.query):
        return url  # as given: urlunsplit would drop the empty host of duckdb:///path
    return urlunsplit(parts._replace(netloc=netloc, query=query))
