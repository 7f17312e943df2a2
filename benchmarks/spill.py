"""How much disk DuckDB's spill files take, watched while a round runs.

Under a ``memory_limit``, DuckDB writes what does not fit to temporary files in
``<database>.tmp`` (next to a warehouse file) and deletes them when they are no
longer needed, so only sampling during the round sees how much disk spilling took.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType


def spill_folder(database: Path) -> Path:
    """Where DuckDB spills for a database file, unless ``temp_directory`` says otherwise."""
    return database.with_name(database.name + ".tmp")


def disk_mb(folder: Path) -> float:
    """The disk the folder's files take now (blocks allocated, as `du` counts)."""
    used = 0
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0.0
    for entry in entries:
        try:
            used += entry.stat().st_blocks * 512
        except FileNotFoundError:  # deleted since the listing
            continue
    return used / 2**20


class SpillWatch:
    """The most disk `folder`'s files took at once while the block ran (`peak_mb`)."""

    def __init__(self, folder: Path, every_s: float = 0.2):
        self.folder, self.every_s, self.peak_mb = folder, every_s, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> SpillWatch:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(self.every_s):
            self.peak_mb = max(self.peak_mb, disk_mb(self.folder))
