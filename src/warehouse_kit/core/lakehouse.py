"""The lakehouse output: gold tables published as Hive-partitioned Parquet, and read back.

A pipeline's ``destination.lakehouse`` (`spec_lakehouse`) names the tables to publish
and how to lay each out. After every successful run (`publish_built`, from the runner)
and on demand (`publish`, ``wk publish``), each table whose model was built since its
current lake version is read through the warehouse's own Ibis connection as Arrow
batches, so DuckDB, PostgreSQL and any other engine publish the same way, and written
with pyarrow as Parquet files in ``name=value`` folders, one level per partition. Each
publish is a new version folder, made current at once (`lake_versions`): readers see
the previous version or the new one, whole.

Readers need nothing of warehouse-kit: DuckDB reads
``read_parquet('lake/fact_orders/current/**/*.parquet', hive_partitioning = true)``,
Spark ``spark.read.parquet('lake/fact_orders/current')``, pandas
``pd.read_parquet('lake/fact_orders/current')``. `read` gives an Ibis table over a
version, `path` its folder, `versions` what is kept.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from warehouse_kit.core import lake_files, lake_versions, runlock, sqlexpr, state
from warehouse_kit.core.backends import Warehouse, redact
from warehouse_kit.core.catalog import Catalog, load_catalog
from warehouse_kit.core.errors import ConfigError, WarehouseKitError, column_hint, first_line
from warehouse_kit.core.lake_versions import Version
from warehouse_kit.core.progress import PublishReporter, Silent
from warehouse_kit.core.project import Project
from warehouse_kit.core.results import Published
from warehouse_kit.core.spec_lakehouse import LakehouseSpec, LakeTableSpec

WRITER = "wk publish"
"""Who published a version when no run did."""


@dataclass(frozen=True)
class LakeTable:
    """A table the lake publishes: the model, its folder and its layout."""

    name: str
    model_id: str
    schema: str
    folder: Path
    spec: LakeTableSpec
    lake: LakehouseSpec
    file: str
    """The pipeline file that configures it, for errors."""

    @property
    def key_path(self) -> str:
        return f"pipeline.destination.lakehouse.tables.{self.name}"

    def layout(self) -> dict[str, Any]:
        """What, besides the data, decides the files: a version with another layout is
        published again even when the data did not change."""
        return {
            "partition_by": [p if isinstance(p, str) else dict(p) for p in self.spec.partition_by],
            "compression": self.lake.compression,
            "target_file_size": self.lake.target_file_size,
        }


def lake_tables(catalog: Catalog) -> list[LakeTable]:
    """Every table the project's pipelines publish to a lake."""
    found = []
    for pipeline in catalog.pipelines:
        lake = pipeline.spec.destination.lakehouse
        if lake is None:
            continue
        for name, spec in lake.tables.items():
            model_id = f"{pipeline.stages[-1]}.{name}"
            folder = catalog.project.root / lake.path / name
            schema = catalog.schema_of(model_id)
            found.append(LakeTable(name, model_id, schema, folder, spec, lake, pipeline.file))
    return found


def find(catalog: Catalog, name: str) -> LakeTable:
    """The lake table called `name`."""
    tables = {table.name: table for table in lake_tables(catalog)}
    if name not in tables:
        known = ", ".join(sorted(tables)) or "none: no pipeline has destination.lakehouse"
        raise WarehouseKitError(f"{name!r} is not a lakehouse table (the lake has {known})")
    return tables[name]


# --- layout: the partition columns --------------------------------------------------------


def partitioned(table: ir.Table, lake_table: LakeTable) -> tuple[ir.Table, list[str]]:
    """`table` with its derived partition columns, ordered by its partitions (so each
    partition's rows arrive together and fill whole files), and the partitions' names.

    A partition the table cannot have is a `ConfigError` naming the file, key and column.
    """
    derived: dict[str, ir.Value] = {}
    names = []
    for index, partition in enumerate(lake_table.spec.partition_by):
        key_path = f"{lake_table.key_path}.partition_by[{index}]"
        if isinstance(partition, str):
            name, dtype = partition, _column_type(table, partition, lake_table, key_path)
        else:
            ((name, sql),) = partition.items()
            if name in table.columns:
                raise _error(
                    lake_table,
                    key_path,
                    f"{name!r} is already a column of {lake_table.model_id}: partition by "
                    "the column itself, or give the derived partition another name",
                )
            where = f"{lake_table.file}: {key_path}.{name}"
            derived[name] = sqlexpr.to_ibis(sql, table, where=where)
            dtype = derived[name].type()
        if not _partitionable(dtype):
            raise _error(
                lake_table,
                key_path,
                f"partition {name!r} is {dtype}: partition by an integer, string, date or "
                "boolean (one folder per value)",
            )
        names.append(name)
    expr = table.mutate(**derived) if derived else table
    if names and len(names) == len(expr.columns):
        raise _error(lake_table, lake_table.key_path, "partition_by leaves no column in the files")
    return (expr.order_by(names) if names else expr), names


