"""Spark targets: ``spark://local[2]`` (a session in this process), ``spark://HOST:7077``
(a cluster) or ``sc://HOST:15002`` (a Spark Connect server), through Ibis's PySpark backend.

A Spark warehouse is a folder of Parquet tables with a manifest (`store`); statements
become new table versions published together (`transaction`). Settings go in the URL's
query: ``warehouse=PATH`` (the folder, relative to the project; default
``spark-warehouse``) and any ``spark.*`` setting, e.g.
``spark://local[4]?warehouse=lake&spark.driver.memory=8g``. The folder must be on a file
system every executor sees at the same path (a local disk for ``local[N]``); with Spark
Connect, one the server and this process both see at the same path, since this process
publishes the manifest the server's writes go into.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from warehouse_kit.core.errors import WarehouseKitError
from warehouse_kit.core.extras import MissingExtra
from warehouse_kit.core.spark.store import Store
from warehouse_kit.core.spark.transaction import Catalog, SparkTransaction

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SCHEME = "spark://"
CONNECT_SCHEME = "sc://"
DEFAULT_FOLDER = "spark-warehouse"
_SESSION_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",  # its bars would garble wk's progress
    "spark.sql.shuffle.partitions": "8",
}

_RUNTIME = {
    "spark.sql.session.timeZone": "UTC",
    # TIMESTAMP means a timestamp without a zone, as on DuckDB and PostgreSQL.
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SparkUrl:
    master: str
    """``local[2]`` or ``spark://HOST:PORT`` for a session in this process; for Spark
    Connect, the server's ``sc://HOST:PORT`` (with any ``/;token=...`` of its own)."""
    folder: Path
    settings: dict[str, str]

    @property
    def remote(self) -> bool:
        return self.master.startswith(CONNECT_SCHEME)


def is_spark_url(url: str) -> bool:
    return url.lower().startswith((SCHEME, CONNECT_SCHEME))


def parse_url(url: str, base_dir: Path | None) -> SparkUrl:
    """The master, warehouse folder and settings of a ``spark://`` or ``sc://`` URL
    (``local[2]`` is not a host name, so `urlsplit` cannot read it)."""
    if not is_spark_url(url):
        raise WarehouseKitError(f"not a Spark URL: {redact(url)!r}")
    scheme = CONNECT_SCHEME if url.lower().startswith(CONNECT_SCHEME) else SCHEME
    rest, _, query = url[len(scheme) :].partition("?")
    if not rest.partition("/")[0]:
        raise WarehouseKitError(
            f"{redact(url)!r}: say where Spark runs: spark://local[2], spark://HOST:PORT "
            "or sc://HOST:PORT (Spark Connect)"
        )
    if scheme == CONNECT_SCHEME:
        master = f"{CONNECT_SCHEME}{rest}"
    else:
        master = rest if rest.startswith("local") else f"spark://{rest}"
    settings = dict(parse_qsl(query, keep_blank_values=True))
    folder = Path(settings.pop("warehouse", DEFAULT_FOLDER)).expanduser()
    if not folder.is_absolute():
        folder = (base_dir or Path.cwd()) / folder
    unknown = sorted(key for key in settings if not key.startswith("spark."))
    if unknown:
        raise WarehouseKitError(
            f"{redact(url)!r}: unknown setting {unknown[0]!r}: a Spark URL takes "
            "warehouse=PATH and spark.* settings"
        )
    return SparkUrl(master, folder.resolve(), settings)


def redact(url: str) -> str:
    """The URL without a Spark Connect ``token=`` (``sc://HOST:PORT/;token=SECRET``)."""
    return _TOKEN.sub(r"\1***", url)


_TOKEN = re.compile(r"(?i)(;token=)[^;?&]*")


def session_for(parsed: SparkUrl) -> SparkSession:
    """This process's Spark session: the active one, else a new one for the URL; for a
    Spark Connect server, a client session of it."""
    from pyspark.sql import SparkSession

    if parsed.remote:
        remote = SparkSession.builder.remote(parsed.master)
        for key, value in parsed.settings.items():
            remote = remote.config(key, value)
        return remote.getOrCreate()
    active = SparkSession.getActiveSession()
    if active is not None:
        running = active.sparkContext.master
        if running != parsed.master:
            log.warning("using this process's Spark session on %s, not %s", running, parsed.master)
        return active
    builder = SparkSession.builder.master(parsed.master).appName("warehouse-kit")
    for key, value in {**_SESSION_DEFAULTS, **parsed.settings}.items():
        builder = builder.config(key, value)
    builder = builder.config("spark.sql.warehouse.dir", str(parsed.folder / "_catalog"))
    return builder.getOrCreate()


