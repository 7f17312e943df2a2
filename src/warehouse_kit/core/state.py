"""Run history and load state, kept in the warehouse itself, in schema ``_wk``.

Every read and write of the run store goes through here; its tables, and what
each row means, are in `state_layout`. A model's row in ``model_runs`` and its
batch are written in the same transaction as its data, so the history never
disagrees with the tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import sqlglot as sg
import sqlglot.expressions as sge

from warehouse_kit.core.backends import Transaction, Warehouse, table_ref
from warehouse_kit.core.errors import WarehouseKitError
from warehouse_kit.core.state_layout import CHECK_RUN, MIGRATIONS, SCHEMA, TABLES, VERSION

__all__ = ["CHECK_RUN", "MIGRATIONS", "SCHEMA", "TABLES", "VERSION"]


def now() -> datetime:
    """The current UTC time, without a zone (stored the same way on every engine)."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_run_id(started: datetime) -> str:
    """A run id that sorts in start order: ``20261129T153646.123456Z``."""
    return started.strftime("%Y%m%dT%H%M%S.%fZ")


def ensure(warehouse: Warehouse) -> None:
    """Create the state schema and tables when missing, or bring an older layout up to
    `VERSION` in place: new tables and columns are added, then the `MIGRATIONS` past the
    warehouse's version run, and the version is recorded. A layout newer than this code
    knows is refused: an older warehouse-kit must not write what it does not understand."""
    warehouse.ensure_schema(SCHEMA)
    existing = set(warehouse.tables(SCHEMA))
    found = layout_version(warehouse) if "meta" in existing else None
    if found is not None and found > VERSION:
        raise WarehouseKitError(
            f"this warehouse's run history (schema {SCHEMA}) has layout {found}, newer than "
            f"the {VERSION} this warehouse-kit knows: upgrade warehouse-kit to run on it"
        )
    changes: list[sge.Expression] = []
    for name, schema in TABLES.items():
        columns, ref = schema.to_sqlglot_column_defs(warehouse.kind), table_ref(name, SCHEMA)
        if name not in existing:
            changes.append(sge.Create(kind="TABLE", this=sge.Schema(this=ref, expressions=columns)))
            continue
        present = warehouse.table(name, SCHEMA).columns
        changes += [
            sge.Alter(this=ref, kind="TABLE", actions=[column])
            for column in columns
            if column.name not in present
        ]
    if changes:
        with warehouse.transaction() as tx:
            for change in changes:
                tx.run(change)
    for version in range((found or VERSION) + 1, VERSION + 1):
        for step in MIGRATIONS.get(version, ()):
            warehouse.execute(step)
    if found != VERSION:
        with warehouse.transaction() as tx:
            tx.run(delete("meta", {"key": "state_version"}))
            tx.run(insert("meta", {"key": "state_version", "value": str(VERSION)}))


def layout_version(warehouse: Warehouse) -> int | None:
    """The layout of ``_wk`` the warehouse has (see `VERSION`)."""
    meta = table(warehouse, "meta")
    value = warehouse.scalar(meta.filter(meta.key == "state_version").value.max())
    return int(value) if value is not None else None


def start_run(warehouse: Warehouse, row: Mapping[str, Any], found_by: str) -> list[str]:
    """Record a run as ``running``; return the runs it found dead and marked aborted.

    The caller holds the target (`runlock`): no other run can be alive, so any
    other ``running`` row is one whose process ended without finishing. Both
    writes are one transaction, so no reader sees two runs running.
    """
    dead = running(warehouse)
    with warehouse.transaction() as tx:
        abort(tx, dead, found_by)
        tx.run(insert("runs", {**row, "status": "running"}))
    return dead


def running(warehouse: Warehouse) -> list[str]:
    """The runs recorded as running, oldest first."""
    if not warehouse.exists("runs", SCHEMA):
        return []
    runs = table(warehouse, "runs")
    found = warehouse.rows(runs.filter(runs.status == "running").select("run_id"))
    return sorted(row["run_id"] for row in found)


def abort(tx: Transaction, run_ids: list[str], found_by: str) -> None:
    """Mark runs found dead (see `start_run`) aborted; the caller holds the target."""
    error = f"its process ended before the run finished (found by {found_by})"
    for run_id in run_ids:
        change = {"status": "aborted", "finished_at": now(), "error": error}
        tx.run(update("runs", {"run_id": run_id, "status": "running"}, change))


def insert(table: str, row: Mapping[str, Any]) -> sge.Insert:
    """An INSERT of one row into a state table; values are literals, never SQL."""
    columns = [sg.to_identifier(name, quoted=True) for name in row]
    values = sge.Tuple(expressions=[_literal(table, name, value) for name, value in row.items()])
    target = sge.Schema(this=table_ref(table, SCHEMA), expressions=columns)
    return sge.Insert(this=target, expression=sge.Values(expressions=[values]))


