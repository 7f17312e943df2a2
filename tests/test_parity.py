"""One example, three engines: DuckDB, PostgreSQL and Spark build the same warehouse.

The example (both seed batches) is built on each engine; its gold tables must hold the
same rows, every KPI of analytics/retail.yml the same values, and each experiment the
same sufficient statistics and conclusion. Types may differ in width (a DECIMAL(18, 2)
on one engine is a DECIMAL(19, 2) on another); values may not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from conftest import REPO_ROOT, fresh_postgres_database, spark_url
from warehouse_kit.analytics import experiments, metrics
from warehouse_kit.apps.notebooks_refresh import build_example
from warehouse_kit.core.backends import Warehouse, connect
from warehouse_kit.core.project import Project

pytestmark = [pytest.mark.spark, pytest.mark.postgres, pytest.mark.slow]

GOLD = ["dim_customer", "dim_product", "dim_date", "fact_orders", "mart_monthly_sales"]
RUN_DEPENDENT = {
    # The example's product file carries no change time: a product's versions begin
    # when its batch was loaded, a moment that differs from build to build.
    "dim_product": {"effective_from", "effective_to"},
}


@pytest.fixture(scope="module")
def engines(
    spark_session: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Warehouse]]:
    """The example warehouse built on each engine."""
    project = Project.load(REPO_ROOT)
    with ExitStack() as stack:
        urls = {
            "duckdb": f"duckdb:///{tmp_path_factory.mktemp('parity')}/warehouse.duckdb",
            "postgres": stack.enter_context(fresh_postgres_database()),
            "spark": spark_url(tmp_path_factory.mktemp("parity-spark")),
        }
        opened = {}
        for engine, url in urls.items():
            build_example(project, url)
            opened[engine] = connect(url)
            stack.callback(opened[engine].close)
        yield opened


def normal(value: Any) -> Any:
    """A value as every engine's type for it compares: 5, Decimal('5') and 5.0 alike."""
    if isinstance(value, Decimal | float):
        return format(Decimal(str(value)).normalize(), "f") if value == value else "NaN"
    if isinstance(value, int) and not isinstance(value, bool):
        return format(Decimal(value), "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def digest(warehouse: Warehouse, name: str) -> tuple[int, str]:
    """Row count and a digest of a gold table's rows in any order, without the columns a
    build writes for itself (its run id, when it first saw a row)."""
    table = warehouse.table(name, "gold")
    skipped = RUN_DEPENDENT.get(name, set())
    kept = [c for c in table.columns if not c.startswith("_wk_") and c not in skipped]
    rows = warehouse.rows(table.select(*kept))
    lines = sorted(repr([normal(row[c]) for c in kept]) for row in rows)
    return len(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest()


@pytest.mark.parametrize("name", GOLD)
def test_every_engine_builds_the_same_gold_rows(engines: dict[str, Warehouse], name: str) -> None:
    found = {engine: digest(warehouse, name) for engine, warehouse in engines.items()}
    assert found["duckdb"][0] > 0
    assert found["postgres"] == found["duckdb"], name
    assert found["spark"] == found["duckdb"], name


def figures(warehouse: Warehouse, layer: metrics.SemanticLayer, name: str) -> list[list[Any]]:
    options = {} if name in layer.queries else {"grain": "month"}
    expr = metrics.query(name, warehouse=warehouse, project=layer, **options)
    rows = [[_rounded(row[c]) for c in expr.columns] for row in warehouse.rows(expr)]
    return sorted(rows, key=repr)


def _rounded(value: Any) -> Any:
    if isinstance(value, float | Decimal):
        return round(float(value), 9)
    return normal(value)


def test_every_kpi_has_the_same_values_on_every_engine(engines: dict[str, Warehouse]) -> None:
    layer = metrics.load(REPO_ROOT)
    names = sorted(layer.metrics) + sorted(layer.queries)
    for name in names:
        expected = figures(engines["duckdb"], layer, name)
        assert expected, name
        for engine in ("postgres", "spark"):
            assert figures(engines[engine], layer, name) == expected, (engine, name)


def test_every_experiment_reads_the_same_on_every_engine(engines: dict[str, Warehouse]) -> None:
    project = Project.load(REPO_ROOT)
    for experiment in experiments.load_experiments(project).values():
        found = {}
        for engine, warehouse in engines.items():
            sums = experiments.sufficient_statistics(warehouse, experiment)
            result = experiments.analyze_stats(experiment, sums)
            found[engine] = (_plain(sums), result.conclusion())
        assert found["postgres"] == found["duckdb"], experiment.key
        assert found["spark"] == found["duckdb"], experiment.key


def _plain(value: Any) -> Any:
    """Sufficient statistics as plain values, floats rounded (sums in another order)."""
    if hasattr(value, "__dataclass_fields__"):
        return {name: _plain(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, float):
        return round(value, 6)
    return value
