"""Shared fixtures: one test suite, run on every backend.

A test that asks for `warehouse` (or `target_url`) runs once per backend, as
``test_x[duckdb]`` and ``test_x[postgres]``. Each PostgreSQL test gets a fresh
database on the running server, dropped afterwards, so tests never see each
other's tables.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NoReturn

import psycopg
import pytest
from xdist.scheduler import LoadScopeScheduling

import warm_wk
from browser import CHROMIUM, chromium
from warehouse_kit.apps.notebooks_refresh import build_example
from warehouse_kit.core.backends import Warehouse, connect
from warehouse_kit.core.project import Project
from warehouse_kit.core.runner import RunResult, run

POSTGRES_SERVER = os.environ.get("WK_TEST_POSTGRES", "postgres://root@127.0.0.1:5432/test")
REPO_ROOT = Path(__file__).resolve().parent.parent

BACKENDS = [
    pytest.param("duckdb", marks=pytest.mark.duckdb),
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("spark", marks=pytest.mark.spark),
]


SPARK_ALL = os.environ.get("WK_TEST_SPARK") == "all"
"""Run every engine test on Spark too (long); by default only those marked ``parity``."""


LONGEST_MODULES = (
    "test_scd2_properties.py", "test_stream.py", "test_scd2.py", "test_readme.py",
    "test_chaos.py", "test_secrets.py", "test_lab.py",
)  # fmt: skip
"""Longest first (`pytest_collection_modifyitems`), after the Spark tests."""


def on_spark(nodeid: str) -> bool:
    """Whether a test runs on Spark: the parity suite, the Spark modules, a [spark] case."""
    return "spark" in nodeid.lower() or "test_parity.py" in nodeid


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Engine tests run on Spark only where marked ``parity`` (and all with
    WK_TEST_SPARK=all): a Spark statement costs a job, so the whole suite would take an hour."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        spark_case = callspec is not None and "spark" in callspec.params.values()
        parity = item.get_closest_marker("parity") or item.path.name == "test_parity.py"
        (dropped if spark_case and not (parity or SPARK_ALL) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    # The Spark tests first, then the longest modules: with --dist loadscope each scope runs
    # whole on one worker, and one started last would run on alone.
    rank = {name: position for position, name in enumerate(LONGEST_MODULES, start=1)}
    items.sort(key=lambda item: 0 if on_spark(item.nodeid) else rank.get(item.path.name, 99))


class SparkTogether(LoadScopeScheduling):
    """--dist loadscope, with every Spark test in one scope: one worker starts a JVM and
    warms it up (its first runs are several times slower), not each of them."""

    def _split_scope(self, nodeid: str) -> str:
        return "spark" if on_spark(nodeid) else super()._split_scope(nodeid)


@pytest.hookimpl(optionalhook=True)  # run without xdist too (-p no:xdist)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") == "loadscope":
        return SparkTogether(config, log)
    return None


def pytest_configure(config: pytest.Config) -> None:
    """The example pipeline publishes its facts to ${WK_LAKE:-lake}: each test process's
    go to a folder of its own rather than into the repository."""
    folder = tempfile.mkdtemp(prefix="wk-test-lake-")
    os.environ["WK_LAKE"] = folder
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


def missing(what: str) -> NoReturn:
    """Skip a test whose server or program is not here, in one line; under CI, where
    `.ci/run` provides them all, fail instead, so nothing is skipped unseen."""
    if os.environ.get("CI"):
        pytest.fail(f"{what}, and CI needs it", pytrace=False)
    pytest.skip(what)


@functools.cache
def _postgres_problem() -> str | None:
    try:
        psycopg.connect(POSTGRES_SERVER, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        place = POSTGRES_SERVER.rsplit("@", 1)[-1]
        reason = str(error).strip().splitlines()[0].rsplit(": ", 1)[-1]  # "Connection refused"
        return (
            f"PostgreSQL is not reachable at {place} ({reason}): start it (README, Tests), "
            "set WK_TEST_POSTGRES, or deselect with -m 'not postgres'"
        )
    return None


def require_postgres() -> None:
    """Skip (fail under CI) when the tests' PostgreSQL server does not answer."""
    if problem := _postgres_problem():
        missing(problem)


