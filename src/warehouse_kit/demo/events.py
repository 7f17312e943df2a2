"""Order events for the streaming example: JSON messages published to a Kafka topic.

Deterministic for a seed and a first id, so a test can rebuild what was sent.
A few messages can be made malformed on purpose (`bad`), to show dead letters.
"""

from __future__ import annotations

import json
import logging
import random
from datetime import datetime, timedelta
from typing import Any

from warehouse_kit.core.errors import WarehouseKitError
from warehouse_kit.core.extras import MissingExtra

STATUSES = ("placed", "paid", "shipped", "cancelled")
_silent = logging.getLogger(f"{__name__}.client")
_silent.setLevel(logging.CRITICAL)
START = datetime(2024, 7, 1)


def order_events(count: int, *, seed: int = 42, first_id: int = 1) -> list[dict[str, Any]]:
    """`count` order events with ids from `first_id`."""
    rng = random.Random(f"{seed}:{first_id}")
    events = []
    for order_id in range(first_id, first_id + count):
        events.append(
            {
                "order_id": order_id,
                "customer_id": rng.randint(1, 500),
                "amount": round(rng.uniform(5, 500), 2),
                "status": rng.choice(STATUSES),
                "created_at": (START + timedelta(seconds=order_id * 37)).isoformat(),
                "items": [{"sku": f"P{rng.randint(1, 80):03d}", "quantity": rng.randint(1, 3)}],
            }
        )
    return events


def produce(
    brokers: str,
    topic: str,
    count: int,
    *,
    seed: int = 42,
    first_id: int = 1,
    partitions: int = 3,
    bad: int = 0,
) -> int:
    """Publish `count` events (and `bad` malformed ones) to `topic`, created with
    `partitions` when missing; returns the messages sent. Each order's events go to one
    partition, by its key."""
    try:
        from confluent_kafka import KafkaException, Producer
        from confluent_kafka.admin import AdminClient, NewTopic
    except ModuleNotFoundError:
        raise MissingExtra("producing to Kafka", "stream") from None

    # The client's own log lines repeat, once a second, what the error below says.
    quiet: dict[str, Any] = {"bootstrap.servers": brokers, "logger": _silent}
    admin = AdminClient(quiet)
    try:
        if topic not in admin.list_topics(timeout=10).topics:
            created = admin.create_topics([NewTopic(topic, num_partitions=partitions)])
            for future in created.values():
                future.result(timeout=30)
    except KafkaException as exc:
        raise WarehouseKitError(f"cannot reach the brokers {brokers}: {exc.args[0].str()}") from exc
    producer = Producer({**quiet, "linger.ms": 5})
    sent = 0
    for event in order_events(count, seed=seed, first_id=first_id):
        key = str(event["order_id"]).encode()
        producer.produce(topic, key=key, value=json.dumps(event).encode())
        sent += 1
        if sent % 10_000 == 0:
            producer.poll(0)
    for number in range(bad):
        producer.produce(topic, key=b"bad", value=b"{not json #%d" % number)
        sent += 1
    if producer.flush(30):
        raise WarehouseKitError(f"{topic}: some messages were not delivered to {brokers}")
    return sent
