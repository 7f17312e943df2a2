"""Measures stay right across joins: one-to-many joins and two facts never double count.

A small star built by hand, on each backend: sales (the fact), customers (many
to one), customer tags (one to many: a customer has several tags, customer 1 has
'vip' twice, customer 5 'newsletter' twice, customer 3 none), and visits (a second
fact). The expected values are computed here with pandas, from the same rows;
the naive SQL join each test shows gets them wrong.
"""

from __future__ import annotations

import textwrap
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from warehouse_kit.analytics import metrics
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.errors import WarehouseKitError

SALES = pd.DataFrame(
    [
        (1, 1, date(2024, 1, 3), "100.00", "web"),
        (2, 1, date(2024, 1, 20), "50.50", "store"),
        (3, 2, date(2024, 1, 5), "20.00", "web"),
        (4, 3, date(2024, 2, 1), "70.25", "web"),
        (5, 4, date(2024, 2, 14), "10.00", "store"),
        (6, 4, date(2024, 3, 1), "300.00", "web"),
        (7, 5, date(2024, 3, 9), "40.00", "web"),
        (8, 2, date(2024, 3, 10), "5.75", "store"),
        (9, 1, date(2024, 3, 31), "60.00", "web"),
        (10, 9, date(2024, 2, 2), "15.00", "web"),  # a customer the dimension lacks
    ],
    columns=["sale_id", "customer_id", "day", "amount", "channel"],
)
CUSTOMERS = pd.DataFrame(
    [
        (1, "retail"),
        (2, "retail"),
        (3, "business"),
        (4, "business"),
        (5, "retail"),
        (6, "wholesale"),
    ],
    columns=["customer_id", "segment"],
)
TAGS = pd.DataFrame(
    [
        (1, "vip"), (1, "vip"), (1, "newsletter"), (2, "newsletter"), (4, "vip"),
        (4, "churn_risk"), (5, "newsletter"), (5, "newsletter"),
    ],
    columns=["customer_id", "tag"],
)  # fmt: skip
VISITS = pd.DataFrame(
    [(i, customer, date(2024, 1 + i % 3, 1 + i)) for i, customer in enumerate(
        [1, 1, 1, 1, 2, 2, 3, 4, 4, 4, 4, 4, 5, 6, 6, 9, 9]
    )],
    columns=["visit_id", "customer_id", "day"],
)  # fmt: skip

ANALYTICS = """
models:
  sales:
    table: gold.fact_sales
    time: day
    joins:
      dim_customers: customer_id
      customer_tags: {table: gold.customer_tags, on: customer_id, relationship: one_to_many}
  visits:
    table: gold.fact_visits
    time: day
    joins:
      dim_customers: {on: {customer_id: customer_id}}
metrics:
  revenue: {type: sum, expr: amount, model: sales}
  sales: {type: count, model: sales}
  average_sale: {type: custom, expr: sum(amount) / count(*), model: sales}
  buyers: {type: count_distinct, expr: customer_id, model: sales}
  visits: {type: count, model: visits}
  conversion: {type: ratio, numerator: sales, denominator: visits}
  tags_used: {type: count_distinct, expr: tag, model: sales}
"""


def _arrow(frame: pd.DataFrame) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if "amount" in frame:
        amounts = pa.array([Decimal(a) for a in frame["amount"]], pa.decimal128(10, 2))
        table = table.set_column(table.schema.get_field_index("amount"), "amount", amounts)
    return table


@pytest.fixture(scope="module")
def star(
    shared_warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Warehouse, metrics.SemanticLayer]:
    shared_warehouse.ensure_schema("gold")
    for name, frame in (
        ("fact_sales", SALES),
        ("dim_customers", CUSTOMERS),
        ("customer_tags", TAGS),
        ("fact_visits", VISITS),
    ):
        shared_warehouse.con.create_table(name, _arrow(frame), database="gold", overwrite=True)
    root = tmp_path_factory.mktemp("metrics_joins")
    (root / "analytics").mkdir()
    (root / "analytics" / "sales.yml").write_text(textwrap.dedent(ANALYTICS))
    return shared_warehouse, metrics.load(root)


def result(star: tuple[Warehouse, Any], names: list[str], **options: Any) -> dict[Any, tuple]:
    """{group key: metric values} of a query, values as rounded floats."""
    warehouse, layer = star
    expr = metrics.query(names, warehouse=warehouse, project=layer, **options)
    keys = [c for c in expr.columns if c not in names]
    return {
        tuple(row[k] for k in keys): tuple(_number(row[n]) for n in names)
        for row in warehouse.rows(expr)
    }


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 6)


def sales_with_tags() -> pd.DataFrame:
    """Each sale once per distinct tag of its customer (NaN: no tag)."""
    distinct = TAGS.drop_duplicates()
    frame = SALES.merge(distinct, on="customer_id", how="left")
    return frame.assign(amount=frame.amount.astype(float))


