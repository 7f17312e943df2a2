"""Type-2 dimensions and point-in-time facts, batch after batch, on DuckDB and PostgreSQL."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from itertools import pairwise

import pytest

BEGINNING, END = datetime(1900, 1, 1), datetime(9999, 12, 31)


FACTS = """
        - name: fact_sales
          from: sales
          operations:
            - op: build_facts
              event_time: sold_at
              dimensions: [{dimension: dim_customer, key: id}]
"""


def dimension_pipeline(options: str, facts: bool = False) -> str:
    return f"""
pipeline:
  name: p
  sources:
    - {{name: crm, type: files, path: data, tables: [customers], load: replace}}
    - {{name: shop, type: files, path: data, tables: [sales], load: replace}}
  transformations:
    - stage: bronze
    - stage: gold
      models:
        - name: dim_customer
          from: customers
          operations:
            - {{op: create_dimensions, key: id, scd: 2, columns: [name, segment, city, as_of],
               {options}}}
{FACTS if facts else ""}
"""


CHECK = "strategy: check, track: [segment, city], type1: [name], changed_at: as_of"


def load(
    tiny, rows: str, options: str = CHECK, sales: str = "id,sold_at,amount\n", facts: bool = False
):
    tiny.csv("customers", "id,name,segment,city,as_of\n" + rows)
    tiny.csv("sales", sales)
    tiny.pipeline(dimension_pipeline(options, facts))
    result = tiny.run()
    assert result.ok, result.failures()
    return tiny.rows("gold.dim_customer", order_by=["customer_key"])


def versions(rows: list[dict]) -> dict[str, list[tuple]]:
    """Each key's versions as (segment, city, from, to, current), in order, unknown member aside."""
    found: dict[str, list[tuple]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (str(r["id"]), r["effective_from"])):
        if row["customer_key"] != -1:
            found[row["id"]].append(
                (
                    row["segment"],
                    row["city"],
                    row["effective_from"],
                    row["effective_to"],
                    row["is_current"],
                )
            )
    return dict(found)


def assert_invariants(rows: list[dict], *, gaps_allowed: bool = False) -> None:
    by_key = defaultdict(list)
    for row in rows:
        if row["customer_key"] != -1:
            by_key[row["id"]].append(row)
    assert len({row["customer_key"] for row in rows}) == len(rows), "surrogate keys are unique"
    for key, history in by_key.items():
        history.sort(key=lambda r: r["effective_from"])
        assert sum(r["is_current"] for r in history) <= 1, f"{key}: at most one current version"
        for earlier, later in pairwise(history):
            assert earlier["effective_to"] <= later["effective_from"], f"{key}: versions overlap"
            if not gaps_allowed:
                assert earlier["effective_to"] == later["effective_from"], (
                    f"{key}: a gap between versions"
                )
        for row in history:
            assert row["effective_from"] < row["effective_to"], f"{key}: an empty version"
            assert row["is_current"] == (row["effective_to"] == END), f"{key}: current means open"


def test_the_first_load_opens_one_version_per_member_since_the_beginning(tiny):
    rows = load(tiny, "1,Al,Retail,Oslo,2024-01-01\n2,Bo,Retail,Rome,2024-01-01\n")
    assert versions(rows) == {
        "1": [("Retail", "Oslo", BEGINNING, END, True)],
        "2": [("Retail", "Rome", BEGINNING, END, True)],
    }
    unknown = next(row for row in rows if row["customer_key"] == -1)
    assert (unknown["name"], unknown["is_current"], unknown["effective_to"]) == (
        "Unknown",
        True,
        END,
    )
    assert_invariants(rows)


def test_a_change_closes_the_current_version_and_opens_a_new_one(tiny):
    load(tiny, "1,Al,Retail,Oslo,2024-01-01\n2,Bo,Retail,Rome,2024-01-01\n")
    rows = load(tiny, "1,Al,Enterprise,Oslo,2024-03-01\n2,Bo,Retail,Rome,2024-03-01\n")
    march = datetime(2024, 3, 1)
    assert versions(rows) == {
        "1": [
            ("Retail", "Oslo", BEGINNING, march, False),
            ("Enterprise", "Oslo", march, END, True),
        ],
        "2": [("Retail", "Rome", BEGINNING, END, True)],  # unchanged: no new version
    }
    assert_invariants(rows)


def test_surrogate_keys_of_existing_versions_never_change(tiny):
    first = load(tiny, "1,Al,Retail,Oslo,2024-01-01\n2,Bo,Retail,Rome,2024-01-01\n")
    second = load(
        tiny,
        "1,Al,Enterprise,Oslo,2024-03-01\n2,Bo,Retail,Rome,2024-03-01\n3,Cy,SMB,Bern,2024-03-01\n",
    )
    before = {(row["id"], row["effective_from"]): row["customer_key"] for row in first}
    after = {(row["id"], row["effective_from"]): row["customer_key"] for row in second}
    assert all(after[version] == key for version, key in before.items())
    assert sorted(after.values()) == [-1, 1, 2, 3, 4]