def insert_many(table: str, rows: Sequence[Mapping[str, Any]]) -> sge.Insert:
    """One INSERT of `rows` (each with the same columns) into a state table."""
    names = list(rows[0])
    columns = [sg.to_identifier(name, quoted=True) for name in names]
    values = [
        sge.Tuple(expressions=[_literal(table, name, row[name]) for name in names]) for row in rows
    ]
    target = sge.Schema(this=table_ref(table, SCHEMA), expressions=columns)
    return sge.Insert(this=target, expression=sge.Values(expressions=values))


def update(table: str, where: Mapping[str, Any], values: Mapping[str, Any]) -> sge.Update:
    return sge.Update(
        this=table_ref(table, SCHEMA),
        expressions=[
            sge.EQ(this=sg.column(name, quoted=True), expression=_literal(table, name, value))
            for name, value in values.items()
        ],
        where=sge.Where(this=_matching(table, where)),
    )


def delete(table: str, where: Mapping[str, Any]) -> sge.Delete:
    return sge.Delete(this=table_ref(table, SCHEMA), where=sge.Where(this=_matching(table, where)))


def running_run_of(host: str, pid: int) -> sge.Select:
    """The run (run_id, started_at) the process `pid` on `host` records as running: how a
    run waiting for a PostgreSQL target names the one holding it (`runlock`)."""
    where = _matching("runs", {"status": "running", "host": host, "pid": pid})
    runs = sg.select("run_id", "started_at").from_(table_ref("runs", SCHEMA)).where(where)
    return runs.order_by(sge.Ordered(this=sg.column("run_id"), desc=True)).limit(1)


def _matching(table: str, where: Mapping[str, Any]) -> sge.Expression:
    """Each column of `where` equal to its value (a literal, never SQL)."""
    return sge.and_(
        *(
            sge.EQ(this=sg.column(name, quoted=True), expression=_literal(table, name, value))
            for name, value in where.items()
        )
    )


def _literal(table: str, column: str, value: Any) -> sge.Expression:
    if value is None:
        return sge.Null()
    if isinstance(value, datetime):
        return sge.Cast(
            this=sge.Literal.string(value.isoformat(sep=" ")), to=sge.DataType.build("timestamp")
        )
    if isinstance(value, bool):
        return sge.Boolean(this=value)
    if isinstance(value, int | float):
        return sge.Literal.number(value)
    return sge.Literal.string(str(value))


def table(warehouse: Warehouse, name: str) -> ir.Table:
    """A state table as an Ibis expression, for queries and notebooks."""
    return warehouse.table(name, SCHEMA)


def loaded_files(warehouse: Warehouse, model: str) -> set[str]:
    """The fingerprints of the files a bronze model holds."""
    if not warehouse.exists("batches", SCHEMA):
        return set()
    batches = table(warehouse, "batches")
    found = batches.filter(batches.model == model).select("batch_id").distinct()
    return {row["batch_id"] for row in warehouse.rows(found)}


def forget_batches(tx: Transaction, model: str) -> None:
    tx.run(delete("batches", {"model": model}))


def watermark(warehouse: Warehouse, model: str) -> str | None:
    """The stored high-water mark of a model, as text (None before its first load)."""
    if not warehouse.exists("watermarks", SCHEMA):
        return None
    marks = table(warehouse, "watermarks")
    value: str | None = warehouse.scalar(marks.filter(marks.model == model).value.max())
    return value


def set_watermark(tx: Transaction, model: str, value: object, run_id: str) -> None:
    """Store a model's high-water mark, inside the transaction that loaded up to it."""
    tx.run(delete("watermarks", {"model": model}))
    if value is not None:
        tx.run(insert("watermarks", {"model": model, "value": str(value), "run_id": run_id}))


def last_builds(warehouse: Warehouse) -> dict[str, tuple[str, str | None, int | None]]:
    """Each model's last successful write: (run id, fingerprint, rows in its table)."""
    if not warehouse.exists("model_runs", SCHEMA):
        return {}
    runs = table(warehouse, "model_runs")
    built = runs.filter(runs.status == "success")
    # A window in a filter compiles wrongly for PostgreSQL in Ibis 12: name it first.
    marked = built.mutate(_wk_last=built.run_id.max().over(group_by="model"))
    latest = marked.filter(marked.run_id == marked._wk_last)
    rows = warehouse.rows(latest.select("model", "run_id", "fingerprint", "rows_out"))
    return {row["model"]: (row["run_id"], row["fingerprint"], row["rows_out"]) for row in rows}


