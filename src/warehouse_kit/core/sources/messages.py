"""Stream messages as rows: JSON objects flattened into typed columns.

A message that cannot land (not JSON, not an object, a field that does not fit
its column's type, a field named like a metadata column) is a dead letter: kept
whole, with why, and never stops the stream. A field's type is the declared one,
else the type its bronze column already has, else what its values are (a nested
object or list lands as JSON text).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import ibis
import pyarrow as pa

from warehouse_kit.core.spec import KafkaTopic
from warehouse_kit.core.transforms import LOAD_METADATA

METADATA = pa.schema(
    {
        "_topic": pa.string(),
        "_partition": pa.int32(),
        "_offset": pa.int64(),
        "_timestamp": pa.timestamp("us"),
        "_key": pa.string(),
        "_headers": pa.string(),
    }
)
RESERVED = frozenset([*METADATA.names, *LOAD_METADATA])
_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)


@dataclass
class Polled:
    """Consumed messages of one topic, column by column (a Python object per message
    costs more than parsing it)."""

    topic: str
    partitions: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    millis: list[int | None] = field(default_factory=list)
    keys: list[bytes | None] = field(default_factory=list)
    values: list[bytes | None] = field(default_factory=list)
    headers: list[Any] = field(default_factory=list)

    def add(self, raw: Sequence[Any]) -> None:
        """Append confluent-kafka messages (without errors)."""
        self.partitions += [m.partition() for m in raw]
        self.offsets += [m.offset() for m in raw]
        stamps = [m.timestamp() for m in raw]  # (kind, ms); kind 0: no timestamp
        self.millis += [ms if kind else None for kind, ms in stamps]
        self.keys += [m.key() for m in raw]
        self.values += [m.value() for m in raw]
        self.headers += [m.headers() for m in raw]

    def __len__(self) -> int:
        return len(self.values)

    def next_offsets(self) -> dict[int, int]:
        """One past the last offset read from each partition."""
        found: dict[int, int] = {}
        for partition, offset in zip(self.partitions, self.offsets, strict=True):
            found[partition] = max(found.get(partition, 0), offset + 1)
        return found

    def metadata(self, rows: list[int]) -> dict[str, pa.Array]:
        """The metadata columns of the messages at `rows`."""
        at = pa.array(rows, pa.int64())
        stamps = pa.array(self.millis, pa.int64()).cast(pa.timestamp("ms"))
        columns = {
            "_topic": pa.array([self.topic] * len(rows), pa.string()),
            "_partition": pa.array(self.partitions, pa.int32()).take(at),
            "_offset": pa.array(self.offsets, pa.int64()).take(at),
            "_timestamp": stamps.take(at).cast(pa.timestamp("us")),
            "_key": pa.array([_text(self.keys[i]) for i in rows], pa.string()),
            "_headers": pa.array([_headers(self.headers[i]) for i in rows], pa.string()),
        }
        return {name: columns[name] for name in METADATA.names}


@dataclass(frozen=True)
class DeadLetter:
    polled: Polled
    index: int
    error: str

    def row(self, model: str, run_id: str) -> dict[str, Any]:
        m, i = self.polled, self.index
        raw = m.values[i]
        millis = m.millis[i]
        return {
            "model": model,
            "topic": m.topic,
            "partition": m.partitions[i],
            "offset": m.offsets[i],
            "timestamp": None if millis is None else _moment(millis),
            "key": _text(m.keys[i]),
            "value": None if raw is None else _utf8(raw),
            "value_base64": None if raw is None else base64.b64encode(raw).decode("ascii"),
            "error": self.error,
            "run_id": run_id,
        }


def land(
    polled: Polled, topic: KafkaTopic, landed: ibis.Schema | None
) -> tuple[pa.Table, list[DeadLetter]]:
    """The rows of the messages that fit (their fields, then the metadata columns), and
    the dead letters of those that do not."""
    bad: dict[int, str] = {}
    objects, rows = [], []
    for index, raw in enumerate(polled.values):
        parsed, problem = _object(raw)
        if problem is None:
            objects.append(parsed)
            rows.append(index)
        else:
            bad[index] = problem
    types = _types(objects, topic, landed)
    for name in sorted(RESERVED & types.keys()):
        for index, fields in zip(rows, objects, strict=True):
            if name in fields:
                bad.setdefault(index, f"field {name!r} has the name of a metadata column")
        del types[name]
    columns: dict[str, pa.Array] = {}
    for name, wanted in types.items():
        array, problems = _column([fields.get(name) for fields in objects], wanted)
        columns[name] = array
        for at, why in problems.items():
            bad.setdefault(rows[at], f"field {name!r}: {why}")
    if any(index in bad for index in rows):
        keep = pa.array([index not in bad for index in rows])
        columns = {name: array.filter(keep) for name, array in columns.items()}
        rows = [index for index in rows if index not in bad]
    dead = [DeadLetter(polled, index, why) for index, why in sorted(bad.items())]
    return pa.table({**columns, **polled.metadata(rows)}), dead


def _object(value: bytes | None) -> tuple[dict[str, Any], str | None]:
    if value is None:
        return {}, "no value (a tombstone)"
    try:
        parsed = json.loads(value)
    except ValueError as exc:  # UnicodeDecodeError included
        return {}, f"not JSON: {exc}"
    if type(parsed) is not dict:
        return {}, f"not a JSON object but a {type(parsed).__name__}"
    return parsed, None


def _types(
    objects: list[dict[str, Any]], topic: KafkaTopic, landed: ibis.Schema | None
) -> dict[str, pa.DataType | None]:
    """Each field to land and its type (None: from its values)."""
    if topic.columns:
        return {name: ibis.dtype(kind).to_pyarrow() for name, kind in topic.columns.items()}
    known = {} if landed is None else {n: t.to_pyarrow() for n, t in landed.items()}
    fields = dict.fromkeys(name for value in objects for name in value)
    return {name: known.get(name) for name in fields}


def _plain(values: list[Any]) -> list[Any]:
    """Nested objects and lists, as JSON text."""
    return [
        json.dumps(v, separators=(",", ":"), ensure_ascii=False)
        if isinstance(v, dict | list)
        else v
        for v in values
    ]


def _column(values: list[Any], wanted: pa.DataType | None) -> tuple[pa.Array, dict[int, str]]:
    """The values as one typed array, with the index of each that does not fit, and why."""
    try:
        array = pa.array(values)
        if pa.types.is_nested(array.type):
            values = _plain(values)
            array = pa.array(values)
        if wanted is None:
            return (array.cast(pa.string()) if pa.types.is_null(array.type) else array), {}
        return _cast(array, wanted), {}
    except _CAST_ERRORS:
        pass
    values = _plain(values)
    target = wanted or _type_of(values)
    problems, fitting = {}, []
    for index, value in enumerate(values):
        try:
            fitting.append(_cast(pa.array([value]), target))
        except _CAST_ERRORS:
            problems[index] = f"{_short(value)} is not {target}"
            fitting.append(pa.nulls(1, target))
    return pa.concat_arrays(fitting) if fitting else pa.array([], target), problems


def _cast(array: pa.Array, target: pa.DataType) -> pa.Array:
    if array.type == target:
        return array
    if pa.types.is_timestamp(target) and pa.types.is_string(array.type):
        try:
            return array.cast(target)
        except _CAST_ERRORS:  # "...Z" or "+02:00": an instant, kept in UTC
            return array.cast(pa.timestamp(target.unit, tz="UTC")).cast(target)
    return array.cast(target)


def _type_of(values: list[Any]) -> pa.DataType:
    """The type of the first value given, when the values have no one type."""
    first = next((value for value in values if value is not None), None)
    return pa.string() if first is None else pa.array([first]).type


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _text(raw: bytes | None) -> str | None:
    """Bytes as text: UTF-8, with any other byte written as an escape."""
    return None if raw is None else raw.decode("utf-8", errors="backslashreplace")


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _moment(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC).replace(tzinfo=None)


def _headers(headers: list[tuple[str, bytes | None]] | None) -> str | None:
    if not headers:
        return None
    return json.dumps({name: _text(value) for name, value in headers}, ensure_ascii=False)
