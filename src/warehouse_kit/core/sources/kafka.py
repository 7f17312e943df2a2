"""Kafka topics: one batch of JSON messages, read from the offsets the warehouse stores.

Exactly once: a batch starts at the offsets in ``_wk.stream_offsets`` (never the
consumer group's), and its rows, its dead letters and its next offsets commit in
the one transaction that lands it (`Batch.commit`). A run killed before that
commit landed nothing and moved no offset, so the next one reads the same
messages again. The group's offsets are committed after, for other tools' lag
monitoring only.

Partitions are assigned explicitly (no group membership: nothing to rebalance,
and no join delay); a partition without a stored offset starts where the source's
``start`` says, or at its first message once its topic has landed before (a
partition added later). A batch reads for at most ``wait``: it ends then, at
``max_messages``, or once polls find nothing for 0.4 s after the first messages.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import ibis
import pyarrow as pa

from warehouse_kit.core import state
from warehouse_kit.core.backends import Transaction, Warehouse, table_ref
from warehouse_kit.core.errors import SourceError, SourceUnavailable, first_line
from warehouse_kit.core.extras import MissingExtra
from warehouse_kit.core.models import Batch
from warehouse_kit.core.sources.messages import DeadLetter, Polled, land
from warehouse_kit.core.spec import KafkaSource, KafkaTopic

if TYPE_CHECKING:
    from confluent_kafka import Consumer

log = logging.getLogger(__name__)

POLL_S = 0.2
"""How long a poll waits for messages."""
QUIET_POLLS = 2
"""Empty polls in a row, once messages came, that end a batch: the topic is read."""
CHUNK = 10_000


def read_kafka(
    source: KafkaSource,
    topic: KafkaTopic,
    warehouse: Warehouse,
    model: str,
    *,
    landed: ibis.Schema | None,
    full_refresh: bool,
) -> Batch:
    """The messages of `topic` past the offsets `model` stored, as a batch to land."""
    where = f"source {source.name}, topic {topic.topic}"
    began = time.monotonic()
    KafkaException = _client(where).KafkaException
    stored = {} if full_refresh else state.stream_offsets(warehouse, model)
    consumer = _consumer(source, where)
    try:
        partitions = _partitions(consumer, source, topic.topic, where)
        try:
            _assign(consumer, source, topic.topic, partitions, stored)
        except KafkaException as exc:
            raise SourceUnavailable(f"{where}: {_said(exc)}") from exc
        polled = _consume(consumer, source, topic.topic, where)
        offsets = {**stored, **polled.next_offsets()}
        ends = _ends(consumer, topic.topic, offsets)
    finally:
        consumer.close()
    rows, dead = land(polled, topic, landed)
    lag = {p: max(ends.get(p, offset) - offset, 0) for p, offset in offsets.items()}
    seconds = time.monotonic() - began
    landing = _Landing(model, topic.topic, offsets, lag, dead, len(polled), seconds)
    return Batch(
        _registered(warehouse, rows),
        f"{source.name}: {topic.topic}",
        fingerprints=None if len(polled) else (),
        commit=landing.commit,
        nothing_new="no new messages",
        done=partial(_commit_group, source, topic.topic, offsets),
    )


def _registered(warehouse: Warehouse, rows: pa.Table) -> ibis.Table:
    """The rows as a table of the engine that reads files for this warehouse (the
    warehouse itself on DuckDB): landing them is then one INSERT ... SELECT, with no
    round trip through another engine."""
    reader = warehouse.file_reader()
    name = f"_wk_messages_{uuid.uuid4().hex[:12]}"  # gone with the connection, at run end
    reader.con.register(name, rows)
    return reader.table(name)


def _ends(consumer: Consumer, topic: str, offsets: dict[int, int]) -> dict[int, int]:
    """Where each partition's log ended, as the batch's last fetch said (for the lag, a
    report only: asking the broker again waits behind the fetch in flight, 0.3 s a call)."""
    from confluent_kafka import TopicPartition

    ends = {}
    for partition in offsets:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
        if high >= 0:  # -1001: no fetch answered for it in this batch
            ends[partition] = int(high)
    return ends


@dataclass(frozen=True)
class _Landing:
    """What a batch records with its rows (`Batch.commit`)."""

    model: str
    topic: str
    offsets: dict[int, int]
    lag: dict[int, int]
    dead: list[DeadLetter]
    read: int
    seconds: float
    """Reading and parsing, which the run does while it plans: the model's own duration
    leaves it out, so the note says it."""

    def commit(self, tx: Transaction, run_id: str) -> str:
        """Store the next offsets and the dead letters, in the transaction landing the rows."""
        tx.run(state.delete("stream_offsets", {"model": self.model}))
        for partition, offset in sorted(self.offsets.items()):
            row = {"model": self.model, "topic": self.topic, "partition": partition}
            row |= {"next_offset": offset, "lag": self.lag.get(partition), "run_id": run_id}
            tx.run(state.insert("stream_offsets", row))
        if self.dead:
            letters = [letter.row(self.model, run_id) for letter in self.dead]
            layout = state.TABLES["dead_letters"]
            arrow = ibis.memtable(letters, schema=layout).to_pyarrow()
            tx.load(table_ref("dead_letters", state.SCHEMA), list(layout.names), arrow.to_reader())
        return self.note()

    def note(self) -> str:
        text = f"{self.read:,} messages read in {self.seconds:.2f} s"
        if self.dead:
            what = "dead letter" if len(self.dead) == 1 else "dead letters"
            text += f", {len(self.dead):,} {what} (in {state.SCHEMA}.dead_letters)"
        behind = [f"p{p} {n:,}" for p, n in sorted(self.lag.items()) if n]
        text += f"; lag {sum(self.lag.values()):,}"
        return text + (f" ({', '.join(behind)})" if behind else "")


def _client(where: str) -> Any:
    """The confluent_kafka module, or one line saying how to install it."""
    try:
        import confluent_kafka
    except ModuleNotFoundError:
        raise MissingExtra(f"{where}: a Kafka source", "stream") from None
    return confluent_kafka


def _consumer(source: KafkaSource, where: str) -> Consumer:
    Consumer = _client(where).Consumer
    settings = _settings(source) | {
        "enable.auto.commit": False,
        # A stored offset past the log's end is never silently replaced: say so.
        "auto.offset.reset": "error",
        # The client's own reports (a broker down...) are the batch's error, if any.
        "error_cb": partial(_client_error, where),
        "logger": _client_log,
    }
    try:
        return Consumer(settings)
    except Exception as exc:  # a bad setting: librdkafka names it, never its value
        raise SourceError(f"{where}: {first_line(exc)}") from exc


def group_id(source: KafkaSource) -> str:
    return source.group_id or f"warehouse-kit.{source.name}"


def _settings(source: KafkaSource) -> dict[str, Any]:
    """The client's settings: the source's own (secrets), its brokers and group."""
    settings = {key: value.get_secret_value() for key, value in source.settings.items()}
    return {**settings, "bootstrap.servers": ",".join(source.brokers), "group.id": group_id(source)}


def _client_error(where: str, error: Any) -> None:
    log.debug("%s: %s", where, error)


_client_log = logging.getLogger(f"{__name__}.client")
_client_log.setLevel(logging.CRITICAL)  # librdkafka's logs repeat what errors say


def _partitions(consumer: Consumer, source: KafkaSource, topic: str, where: str) -> list[int]:
    from confluent_kafka import KafkaException

    try:
        metadata = consumer.list_topics(topic, timeout=max(source.wait.total_seconds(), 5))
    except KafkaException as exc:
        raise SourceUnavailable(f"{where}: brokers unreachable: {_said(exc)}") from exc
    found = metadata.topics.get(topic)
    if found is None or found.error is not None or not found.partitions:
        problem = f": {found.error.str()}" if found is not None and found.error else ""
        raise SourceUnavailable(f"{where}: no such topic on the brokers{problem}")
    return sorted(found.partitions)


def _said(exc: Exception) -> str:
    """What the client said, without its error-code wrapping."""
    from confluent_kafka import KafkaError

    error = exc.args[0] if exc.args else None
    return str(error.str()) if isinstance(error, KafkaError) else first_line(exc)


def _assign(
    consumer: Consumer,
    source: KafkaSource,
    topic: str,
    partitions: list[int],
    stored: dict[int, int],
) -> None:
    """Each partition from its stored offset; one without starts at its log's start
    (``start: earliest``, and always once the topic has landed: a partition added later)
    or end, asked of the broker here: a logical offset left to the client is resolved
    while the batch polls, and a slow answer made whole partitions look empty."""
    from confluent_kafka import TopicPartition

    def start_of(partition: int) -> int:
        low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=max(source.wait.total_seconds(), 5)
        )
        return int(low if stored or source.start == "earliest" else high)

    offsets = {p: stored[p] if p in stored else start_of(p) for p in partitions}
    consumer.assign([TopicPartition(topic, p, offset) for p, offset in offsets.items()])


def _consume(consumer: Consumer, source: KafkaSource, topic: str, where: str) -> Polled:
    """Messages until `max_messages`, a poll that comes back empty, or `wait` has passed:
    a batch reads at most that long, however steadily messages keep coming."""
    from confluent_kafka import KafkaError

    found = Polled(topic)
    deadline = time.monotonic() + source.wait.total_seconds()
    quiet = 0  # polls in a row that found nothing, once messages came
    while len(found) < source.max_messages and (left := deadline - time.monotonic()) > 0:
        wanted = min(CHUNK, source.max_messages - len(found))
        polled = consumer.consume(wanted, timeout=min(POLL_S, left))
        quiet = quiet + 1 if not polled and len(found) else 0
        if quiet == QUIET_POLLS:
            break  # all there was: partitions answer apart, so one empty poll is not enough
        for message in polled:
            error = message.error()
            if error is None:
                continue
            if error.code() == KafkaError._AUTO_OFFSET_RESET:
                raise SourceError(
                    f"{where}: partition {message.partition()}: the stored offset is out of "
                    "range (the topic was recreated, or its messages expired); "
                    "--full-refresh starts again from the source's start"
                )
            if error.code() != KafkaError._PARTITION_EOF:
                raise SourceUnavailable(f"{where}: {error.str()}")
        found.add([message for message in polled if message.error() is None])
    return found


def _commit_group(source: KafkaSource, topic: str, offsets: dict[int, int]) -> None:
    """After the warehouse commit: the group's offsets, for lag monitoring (best effort)."""
    if not offsets:
        return
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(_settings(source))
    try:
        committed = [TopicPartition(topic, p, o) for p, o in offsets.items()]
        consumer.commit(offsets=committed, asynchronous=False)
    except Exception as exc:  # the warehouse holds the offsets that count
        log.warning("source %s: group offsets not committed: %s", source.name, first_line(exc))
    finally:
        consumer.close()