def require_chromium() -> None:
    """Skip (fail under CI) without Debian's chromium, which the browser tests drive."""
    if not Path(CHROMIUM).exists():
        missing(f"no browser at {CHROMIUM}: install Debian's chromium (apt-get install chromium)")


@contextmanager
def chromium_page(url: str, **options: Any) -> Iterator[tuple[Any, list[str]]]:
    """A page of headless Chromium (skipped without it) opened at `url`, and the list of the
    URLs it asked for beyond `url`'s server (beyond local files, for a file:// URL).
    `options` go to `browser.chromium` (``width``, ``height``, ``offline``)."""
    require_chromium()
    elsewhere: list[str] = []
    local = url.split("/", 3)[:3]  # scheme, "", host:port
    with chromium(**options) as browser:
        page = browser.new_page()
        page.on(
            "request",
            lambda r: None if r.url.split("/", 3)[:3] == local else elsewhere.append(r.url),
        )
        page.goto(url, wait_until="load")
        yield page, elsewhere


@contextmanager
def fresh_postgres_database(template: str | None = None) -> Iterator[str]:
    """The URL of a new PostgreSQL database, dropped afterwards: empty, or a copy of the
    database `template` (which no one may be connected to)."""
    require_postgres()
    name = f"wk_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield POSTGRES_SERVER.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The test session's one local Spark session (it takes seconds to start), with a
    warehouse folder of its own: a managed table left in ./spark-warehouse would break
    the next session. `spark://` targets in the same process use it too."""
    from pyspark.sql import SparkSession

    folder = tmp_path_factory.mktemp("spark-warehouse")
    builder = SparkSession.builder.master("local[2]").appName("warehouse-kit-tests")
    for key, value in SPARK_TEST_SETTINGS.items():
        builder = builder.config(key, value)
    return builder.config("spark.sql.warehouse.dir", str(folder)).getOrCreate()


SPARK_TEST_SETTINGS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.memory": "2g",
}


def spark_url(folder: Path) -> str:
    """A Spark warehouse in `folder`, on the test session's local Spark."""
    return f"spark://local[2]?warehouse={folder}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    with fresh_postgres_database() as url:
        yield url


def _module_url(backend: str, tmp_path_factory: pytest.TempPathFactory, stack: ExitStack) -> str:
    """An empty warehouse on `backend` that lives as long as `stack`."""
    if backend == "duckdb":
        return f"duckdb:///{tmp_path_factory.mktemp('warehouse')}/warehouse.duckdb"
    if backend == "spark":
        return spark_url(tmp_path_factory.mktemp("spark"))
    url: str = stack.enter_context(fresh_postgres_database())
    return url


@pytest.fixture(scope="module", params=BACKENDS)
def shared_warehouse(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Warehouse]:
    """One warehouse per backend for a whole test module, for tests that only read."""
    if request.param == "spark":
        request.getfixturevalue("spark_session")
    with ExitStack() as stack:
        url = _module_url(request.param, tmp_path_factory, stack)
        wh = connect(url)
        stack.callback(wh.close)
        yield wh


class ExampleCopies:
    """The example warehouse built once per test process and engine, then copied for
    each module that asks (a file copy, or PostgreSQL's CREATE DATABASE ... TEMPLATE):
    a dozen modules read it, and each build takes seconds."""

    def __init__(self, folder: Path, stack: ExitStack):
        self.folder, self.stack = folder, stack
        self.built: dict[str, str] = {}

    def template(self, backend: str) -> str:
        if backend not in self.built:
            if backend == "duckdb":
                url = f"duckdb:///{self.folder}/example.duckdb"
            else:
                url = self.stack.enter_context(fresh_postgres_database())
            build_example(Project.load(REPO_ROOT), url)
            self.built[backend] = url
        return self.built[backend]

    def copy(self, backend: str, stack: ExitStack) -> str:
        template = self.template(backend)
        if backend == "duckdb":
            copy = self.folder / f"{uuid.uuid4().hex[:12]}.duckdb"
            shutil.copyfile(template.removeprefix("duckdb:///"), copy)
            return f"duckdb:///{copy}"
        url: str = stack.enter_context(fresh_postgres_database(template.rsplit("/", 1)[1]))
        return url


