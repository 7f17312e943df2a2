"""One run at a time per target, enforced by the warehouse itself.

A run (and ``wk check``) holds its target from before it plans until it ends.
Another waits up to `wait_s` seconds, saying once which run holds the target,
then fails with one line (`WarehouseBusy`). The lock goes with the holder's
process however it ends, killed included; the next holder then marks the
dead run aborted (`state.start_run`) and completes its work.

- **DuckDB**: the lock is the file lock DuckDB takes: one writing process
  excludes every other, readers included, and `backends.connect` waits for it.
  A waiter cannot read ``_wk.runs`` in a file it cannot open, so the holder
  also says who it is in a note next to the file (``warehouse.duckdb.wk-run``:
  run id, start, host, pid), which names the holder only while DuckDB reports
  that very process as holding the file; a stale note is never believed.
- **PostgreSQL**: a session-level advisory lock on ``(NAMESPACE, RUN)``, held
  by a connection of its own for the whole run, whose ``application_name``
  says host and pid (``_wk.runs`` the run id and start). The server releases
  it when that session ends. Then a barrier: the run takes ``(NAMESPACE,
  WORK)`` exclusively and lets go, which waits until the working sessions of
  runs that ended are gone too (the server may still be running a killed
  run's last statement: it can never commit, but its locks would be in the
  way), and its own working connection holds ``WORK`` shared for the run. So
  a run whose lock connection alone dropped still keeps the next run out.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from warehouse_kit.core import state
from warehouse_kit.core.backends import (
    ENGINES,
    RUN_ADVICE,
    ConnectionFailed,
    Warehouse,
    WarehouseBusy,
    connect,
    duckdb_path,
    engine_of,
    redact,
)
from warehouse_kit.core.errors import first_line
from warehouse_kit.core.spark import warehouse_folder as spark_folder

if TYPE_CHECKING:  # imported where used: PostgreSQL is an extra
    import psycopg

DEFAULT_WAIT_S = 300.0
"""How long a run waits for the target by default: a few minutes, then it fails."""

NAMESPACE = int.from_bytes(hashlib.sha256(b"warehouse-kit").digest()[:4], "big") & 0x7FFFFFFF
"""The first key of warehouse-kit's advisory locks: fixed, so every version agrees on it."""
RUN, WORK = 1, 2
"""The second keys: the run lock, and the barrier its working connection holds shared."""

NOTE_SUFFIX = ".wk-run"
RUN_LOCK = "_wk.run.lock"
"""The run lock of a Spark warehouse, in its folder."""
_APP_PREFIX = "warehouse-kit "

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Holder:
    """The process holding a target, and its run once it is recorded."""

    host: str
    pid: int
    run_id: str | None = None
    started_at: datetime | None = None

    def __str__(self) -> str:
        where = f"host {self.host}, pid {self.pid}"
        if self.run_id is None:
            return f"a run starting ({where})"
        started = f"started {self.started_at:%Y-%m-%d %H:%M:%S} UTC, " if self.started_at else ""
        return f"run {self.run_id} ({started}{where})"


def me() -> Holder:
    """This process, as a holder."""
    return Holder(socket.gethostname(), os.getpid())


class Held:
    """A target this process holds, open in `warehouse`; `announce` the run it records."""

    def __init__(
        self,
        warehouse: Warehouse,
        note: Path | None = None,
        lock: psycopg.Connection[Any] | None = None,
    ):
        self.warehouse = warehouse
        self._note = note
        self._lock = lock  # PostgreSQL: the connection holding the advisory lock
        self._lock_file: IO[bytes] | None = None  # Spark: the open, locked lock file

    def announce(self, run_id: str, started_at: datetime) -> None:
        """Say which run holds the target to those waiting for a DuckDB file."""
        if self._note is not None:
            _write_note(self._note, replace(me(), run_id=run_id, started_at=started_at))

    def reconnect(self) -> None:
        """Open the working connection again after it was lost (a retry): on PostgreSQL it
        takes the barrier again, as `hold` did, while the lock connection kept the run."""
        self.warehouse.reconnect()
        if self._lock is not None:
            _work_under(self.warehouse)

    def release(self) -> None:
        if self._note is not None:  # while the file is still ours: no one else writes it
            self._note.unlink(missing_ok=True)
        self.warehouse.close()
        if self._lock is not None:
            self._lock.close()
        if self._lock_file is not None:
            self._lock_file.close()  # closing lets go of the flock


