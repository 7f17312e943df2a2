"""Retries of a model's write after a transient fault, and which faults are transient.

A source or a model may say ``retries: {attempts: 3, backoff: 2s}`` (a pipeline gives
the default of its own): the executor then writes it again, up to `attempts` times in
all, when an attempt failed on a fault that a new attempt may not meet: the connection
lost, a lock not granted in time, a deadlock, a broker unreachable. An error in the SQL
or in the data fails the model at once, since writing it again would fail the same way.
The wait before attempt ``n + 1`` is ``backoff * 2 ** (n - 1)``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import timedelta

from pydantic import Field

from warehouse_kit.core.config import Duration, Spec
from warehouse_kit.core.errors import TransientError


class Retries(Spec):
    """How often a model's write is tried after a transient fault, and how long it waits."""

    attempts: int = Field(default=3, ge=1, le=20)
    """Attempts in all, the first included (1: never retried)."""
    backoff: Duration = timedelta(seconds=2)
    """The wait before the second attempt; it doubles before each one after that."""

    def wait_before(self, attempt: int) -> float:
        """Seconds to wait before `attempt` (2 or more)."""
        return self.backoff.total_seconds() * 2 ** max(attempt - 2, 0)


NO_RETRIES = Retries(attempts=1)

TRANSIENT_SQLSTATES = frozenset(
    {
        "57P01",  # admin_shutdown: the session was terminated (pg_terminate_backend)
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now: the server is starting
        "40P01",  # deadlock_detected: one side is rolled back, a new attempt goes through
        "40001",  # serialization_failure
        "55P03",  # lock_not_available: lock_timeout or NOWAIT
    }
)
"""PostgreSQL SQLSTATEs worth another attempt; with them the whole class ``08``
(connection exceptions). Every other SQLSTATE is an error of the statement or the data."""

_DUCKDB_LOCK = "Could not set lock on file"
_KAFKA_TRANSPORT = frozenset({"_TRANSPORT", "_ALL_BROKERS_DOWN", "_TIMED_OUT", "_RESOLVE"})


def is_transient(exc: BaseException) -> bool:
    """Whether `exc`, or an error it was raised from, is a fault another attempt may not
    meet (see the module's description)."""
    return any(_transient_itself(error) for error in _chain(exc))


def connection_lost(exc: BaseException) -> bool:
    """Whether `exc` says the warehouse connection is gone (the executor opens it again)."""
    for error in _chain(exc):
        sqlstate = _sqlstate(error)
        if sqlstate is not None and (sqlstate.startswith("08") or sqlstate.startswith("57P")):
            return True
        if _is_psycopg(error, "OperationalError") and sqlstate is None:
            return True  # the client saw the socket close: no server said why
    return False


def _transient_itself(error: BaseException) -> bool:
    if isinstance(error, TransientError):
        return True
    sqlstate = _sqlstate(error)
    if sqlstate is not None:
        return sqlstate.startswith("08") or sqlstate in TRANSIENT_SQLSTATES
    if _is_psycopg(error, "OperationalError"):
        return True  # no SQLSTATE: the connection broke on the client's side
    if _is_duckdb(error, "IOException") and _DUCKDB_LOCK in str(error):
        return True
    return _kafka_transport(error)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and the errors it was raised from or while handling, each once."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _sqlstate(error: BaseException) -> str | None:
    if not _is_psycopg(error, "Error"):
        return None
    sqlstate = getattr(error, "sqlstate", None)
    return sqlstate if isinstance(sqlstate, str) else None


def _is_psycopg(error: BaseException, name: str) -> bool:
    psycopg = sys.modules.get("psycopg")  # not imported: no PostgreSQL error can be here
    return psycopg is not None and isinstance(error, getattr(psycopg, name))


def _is_duckdb(error: BaseException, name: str) -> bool:
    duckdb = sys.modules.get("duckdb")
    return duckdb is not None and isinstance(error, getattr(duckdb, name))


def _kafka_transport(error: BaseException) -> bool:
    kafka = sys.modules.get("confluent_kafka")  # the kafka extra: imported by a kafka source
    if kafka is None or not isinstance(error, kafka.KafkaException) or not error.args:
        return False
    code = error.args[0]
    name = code.name() if isinstance(code, kafka.KafkaError) else ""
    retriable = isinstance(code, kafka.KafkaError) and code.retriable()
    return retriable or name in _KAFKA_TRANSPORT