def stream_offsets(warehouse: Warehouse, model: str) -> dict[int, int]:
    """The next offset of each partition a stream model has landed from."""
    if not warehouse.exists("stream_offsets", SCHEMA):
        return {}
    offsets = table(warehouse, "stream_offsets")
    mine = offsets.filter(offsets.model == model).select("partition", "next_offset")
    return {int(row["partition"]): int(row["next_offset"]) for row in warehouse.rows(mine)}


def watermark_run(warehouse: Warehouse, model: str) -> str | None:
    """The run that stored a model's high-water mark: its last build."""
    if not warehouse.exists("watermarks", SCHEMA):
        return None
    marks = table(warehouse, "watermarks")
    value: str | None = warehouse.scalar(marks.filter(marks.model == model).run_id.max())
    return value


def snapshots(warehouse: Warehouse, model: str) -> ir.Table:
    """The times of the snapshots a type-2 dimension has applied (column ``snapshot_at``)."""
    found = table(warehouse, "snapshots")
    return found.filter(found.model == model).select("snapshot_at")


def latest_snapshot(warehouse: Warehouse, model: str) -> datetime | None:
    if not warehouse.exists("snapshots", SCHEMA):
        return None
    value: datetime | None = warehouse.scalar(snapshots(warehouse, model).snapshot_at.max())
    return value


def latest_schema(tx: Transaction, table_name: str) -> tuple[int, str] | None:
    """The latest recorded version of a table's columns: (version, columns as JSON)."""
    query = (
        sg.select("version", "columns")
        .from_(table_ref("schema_versions", SCHEMA))
        .where(sg.column("table_name").eq(sge.Literal.string(table_name)))
        .order_by(sge.Ordered(this=sg.column("version"), desc=True))
        .limit(1)
    )
    found = tx.run(query)
    return (int(found[0][0]), str(found[0][1])) if found else None


def schema_versions(warehouse: Warehouse, table_name: str) -> ir.Table:
    """Every recorded version of a table's columns, oldest first."""
    versions = table(warehouse, "schema_versions")
    return versions.filter(versions.table_name == table_name).order_by("version")


def add_snapshot(tx: Transaction, model: str, taken: datetime, run_id: str, rows: int) -> None:
    """Record that a dimension applied the snapshot taken at `taken` (once per time)."""
    tx.run(delete("snapshots", {"model": model, "snapshot_at": taken}))
    row = {"model": model, "snapshot_at": taken, "run_id": run_id, "rows": rows}
    tx.run(insert("snapshots", row))


def checked_rows(warehouse: Warehouse, model: str) -> int | None:
    """The rows the model's checks saw in its last successful run (row_count's baseline)."""
    if not warehouse.exists("check_results", SCHEMA):
        return None
    results, runs = table(warehouse, "check_results"), table(warehouse, "model_runs")
    good = runs.filter((runs.model == model) & (runs.status == "success")).select("run_id")
    mine = results.filter(results.model == model).semi_join(good, "run_id")
    latest = mine.filter(mine.run_id == mine.run_id.max())
    value: int | None = warehouse.scalar(latest.total_rows.max())
    return value


def pipeline_runs(warehouse: Warehouse) -> ir.Table:
    """The runs that built models: every run but those of ``wk check``."""
    runs = table(warehouse, "runs")
    # Before CHECK_RUN, a check run was pipeline 'check' with no selection; a pipeline
    # run always records its selection, if only ''.
    older_check = (runs.pipeline == "check") & runs.selection.isnull()
    return runs.filter(runs.pipeline != CHECK_RUN, ~older_check)


def latest_run_id(warehouse: Warehouse) -> str | None:
    """The latest pipeline run (see `pipeline_runs`)."""
    if not warehouse.exists("runs", SCHEMA):
        return None
    value: str | None = warehouse.scalar(pipeline_runs(warehouse).run_id.max())
    return value


def change_mark(warehouse: Warehouse) -> tuple[Any, ...]:
    """What changes whenever a run starts or ends: the number of runs, the last end
    and the last run id (the run store must exist: `has_run_store`).

    A reader that caches what the warehouse's tables look like (the metrics layer's
    schemas) compares it before each query: one tiny statement, no Ibis compile.
    """
    return tuple(warehouse.execute(_CHANGE_MARK)[0])


_CHANGE_MARK = sg.select("count(*)", "max(finished_at)", "max(run_id)").from_(
    table_ref("runs", SCHEMA)
)


def has_run_store(warehouse: Warehouse) -> bool:
    return warehouse.exists("runs", SCHEMA)


