"""A Spark warehouse on disk: Parquet folders, and one manifest that says which are current.

Spark writes Parquet but has no transaction across tables, and a Parquet table rewritten in
place is half old, half new while it is written. So no table is ever changed in place:

- each change of a table writes a new folder ``<warehouse>/<schema>/<table>/<generation>-<id>/``
  (an append hard-links the current files into it, then adds its own);
- ``_wk_manifest.json`` names the folder of every table (and the SQL of every view) at one
  generation; a transaction publishes all its tables at once by replacing that one file
  (`os.replace`, atomic on POSIX). A reader sees every table at one generation, never half a
  write; a killed writer leaves folders no manifest names, removed by the next commit.

The previous `KEEP` manifests, and those of the last `RETAIN_S` seconds, stay in
``_wk_manifests/`` with their folders, so a reader that opened an older generation a moment
ago can finish reading it (readers move to the newest generation at each table they open).
Writers take ``_wk.lock`` (an exclusive ``flock``) for a whole transaction; runs also hold
the run lock (`runlock`).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warehouse_kit.core.errors import WarehouseKitError

MANIFEST = "_wk_manifest.json"
HISTORY = "_wk_manifests"
LOCK = "_wk.lock"
SCRATCH = "_scratch"
KEEP = 3
"""Manifests kept (with their folders) besides the current one..."""
RETAIN_S = 600
"""...and those of the last ten minutes: a reader that opened one may still be reading."""
FORMAT = 1


@dataclass(frozen=True)
class Version:
    """One version of a table: its folder and its columns."""

    folder: str
    """Relative to the warehouse folder."""
    columns: str
    """Spark's DDL of the columns (`a` BIGINT, ...): the catalog needs no file to know them."""


@dataclass
class Manifest:
    """Every schema, table folder and view of a warehouse at one generation."""

    generation: int = 0
    schemas: list[str] = field(default_factory=list)
    tables: dict[str, dict[str, Version]] = field(default_factory=dict)
    """schema -> table -> its current version."""
    views: dict[str, dict[str, str]] = field(default_factory=dict)
    """schema -> view -> its query (Spark SQL)."""

    def copy(self) -> Manifest:
        return Manifest.from_json(self.to_json())

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "generation": self.generation,
            "schemas": sorted(self.schemas),
            "tables": {
                schema: {name: [v.folder, v.columns] for name, v in tables.items()}
                for schema, tables in self.tables.items()
            },
            "views": self.views,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        if data.get("format", FORMAT) > FORMAT:
            raise WarehouseKitError(
                "this Spark warehouse was written by a newer warehouse-kit: upgrade to use it"
            )
        return cls(
            generation=int(data["generation"]),
            schemas=list(data["schemas"]),
            tables={
                schema: {name: Version(*version) for name, version in tables.items()}
                for schema, tables in data["tables"].items()
            },
            views={schema: dict(views) for schema, views in data.get("views", {}).items()},
        )

    def folders(self) -> set[str]:
        return {v.folder for tables in self.tables.values() for v in tables.values()}


class Store:
    """The folder of one Spark warehouse: its manifest, table folders and locks."""

    def __init__(self, root: Path):
        self.root = root

    def read(self) -> Manifest:
        """The current manifest (an empty one for a new warehouse)."""
        path = self.root / MANIFEST
        if not path.exists():
            return Manifest()
        try:
            return Manifest.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            raise WarehouseKitError(
                f"{path} is damaged ({exc}): restore it from {self.root / HISTORY}"
            ) from exc

    def new_folder(self, schema: str, table: str, generation: int) -> Path:
        """A folder for a new version of a table, not yet named by any manifest."""
        return self.root / schema / table / f"{generation:08d}-{uuid.uuid4().hex[:12]}"

    def scratch(self) -> Path:
        """A folder for this process's temporary tables, removed with its process: the
        next process removes those of processes that are gone (this host's)."""
        scratch = self.root / SCRATCH
        scratch.mkdir(parents=True, exist_ok=True)
        for folder in scratch.glob(f"{socket.gethostname()}-*"):
            pid = folder.name.rsplit("-", 2)[-2]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)
        mine = scratch / f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        mine.mkdir()
        return mine

    def relative(self, folder: Path) -> str:
        return folder.relative_to(self.root).as_posix()

    def absolute(self, folder: str) -> Path:
        return self.root / folder

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the writers' lock (waits for another writer's transaction to end)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def commit(self, manifest: Manifest, base: int, written: set[str]) -> None:
        """Publish `manifest` as the next generation after `base`, atomically; then remove
        the folders no kept manifest names (`written` by this transaction but replaced
        again before it ended, and those of killed writers). The caller holds `locked`."""
        current = self.read()
        if current.generation != base:  # a writer that did not take the lock
            raise WarehouseKitError(
                f"{self.root}: another process changed the warehouse during this write "
                f"(generation {current.generation}, expected {base}); run again"
            )
        manifest.generation = base + 1
        text = json.dumps(manifest.to_json(), indent=1, sort_keys=True)
        history = self.root / HISTORY
        history.mkdir(parents=True, exist_ok=True)
        _write_whole(history / f"{manifest.generation:08d}.json", text)
        _write_whole(self.root / MANIFEST, text)
        self._collect(manifest, written)

    def discard(self, written: set[str]) -> None:
        """Remove the folders a transaction wrote before it was rolled back."""
        for folder in written:
            shutil.rmtree(self.absolute(folder), ignore_errors=True)

    def _collect(self, manifest: Manifest, written: set[str]) -> None:
        """Remove the manifests no reader needs any more (all but the last `KEEP`, and
        those of the last `RETAIN_S` seconds), then every table folder no remaining
        manifest names: versions replaced since, and leftovers of killed writers. The
        caller holds the writers' lock, so no folder is being written meanwhile."""
        history = sorted((self.root / HISTORY).glob("*.json"))
        recent = time.time() - RETAIN_S
        kept = manifest.folders()
        for position, path in enumerate(history):
            if position < len(history) - (KEEP + 1) and path.stat().st_mtime < recent:
                path.unlink(missing_ok=True)
                continue
            with suppress(OSError, ValueError, KeyError):
                kept |= Manifest.from_json(json.loads(path.read_text("utf-8"))).folders()
        for schema in {*manifest.schemas, *(folder.split("/")[0] for folder in written)}:
            for folder in (self.root / schema).glob("*/*"):
                if folder.is_dir() and self.relative(folder) not in kept:
                    shutil.rmtree(folder, ignore_errors=True)
                    with suppress(OSError):
                        folder.parent.rmdir()  # a table's folder once none of it is left


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def link_files(source: Path, destination: Path) -> list[Path]:
    """Hard-link (or copy, across file systems) the Parquet files of `source` into
    `destination`: an append's new version starts with the current rows, for free."""
    destination.mkdir(parents=True, exist_ok=True)
    linked = []
    for path in data_files(source):
        target = destination / path.name
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)
        linked.append(target)
    return linked


def data_files(folder: Path) -> list[Path]:
    """The Parquet files of a table folder (Spark skips names starting with _ or .)."""
    return sorted(p for p in folder.glob("*.parquet") if not p.name.startswith(("_", ".")))


def _write_whole(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)
