"""Sources: where bronze data comes from.

`read` turns one table of a source spec into a `Batch`: an Ibis expression
over the source's rows, and a fingerprint that is the same for the same data
(so a batch already loaded is not loaded again), or, for a stream, the
messages past its stored offsets.
"""

from __future__ import annotations

from pathlib import Path

from warehouse_kit.core import state
from warehouse_kit.core.models import Batch, BuildContext
from warehouse_kit.core.sources.databases import read_database
from warehouse_kit.core.sources.files import read_files
from warehouse_kit.core.sources.kafka import read_kafka
from warehouse_kit.core.spec import (
    DatabaseTable,
    FilesSource,
    FileTable,
    KafkaSource,
    Source,
    SourceTable,
)


def read(source: Source, table: SourceTable, context: BuildContext, root: Path) -> Batch:
    """Read one table of a source, for the bronze model `context` builds."""
    wh, model = context.warehouse, context.model
    if isinstance(source, FilesSource):
        assert isinstance(table, FileTable)
        loaded = set() if context.full_refresh else state.loaded_files(wh, model.id)
        return read_files(source, table, wh, root, loaded)
    if isinstance(source, KafkaSource):
        assert not isinstance(table, FileTable | DatabaseTable)
        landed = wh.table(model.name, context.schema).schema() if _landed(context) else None
        return read_kafka(
            source, table, wh, model.id, landed=landed, full_refresh=context.full_refresh
        )
    assert isinstance(table, DatabaseTable)
    return read_database(source, table, root)


def _landed(context: BuildContext) -> bool:
    return bool(context.schema) and context.warehouse.exists(context.model.name, context.schema)


__all__ = ["read"]
