"""Statements on a Spark warehouse, as new table versions published together.

The materializations write SQL statements (sqlglot expressions) for engines with
transactions: CREATE TABLE AS, INSERT, DELETE, UPDATE, ALTER, DROP. Spark cannot change a
Parquet table in place, so each statement becomes a query whose result is written as the
table's next version (`store`): a DELETE keeps the rows it does not match, an UPDATE
rewrites the columns it sets, an INSERT adds files next to hard links of the current ones.
The session's catalog points at each new version at once, so later statements of the same
transaction read it; the manifest publishes them all at commit, or none.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot as sg
import sqlglot.expressions as sge

from warehouse_kit.core.errors import WarehouseKitError
from warehouse_kit.core.spark.store import Manifest, Store, Version, data_files, link_files

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DIALECT = "spark"


class SparkTransaction:
    """One transaction: the statements' new versions, published by `commit`."""

    kind = DIALECT

    def __init__(self, session: SparkSession, store: Store, catalog: Catalog):
        self.session = session
        self.store = store
        self.catalog = catalog
        self.base = catalog.manifest.generation
        self.pending = catalog.manifest.copy()
        self.written: set[str] = set()
        self.scratch = catalog.scratch / f"tx-{uuid.uuid4().hex[:12]}"

    # --- the Transaction interface -------------------------------------------------

    def run(self, statement: sge.Expression) -> list[tuple[Any, ...]]:
        """Execute one statement and return its rows (none for most statements)."""
        return self._execute(statement)[1]

    def write(self, statement: sge.Expression) -> int:
        """Execute an INSERT, CREATE TABLE AS or DELETE; how many rows it wrote (deleted)."""
        return self._execute(statement)[0]

    def load(self, target: sge.Table, columns: list[str], batches: pa.RecordBatchReader) -> int:
        """Append Arrow record batches to `target` (through a Parquet file of their own)."""
        folder = self.scratch / f"load-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        with pq.ParquetWriter(folder / "part-0.parquet", batches.schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
        incoming = self.session.read.parquet(str(folder))
        return self._append(target, columns, incoming)

    def columns(self, schema: str, name: str) -> list[tuple[str, str]]:
        """The table's columns as the transaction sees them: (name, Ibis type), in order."""
        from ibis.backends.sql.datatypes import PySparkType

        if not self._exists(sg.table(name, db=schema)):
            return []  # as the databases' catalogs answer for a table that is not there
        table = self.session.table(_quote(schema, name))
        return [(column, str(PySparkType.from_string(kind))) for column, kind in table.dtypes]

    # --- commit ----------------------------------------------------------------------

    def commit(self) -> None:
        if self.pending.to_json() == self.catalog.manifest.to_json():
            self._drop_scratch()  # it changed nothing: no new generation
            return
        self.store.commit(self.pending, self.base, self.written)
        self.catalog.manifest = self.pending
        self._drop_scratch()

    def rollback(self) -> None:
        self.store.discard(self.written)
        self._drop_scratch()
        self.catalog.register(self.catalog.manifest)

    def _drop_scratch(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)

    # --- statements --------------------------------------------------------------------

    def _execute(self, statement: sge.Expression) -> tuple[int, list[tuple[Any, ...]]]:
        for kind, handler in self._handlers():
            if isinstance(statement, kind):
                return handler(statement)
        if isinstance(statement, sge.Query):
            rows = self.session.sql(statement.sql(dialect=DIALECT)).collect()
            return len(rows), [tuple(row) for row in rows]
        raise WarehouseKitError(f"Spark targets cannot run {statement.sql(dialect=DIALECT)!r}")

    def _handlers(self) -> Iterator[tuple[type, Callable[[Any], tuple[int, list[Any]]]]]:
        yield sge.Create, self._create
        yield sge.Drop, self._drop
        yield sge.Insert, self._insert
        yield sge.Delete, self._delete
        yield sge.Update, self._update
        yield sge.Alter, self._alter

    def _create(self, statement: sge.Create) -> tuple[int, list[Any]]:
        kind = statement.args.get("kind", "").upper()
        if kind == "SCHEMA":
            name = statement.this.name
            if name not in self.pending.schemas:
                self.pending.schemas.append(name)
            self.catalog.ensure_database(name)
            return 0, []
        if kind == "INDEX":
            return 0, []  # Spark has no indexes; Parquet's statistics do that job
        target = statement.this.this if isinstance(statement.this, sge.Schema) else statement.this
        if kind == "VIEW":
            query = statement.expression.sql(dialect=DIALECT)
            self.pending.views.setdefault(target.db, {})[target.name] = query
            self.catalog.create_view(target.db, target.name, query)
            return 0, []
        if statement.args.get("exists") and self._exists(target):
            return 0, []
        if statement.expression is not None:
            return self._replace(target, self._query(statement.expression)), []
        return self._replace(target, _empty(statement.this.expressions)), []

    def _drop(self, statement: sge.Drop) -> tuple[int, list[Any]]:
        kind = statement.args.get("kind", "").upper()
        target = statement.this
        if kind == "SCHEMA":
            name = target.name
            self.pending.tables.pop(name, None)
            self.pending.views.pop(name, None)
            if name in self.pending.schemas:
                self.pending.schemas.remove(name)
            self.catalog.drop_database(name)
            return 0, []
        if not target.db:
            self.catalog.drop_temporary(target.name)
            return 0, []
        self.pending.tables.get(target.db, {}).pop(target.name, None)
        self.pending.views.get(target.db, {}).pop(target.name, None)
        self.catalog.drop(target.db, target.name)
        return 0, []

    def _insert(self, statement: sge.Insert) -> tuple[int, list[Any]]:
        into = statement.this
        target, named = (
            (into.this, [c.name for c in into.expressions])
            if isinstance(into, sge.Schema)
            else (into, [])
        )
        query = statement.expression
        if isinstance(query, sge.Values):  # a few rows: cheaper through Arrow than a write job
            aliases = named or self._columns(target)
            alias = sge.TableAlias(this=sg.to_identifier("v"), columns=aliases)
            query = sg.select("*").from_(sge.Values(expressions=query.expressions, alias=alias))
            values = self._query(query)
            return self._append(target, named or values.columns, values, small=True), []
        incoming = self._query(query)
        return self._append(target, named or incoming.columns, incoming), []

    def _delete(self, statement: sge.Delete) -> tuple[int, list[Any]]:
        target = statement.this
        where = statement.args.get("where")
        before = _rows_in(data_files(self.store.absolute(self._version(target).folder)))
        if where is None:
            kept = sg.select("*").from_(target).where("FALSE")
        else:
            kept = sg.select("*").from_(target).where(sge.not_(_true(where.this)))
        after = self._replace(target, self._query(kept))
        return before - after, []

    def _update(self, statement: sge.Update) -> tuple[int, list[Any]]:
        target = statement.this
        where = statement.args.get("where")
        matched = _true(where.this) if where is not None else sge.true()
        sets = {eq.this.name: eq.expression for eq in statement.expressions}
        columns = [
            sge.alias_(
                sge.Case(ifs=[sge.If(this=matched.copy(), true=sets[name])], default=_col(name))
                if name in sets
                else _col(name),
                name,
                quoted=True,
            )
            for name in self._columns(target)
        ]
        self._replace(target, self._query(sg.select(*columns).from_(target)))
        return 0, []  # nothing asks how many rows an UPDATE changed

    def _alter(self, statement: sge.Alter) -> tuple[int, list[Any]]:
        target = statement.this
        for action in statement.args.get("actions") or []:
            if isinstance(action, sge.AlterRename):
                self._rename(target, action.this.name)
                continue
            columns: list[sge.Expression] = [_col(name) for name in self._columns(target)]
            if isinstance(action, sge.ColumnDef):
                dtype = action.args["kind"]
                columns.append(sge.alias_(sge.cast(sge.null(), dtype), action.name, quoted=True))
            elif isinstance(action, sge.AlterColumn):
                name, dtype = action.this.name, action.args["dtype"]
                columns = [
                    sge.alias_(sge.cast(_col(name), dtype), name, quoted=True)
                    if column.name == name
                    else column
                    for column in columns
                ]
            elif isinstance(action, sge.Drop):
                columns = [c for c in columns if c.name != action.this.name]
            else:
                raise WarehouseKitError(f"Spark targets cannot run {statement.sql(DIALECT)!r}")
            self._replace(target, self._query(sg.select(*columns).from_(target)))
        return 0, []

    # --- versions --------------------------------------------------------------------------

    def _query(self, query: sge.Expression) -> DataFrame:
        return self.session.sql(query.sql(dialect=DIALECT))

    def _replace(self, target: sge.Table, rows: DataFrame | pa.Table) -> int:
        """Write `rows` as the table's next version; how many rows it holds."""
        rows = _naive(rows)
        if not target.db:  # a temporary table: the session's own, never published
            folder = self.catalog.scratch / f"{target.name}-{uuid.uuid4().hex[:8]}"
            _write(rows, folder)
            self.catalog.temporary(target.name, folder, _ddl(rows))
            return _rows_in(data_files(folder))
        folder = self.store.new_folder(target.db, target.name, self.base + 1)
        _write(rows, folder)
        self._publish(target, folder, _ddl(rows))
        return _rows_in(data_files(folder))

    def _append(
        self, target: sge.Table, columns: list[str], incoming: DataFrame, *, small: bool = False
    ) -> int:
        """The table's next version: its current files and those of `incoming`, whose
        columns are `columns`, cast to the table's types (the others NULL). `small` rows
        go through Arrow (no write job)."""
        if not target.db:
            raise WarehouseKitError("Spark targets cannot append to a temporary table")
        types = dict(self.session.table(_name(target)).dtypes)
        given = dict(zip(columns, incoming.columns, strict=True))
        select = [
            sge.alias_(
                sge.cast(
                    _col(given[name]) if name in given else sge.null(),
                    sge.DataType.build(dtype, dialect=DIALECT),
                ),
                name,
                quoted=True,
            ).sql(dialect=DIALECT)
            for name, dtype in types.items()
        ]
        rows = incoming.selectExpr(*select)
        current = self._version(target)
        folder = self.store.new_folder(target.db, target.name, self.base + 1)
        _write(rows.toArrow() if small else rows, folder)
        added = _rows_in(data_files(folder))
        link_files(self.store.absolute(current.folder), folder)
        compact(folder)
        self._publish(target, folder, current.columns)
        return added

    def _publish(self, target: sge.Table, folder: Path, columns: str) -> None:
        version = Version(self.store.relative(folder), columns)
        self.pending.tables.setdefault(target.db, {})[target.name] = version
        self.written.add(version.folder)
        self.catalog.point(target.db, target.name, version)

    def _rename(self, target: sge.Table, new_name: str) -> None:
        tables = self.pending.tables.get(target.db, {})
        if target.name not in tables:
            raise WarehouseKitError(f"cannot rename {target.db}.{target.name}: no such table")
        version = tables.pop(target.name)
        if version.folder in self.written:  # a staging table: its folder takes the new name
            version = self._move(version, target.db, new_name)
        tables[new_name] = version
        self.catalog.drop(target.db, target.name)
        self.catalog.point(target.db, new_name, version)

    def _move(self, version: Version, schema: str, name: str) -> Version:
        """`version`'s folder moved under `schema/name/`, so the folders on disk are named
        for the tables they hold (no manifest names it yet: it was written just now)."""
        source = self.store.absolute(version.folder)
        moved = self.store.root / schema / name / source.name
        moved.parent.mkdir(parents=True, exist_ok=True)
        source.rename(moved)
        with contextlib.suppress(OSError):
            source.parent.rmdir()  # the staging name's folder, if nothing else is in it
        self.written.discard(version.folder)
        self.written.add(self.store.relative(moved))
        return Version(self.store.relative(moved), version.columns)

    def _version(self, target: sge.Table) -> Version:
        try:
            return self.pending.tables[target.db][target.name]
        except KeyError:
            raise WarehouseKitError(f"no table {target.db}.{target.name}") from None

    def _exists(self, target: sge.Table) -> bool:
        if not target.db:
            return target.name in self.catalog.temporaries
        return target.name in self.pending.tables.get(target.db, {}) or target.name in (
            self.pending.views.get(target.db, {})
        )

    def _columns(self, target: sge.Table) -> list[str]:
        return list(self.session.table(_name(target)).columns)