def test_rerunning_a_batch_changes_nothing(tiny):
    load(tiny, "1,Al,Retail,Oslo,2024-01-01\n")
    batch = "1,Al,Enterprise,,2024-03-01\n"
    first = load(tiny, batch)
    assert tiny.run().ok
    assert tiny.rows("gold.dim_customer", order_by=["customer_key"]) == first


def test_a_change_to_or_from_null_is_a_change(tiny):
    load(tiny, "1,Al,Retail,Oslo,2024-01-01\n")
    load(tiny, "1,Al,Retail,,2024-02-01\n")
    rows = load(tiny, "1,Al,Retail,Oslo,2024-03-01\n")
    assert [(city, current) for _, city, _, _, current in versions(rows)["1"]] == [
        ("Oslo", False),
        (None, False),
        ("Oslo", True),
    ]
    assert_invariants(rows)


def test_type1_columns_overwrite_every_version_without_opening_one(tiny):
    load(tiny, "1,Al,Retail,Oslo,2024-01-01\n")
    load(tiny, "1,Al,Enterprise,Oslo,2024-02-01\n")
    rows = load(tiny, "1,Alan,Enterprise,Oslo,2024-03-01\n")
    assert [row["name"] for row in rows if row["id"] == "1"] == ["Alan", "Alan"]
    assert len(versions(rows)["1"]) == 2


@pytest.mark.parity
def test_invalidate_closes_a_deleted_member_and_a_return_opens_a_new_version(tiny):
    options = CHECK + ", deletes: invalidate"
    load(tiny, "1,Al,Retail,Oslo,2024-01-01\n2,Bo,Retail,Rome,2024-01-01\n", options)
    rows = load(tiny, "1,Al,Retail,Oslo,2024-02-01\n", options)
    february = datetime(2024, 2, 1)
    assert versions(rows)["2"] == [("Retail", "Rome", BEGINNING, february, False)]
    rows = load(tiny, "1,Al,Retail,Oslo,2024-04-01\n2,Bo,Retail,Rome,2024-04-01\n", options)
    april = datetime(2024, 4, 1)
    assert versions(rows)["2"] == [
        ("Retail", "Rome", BEGINNING, february, False),
        ("Retail", "Rome", april, END, True),
    ]
    assert_invariants(rows, gaps_allowed=True)


def test_new_record_adds_a_version_flagged_deleted(tiny):
    options = CHECK + ", deletes: new_record"
    load(tiny, "1,Al,Retail,Oslo,2024-01-01\n2,Bo,Retail,Rome,2024-01-01\n", options)
    rows = load(tiny, "1,Al,Retail,Oslo,2024-02-01\n", options)
    bo = sorted((r for r in rows if r["id"] == "2"), key=lambda r: r["effective_from"])
    assert [(r["is_deleted"], r["is_current"]) for r in bo] == [(False, False), (True, True)]
    rows = load(tiny, "1,Al,Retail,Oslo,2024-03-01\n2,Bo,Retail,Rome,2024-03-01\n", options)
    bo = sorted((r for r in rows if r["id"] == "2"), key=lambda r: r["effective_from"])
    assert [(r["is_deleted"], r["is_current"]) for r in bo] == [
        (False, False),
        (True, False),
        (False, True),
    ]
    assert tiny.run().ok  # and a rerun adds no further deleted version
    assert len(tiny.rows("gold.dim_customer")) == len(rows)
    assert_invariants(rows)


UPDATED_AT = "strategy: updated_at, updated_at: as_of"


def test_several_changes_of_one_key_in_a_batch_become_versions_in_order(tiny):
    rows = load(
        tiny,
        "1,Al,SMB,Oslo,2024-03-01\n1,Al,Retail,Oslo,2024-01-01\n1,Al,Enterprise,Oslo,2024-05-01\n",
        UPDATED_AT,
    )
    march, may = datetime(2024, 3, 1), datetime(2024, 5, 1)
    assert versions(rows)["1"] == [
        ("Retail", "Oslo", BEGINNING, march, False),
        ("SMB", "Oslo", march, may, False),
        ("Enterprise", "Oslo", may, END, True),
    ]
    assert_invariants(rows)


def test_updated_at_ignores_rows_that_are_not_newer(tiny):
    load(tiny, "1,Al,Retail,Oslo,2024-03-01\n", UPDATED_AT)
    rows = load(tiny, "1,Al,SMB,Oslo,2024-02-01\n", UPDATED_AT)  # older than what we have
    assert versions(rows)["1"] == [("Retail", "Oslo", BEGINNING, END, True)]


