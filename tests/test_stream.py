"""Kafka streams into the warehouse, exactly once: against a real Kafka-protocol broker
(Tansu), on DuckDB and on the running PostgreSQL."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kafka_broker import Broker
from servers import free_port
from warehouse_kit.core.backends import connect
from warehouse_kit.core.errors import ConfigError, SourceError, WarehouseKitError
from warehouse_kit.core.runner import run
from warehouse_kit.core.stream import stream

pytestmark = pytest.mark.kafka
PARTITIONS = 3
WK = [sys.executable, "-m", "warehouse_kit.apps.cli"]


@pytest.fixture(scope="module")
def broker() -> Iterator[Broker]:
    started = Broker().start()
    yield started
    started.stop()


def project(root: Path, brokers: str, topic: str, *, extra: str = "", batch: int = 100_000) -> Path:
    """A project landing `topic` in bronze.events, with silver and gold built on it;
    `batch`: the most messages a micro-batch reads."""
    (root / "pipelines").mkdir(parents=True)
    (root / "warehouse.yml").write_text("name: streams\n")
    pipeline = f"""
        pipeline:
          name: events
          sources:
            - type: kafka
              name: shop
              brokers: "{brokers}"
              wait: 1s
              max_messages: {batch}
              topics:
                - {{topic: {topic}, name: events{extra}}}
          transformations:
            - stage: bronze
            - stage: silver
              models:
                - name: events
                  from: bronze.events
                  incremental: {{unique_key: id}}
            - stage: gold
              models:
                - name: totals
                  from: events
                  operations:
                    - op: aggregate_metrics
                      group_by: [kind]
                      measures: {{events: "count(*)", amount: "sum(amount)"}}
        """
    (root / "pipelines" / "events.yml").write_text(textwrap.dedent(pipeline))
    return root


def events(first: int, count: int) -> list[dict[str, Any]]:
    return [
        {"id": i, "kind": "ab"[i % 2], "amount": i % 97, "meta": {"n": i}}
        for i in range(first, first + count)
    ]


def query(target: str, sql: str) -> list[tuple[Any, ...]]:
    wh = connect(target)
    try:
        cursor = wh.con.raw_sql(sql)
        rows = [tuple(row) for row in cursor.fetchall()]
        cursor.close()
        return rows
    finally:
        wh.close()


def new_topic(broker: Broker) -> str:
    return broker.create_topic(f"events_{uuid.uuid4().hex[:8]}", PARTITIONS)


def offsets(target: str) -> dict[int, int]:
    found = query(target, 'SELECT "partition", next_offset FROM _wk.stream_offsets')
    return {int(p): int(o) for p, o in found}


def per_partition(count: int, first: int = 0) -> dict[int, int]:
    """How many of the ids first..first+count-1 each partition holds (id % partitions)."""
    found = dict.fromkeys(range(PARTITIONS), 0)
    for i in range(first, first + count):
        found[i % PARTITIONS] += 1
    return found


def test_each_message_lands_once_with_its_offsets_and_dead_letters(
    broker: Broker, tmp_path: Path, target_url: str
) -> None:
    topic = new_topic(broker)
    root = project(tmp_path / "p", broker.bootstrap, topic)
    broker.produce_json(topic, events(0, 3000), PARTITIONS)
    broker.produce(
        topic, [(7, b"{broken", 0), (8, b'{"id": "eight", "kind": "a"}', 1), (9, b"[1]", 2)]
    )

    done = stream(root, target=target_url, until_idle=True, interval=0)

    assert done.ok
    assert done.stopped == "no new messages"
    assert done.messages == 3000
    [(rows, ids, low, high)] = query(
        target_url, "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM bronze.events"
    )
    assert (rows, ids, low, high) == (3000, 3000, 0, 2999)
    # One past the last message of each partition, dead letters included.
    expected = {p: n + 1 for p, n in per_partition(3000).items()}
    assert offsets(target_url) == expected
    dead = query(target_url, 'SELECT "partition", value, error FROM _wk.dead_letters ORDER BY 1')
    assert [(p, v) for p, v, _ in dead] == [
        (0, "{broken"),
        (1, '{"id": "eight", "kind": "a"}'),
        (2, "[1]"),
    ]
    assert dead[0][2].startswith("not JSON")
    assert dead[1][2] == "field 'id': 'eight' is not int64"
    assert dead[2][2] == "not a JSON object but a list"
    [(silver, total)] = query(target_url, "SELECT count(*), sum(amount) FROM silver.events")
    assert (silver, total) == (3000, sum(e["amount"] for e in events(0, 3000)))
    # Metadata beside the fields; nested values as JSON text.
    [(key, topic_name, meta)] = query(
        target_url, "SELECT _key, _topic, meta FROM bronze.events WHERE id = 5"
    )
    assert (key, topic_name, json.loads(meta)) == ("5", topic, {"n": 5})

    again = stream(root, target=target_url, until_idle=True, interval=0)
    assert again.messages == 0
    assert again.ok
    assert query(target_url, "SELECT count(*) FROM bronze.events") == [(3000,)]


def test_new_messages_continue_from_the_stored_offsets(
    broker: Broker, tmp_path: Path, target_url: str
) -> None:
    topic = new_topic(broker)
    root = project(tmp_path / "p", broker.bootstrap, topic)
    broker.produce_json(topic, events(0, 500), PARTITIONS)
    stream(root, target=target_url, until_idle=True, interval=0)
    broker.produce_json(topic, events(500, 700), PARTITIONS)

    # `wk run` lands a batch too: the same source, the same offsets.
    result = run(root, target=target_url)
    stream(root, target=target_url, until_idle=True, interval=0)

    assert result.ok
    assert next(m for m in result.models if m.model == "bronze.events").rows_in
    assert query(target_url, "SELECT count(DISTINCT id), count(*) FROM silver.events") == [
        (1200, 1200)
    ]
    assert offsets(target_url) == per_partition(1200)


def test_a_full_refresh_lands_the_topic_again_from_its_start(
    broker: Broker, tmp_path: Path, target_url: str
) -> None:
    topic = new_topic(broker)
    root = project(tmp_path / "p", broker.bootstrap, topic)
    broker.produce_json(topic, events(0, 300), PARTITIONS)
    stream(root, target=target_url, until_idle=True, interval=0)

    result = run(root, target=target_url, full_refresh=True)
    # A batch may take part of the topic (it reads for at most `wait`): the rest follows.
    stream(root, target=target_url, until_idle=True, interval=0)

    assert result.ok
    assert query(target_url, "SELECT count(*), count(DISTINCT id) FROM bronze.events") == [
        (300, 300)
    ]
    assert offsets(target_url) == per_partition(300)


@pytest.mark.slow
def test_a_killed_stream_neither_loses_nor_repeats_a_message(
    broker: Broker, tmp_path: Path, target_url: str
) -> None:
    """SIGKILL at random moments while messages keep arriving; then the stream restarts
    from the offsets in the warehouse, and every id is in bronze once."""
    total = int(os.environ.get("WK_STREAM_CHAOS_MESSAGES", 20_000))
    kills = int(os.environ.get("WK_STREAM_CHAOS_KILLS", 4))
    topic = new_topic(broker)
    # Small batches: the stream is busy landing when it is killed, not waiting for messages.
    root = project(tmp_path / "p", broker.bootstrap, topic, batch=max(total // 40, 100))
    env = {**os.environ, "WK_TARGET": target_url}
    command = [*WK, "stream", "--interval", "0", "--project", str(root)]
    rng, sent, chunk = random.Random(7), 0, total // (kills + 1)
    while_writing = 0
    for number in range(kills):
        broker.produce_json(topic, events(sent, chunk), PARTITIONS)
        sent += chunk
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # On PostgreSQL, every other kill waits for a run that writes (another connection
        # sees it running); the others come at any moment, reading or writing.
        if target_url.startswith("postgres") and number % 2 and running_soon(target_url):
            while_writing += 1
        else:
            time.sleep(rng.uniform(1.0, 4.0))
        process.kill()
        process.wait()
    broker.produce_json(topic, events(sent, total - sent), PARTITIONS)

    finish = subprocess.run([*command, "--until-idle"], env=env, capture_output=True, text=True)

    assert finish.returncode == 0, finish.stderr
    # A run killed while it wrote stayed running; the next run marked it aborted (one seen
    # running may still finish in the moment before the kill, so not every one).
    [(aborted,)] = query(target_url, "SELECT count(*) FROM _wk.runs WHERE status = 'aborted'")
    if target_url.startswith("postgres"):
        assert while_writing >= 2
        assert aborted >= 1
    [(rows, ids)] = query(target_url, "SELECT count(*), count(DISTINCT id) FROM bronze.events")
    assert (rows, ids) == (total, total)
    assert offsets(target_url) == per_partition(total)
    [(silver, amount)] = query(target_url, "SELECT count(*), sum(amount) FROM silver.events")
    assert (silver, amount) == (total, sum(e["amount"] for e in events(0, total)))
    gold = query(target_url, "SELECT kind, events FROM gold.totals ORDER BY kind")
    assert gold == [("a", (total + 1) // 2), ("b", total // 2)]


def running_soon(target: str, within_s: float = 30.0) -> bool:
    """Whether a run is recorded as running within `within_s` (PostgreSQL: read while the
    stream writes). Generous: on a loaded machine the stream takes seconds to start."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            found = query(target, "SELECT count(*) FROM _wk.runs WHERE status = 'running'")
        except Exception:  # _wk not created yet
            found = [(0,)]
        if found[0][0]:
            return True
        time.sleep(0.005)
    return False


