"""Benchmark rounds in processes of their own.

A user's `wk run` is a new process; a benchmark that first generates gigabytes
of data and builds the starting point in the same process then times both
sides 1.5x to 2x slower, and unevenly. Each round runs the script again with
``--round SIDE ARGS...``; the child times one round and prints it as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

FLAG = "--round"


def requested() -> list[str] | None:
    """The side and arguments of the round this process is to run, if it is one."""
    if len(sys.argv) > 2 and sys.argv[1] == FLAG:
        return sys.argv[2:]
    return None


def in_new_process(script: str, side: str, *args: str) -> Any:
    """Run one round of `side` in a new process; returns what it reported."""
    command = [sys.executable, script, FLAG, side, *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"the {side} round failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def report(found: dict[str, Any]) -> None:
    """The child's answer, the last line it prints, with its peak RSS (``peak_mb``)."""
    print(json.dumps({**found, "peak_mb": peak_mb()}))


def peak_mb() -> float:
    """This process's peak resident memory. Not `resource`'s ru_maxrss: after a fork it
    counts the parent's memory too; VmHWM counts what this program itself touched."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")