class SparkEngine:
    """One Spark warehouse open in this process's session."""

    def __init__(self, session: SparkSession, folder: Path):
        self.session = session
        for key, value in _RUNTIME.items():  # settings an active session accepts too
            session.conf.set(key, value)
        if not is_connect(session):  # a server's log level is the server's to choose
            # Spark logs every failed statement, stack and all; wk reports errors itself.
            session.sparkContext.setLogLevel("FATAL")
        logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
        self.store = Store(folder)
        self.catalog = Catalog(session, self.store)
        self.catalog.register(self.store.read())
        self.writing = False

    @contextmanager
    def transaction(self) -> Iterator[SparkTransaction]:
        """Statements whose tables are published together at the end, or not at all."""
        with self.store.locked():
            current = self.store.read()
            if current.generation != self.catalog.manifest.generation:
                self.catalog.register(current)  # another process committed meanwhile
            tx = SparkTransaction(self.session, self.store, self.catalog)
            self.writing = True
            try:
                yield tx
            except BaseException:
                tx.rollback()
                raise
            else:
                tx.commit()
            finally:
                self.writing = False

    def table(self, con: Any, name: str, schema: str) -> Any:
        """`schema.name` as an Ibis table, its columns from the manifest (Ibis would ask
        the session, switching its current database there and back: a fifth of a second)."""
        import ibis.expr.operations as ops

        self.refresh()
        version = self.catalog.manifest_or_pending(schema, name)
        if version is None:
            return con.table(name, database=schema)  # a view, or unknown: as Ibis does
        return ops.DatabaseTable(
            name,
            schema=columns_of(version.columns),
            source=con,
            namespace=ops.Namespace(catalog=None, database=schema),
        ).to_expr()

    def refresh(self) -> None:
        """See what other processes committed since this one last looked (not while this
        process writes: its transaction holds the lock, so nothing changed meanwhile)."""
        if self.writing:
            return
        current = self.store.read()
        if current.generation != self.catalog.manifest.generation:
            self.catalog.register(current)


@functools.lru_cache(maxsize=1024)
def columns_of(ddl: str) -> Any:
    """The Ibis schema of a manifest's column DDL."""
    import ibis
    import sqlglot as sg
    from ibis.backends.sql.datatypes import PySparkType

    create = sg.parse_one(f"CREATE TABLE t ({ddl})", dialect="spark")
    return ibis.schema(
        {
            column.name: PySparkType.from_string(column.args["kind"].sql("spark"))
            for column in create.this.expressions
        }
    )


def open_spark(url: str, base_dir: Path | None) -> tuple[Any, SparkEngine]:
    """The Ibis backend and the engine of a ``spark://`` target."""
    parsed = parse_url(url, base_dir)
    warehouse_folder(url, base_dir)
    from ibis import options

    from warehouse_kit.core.spark.arrow import ArrowBackend

    session = session_for(parsed)
    engine = SparkEngine(session, parsed.folder)
    if getattr(options, "pyspark", None) is None:  # as loading it through ibis.pyspark does
        ArrowBackend.register_options()
    backend = ArrowBackend().connect(session)
    backend.scratch = engine.catalog.scratch
    return backend, engine


def warehouse_folder(url: str, base_dir: Path | None) -> Path:
    """The target's warehouse folder, created if missing, once PySpark is there to use it
    and the folder it goes in exists (a typo must not become a tree of folders)."""
    folder = parse_url(url, base_dir).folder
    _require_pyspark()
    if not folder.parent.is_dir():
        raise WarehouseKitError(
            f"cannot create the Spark warehouse {folder}: there is no folder "
            f"{folder.parent} (create it, or correct warehouse= in the target)"
        )
    folder.mkdir(exist_ok=True)
    return folder


def is_connect(session: Any) -> bool:
    """Whether `session` is a Spark Connect client (it has no SparkContext)."""
    return type(session).__module__.startswith("pyspark.sql.connect")


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ModuleNotFoundError as exc:
        raise MissingExtra("a Spark target", "spark") from exc