@contextmanager
def hold(
    url: str, *, base_dir: Path | None = None, wait_s: float = DEFAULT_WAIT_S
) -> Iterator[Held]:
    """Open the target at `url` holding it for the block, waiting up to `wait_s` seconds
    for another holder to let go (then `WarehouseBusy`)."""
    how = ENGINES[engine_of(url)].run_lock
    if how == "file":
        held = _hold_file(url, base_dir, wait_s)
    elif how == "folder":
        held = _hold_folder(url, base_dir, wait_s)
    else:
        held = _hold_advisory(url, wait_s)
    try:
        yield held
    finally:
        held.release()


def _hold_file(url: str, base_dir: Path | None, wait_s: float) -> Held:
    path = duckdb_path(url, base_dir)
    if path == ":memory:":  # no other process can see it
        return Held(connect(url, base_dir=base_dir))
    note = Path(path + NOTE_SUFFIX)
    named = partial(_read_note, note)
    warehouse = connect(url, base_dir=base_dir, wait_s=wait_s, name_holder=named)
    try:
        _write_note(note, me())
    except OSError:  # the note is a courtesy to waiters; the file lock is the lock
        log.debug("cannot write %s", note, exc_info=True)
        return Held(warehouse)
    return Held(warehouse, note)


def _hold_folder(url: str, base_dir: Path | None, wait_s: float) -> Held:
    """A Spark warehouse: an exclusive ``flock`` on a file in its folder, which the
    kernel releases when the process ends, however it ends."""
    folder = spark_folder(url, base_dir)
    lock_path = folder / RUN_LOCK
    note = Path(str(lock_path) + NOTE_SUFFIX)
    handle = open(lock_path, "a+b")  # noqa: SIM115 - held open until `release`
    try:
        _flock(handle, url, note, wait_s)
    except BaseException:
        handle.close()
        raise
    try:
        _write_note(note, me())  # before Spark starts (seconds): a waiter sees who it is
        warehouse = connect(url, base_dir=base_dir)
    except BaseException:
        note.unlink(missing_ok=True)  # ours: this process holds the lock
        handle.close()
        raise
    held = Held(warehouse, note)
    held._lock_file = handle
    return held


def _flock(handle: IO[bytes], url: str, note: Path, wait_s: float) -> None:
    deadline, pause, told = time.monotonic() + wait_s, 0.05, False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            named = _noted(note) or "another run"
            left = deadline - time.monotonic()
            if left <= 0:
                raise WarehouseBusy(redact(url), named, wait_s, RUN_ADVICE) from None
            if not told:
                log.warning("waiting up to %g s for %s: %s has it open", wait_s, redact(url), named)
                told = True
            time.sleep(min(pause, left))
            pause = min(pause * 2, 1.0)