def test_two_different_rows_of_a_key_at_the_same_time_are_reported(tiny):
    tiny.csv(
        "customers",
        "id,name,segment,city,as_of\n1,Al,SMB,Oslo,2024-03-01\n1,Al,Retail,Oslo,2024-03-01\n",
    )
    tiny.csv("sales", "id,sold_at,amount\n")
    tiny.pipeline(dimension_pipeline(UPDATED_AT))
    [failure] = tiny.run().failures()
    assert failure.model == "gold.dim_customer"
    assert (
        "natural key (id) at the same time is not unique in the input, e.g. 1, 2024-03-01"
        in failure.error
    )


def test_facts_take_the_version_valid_when_they_happened(tiny):
    sales = (
        "id,sold_at,amount\n1,2023-06-01,10\n1,2024-04-15,20\n9,2024-04-15,30\n2,2024-02-15,40\n"
        "1,,50\n"
    )
    options = CHECK + ", deletes: invalidate"
    load(
        tiny,
        "1,Al,Retail,Oslo,2024-01-01\n2,Bo,Retail,Rome,2024-01-01\n",
        options,
        sales,
        facts=True,
    )
    load(tiny, "1,Al,Enterprise,Oslo,2024-04-01\n", options, sales, facts=True)  # 2 is deleted
    dimension = tiny.rows("gold.dim_customer")
    key_of = {(row["id"], row["segment"]): row["customer_key"] for row in dimension}
    facts = {row["amount"]: row["customer_key"] for row in tiny.rows("gold.fact_sales")}
    assert facts == {
        "10": key_of[("1", "Retail")],  # before the change: the first version
        "20": key_of[("1", "Enterprise")],  # after it: the new one
        "30": -1,  # no such member: the unknown member
        "40": key_of[("2", "Retail")],  # before Bo was deleted
        "50": key_of[("1", "Enterprise")],  # when unknown: the current version
    }


@pytest.mark.parametrize("when", ["2024-05-01"])
def test_a_fact_while_its_member_is_deleted_gets_the_unknown_member(tiny, when):
    options = CHECK + ", deletes: invalidate"
    sales = f"id,sold_at,amount\n2,{when},40\n"
    load(
        tiny,
        "1,Al,Retail,Oslo,2024-01-01\n2,Bo,Retail,Rome,2024-01-01\n",
        options,
        sales,
        facts=True,
    )
    load(tiny, "1,Al,Retail,Oslo,2024-04-01\n", options, sales, facts=True)
    assert [row["customer_key"] for row in tiny.rows("gold.fact_sales")] == [-1]


def test_a_late_batch_is_refused_when_inputs_need_not_be_full_snapshots(tiny):
    load(tiny, "1,Al,Retail,Oslo,2024-03-01\n")
    load(tiny, "1,Al,SMB,Oslo,2024-04-01\n")
    before = tiny.rows("gold.dim_customer", order_by=["customer_key"])
    tiny.csv("customers", "id,name,segment,city,as_of\n1,Al,Enterprise,Oslo,2024-02-01\n")
    [failure] = tiny.run().failures()
    assert failure.model == "gold.dim_customer"
    assert "a snapshot of 2024-02-01 00:00:00, is older than the latest one" in failure.error
    assert "(2024-04-01 00:00:00)" in failure.error
    assert "with deletes: ignore" in failure.error
    assert failure.error.startswith("batch ")  # names the batch
    assert tiny.rows("gold.dim_customer", order_by=["customer_key"]) == before


def test_an_empty_snapshot_does_not_delete_every_member(tiny):
    options = CHECK + ", deletes: invalidate"
    load(tiny, "1,Al,Retail,Oslo,2024-01-01\n", options)
    tiny.csv("customers", "id,name,segment,city,as_of\n")
    [failure] = tiny.run().failures()
    assert "the input is empty" in failure.error
    assert versions(tiny.rows("gold.dim_customer"))["1"][0][4] is True  # still current


def test_the_change_time_defaults_to_when_rows_were_loaded(tiny):
    rows = load(tiny, "1,Al,Retail,Oslo,2024-01-01\n", "strategy: check")
    assert versions(rows)["1"][0][2:] == (BEGINNING, END, True)
    load(tiny, "1,Al,Enterprise,Oslo,2024-01-01\n", "strategy: check")
    second = versions(tiny.rows("gold.dim_customer"))["1"][1]
    loaded = tiny.rows("bronze.customers")[0]["_loaded_at"]
    assert (second[0], second[2]) == ("Enterprise", loaded)