def check_layouts(catalog: Catalog, outputs: Mapping[str, ibis.Schema]) -> None:
    """Check the layout of every lake table among the planned models' `outputs` (model id
    -> schema), so that a run stops before it writes anything rather than after."""
    for lake_table in lake_tables(catalog):
        if lake_table.model_id in outputs:
            partitioned(ibis.table(outputs[lake_table.model_id], name=lake_table.name), lake_table)


def _column_type(table: ir.Table, name: str, lake_table: LakeTable, key_path: str) -> dt.DataType:
    if name not in table.columns:
        hint = column_hint(name, list(table.columns))
        message = f"unknown column {name!r} of {lake_table.model_id}; {hint}"
        raise _error(lake_table, key_path, message)
    return table.schema()[name]


def _partitionable(dtype: dt.DataType) -> bool:
    return dtype.is_integer() or dtype.is_string() or dtype.is_date() or dtype.is_boolean()


def _error(lake_table: LakeTable, key_path: str, message: str) -> ConfigError:
    return ConfigError(message, file=lake_table.file, key_path=key_path)


# --- publishing ---------------------------------------------------------------------------


def publish(
    project: Project | str | Path = ".",
    *,
    pipelines: Sequence[str | Path] | None = None,
    target: str | None = None,
    tables: Sequence[str] = (),
    force: bool = False,
    wait: float = runlock.DEFAULT_WAIT_S,
    reporter: PublishReporter | None = None,
) -> list[Published]:
    """Publish the project's lake tables (or `tables`) from the warehouse as it is.

    A table whose current version holds its model's last build, in the same layout, is
    left as it is (``unchanged``) unless `force`. Holds the target as a run does, so no
    run writes the tables while they are read (see `runner.run` for `wait`). Raises
    on the first failure.
    """
    project = Project.of(project)
    catalog = load_catalog(project, pipelines)
    chosen = [find(catalog, name) for name in tables] or lake_tables(catalog)
    if not chosen:
        raise ConfigError("no lakehouse tables: add destination.lakehouse to a pipeline")
    reporter = reporter or Silent()
    url = catalog.target(target)
    with runlock.hold(url, base_dir=project.root, wait_s=wait) as held:
        builds = state.last_builds(held.warehouse)
        results = []
        for lake_table in chosen:
            if not held.warehouse.exists(lake_table.name, lake_table.schema):
                raise WarehouseKitError(
                    f"{lake_table.model_id} is not in the warehouse {redact(url)}: "
                    "build it first (wk run)"
                )
            build = builds.get(lake_table.model_id, (None, None, None))[0]
            result = publish_table(
                held.warehouse,
                lake_table,
                build,
                by=WRITER,
                force=force,
                reporter=reporter,
                wait_s=wait,
            )
            reporter.published(result)
            results.append(result)
    return results


def publish_built(
    catalog: Catalog,
    warehouse: Warehouse,
    builds: Mapping[str, tuple[str, str | None, int | None]],
    run_id: str,
    reporter: PublishReporter,
) -> list[Published]:
    """After a successful run: publish each lake table whose model was built since its
    current version (`builds`: each model's last build, as `state.last_builds` gives).
    A failure is in its result, not raised: the warehouse is built, the lake is behind."""
    results = []
    for lake_table in lake_tables(catalog):
        if lake_table.model_id not in builds:
            continue  # never built: nothing to publish yet
        clock = time.perf_counter()
        try:
            build = builds[lake_table.model_id][0]
            result = publish_table(warehouse, lake_table, build, by=run_id, reporter=reporter)
        except WarehouseKitError as exc:
            result = Published(lake_table.name, "failed", error=str(exc))
        except Exception as exc:  # the disk is full, a folder cannot be written
            result = Published(
                lake_table.name, "failed", error=f"{type(exc).__name__}: {first_line(exc)}"
            )
        result.duration_s = time.perf_counter() - clock
        reporter.published(result)
        results.append(result)
    return results


