"""Servers the tests and benchmarks start: a free port, a process serving a URL, a dashboard.

benchmarks/ import this module too (it adds tests/ to `sys.path`), so it needs no pytest.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nothing listens on now (the OS picked it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def served(
    command: Sequence[str],
    url: str,
    *,
    cwd: Path = REPO_ROOT,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 60,
    log: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """`command` running until the block ends, once `url` answers; RuntimeError with what it
    printed if it exits first or does not answer within `timeout_s`. Its stderr goes to
    `log` (default: a temporary file).

    It runs in a process group of its own, stopped as a whole (`stop`): a server and what
    it started, such as `wk dashboard` and its marimo server."""
    # A file, not a pipe: a pipe nobody reads would fill and block the server.
    with log.open("w+b") if log else tempfile.TemporaryFile() as printing:
        server = subprocess.Popen(
            list(command), cwd=cwd, env=None if env is None else dict(env),
            stdout=subprocess.DEVNULL, stderr=printing, start_new_session=True,
        )  # fmt: skip

        def printed() -> str:
            printing.seek(0)
            return printing.read().decode(errors="replace")

        try:
            wait_until_up(url, server, timeout_s, printed)
            yield server
        finally:
            stop(server)


def wait_until_up(
    url: str, server: subprocess.Popen[bytes], timeout_s: float, printed: Callable[[], str]
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited ({server.returncode}) saying:\n{printed()}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)  # still starting
    raise RuntimeError(f"nothing answered at {url} within {timeout_s} s; it said:\n{printed()}")


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group; SIGKILL if it has not exited in 30 s."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def wk_command(*args: str) -> list[str]:
    """`wk ARGS` as this Python runs it."""
    return [sys.executable, "-m", "warehouse_kit.apps.cli", *args]


@contextmanager
def dashboard(app: str, target: str, timeout_s: float = 60) -> Iterator[str]:
    """`wk dashboard APP --headless` on `target`, on a free port; its URL once it answers."""
    port = free_port()
    command = wk_command("dashboard", app, "--target", target, "--port", str(port), "--headless")
    url = f"http://127.0.0.1:{port}/"
    with served(command, url, timeout_s=timeout_s):
        yield url