def test_sigterm_ends_the_stream_after_its_batch(broker: Broker, tmp_path: Path) -> None:
    topic = new_topic(broker)
    root = project(tmp_path / "p", broker.bootstrap, topic)
    broker.produce_json(topic, events(0, 100), PARTITIONS)
    target = f"duckdb:///{tmp_path}/w.duckdb"
    command = [*WK, "stream", "--interval", "0.2", "--project", str(root), "--target", target]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()  # the first batch is in
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)

    assert first.startswith("batch 1: 100 messages")
    assert process.returncode == 0, err
    assert "stopped (asked to stop)" in out
    assert "finishing the current batch" in err
    assert query(target, "SELECT count(*) FROM bronze.events") == [(100,)]


def test_brokers_that_come_back_lose_nothing(tmp_path: Path) -> None:
    port = free_port()
    later = Broker(port)
    root = project(tmp_path / "p", later.bootstrap, "late_events")
    target = f"duckdb:///{tmp_path}/w.duckdb"
    seen: list[str] = []

    def bring_it_up() -> None:  # once a batch failed on the missing broker
        deadline = time.monotonic() + 60
        while not seen and time.monotonic() < deadline:
            time.sleep(0.1)
        later.start()
        later.create_topic("late_events", PARTITIONS)
        later.produce_json("late_events", events(0, 50), PARTITIONS)

    helper = threading.Thread(target=bring_it_up)
    helper.start()
    try:
        done = stream(
            root,
            target=target,
            interval=0,
            max_messages=50,
            max_batches=20,
            on_batch=lambda batch: seen.extend(batch.problems()),
        )
    finally:
        helper.join()
        later.stop()

    assert "bronze.events" not in seen[0]  # the error names the source and says what is wrong
    assert "source shop, topic late_events: brokers unreachable" in seen[0]
    assert done.messages == 50
    assert done.ok
    assert query(target, "SELECT count(DISTINCT id) FROM bronze.events") == [(50,)]