@pytest.fixture(scope="session")
def example_copies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExampleCopies]:
    with ExitStack() as stack:
        yield ExampleCopies(tmp_path_factory.mktemp("example"), stack)


@pytest.fixture(scope="module", params=BACKENDS)
def example_warehouse(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Warehouse]:
    """The example warehouse after every seed batch, one per backend for a module."""
    with ExitStack() as stack:
        if request.param == "spark":
            request.getfixturevalue("spark_session")
            url = _module_url(request.param, tmp_path_factory, stack)
            build_example(Project.load(REPO_ROOT), url)
        else:
            url = request.getfixturevalue("example_copies").copy(request.param, stack)
        wh = connect(url)
        stack.callback(wh.close)
        yield wh


@pytest.fixture(params=BACKENDS)
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty warehouse on each backend."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path}/warehouse.duckdb"
    if request.param == "spark":
        request.getfixturevalue("spark_session")
        return spark_url(tmp_path / "spark")
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


class TinyProject:
    """A throwaway project folder: CSV files, a pipeline file, Python models."""

    def __init__(self, root: Path, target: str):
        self.root = root
        self.target = target
        (root / "data").mkdir(parents=True, exist_ok=True)
        (root / "pipelines").mkdir(exist_ok=True)

    def csv(self, name: str, text: str) -> Path:
        path = self.root / "data" / f"{name}.csv"
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    def pipeline(self, text: str, name: str = "p.yml") -> Path:
        path = self.root / "pipelines" / name
        path.write_text(textwrap.dedent(text))
        return path

    def python_models(self, text: str, name: str = "m.py") -> Path:
        (self.root / "models").mkdir(exist_ok=True)
        path = self.root / "models" / name
        path.write_text(textwrap.dedent(text))
        return path

    def run(self, **options: Any) -> RunResult:
        return run(self.root, target=self.target, **options)

    def rows(self, model: str, order_by: str | list[str] | None = None) -> list[dict[str, Any]]:
        """A model's table as plain Python values (None for NULL)."""
        schema, name = model.split(".")
        wh = connect(self.target)
        try:
            table = wh.table(name, schema)
            result: list[dict[str, Any]] = (
                (table.order_by(order_by) if order_by else table).to_pyarrow().to_pylist()
            )
            return result
        finally:
            wh.close()


def run_rows(target: str, table: str, run_id: str, by: str) -> dict[str, dict[str, Any]]:
    """The rows of the run store's `table` (``_wk.<table>``) of one run, by their `by`."""
    wh = connect(target)
    try:
        rows = wh.table(table, "_wk")
        return {row[by]: row for row in wh.rows(rows.filter(rows.run_id == run_id))}
    finally:
        wh.close()


def model_runs(target: str, run_id: str) -> dict[str, dict[str, Any]]:
    """The `_wk.model_runs` rows of one run, by model."""
    return run_rows(target, "model_runs", run_id, "model")


@pytest.fixture
def tiny(tmp_path: Path, target_url: str) -> TinyProject:
    """An empty project on each backend; add CSVs and a pipeline, then `.run()`."""
    return TinyProject(tmp_path / "project", target_url)


WARM_WK = REPO_ROOT / "tests" / "warm_wk.py"
_servers = ExitStack()


@functools.cache
def _warm_socket() -> str:
    """This test process's warm `wk` server (`warm_wk`), started when first asked for."""
    socket: str = _servers.enter_context(warm_wk.started(dict(os.environ)))
    return socket


def pytest_unconfigure(config: pytest.Config) -> None:
    _servers.close()


def wk(
    *args: str,
    cwd: Path = REPO_ROOT,
    env: dict[str, str | None] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """`wk ARGS` in a new process, as a user runs it: wide output (no wrapping), `env`'s
    variables set (None: unset). Through `warm_wk`, which forks a process that has already
    imported the libraries: a new interpreter spends 2 s importing them, and the suite runs
    hundreds of commands."""
    environment = {**os.environ, "COLUMNS": "200"}
    for key, value in (env or {}).items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    environment["WK_WARM_SOCKET"] = _warm_socket()
    return subprocess.run(
        [sys.executable, "-I", "-S", str(WARM_WK), "wk", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=timeout,
    )
