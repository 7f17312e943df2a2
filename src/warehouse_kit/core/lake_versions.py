"""A lake table's folder: its complete versions, the pointer to the current one, a lock.

::

    lake/fact_orders/
      current -> v000007        the pointer readers follow (a relative symlink)
      v000006/                  a complete version: its manifest and its Parquet files
        _manifest.json
        order_month=202401/part-0.parquet
      v000007/
      .v000008.writing/         a publish under way (or killed): never read
      .lock                     held by the one process publishing the table

A publish writes into a hidden ``.vNNNNNN.writing`` folder, adds the manifest, syncs it
all to disk, renames the folder to ``vNNNNNN`` (so a version folder is always complete),
then points ``current`` at it by renaming a new symlink over the old one. A rename is
atomic on POSIX file systems: a reader that opens ``current`` finds the previous version
or the new one, never part of one, and a publish killed at any moment leaves ``current``
on a complete version. The next publish, under the lock, deletes what a killed one left.
Old versions are renamed out of sight before they are deleted, so a reader never sees a
version half deleted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warehouse_kit.core.errors import TransientError

MANIFEST = "_manifest.json"
"""In each version folder; Spark and pandas skip files whose names start with ``_``."""
CURRENT = "current"
LOCK = ".lock"
_VERSION = re.compile(r"^v(\d{6,})$")
_LEFTOVER = re.compile(r"^\.(v\d{6,}\.(writing|deleting)|current\.\d+)$")


class LakeBusy(TransientError):
    """Another process is publishing the same lake table."""


@dataclass(frozen=True)
class Version:
    """A complete version of a lake table."""

    number: int
    path: Path
    manifest: dict[str, Any]
    current: bool = False

    @property
    def name(self) -> str:
        return version_name(self.number)


def version_name(number: int) -> str:
    return f"v{number:06d}"


def versions(folder: Path) -> list[Version]:
    """The table's complete versions, oldest first."""
    if not folder.is_dir():
        return []
    pointed = _pointed(folder)
    found = []
    for entry in folder.iterdir():
        match = _VERSION.match(entry.name)
        if match and (entry / MANIFEST).is_file():
            manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
            found.append(Version(int(match[1]), entry, manifest, entry.name == pointed))
    return sorted(found, key=lambda version: version.number)


def current(folder: Path) -> Version | None:
    """The version ``current`` points to (None before the first publish)."""
    return next((version for version in versions(folder) if version.current), None)


def _pointed(folder: Path) -> str | None:
    link = folder / CURRENT
    return os.readlink(link) if link.is_symlink() else None


@contextmanager
def locked(folder: Path, wait_s: float) -> Iterator[None]:
    """Hold the table for one publish; while another process does, wait up to `wait_s`
    seconds, then raise `LakeBusy`. The lock goes with the process, however it ends."""
    import fcntl  # POSIX, as the pointer's atomic rename is: imported here, not by every run

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK, "a+", encoding="utf-8") as handle:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "?"
                    raise LakeBusy(
                        f"{folder}: process {holder} is publishing this table and did not "
                        f"finish within {wait_s:g} s; try again once it has"
                    ) from None
                time.sleep(0.1)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def begin(folder: Path) -> tuple[int, Path]:
    """The next version's number and its empty staging folder. Under the lock only: it
    deletes what killed publishes left."""
    for entry in folder.iterdir():
        if _LEFTOVER.match(entry.name):
            _delete(entry)
    numbers = [int(m[1]) for e in folder.iterdir() if (m := _VERSION.match(e.name))]
    number = max(numbers, default=0) + 1
    staging = folder / f".{version_name(number)}.writing"
    staging.mkdir()
    return number, staging


def commit(folder: Path, number: int, staging: Path, manifest: dict[str, Any]) -> Version:
    """Make the staged version complete and current: the manifest, every file synced to
    disk, the rename to its name, then the pointer."""
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str), "utf-8")
    _sync_tree(staging)
    final = folder / version_name(number)
    os.rename(staging, final)
    link = folder / f".{CURRENT}.{number}"
    os.symlink(final.name, link)  # relative: the lake can move as a whole
    _sync(folder)
    os.replace(link, folder / CURRENT)
    _sync(folder)
    return Version(number, final, manifest, current=True)


def abandon(staging: Path) -> None:
    """Delete a staged version that failed (not one killed: `begin` deletes those)."""
    _delete(staging)


def prune(folder: Path, keep: int) -> list[int]:
    """Delete all but the newest `keep` versions, never the current one; their numbers."""
    old = [version for version in versions(folder)[:-keep] if not version.current]
    for version in old:
        hidden = folder / f".{version.name}.deleting"
        os.rename(version.path, hidden)  # gone at once for readers, then deleted
        _delete(hidden)
    return [version.number for version in old]


def _delete(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


def _sync_tree(root: Path) -> None:
    """Everything under `root` on disk, so that a crash of the machine (not only of the
    process) cannot leave a complete-looking version with missing data."""
    for folder, _, files in os.walk(root):
        for name in files:
            _sync(Path(folder) / name)
        _sync(Path(folder))


def _sync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