def record_lineage(tx: Transaction, run_id: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Store a model's column lineage (`lineage_graph.rows_of`), in its write's transaction."""
    if rows:
        numbered = [{"run_id": run_id, "position": i, **row} for i, row in enumerate(rows)]
        tx.run(insert_many("column_lineage", numbered))


def lineage_rows(warehouse: Warehouse, run_id: str | None = None) -> list[dict[str, Any]]:
    """The column lineage each table was last built with (up to run `run_id`, if given),
    in the order it was written."""
    if not warehouse.exists("column_lineage", SCHEMA):
        return []
    stored = table(warehouse, "column_lineage")
    if run_id is not None:
        stored = stored.filter(stored.run_id <= run_id)
    # A window in a filter compiles wrongly for PostgreSQL in Ibis 12: name it first.
    marked = stored.mutate(_wk_last=stored.run_id.max().over(group_by="model"))
    latest = marked.filter(marked.run_id == marked._wk_last).drop("_wk_last")
    return warehouse.rows(latest.order_by("model", "position"))


def lineage_runs(warehouse: Warehouse) -> list[str]:
    """The runs that stored column lineage, oldest first."""
    if not warehouse.exists("column_lineage", SCHEMA):
        return []
    runs = table(warehouse, "column_lineage").select("run_id").distinct()
    return sorted(row["run_id"] for row in warehouse.rows(runs))


def record_unmasked(warehouse: Warehouse, row: Mapping[str, Any]) -> None:
    """Record that personal data was read unmasked (see `state_layout`: ``unmasked``)."""
    ensure(warehouse)
    with warehouse.transaction() as tx:
        tx.run(insert("unmasked", {"at": now(), **row}))


# --- what monitors read, and their incidents and alerts (`monitoring`) ---------------


def latest_pipeline_run(warehouse: Warehouse, pipeline: str) -> dict[str, Any] | None:
    """The latest finished run of the pipeline (runs record every pipeline they ran)."""
    if not warehouse.exists("runs", SCHEMA):
        return None
    runs = pipeline_runs(warehouse)
    names = "," + runs.pipeline + ","  # a run of several pipelines records "a,b"
    mine = runs.filter(runs.status != "running", names.contains(f",{pipeline},"))
    found = warehouse.rows(mine.order_by(ibis.desc("run_id")).limit(1))
    return found[0] if found else None


def latest_check_failures(
    warehouse: Warehouse, models: Sequence[str]
) -> tuple[str | None, list[dict[str, Any]]]:
    """The latest run that checked any of `models` (a build or ``wk check``), and the
    checks that failed in it, quarantines aside (they set rows apart as declared)."""
    if not warehouse.exists("check_results", SCHEMA) or not models:
        return None, []
    results = table(warehouse, "check_results")
    mine = results.filter(results.model.isin(list(models)))
    run_id: str | None = warehouse.scalar(mine.run_id.max())
    failed = mine.filter(
        mine.run_id == run_id, mine.status == "fail", mine.action != "quarantine"
    ).order_by("model", "check")
    return run_id, warehouse.rows(failed.select("model", "check", "failing_rows", "message"))


def builds(warehouse: Warehouse, model: str, last: int) -> list[dict[str, Any]]:
    """A model's `last` successful builds, newest first: run, start, rows in, out and
    quarantined."""
    if not warehouse.exists("model_runs", SCHEMA):
        return []
    runs = table(warehouse, "model_runs")
    built = runs.filter(runs.model == model, runs.status == "success")
    columns = ("run_id", "started_at", "rows_in", "rows_out", "rows_quarantined")
    return warehouse.rows(built.select(*columns).order_by(ibis.desc("run_id")).limit(last))


def latest_loads(warehouse: Warehouse, models: Sequence[str]) -> dict[str, datetime]:
    """When each of the bronze `models` last landed a batch (those that ever did)."""
    if not warehouse.exists("batches", SCHEMA) or not models:
        return {}
    batches = table(warehouse, "batches")
    mine = batches.filter(batches.model.isin(list(models)))
    latest = mine.group_by("model").aggregate(loaded_at=mine.loaded_at.max())
    return {row["model"]: row["loaded_at"] for row in warehouse.rows(latest)}


def stream_lags(warehouse: Warehouse) -> dict[str, int]:
    """Each stream model's lag as of its latest batch, summed over its partitions."""
    if not warehouse.exists("stream_offsets", SCHEMA):
        return {}
    offsets = table(warehouse, "stream_offsets")
    lags = offsets.group_by("model").aggregate(lag=offsets.lag.sum())
    return {row["model"]: int(row["lag"] or 0) for row in warehouse.rows(lags)}
