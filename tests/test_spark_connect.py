"""Spark Connect: a `sc://` target builds, through a real Connect server, what DuckDB builds.

A module of its own so that it runs beside `test_spark.py`, not after it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import spark_url
from test_spark import project, wk_run
from warehouse_kit.core.backends import connect

pytestmark = pytest.mark.spark


@pytest.mark.slow
def test_a_spark_connect_server_builds_what_duckdb_builds(
    spark_session: Any, tmp_path: Path
) -> None:
    from spark_connect import ConnectServer
    from warehouse_kit.core.runner import run

    root = project(tmp_path / "p", files=2)
    server = ConnectServer(tmp_path).start()
    try:
        folder = tmp_path / "connect"
        built = wk_run(root, f"{server.url}?warehouse={folder}")
        out, err = built.communicate(timeout=300)
        assert built.returncode == 0, err
        assert server.url in out  # the run names its target
    finally:
        server.stop()
    duckdb_url = f"duckdb:///{tmp_path}/same.duckdb"
    assert run(root, target=duckdb_url).ok
    # The warehouse the server wrote is an ordinary Spark warehouse folder: the local
    # session reads it.
    on_spark, on_duckdb = connect(spark_url(folder)), connect(duckdb_url)
    try:
        for name in ("by_customer", "overall"):
            rows = [
                sorted(
                    wh.rows(wh.table(name, "gold").order_by(wh.table(name, "gold").columns[0])),
                    key=repr,
                )
                for wh in (on_spark, on_duckdb)
            ]
            assert rows[0] == rows[1], name
        quarantined = on_spark.table("clean__quarantine", "silver").count()
        assert on_spark.scalar(quarantined) == 2  # the amount -2.5 of each file
    finally:
        on_spark.close()
        on_duckdb.close()
