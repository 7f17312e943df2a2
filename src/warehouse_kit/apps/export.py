"""`wk export` and `wk show`: a table of the warehouse, as a file or on screen.

Rows stream from the engine as Arrow batches, so a table larger than memory exports, and
types survive the trip (an integer column with NULLs stays integer; pandas would make it
float). Personal columns are masked unless asked otherwise (`analytics.privacy`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from warehouse_kit.analytics.privacy import readable
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.catalog import load_catalog
from warehouse_kit.core.errors import WarehouseKitError, did_you_mean
from warehouse_kit.core.project import Project

FORMATS = ("csv", "parquet", "json")
BATCH_ROWS = 100_000


@dataclass(frozen=True)
class Exported:
    path: Path
    rows: int
    masked: tuple[str, ...]
    """The personal columns written masked (none when unmasked)."""


def export_table(
    project: Project | str | Path,
    table: str,
    out: Path,
    *,
    file_format: str | None = None,
    unmask: bool = False,
    limit: int | None = None,
    target: str | None = None,
) -> Exported:
    """Write `table` (``schema.name``, or a name one schema has) to `out` as CSV, Parquet
    or JSON lines (default: from the file's suffix)."""
    project = Project.of(project)
    chosen = _format(out, file_format)
    if not out.parent.is_dir():
        raise WarehouseKitError(f"cannot write {out}: there is no folder {out.parent}")
    with _open(project, target, unmask) as warehouse:
        schema, name = resolve_table(project, warehouse, table)
        command = f"wk export {table}"
        expr, found = readable(warehouse, schema, name, unmask=unmask, command=command)
        if limit is not None:
            expr = expr.limit(limit)
        personal = () if unmask else tuple(sorted(found))
        reader = warehouse.con.to_pyarrow_batches(expr, chunk_size=BATCH_ROWS)
        partial = out.with_name(f".{out.name}.partial")
        try:
            rows = _WRITERS[chosen](reader, partial)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(out)  # a reader never sees half a file
    return Exported(out, rows, personal)


def show_table(
    project: Project | str | Path,
    table: str,
    *,
    limit: int = 10,
    unmask: bool = False,
    target: str | None = None,
) -> pa.Table:
    """The first `limit` rows of `table`, personal columns masked unless `unmask`."""
    project = Project.of(project)
    with _open(project, target, unmask) as warehouse:
        schema, name = resolve_table(project, warehouse, table)
        expr, _ = readable(warehouse, schema, name, unmask=unmask, command=f"wk show {table}")
        return warehouse.con.to_pyarrow(expr.limit(limit))


def resolve_table(project: Project, warehouse: Warehouse, table: str) -> tuple[str, str]:
    """(schema, name) of `table`: ``schema.name``, or a name that one schema has."""
    catalog = load_catalog(project)
    schemas = sorted({catalog.schema_of(node) for node in catalog.graph.models})
    names = [f"{schema}.{name}" for schema in schemas for name in warehouse.tables(schema)]
    if table in names:
        schema, _, name = table.partition(".")
        return schema, name
    matches = [n for n in names if n.partition(".")[2] == table]
    if len(matches) == 1:
        schema, _, name = matches[0].partition(".")
        return schema, name
    if matches:
        raise WarehouseKitError(
            f"{table!r} is in several schemas: say which ({', '.join(matches)})"
        )
    raise WarehouseKitError(f"no table {table!r} in the warehouse{did_you_mean(table, names)}")


@contextmanager
def _open(project: Project, target: str | None, unmask: bool) -> Iterator[Warehouse]:
    if not unmask:
        with project.reading(target) as warehouse:
            yield warehouse
        return
    warehouse = project.connect(target, wait_s=10.0)  # it records the unmasked read
    try:
        yield warehouse
    finally:
        warehouse.close()


def _format(out: Path, given: str | None) -> str:
    chosen = (given or out.suffix.lstrip(".")).lower()
    if chosen == "jsonl":
        chosen = "json"
    if given is not None and chosen not in FORMATS:
        raise WarehouseKitError(
            f"unknown format {given!r}{did_you_mean(chosen, FORMATS) or ';'} "
            f"formats: {', '.join(FORMATS)}"
        )
    if chosen not in FORMATS:
        raise WarehouseKitError(
            f"cannot tell the format of {out.name}: give --format {' | '.join(FORMATS)} "
            "(or a file ending .csv, .parquet or .json)"
        )
    return chosen


def _csv(reader: pa.RecordBatchReader, path: Path) -> int:
    with pacsv.CSVWriter(path, reader.schema) as writer:
        return _write(reader, writer)


def _parquet(reader: pa.RecordBatchReader, path: Path) -> int:
    with pq.ParquetWriter(path, reader.schema, compression="zstd") as writer:
        return _write(reader, writer)


def _write(reader: pa.RecordBatchReader, writer: pacsv.CSVWriter | pq.ParquetWriter) -> int:
    rows = 0
    for batch in reader:
        writer.write_batch(batch)
        rows += batch.num_rows
    return rows


def _json(reader: pa.RecordBatchReader, path: Path) -> int:
    rows = 0
    with path.open("w", encoding="utf-8") as handle:
        for batch in reader:
            _json_lines(batch.to_pylist(), handle)
            rows += batch.num_rows
    return rows


def _json_lines(records: list[dict[str, Any]], handle: IO[str]) -> None:
    for record in records:
        handle.write(json.dumps(record, default=_plain, ensure_ascii=False) + "\n")


def _plain(value: Any) -> Any:
    """JSON for what `json` cannot write: ISO dates and times, exact decimals as text."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot write a {type(value).__name__} as JSON")


_WRITERS = {"csv": _csv, "parquet": _parquet, "json": _json}
