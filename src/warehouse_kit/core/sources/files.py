"""CSV, Parquet and JSON files: one table per file, folder or glob.

CSV columns are read as text: bronze keeps data as it arrived, so a value
that would not parse (a date like ``2024-02-30``) is kept for silver to judge
instead of failing the load or vanishing. A malformed CSV file is another
matter: it is named with its line (see `csv_reader`), not loaded.

Each row carries its file's fingerprint in ``_batch_id``, the id under which
`_wk.batches` records the file, so a bronze row leads back to its file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir
from ibis.backends.sql import SQLBackend

from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.errors import SourceError, first_line
from warehouse_kit.core.models import Batch
from warehouse_kit.core.sources import csv_reader
from warehouse_kit.core.spec import FilesSource, FileTable

FILE_COLUMN = "_wk_file"
"""Where the reader puts each row's file path, until it becomes `_batch_id`."""
FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".json": "json",
    ".ndjson": "json",
    ".jsonl": "json",
}


def read_files(
    source: FilesSource,
    table: FileTable,
    warehouse: Warehouse,
    root: Path,
    loaded: AbstractSet[str],
) -> Batch:
    """The files not loaded yet (append), or all of them unless unchanged (replace)."""
    pattern = table.path or source.pattern.format(table=table.name)
    base = root / source.path
    files = find_files(base, pattern)
    where = f"source {source.name}, table {table.name}"
    shown = _display(base / pattern, root)
    if not files:
        raise SourceError(f"{where}: no file matches {shown}")
    fmt = table.format or source.format or _format_of(files, where)
    prints = {path: fingerprint(path, root) for path in files}
    if source.load == "replace" and not table.incremental and not source.incremental:
        pending = [] if set(prints.values()) == set(loaded) else files
    else:
        pending = [path for path in files if prints[path] not in loaded]
    read = _Read(fmt, where, shown, {str(path): _display(path, root) for path in files})
    # With nothing new, the files are still read for their columns, which plans need.
    reading = pending or files
    expr = read.table(warehouse.file_reader(), reading, check=pending)
    expr = _with_batch_ids(expr, {str(path): prints[path] for path in reading})
    pending_prints = tuple(prints[path] for path in pending)
    return Batch(expr, f"{source.name}: {shown}", pending_prints, explain=read.explain)


@dataclass(frozen=True)
class _Read:
    """How one table's files are read, and how errors name them."""

    fmt: str
    where: str
    shown: str
    names: dict[str, str]
    """Each file's path, as errors show it (relative to the project)."""

    def table(self, reader: SQLBackend, files: list[Path], check: list[Path]) -> ir.Table:
        paths = [str(path) for path in files]
        try:
            if self.fmt == "csv":
                return csv_reader.read_csv(reader, files, self.names, check, FILE_COLUMN)
            if self.fmt == "parquet":
                return reader.read_parquet(paths, union_by_name=True, filename=FILE_COLUMN)
            return reader.read_json(paths, union_by_name=True, filename=FILE_COLUMN)
        except csv_reader.MalformedFile as exc:
            raise SourceError(f"{self.where}: {exc}") from exc
        except Exception as exc:  # the engine says what is wrong with the file
            failure = f"cannot read {self.shown} as {self.fmt}: {first_line(exc)}"
            raise SourceError(f"{self.where}: {failure}") from exc

    def explain(self, exc: Exception) -> SourceError | None:
        """A CSV row found malformed while loading, named like those found before."""
        problem = csv_reader.explain(exc, self.names) if self.fmt == "csv" else None
        return SourceError(f"{self.where}: {problem}") if problem else None


def _with_batch_ids(table: ir.Table, digests: dict[str, str]) -> ir.Table:
    """Each row's file, as the fingerprint it is recorded under (DuckDB gives the path
    as one value per chunk, so the CASE costs nothing measurable)."""
    path = table[FILE_COLUMN]
    batch_id = ibis.cases(*((path == name, digest) for name, digest in digests.items()))
    return table.mutate(_batch_id=batch_id).drop(FILE_COLUMN)


def find_files(base: Path, pattern: str) -> list[Path]:
    """Files matching a path, folder or glob under `base`, in a stable order."""
    target = base / pattern
    if target.is_dir():
        return sorted(p for p in target.iterdir() if p.is_file() and p.suffix.lower() in FORMATS)
    if target.is_file():
        return [target]
    return sorted(p for p in base.glob(pattern) if p.is_file())


def fingerprint(path: Path, root: Path) -> str:
    """A digest of a file's name and content: the same file, the same fingerprint."""
    digest = hashlib.sha256(_display(path, root).encode())
    with path.open("rb") as handle:
        digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()[:24]


def _format_of(files: list[Path], where: str) -> str:
    formats = {FORMATS.get(path.suffix.lower()) for path in files}
    if len(formats) != 1 or None in formats:
        suffixes = sorted({path.suffix or "(none)" for path in files})
        raise SourceError(
            f"{where}: cannot tell the format from the extensions {suffixes}; "
            "set format: csv, parquet or json"
        )
    return str(formats.pop())


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
