"""`wk` without its import time: a server imports warehouse-kit and its libraries once, then
forks a child for each command, which runs it as a new `wk` process would.

The README test runs about fifty `wk` commands; a new process spends about 2 s of a loaded
machine importing Ibis, DuckDB, pandas and the rest before it starts, a fork a few
milliseconds. The child gets the caller's arguments, folder, environment and standard
streams (the file descriptors themselves, passed over a Unix socket), so a shell sees the
command write, redirect and exit as the real `wk` would. Nothing runs in the server before a
fork but imports: each command starts from the same state, as from a new interpreter.

    python tests/warm_wk.py serve SOCKET          # the server; prints "ready" when it is
    python -I tests/warm_wk.py wk ARGS...         # `wk ARGS` through it ($WK_WARM_SOCKET)
    python -I tests/warm_wk.py python FILE        # a Python script through it

A command that fails appends a line to the file $WK_WARM_FAILURES names, if set, starting
with $WK_WARM_WHERE: a shell does not stop at every failure (`a && b` goes on after `a`).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

PRELOADED = (
    "typer",
    "rich.console",
    "warehouse_kit.core.runner",
    "warehouse_kit.analytics.metrics",
    "warehouse_kit.analytics.experiments",
    "warehouse_kit.apps.notebook",
    "ibis.backends.duckdb",
    "pandas",
    "pyarrow.parquet",
    "scipy.stats",
    "altair",
    "warehouse_kit.apps.charts",
)
"""What most commands import first; the rest each command imports itself. Not the CLI's own
modules: they make their consoles when imported, reading COLUMNS, which is the caller's."""

MESSAGE_SIZE = 1 << 20


@contextmanager
def started(env: dict[str, str]) -> Iterator[str]:
    """A server started with `env`, until the block ends; its socket (for $WK_WARM_SOCKET)."""
    with tempfile.TemporaryDirectory(prefix="wk-warm-") as folder:  # a short path: sockets' max 107
        path = f"{folder}/socket"
        server = subprocess.Popen(
            [sys.executable, __file__, "serve", path],
            env=env, stdout=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            assert server.stdout is not None
            assert server.stdout.readline().strip() == "ready", "the warm wk server did not start"
            yield path
        finally:
            os.killpg(server.pid, signal.SIGKILL)  # it, and any command still running
            server.wait()


def serve(path: str) -> None:
    for module in PRELOADED:
        importlib.import_module(module)
    assert "warehouse_kit.apps.cli.base" not in sys.modules, "a preloaded module imports the CLI"
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    server.bind(path)
    server.listen(8)
    print("ready", flush=True)
    while True:
        connection, _ = server.accept()
        message, fds, _, _ = socket.recv_fds(connection, MESSAGE_SIZE, 3)
        if os.fork() == 0:
            server.close()
            _child(connection, json.loads(message), fds)
        connection.close()  # the child holds its own copies
        for fd in fds:
            os.close(fd)


def _child(connection: socket.socket, request: dict, fds: list[int]) -> None:
    """Become the caller's command: its streams, folder, environment and arguments; send
    back the exit status, then exit."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the command waits for its own children
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    code = _run(request["argv"])
    connection.send(str(code).encode())
    os._exit(code)


def _run(argv: list[str]) -> int:
    import atexit
    import runpy
    import traceback

    sys.argv = argv[1:] if argv[0] == "python" else ["wk", *argv[1:]]
    try:
        if argv[0] == "python":
            sys.path.insert(0, os.path.dirname(os.path.abspath(argv[1])))
            runpy.run_path(argv[1], run_name="__main__")
        else:
            from warehouse_kit.apps.cli import main

            main()
        code = 0
    except SystemExit as end:
        code = end.code if isinstance(end.code, int) else 0 if end.code is None else 1
        if isinstance(end.code, str):
            print(end.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def client(argv: list[str]) -> int:
    """Run `argv` (``wk ...`` or ``python FILE``) in the server; its exit status."""
    request = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as connection:
        connection.connect(os.environ["WK_WARM_SOCKET"])
        socket.send_fds(connection, [json.dumps(request).encode()], [0, 1, 2])
        status = connection.recv(16)
    code = int(status) if status else 1  # no status: the child was killed
    if code and "WK_WARM_FAILURES" in os.environ:  # for a caller that cannot see exit statuses
        with open(os.environ["WK_WARM_FAILURES"], "a") as failures:
            where = os.environ.get("WK_WARM_WHERE", "")
            failures.write(f"{where}exit {code}: {' '.join(argv)}\n")
    return code


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        sys.exit(client(sys.argv[1:]))