def _noted(note: Path) -> str | None:
    """The holder a note names (any pid: only the holder of the flock writes it)."""
    try:
        found = json.loads(note.read_text(encoding="utf-8"))
        return _read_note(note, int(found["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read_note(note: Path, pid: int) -> str | None:
    """The holder the note names, if it is the process `pid` (as DuckDB reports it)."""
    try:
        found = json.loads(note.read_text(encoding="utf-8"))
        started = found["started_at"] and datetime.fromisoformat(found["started_at"])
        holder = Holder(found["host"], int(found["pid"]), found["run_id"], started or None)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(holder) if holder.pid == pid else None


def _write_note(note: Path, holder: Holder) -> None:
    """Write the note whole (a waiter never reads half of one)."""
    started = holder.started_at.isoformat() if holder.started_at else None
    data = {"host": holder.host, "pid": holder.pid, "run_id": holder.run_id, "started_at": started}
    partial_note = note.with_name(f"{note.name}.{os.getpid()}")
    partial_note.write_text(json.dumps(data), encoding="utf-8")
    partial_note.replace(note)


def _hold_advisory(url: str, wait_s: float) -> Held:
    warehouse = connect(url)
    try:
        lock = _lock_connection(url)
    except BaseException:
        warehouse.close()
        raise
    try:
        deadline = time.monotonic() + wait_s
        _take(lock, url, RUN, deadline, wait_s)
        _take(lock, url, WORK, deadline, wait_s)  # the barrier: dead runs' sessions are gone
        lock.execute("SELECT pg_advisory_unlock(%s, %s)", (NAMESPACE, WORK))
        _work_under(warehouse)
    except BaseException:
        lock.close()
        warehouse.close()
        raise
    return Held(warehouse, lock=lock)


def _lock_connection(url: str) -> psycopg.Connection[Any]:
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True, application_name=_app_name())
    except psycopg.Error as exc:
        raise ConnectionFailed(f"cannot open {redact(url)}: {first_line(exc)}") from exc


def _app_name() -> str:
    """Host and pid, for waiters to read in pg_stat_activity (at most 63 characters)."""
    holder = me()
    return f"{_APP_PREFIX}{holder.pid}@{holder.host}"[:63]


def _work_under(warehouse: Warehouse) -> None:
    """Hold the barrier shared on the working connection, and name it as the lock's."""
    import psycopg

    raw = warehouse.con.con
    raw.execute("SELECT pg_advisory_lock_shared(%s, %s)", (NAMESPACE, WORK))
    raw.execute("SELECT set_config('application_name', %s, false)", (_app_name(),))
    # End a statement whose client was killed within seconds, not when it completes
    # (PostgreSQL 14 and later; older servers keep their behaviour).
    with suppress(psycopg.Error):
        raw.execute("SET client_connection_check_interval = '2s'")


def _take(
    lock: psycopg.Connection[Any], url: str, key: int, deadline: float, wait_s: float
) -> None:
    """Take one advisory lock, polling until `deadline`; say who holds it while waiting."""
    pause, told = 0.05, None
    while not _try(lock, key):
        holder, left = _holder(lock, key), deadline - time.monotonic()
        named = str(holder) if holder else "another run"  # gone meanwhile, or an older version
        if left <= 0:
            raise WarehouseBusy(redact(url), named, wait_s, RUN_ADVICE)
        if told is None or (holder and (holder.host, holder.pid) != told):
            # Once, and again if another process takes over.
            log.warning("waiting up to %g s for %s: %s has it open", wait_s, redact(url), named)
            told = (holder.host, holder.pid) if holder else ("", 0)
        time.sleep(min(pause, left))  # one last try at the deadline
        pause = min(pause * 2, 1.0)


def _try(lock: psycopg.Connection[Any], key: int) -> bool:
    row = lock.execute("SELECT pg_try_advisory_lock(%s, %s)", (NAMESPACE, key)).fetchone()
    return bool(row and row[0])


_HOLDER = """
SELECT a.application_name FROM pg_locks AS l JOIN pg_stat_activity AS a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid()
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid = %s AND l.objid = %s AND l.objsubid = 2
LIMIT 1
"""


def _holder(lock: psycopg.Connection[Any], key: int) -> Holder | None:
    """The run holding `key`: host and pid from its session, run id from ``_wk.runs``."""
    import psycopg

    row = lock.execute(_HOLDER, (NAMESPACE, key)).fetchone()
    name = (row[0] or "") if row else ""
    pid, _, host = name.removeprefix(_APP_PREFIX).partition("@")
    if not (name.startswith(_APP_PREFIX) and pid.isdigit()):
        return None
    try:
        recorded = lock.execute(state.running_run_of(host, int(pid)).sql("postgres")).fetchone()
    except psycopg.Error:  # no history yet, or one from before hosts were recorded
        recorded = None
    return Holder(host, int(pid), *(recorded or ()))
