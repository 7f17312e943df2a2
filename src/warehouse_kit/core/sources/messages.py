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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    timestamp: datetime | None
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()

    @classmethod
    def of(cls, raw: Any) -> Message:
        """From a confluent-kafka message."""
        kind, millis = raw.timestamp()
        when = None
        if kind and millis >= 0:  # kind 0: the broker gave no timestamp
            when = datetime.fromtimestamp(millis / 1000, UTC).replace(tzinfo=None)
        headers = tuple(raw.headers() or ())
        return cls(
            raw.topic(), raw.partition(), raw.offset(), when, raw.key(), raw.value(), headers
        )


@dataclass(frozen=True)
class DeadLetter:
    message: Message
    error: str

    def row(self, model: str, run_id: str) -> dict[str, Any]:
        m = self.message
        raw = m.value or b""
        return {
            "model": model,
            "topic": m.topic,
            "partition": m.partition,
            "offset": m.offset,
            "timestamp": m.timestamp,
            "key": _text(m.key),
            "value": _utf8(raw),
            "value_base64": base64.b64encode(raw).decode("ascii") if m.value is not None else None,
            "error": self.error,
            "run_id": run_id,
        }


def land(
    messages: Sequence[Message], topic: KafkaTopic, landed: ibis.Schema | None
) -> tuple[pa.Table, list[DeadLetter]]:
    """The rows of the messages that fit (their fields, then the metadata columns), and
    the dead letters of those that do not."""
    dead: list[DeadLetter] = []
    objects: list[tuple[Message, dict[str, Any]]] = []
    for message in messages:
        value, problem = _object(message.value)
        if problem is None:
            objects.append((message, value))
        else:
            dead.append(DeadLetter(message, problem))
    columns: dict[str, pa.Array] = {}
    bad: dict[int, str] = {}
    for field, wanted in _types(objects, topic, landed).items():
        array, problems = _column([_plain(value.get(field)) for _, value in objects], wanted)
        columns[field] = array
        for index, why in problems.items():
            bad.setdefault(index, f"field {field!r}: {why}")
    if bad:
        dead += [DeadLetter(objects[index][0], why) for index, why in sorted(bad.items())]
        keep = pa.array([index not in bad for index in range(len(objects))])
        columns = {name: array.filter(keep) for name, array in columns.items()}
        objects = [pair for index, pair in enumerate(objects) if index not in bad]
    return pa.table({**columns, **_metadata([m for m, _ in objects])}), dead


def _object(value: bytes | None) -> tuple[dict[str, Any], str | None]:
    if value is None:
        return {}, "no value (a tombstone)"
    try:
        parsed = json.loads(value)
    except (ValueError, UnicodeDecodeError) as exc:
        return {}, f"not JSON: {exc}"
    if not isinstance(parsed, dict):
        return {}, f"not a JSON object but a {type(parsed).__name__}"
    reserved = sorted(RESERVED & parsed.keys())
    if reserved:
        return {}, f"field {reserved[0]!r} has the name of a metadata column"
    return parsed, None


def _types(
    objects: list[tuple[Message, dict[str, Any]]], topic: KafkaTopic, landed: ibis.Schema | None
) -> dict[str, pa.DataType | None]:
    """Each field to land and its type (None: from its values)."""
    if topic.columns:
        return {name: ibis.dtype(kind).to_pyarrow() for name, kind in topic.columns.items()}
    known = {} if landed is None else {n: t.to_pyarrow() for n, t in landed.items()}
    fields = dict.fromkeys(name for _, value in objects for name in value)
    return {name: known.get(name) for name in fields}


def _plain(value: Any) -> Any:
    """A nested object or list, as JSON text."""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return value


def _column(values: list[Any], wanted: pa.DataType | None) -> tuple[pa.Array, dict[int, str]]:
    """The values as one typed array, with the index of each that does not fit, and why."""
    try:
        array = pa.array(values)
        if wanted is None:
            return (array.cast(pa.string()) if pa.types.is_null(array.type) else array), {}
        return _cast(array, wanted), {}
    except _CAST_ERRORS:
        pass
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


def _metadata(messages: list[Message]) -> dict[str, pa.Array]:
    columns = {
        "_topic": [m.topic for m in messages],
        "_partition": [m.partition for m in messages],
        "_offset": [m.offset for m in messages],
        "_timestamp": [m.timestamp for m in messages],
        "_key": [_text(m.key) for m in messages],
        "_headers": [_headers(m.headers) for m in messages],
    }
    return {name: pa.array(columns[name], METADATA.field(name).type) for name in METADATA.names}


def _text(raw: bytes | None) -> str | None:
    """Bytes as text: UTF-8, with any other byte written as an escape."""
    return None if raw is None else raw.decode("utf-8", errors="backslashreplace")


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _headers(headers: tuple[tuple[str, bytes | None], ...]) -> str | None:
    if not headers:
        return None
    return json.dumps({name: _text(value) for name, value in headers}, ensure_ascii=False)
