"""CSV, Parquet and JSON files: one table per file, folder or glob.

CSV columns are read as text: bronze keeps data as it arrived, so a value
that would not parse (a date like ``2024-02-30``) is kept for silver to judge
instead of failing the load or vanishing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Set as AbstractSet
from pathlib import Path

import ibis.expr.types as ir

from warehouse_kit.backends import Warehouse
from warehouse_kit.errors import SourceError, first_line
from warehouse_kit.models import Batch
from warehouse_kit.spec import FilesSource, FileTable

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
    # With nothing new, the files are still read for their columns, which plans need.
    expr = _read(warehouse, pending or files, fmt, f"{where}: cannot read {shown} as {fmt}")
    return Batch(expr, f"{source.name}: {shown}", tuple(prints[path] for path in pending))


def _read(warehouse: Warehouse, files: list[Path], fmt: str, failure: str) -> ir.Table:
    reader = warehouse.file_reader()
    names = [str(path) for path in files]
    try:
        if fmt == "csv":
            return reader.read_csv(names, all_varchar=True, header=True, union_by_name=True)
        if fmt == "parquet":
            return reader.read_parquet(names, union_by_name=True)
        return reader.read_json(names, union_by_name=True)
    except Exception as exc:  # the engine says what is wrong with the file
        raise SourceError(f"{failure}: {first_line(exc)}") from exc


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
