"""CSV, Parquet and JSON files: one table per file, folder or glob.

CSV columns are read as text: bronze keeps data as it arrived, so a value
that would not parse (a date like ``2024-02-30``) is kept for silver to judge
instead of failing the load or vanishing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

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


def read_files(source: FilesSource, table: FileTable, warehouse: Warehouse, root: Path) -> Batch:
    pattern = table.path or source.pattern.format(table=table.name)
    base = root / source.path
    files = find_files(base, pattern)
    where = f"source {source.name}, table {table.name}"
    shown = _display(base / pattern, root)
    if not files:
        raise SourceError(f"{where}: no file matches {shown}")
    fmt = table.format or source.format or _format_of(files, where)
    reader = warehouse.file_reader()
    names = [str(path) for path in files]
    try:
        if fmt == "csv":
            expr = reader.read_csv(names, all_varchar=True, header=True)
        elif fmt == "parquet":
            expr = reader.read_parquet(names)
        else:
            expr = reader.read_json(names)
    except Exception as exc:  # the engine says what is wrong with the file
        raise SourceError(f"{where}: cannot read {shown} as {fmt}: {first_line(exc)}") from exc
    return Batch(expr, fingerprint(files, root), f"{source.name}: {shown}")


def find_files(base: Path, pattern: str) -> list[Path]:
    """Files matching a path, folder or glob under `base`, in a stable order."""
    target = base / pattern
    if target.is_dir():
        return sorted(p for p in target.iterdir() if p.is_file() and p.suffix.lower() in FORMATS)
    if target.is_file():
        return [target]
    return sorted(p for p in base.glob(pattern) if p.is_file())


def fingerprint(files: list[Path], root: Path) -> str:
    """A digest of the files' names and contents: the same data, the same batch id."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(_display(path, root).encode())
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
