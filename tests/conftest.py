"""Shared fixtures: one test suite, run on every backend.

A test that asks for `warehouse` (or `target_url`) runs once per backend, as
``test_x[duckdb]`` and ``test_x[postgres]``. Each PostgreSQL test gets a fresh
database on the running server, dropped afterwards, so tests never see each
other's tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from warehouse_kit.backends import Warehouse, connect

POSTGRES_SERVER = os.environ.get("WK_TEST_POSTGRES", "postgres://root@127.0.0.1:5432/test")
REPO_ROOT = Path(__file__).resolve().parent.parent

BACKENDS = [
    pytest.param("duckdb", marks=pytest.mark.duckdb),
    pytest.param("postgres", marks=pytest.mark.postgres),
]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    name = f"wk_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_SERVER.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty warehouse on each backend."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path}/warehouse.duckdb"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def warehouse(target_url: str) -> Iterator[Warehouse]:
    """An open connection to an empty warehouse on each backend."""
    wh = connect(target_url)
    try:
        yield wh
    finally:
        wh.close()