def publish_table(
    warehouse: Warehouse,
    lake_table: LakeTable,
    build: str | None,
    *,
    by: str,
    force: bool = False,
    reporter: PublishReporter | None = None,
    wait_s: float = runlock.DEFAULT_WAIT_S,
) -> Published:
    """Publish one table as a new version, unless its current version holds `build` (the
    run that last wrote the table) from the same target in the same layout; `by` is the
    run publishing it (or `WRITER`)."""
    clock = time.perf_counter()
    reporter = reporter or Silent()
    source = {
        "target": redact(warehouse.url),
        "table": f"{lake_table.schema}.{lake_table.name}",
        "build": build,
    }
    folder = lake_table.folder
    with lake_versions.locked(folder, wait_s):
        now = lake_versions.current(folder)
        if now is not None and not force and _holds(now, source, lake_table):
            return _result(lake_table, now, "unchanged", clock)
        reporter.publish_started(lake_table.name)
        table = warehouse.table(lake_table.name, lake_table.schema)
        expr, partitions = partitioned(table, lake_table)
        number, staging = lake_versions.begin(folder)
        try:
            manifest = _write(warehouse, expr, partitions, staging, lake_table, reporter)
            manifest |= {"version": number, "published_by": by, "source": source}
            version = lake_versions.commit(folder, number, staging, manifest)
        except BaseException:
            lake_versions.abandon(staging)
            raise
        lake_versions.prune(folder, lake_table.lake.keep_versions)
    return _result(lake_table, version, "published", clock)


def _holds(version: Version, source: dict[str, Any], lake_table: LakeTable) -> bool:
    """Whether `version` holds the data of `source` (a known build) in the table's layout."""
    manifest = version.manifest
    same = manifest["source"] == source and manifest["layout"] == lake_table.layout()
    return bool(same and source["build"] is not None)


def _write(
    warehouse: Warehouse,
    expr: ir.Table,
    partitions: list[str],
    staging: Path,
    lake_table: LakeTable,
    reporter: PublishReporter,
) -> dict[str, Any]:
    """Write `expr`'s rows into `staging`; the version's manifest, but for who wrote it."""

    def progress(rows: int) -> None:
        reporter.publish_progress(lake_table.name, rows)

    reader = warehouse.con.to_pyarrow_batches(expr, chunk_size=lake_files.BATCH_ROWS)
    files = lake_files.write(
        reader,
        staging,
        partitions,
        compression=lake_table.lake.compression,
        target_file_size=lake_table.lake.target_file_size,
        progress=progress,
    )
    return {
        "format": 1,
        "table": lake_table.name,
        "written_at": state.now().isoformat(),
        "layout": lake_table.layout(),
        "partition_columns": partitions,
        "columns": [{"name": f.name, "type": str(f.type)} for f in reader.schema],
        "rows": sum(file["rows"] for file in files),
        "bytes": sum(file["bytes"] for file in files),
        "files": files,
    }


def _result(lake_table: LakeTable, version: Version, status: str, clock: float) -> Published:
    manifest = version.manifest
    return Published(
        lake_table.name,
        status,
        version.number,
        str(version.path),
        rows=manifest["rows"],
        files=len(manifest["files"]),
        bytes=manifest["bytes"],
        duration_s=time.perf_counter() - clock,
    )


# --- reading ------------------------------------------------------------------------------


def versions(project: Project | str | Path, table: str) -> list[Version]:
    """The versions of a lake table the lake keeps, oldest first."""
    return lake_versions.versions(find(load_catalog(Project.of(project)), table).folder)


def path(project: Project | str | Path, table: str, *, version: int | None = None) -> Path:
    """The folder of a lake table's current version (or of `version`), resolved: it stays
    that version's folder while later ones are published."""
    kept = versions(project, table)
    chosen = next(
        (v for v in kept if (v.current if version is None else v.number == version)), None
    )
    if chosen is None:
        numbers = ", ".join(str(v.number) for v in kept) or "none: publish it first (wk publish)"
        wanted = "a current version" if version is None else f"version {version}"
        raise WarehouseKitError(f"lake table {table!r} has no {wanted} (versions: {numbers})")
    return chosen.path.resolve()


def read(project: Project | str | Path, table: str, *, version: int | None = None) -> ir.Table:
    """A lake table's current version (or `version`) as an Ibis table on an in-memory
    DuckDB, partition columns included."""
    folder = path(project, table, version=version)
    return ibis.duckdb.connect().read_parquet(folder / "**" / "*.parquet", hive_partitioning=True)
