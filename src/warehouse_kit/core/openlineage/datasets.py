"""What OpenLineage calls each dataset a run reads or writes: a namespace and a name.

Names follow OpenLineage's naming conventions (its ``naming`` module): a PostgreSQL table
is ``postgres://host:port`` and ``database.schema.table``, files are ``file`` and their
absolute path, a Kafka topic ``kafka://broker:port`` and the topic. A DuckDB file, which
the conventions do not list, is ``duckdb://<absolute path>`` and ``schema.table``.
Namespaces never carry a user name, a password or URL options: they are built from the
host, port and path alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from openlineage.client.naming.dataset import LocalFileSystem, Postgres

from warehouse_kit.core.backends import duckdb_path, engine_of
from warehouse_kit.core.catalog import Catalog
from warehouse_kit.core.models import Model
from warehouse_kit.core.pipeline import source_of
from warehouse_kit.core.spec import DuckDBSource, FilesSource, KafkaSource, PostgresSource

SOURCE_PREFIX = "source:"
"""How column lineage names a source table: ``source:<source name>.<table>``."""


@dataclass(frozen=True)
class DatasetName:
    namespace: str
    name: str


@dataclass(frozen=True)
class _Database:
    """Where a database's tables are: their namespace, and what prefixes ``schema.table``."""

    namespace: str
    prefix: str = ""

    def table(self, schema: str, name: str) -> DatasetName:
        return DatasetName(self.namespace, f"{self.prefix}{schema}.{name}")


def _postgres(parts: SplitResult) -> _Database:
    naming = Postgres(
        host=parts.hostname or "localhost",
        port=str(parts.port or 5432),
        database=parts.path.lstrip("/") or "postgres",
        schema="-",
        table="-",
    )
    return _Database(naming.get_namespace(), f"{naming.database}.")


def _duckdb(url: str, root: Path) -> _Database:
    path = duckdb_path(url, root)
    # resolve(): ``duckdb:////tmp/w.duckdb`` reads as ``//tmp/w.duckdb``, the same file.
    return _Database(f"duckdb://{path if path == ':memory:' else Path(path).resolve()}")


def _other(parts: SplitResult) -> _Database:
    host = parts.netloc.rpartition("@")[2]  # never the user or password before the @
    return _Database(f"{parts.scheme}://{host}{parts.path}")


_DATABASES: Mapping[str, Callable[[str, Path], _Database]] = {
    "duckdb": _duckdb,
    "postgres": lambda url, root: _postgres(urlsplit(url)),
}


def database_of(url: str, root: Path) -> _Database:
    """The namespace of the tables of the warehouse (or database source) at `url`."""
    named = _DATABASES.get(engine_of(url))
    return named(url, root) if named else _other(urlsplit(url))


class Datasets:
    """The dataset names of a project's models and of the sources its bronze models load."""

    def __init__(self, catalog: Catalog, url: str):
        self.catalog = catalog
        self.root = catalog.project.root
        self.warehouse = database_of(url, self.root)

    def model(self, model_id: str) -> DatasetName:
        """The table `model_id` writes."""
        model = self.catalog.graph.models[model_id]
        return self.warehouse.table(self.catalog.schema_of(model_id), model.name)

    def source(self, model: Model) -> DatasetName | None:
        """What the bronze `model` loads (None for any other model)."""
        found = source_of(model)
        if found is None:
            return None
        source, table, root = found
        if isinstance(source, FilesSource):
            pattern = getattr(table, "path", None) or source.pattern.format(table=table.name)
            files = LocalFileSystem(path=str((root / source.path / pattern).resolve()))
            return DatasetName(files.get_namespace(), files.get_name())
        if isinstance(source, KafkaSource):
            return DatasetName(f"kafka://{source.brokers[0]}", getattr(table, "topic", table.name))
        name = getattr(table, "table", None) or table.name
        if isinstance(source, PostgresSource):
            url = source.connection.get_secret_value()
            return _postgres(urlsplit(url)).table(source.schema_, name)
        assert isinstance(source, DuckDBSource)
        return database_of(f"duckdb://{source.path}", root).table(source.schema_, name)

    def named(self, table: str) -> DatasetName | None:
        """The dataset column lineage calls `table`: a model (``silver.orders``, by id or
        by schema and table) or a source table (``source:shop_orders.orders``)."""
        models = self.catalog.graph.models
        if table.startswith(SOURCE_PREFIX):
            wanted = table.removeprefix(SOURCE_PREFIX)
            for model in models.values():
                found = source_of(model)
                if found is not None and f"{found[0].name}.{found[1].name}" == wanted:
                    return self.source(model)
            return None
        if table in models:
            return self.model(table)
        for node, model in models.items():
            if f"{self.catalog.schema_of(node)}.{model.name}" == table:
                return self.model(node)
        return None
