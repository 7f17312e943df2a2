"""A real Spark Connect server for tests: the one PySpark's own jars ship, on a free port.

It is a second JVM beside the test session's local Spark (about 15 s to start), so only
the tests that need a server start it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pyspark

from servers import free_port

SPARK_HOME = Path(pyspark.__file__).parent
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


class ConnectServer:
    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.url = f"sc://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120) -> ConnectServer:
        command = [str(SPARK_HOME / "bin" / "spark-submit"), "--class", SERVER_CLASS]
        command += ["--master", "local[2]"]
        for key, value in {
            "spark.connect.grpc.binding.port": str(self.port),
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": "4",
            "spark.sql.warehouse.dir": str(self.folder / "_catalog"),
        }.items():
            command += ["--conf", f"{key}={value}"]
        log = (self.folder / "server.log").open("wb")
        self.process = subprocess.Popen(
            [*command, "spark-internal"],
            cwd=self.folder,
            env={**os.environ, "SPARK_HOME": str(SPARK_HOME)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # spark-submit's JVM goes with the group on stop
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Spark Connect server stopped: see {log.name}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"no Spark Connect server on port {self.port} after {timeout} s")

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
            self.process = None
