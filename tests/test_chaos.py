"""benchmarks/chaos.py at a small size: real `wk run` processes killed with SIGKILL at random
points over both example batches, sometimes with a second run going, then the warehouse
checked against a clean build (see the script's docstring for what is checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "chaos.py"


@pytest.mark.slow
@pytest.mark.parametrize(
    "engine",
    [
        pytest.param("duckdb", marks=pytest.mark.duckdb),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ],
)
def test_killed_runs_leave_the_warehouse_as_a_clean_build_would(engine):
    # A random seed each time: the invariants hold at every kill point; the output names
    # the seed, to replay a failure.
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--kills", "2", "--target", engine],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{engine}: 2 kills in " in result.stdout
    assert "failures found: 0" in result.stdout
