"""Sources: where bronze data comes from.

`read` turns one table of a source spec into a `Batch`: an Ibis expression
over the source's rows, and a fingerprint that is the same for the same data
(so a batch already loaded is not loaded again).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from pathlib import Path

from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.models import Batch
from warehouse_kit.core.sources.databases import read_database
from warehouse_kit.core.sources.files import read_files
from warehouse_kit.core.spec import DatabaseTable, FilesSource, FileTable, Source


def read(
    source: Source,
    table: FileTable | DatabaseTable,
    warehouse: Warehouse,
    root: Path,
    loaded: AbstractSet[str] = frozenset(),
) -> Batch:
    """Read one table of a source; `loaded` are the fingerprints of files already loaded."""
    if isinstance(source, FilesSource):
        assert isinstance(table, FileTable)
        return read_files(source, table, warehouse, root, loaded)
    assert isinstance(table, DatabaseTable)
    return read_database(source, table, root)


__all__ = ["read"]