class Catalog:
    """The Spark session's view of one warehouse: a database per schema, each table an
    external Parquet table at the folder of its version (`point`)."""

    def __init__(self, session: SparkSession, store: Store):
        self.session = session
        self.store = store
        self.manifest = Manifest()
        self.registered: dict[tuple[str, str], str] = {}
        """(schema, name) -> TABLE or VIEW: what this catalog points at (no listing needed)."""
        self.versions: dict[tuple[str, str], Version] = {}
        """(schema, name) -> the version a table points at."""
        self.scratch = store.scratch()
        """This process's folder for temporary tables and loads (`Store.scratch`)."""
        self.temporaries: dict[str, Path] = {}

    def register(self, manifest: Manifest) -> None:
        """Point the session at every table and view of `manifest`, and at nothing else."""
        for database in self.session.catalog.listDatabases():
            if database.name != "default":
                self.drop_database(database.name)
        self.registered, self.versions = {}, {}
        for schema in manifest.schemas:
            self.ensure_database(schema)
            for name, version in manifest.tables.get(schema, {}).items():
                self.point(schema, name, version)
            for name, query in manifest.views.get(schema, {}).items():
                self.create_view(schema, name, query)
        self.manifest = manifest

    def manifest_or_pending(self, schema: str, name: str) -> Version | None:
        """The version the session reads as `schema.name` (a transaction's, while open)."""
        return self.versions.get((schema, name))

    def names(self, schema: str) -> list[str]:
        return sorted(name for db, name in self.registered if db == schema)

    def has(self, schema: str, name: str) -> bool:
        return (schema, name) in self.registered

    def ensure_database(self, schema: str) -> None:
        location = _literal(self.store.root / "_catalog" / f"{schema}.db")
        self._sql(f"CREATE DATABASE IF NOT EXISTS {_quote(schema)} LOCATION {location}")

    def drop_database(self, schema: str) -> None:
        self._sql(f"DROP DATABASE IF EXISTS {_quote(schema)} CASCADE")
        self.registered = {key: kind for key, kind in self.registered.items() if key[0] != schema}
        self.versions = {key: v for key, v in self.versions.items() if key[0] != schema}

    def point(self, schema: str, name: str, version: Version) -> None:
        """Make `schema.name` read `version` (its columns declared: no file is read)."""
        self.drop(schema, name)
        folder = _literal(self.store.absolute(version.folder))
        self._sql(
            f"CREATE TABLE {_quote(schema, name)} ({version.columns}) USING parquet "
            f"LOCATION {folder}"
        )
        self.registered[schema, name] = "TABLE"
        self.versions[schema, name] = version

    def create_view(self, schema: str, name: str, query: str) -> None:
        self.drop(schema, name)
        self._sql(f"CREATE VIEW {_quote(schema, name)} AS {query}")
        self.registered[schema, name] = "VIEW"

    def drop(self, schema: str, name: str) -> None:
        self.versions.pop((schema, name), None)
        kind = self.registered.pop((schema, name), None)
        if kind is not None:
            self._sql(f"DROP {kind} IF EXISTS {_quote(schema, name)}")

    def temporary(self, name: str, folder: Path, columns: str) -> None:
        """A temporary table: the session's own, read from `folder` until dropped."""
        self.drop_temporary(name)
        self.session.read.schema(columns).parquet(str(folder)).createOrReplaceTempView(name)
        self.temporaries[name] = folder

    def drop_temporary(self, name: str) -> None:
        folder = self.temporaries.pop(name, None)
        if folder is not None:
            self.session.catalog.dropTempView(name)
            shutil.rmtree(folder, ignore_errors=True)

    def _sql(self, statement: str) -> None:
        self.session.sql(statement)