def naive(star: tuple[Warehouse, Any], sql: str) -> dict[Any, float]:
    """What the plain join computes (the mistake the layer avoids)."""
    warehouse, _ = star
    rows = warehouse.con.raw_sql(sql).fetchall()
    return {row[:-1]: round(float(row[-1]), 6) for row in rows}


def test_grouping_by_a_one_to_many_column_counts_each_sale_once_per_group(star):
    frame = sales_with_tags()
    expected = {
        (None if pd.isna(tag) else tag,): (round(group.amount.sum(), 6), float(len(group)))
        for tag, group in frame.groupby("tag", dropna=False)
    }
    assert result(star, ["revenue", "sales"], by=["tag"]) == expected
    plain = naive(
        star,
        "SELECT t.tag, sum(s.amount) FROM gold.fact_sales s "
        "LEFT JOIN gold.customer_tags t ON s.customer_id = t.customer_id GROUP BY t.tag",
    )
    assert plain[("vip",)] > expected[("vip",)][0]  # customer 1's 'vip' twice: sales doubled


def test_a_filter_on_a_one_to_many_column_keeps_each_sale_once(star):
    customers = set(TAGS[TAGS.tag.isin(["vip", "newsletter"])].customer_id)
    kept = SALES[SALES.customer_id.isin(customers)].assign(amount=lambda f: f.amount.astype(float))
    expected = {
        (): (
            round(kept.amount.sum(), 6),
            float(len(kept)),
            round(kept.amount.sum() / len(kept), 6),
            float(kept.customer_id.nunique()),
        )
    }
    found = result(
        star, ["revenue", "sales", "average_sale", "buyers"], where="tag IN ('vip', 'newsletter')"
    )
    assert found == expected
    plain = naive(
        star,
        "SELECT count(*) FROM gold.fact_sales s JOIN gold.customer_tags t "
        "ON s.customer_id = t.customer_id WHERE t.tag IN ('vip', 'newsletter')",
    )
    assert plain[()] > len(kept)  # a customer with both tags, or one twice: lines repeated


def test_one_to_many_groups_combine_with_many_to_one_groups_and_periods(star):
    frame = sales_with_tags().merge(CUSTOMERS, on="customer_id", how="left")
    frame["month"] = pd.to_datetime(frame.day).dt.to_period("M").dt.start_time.dt.date
    expected = {
        (
            month,
            segment if isinstance(segment, str) else None,
            tag if isinstance(tag, str) else None,
        ): (round(group.amount.sum(), 6),)
        for (month, segment, tag), group in frame.groupby(["month", "segment", "tag"], dropna=False)
    }
    assert result(star, ["revenue"], by=["segment", "tag"], grain="month") == expected


def test_metrics_of_two_facts_are_aggregated_apart_then_joined(star):
    sales = SALES.merge(CUSTOMERS, on="customer_id", how="left").groupby("segment", dropna=False)
    visits = VISITS.merge(CUSTOMERS, on="customer_id", how="left").groupby("segment", dropna=False)
    counts = pd.DataFrame({"sales": sales.size(), "visits": visits.size()})
    expected = {
        (segment if isinstance(segment, str) else None,): (
            _number(row.sales),
            _number(row.visits),
            _number(row.sales / row.visits),
        )
        for segment, row in counts.iterrows()
    }
    assert result(star, ["sales", "visits", "conversion"], by=["segment"]) == expected
    assert expected[("wholesale",)][0] is None  # visits without sales: the segment stays
    plain = naive(
        star,
        "SELECT c.segment, count(*) FROM gold.fact_sales s "
        "JOIN gold.fact_visits v ON s.customer_id = v.customer_id "
        "JOIN gold.dim_customers c ON s.customer_id = c.customer_id GROUP BY c.segment",
    )
    assert plain[("retail",)] > expected[("retail",)][0]  # each sale once per visit


def test_a_measure_over_a_one_to_many_column_is_refused(star):
    with pytest.raises(WarehouseKitError, match="one-to-many join customer_tags"):
        result(star, ["tags_used"])


def test_a_condition_mixing_a_one_to_many_join_and_the_fact_is_refused(star):
    with pytest.raises(WarehouseKitError, match="split it into conditions joined by AND"):
        result(star, ["revenue"], where="tag = 'vip' OR amount > 50")
    # ... while the same conditions joined by AND are fine
    vip = set(TAGS[TAGS.tag == "vip"].customer_id)
    expected = SALES[SALES.customer_id.isin(vip) & (SALES.amount.astype(float) > 50)]
    both = result(star, ["sales"], where="tag = 'vip' AND amount > 50")
    assert both == {(): (float(len(expected)),)}


def test_a_name_two_joins_share_is_ambiguous(star):
    with pytest.raises(WarehouseKitError, match=r"unknown column 'tag' in model visits"):
        result(star, ["visits"], by=["tag"])
