"""A developer without PostgreSQL (or Chromium) gets skips with one line of reason; CI,
which provides both, gets failures instead, so nothing it needs is skipped unseen."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from conftest import REPO_ROOT


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("ci", [False, True], ids=["developer", "ci"])
def test_postgres_tests_skip_with_a_reason_when_the_server_is_down(ci):
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["WK_TEST_POSTGRES"] = f"postgres://root@127.0.0.1:{closed_port()}/test"
    if ci:
        env["CI"] = "true"
    command = [sys.executable, "-m", "pytest", "tests/test_incremental.py", "-m", "postgres"]
    command += ["-q", "-rs", "-p", "no:cacheprovider", "-p", "no:xdist", "-x"]
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    output = done.stdout + done.stderr
    reason = "PostgreSQL is not reachable at 127.0.0.1:"
    assert reason in output, output
    assert "-m 'not postgres'" in output
    if ci:
        assert done.returncode == 1, output
        assert "1 error" in output
        assert "and CI needs it" in output
    else:
        assert done.returncode == 0, output
        assert " skipped" in output
        assert "failed" not in output
        assert "passed" not in output