def _quote(*names: str) -> str:
    return ".".join(sg.to_identifier(name, quoted=True).sql(dialect=DIALECT) for name in names)


def _literal(path: Path) -> str:
    return sge.Literal.string(str(path)).sql(dialect=DIALECT)


def _name(target: sge.Table) -> str:
    return target.sql(dialect=DIALECT)


def _col(name: str) -> sge.Column:
    return sg.column(name, quoted=True)


def _true(condition: sge.Expression) -> sge.Expression:
    """True where `condition` is TRUE (not NULL): what a WHERE keeps."""
    return sge.func("COALESCE", condition.copy(), sge.false())


def _naive(rows: DataFrame | pa.Table) -> DataFrame | pa.Table:
    """Timestamps without a zone, as every engine of warehouse-kit stores them: Spark's
    CURRENT_TIMESTAMP() and some casts give its zoned TIMESTAMP whatever the session's
    default (the session's zone is UTC, so the wall time is UTC)."""
    if isinstance(rows, pa.Table):
        fields = [
            f.with_type(pa.timestamp(f.type.unit))
            if pa.types.is_timestamp(f.type) and f.type.tz
            else f
            for f in rows.schema
        ]
        return rows.cast(pa.schema(fields))
    from pyspark.sql.functions import col
    from pyspark.sql.types import TimestampNTZType, TimestampType

    if not any(isinstance(f.dataType, TimestampType) for f in rows.schema.fields):
        return rows
    return rows.select(
        *(
            col(_quote(f.name)).cast(TimestampNTZType()).alias(f.name)
            if isinstance(f.dataType, TimestampType)
            else col(_quote(f.name))
            for f in rows.schema.fields
        )
    )