def test_a_missing_topic_is_one_clear_line(broker: Broker, tmp_path: Path) -> None:
    root = project(tmp_path / "p", broker.bootstrap, "no_such_topic")

    with pytest.raises(SourceError, match=r"^source shop, topic no_such_topic: no such topic"):
        run(root, target=f"duckdb:///{tmp_path}/w.duckdb")


def test_declared_types_and_client_settings_are_checked_without_showing_secrets(
    broker: Broker, tmp_path: Path
) -> None:
    bad_type = project(tmp_path / "a", broker.bootstrap, "t", extra=", columns: {id: integr}")
    with pytest.raises(ConfigError, match=r"topics\[0\]\.columns.*'integr' is not a type"):
        run(bad_type, target=f"duckdb:///{tmp_path}/a.duckdb")

    topic = new_topic(broker)
    secret = project(tmp_path / "b", broker.bootstrap, topic)
    pipeline = secret / "pipelines" / "events.yml"
    pipeline.write_text(
        pipeline.read_text().replace(
            "wait: 1s", 'wait: 1s\n      settings: {sasl.password: "hunter2", no.such: "x"}'
        )
    )
    with pytest.raises(SourceError, match=r"no\.such") as raised:
        run(secret, target=f"duckdb:///{tmp_path}/b.duckdb")
    assert "hunter2" not in str(raised.value)