def _write(rows: DataFrame | pa.Table, folder: Path) -> None:
    """Write rows as Parquet files in a new `folder`: a Spark job for a DataFrame, one
    file for an Arrow table (a few rows, or none)."""
    if isinstance(rows, pa.Table):
        folder.mkdir(parents=True)
        # Every column may hold NULL, as in the table (Spark marks a literal's NOT NULL).
        rows = rows.cast(pa.schema([field.with_nullable(True) for field in rows.schema]))
        pq.write_table(rows, folder / f"part-{uuid.uuid4().hex}.parquet")
    else:
        rows.write.parquet(str(folder))


def _ddl(rows: DataFrame | pa.Table) -> str:
    """The columns of `rows` in Spark's DDL, names quoted."""
    if isinstance(rows, pa.Table):
        from ibis.backends.sql.datatypes import PySparkType

        schema = ibis.Schema.from_pyarrow(rows.schema)
        types = {
            # TIMESTAMP would mean the session's default; say which one
            name: "TIMESTAMP_NTZ"
            if dtype.is_timestamp() and dtype.timezone is None
            else PySparkType.from_ibis(dtype).sql(DIALECT)
            for name, dtype in schema.items()
        }
    else:
        types = {f.name: f.dataType.simpleString() for f in rows.schema.fields}
    return ", ".join(f"{_quote(name)} {kind}" for name, kind in types.items())


def _empty(definitions: list[sge.ColumnDef]) -> pa.Table:
    """No rows, with the columns of CREATE TABLE's definitions (as Spark reads them back)."""
    from ibis.backends.sql.datatypes import PySparkType

    fields = {
        d.name: PySparkType.from_string(d.args["kind"].sql(dialect=DIALECT)) for d in definitions
    }
    return ibis.schema(fields).to_pyarrow().empty_table()


def compact(folder: Path, most: int = 32, small: int = 64 << 20) -> None:
    """Rewrite a small table's many files (appends add one each) as one file."""
    files = data_files(folder)
    if len(files) <= most or sum(path.stat().st_size for path in files) > small:
        return
    parts = [pq.read_table(path) for path in files]
    schema = pa.schema([field.with_nullable(True) for field in parts[0].schema])
    rows = pa.concat_tables([part.cast(schema) for part in parts])
    pq.write_table(rows, folder / f"part-{uuid.uuid4().hex}.parquet")
    for path in files:
        path.unlink()


def _rows_in(files: list[Path]) -> int:
    return sum(pq.read_metadata(path).num_rows for path in files)