def test_errors_print_brackets_as_written(tmp_path: Path) -> None:
    """The CLI prints messages as text: a name like x[kafka] is not console markup."""
    root = project(tmp_path / "p", "kafka[1]", "t")
    command = [*WK, "run", "--project", str(root), "--target", f"duckdb:///{tmp_path}/w.duckdb"]

    done = subprocess.run(command, capture_output=True, text=True)

    assert done.returncode == 1
    assert "'kafka[1]' is not host:port" in done.stderr


def test_pipeline_health_shows_each_partition_its_lag_and_dead_letters(
    broker: Broker, tmp_path: Path, target_url: str
) -> None:
    from warehouse_kit.apps.health_dashboard import pipeline_health

    topic = new_topic(broker)
    root = project(tmp_path / "p", broker.bootstrap, topic)
    broker.produce_json(topic, events(0, 30), PARTITIONS)
    broker.produce(topic, [(1, b"oops", 1)])
    stream(root, target=target_url, until_idle=True, interval=0)

    health = pipeline_health(project=root, target=target_url)

    rows = health.streams.to_dict("records")
    assert [(r["partition"], r["next_offset"], r["dead_letters"]) for r in rows] == [
        (0, 10, 0),
        (1, 11, 1),
        (2, 10, 0),
    ]
    assert {r["model"] for r in rows} == {"bronze.events"}
    assert all(r["lag"] >= 0 for r in rows)  # Tansu's log ends are not exact: only a sign
    batches = health.stream_batches
    assert list(batches["model"].unique()) == ["bronze.events"]
    assert batches["messages"].sum() == 30
    from warehouse_kit.apps import charts

    drawn = charts.time_series(batches, x="started_at", y="messages", color="model", title="t")
    assert drawn.to_dict()["data"]  # what the pipeline_health app draws


def test_a_new_field_follows_the_schema_contract(broker: Broker, tmp_path: Path) -> None:
    """evolve: a field that appears later is a new column, NULL in the rows before it;
    freeze: the batch fails naming the column, and its messages wait in the topic."""
    topic = new_topic(broker)
    evolving = project(tmp_path / "a", broker.bootstrap, topic)
    frozen = project(tmp_path / "b", broker.bootstrap, topic, extra=", schema_contract: freeze")
    evolve_db, freeze_db = f"duckdb:///{tmp_path}/a.duckdb", f"duckdb:///{tmp_path}/b.duckdb"
    broker.produce_json(topic, events(0, 30), PARTITIONS)
    for root, target in ((evolving, evolve_db), (frozen, freeze_db)):
        stream(root, target=target, until_idle=True, interval=0)
    broker.produce_json(topic, [{**e, "coupon": "SPRING"} for e in events(30, 30)], PARTITIONS)

    stream(evolving, target=evolve_db, until_idle=True, interval=0)
    with pytest.raises(WarehouseKitError, match="new column coupon"):
        run(frozen, target=freeze_db)

    assert query(evolve_db, "SELECT count(coupon), count(*) FROM bronze.events") == [(30, 60)]
    assert query(freeze_db, "SELECT count(*) FROM bronze.events") == [(30,)]
    assert offsets(freeze_db) == per_partition(30)  # nothing read past what landed
