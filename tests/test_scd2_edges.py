"""Type-2 history at its edges: members deleted and back, late snapshots, facts that follow.

Each test pins a behaviour that once went wrong (issue 13), on DuckDB and PostgreSQL.
Times: a snapshot's time is its ``taken`` column where the pipeline declares
``changed_at: taken``, else when it was loaded.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from warehouse_kit.core.backends import connect
from warehouse_kit.core.runner import check

BEGINNING, END = datetime(1900, 1, 1), datetime(9999, 12, 31)

PIPELINE = """
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
            - {{op: create_dimensions, key: id, scd: 2, columns: [name, segment, as_of],
               {options}}}
        - name: fact_sales
          from: sales
          incremental: {{unique_key: sale_id}}
          operations:
            - op: build_facts
              event_time: sold_at
              dimensions: [{{dimension: dim_customer, key: id}}]
"""
UPDATED_AT = "strategy: updated_at, updated_at: as_of"
CHECK_TAKEN = "strategy: check, track: [segment], changed_at: taken"
SALES = "sale_id,id,sold_at\n1,2,2024-06-01\n2,1,2024-06-01\n"


def load(tiny, customers: str, options: str, sales: str = SALES, *, ok: bool = True):
    """Land a snapshot of customers (id,name,segment,as_of[,taken]) and build both models."""
    header = "id,name,segment,as_of,taken\n" if "taken" in options else "id,name,segment,as_of\n"
    tiny.csv("customers", header + customers)
    tiny.csv("sales", sales)
    tiny.pipeline(PIPELINE.format(options=options))
    result = tiny.run()
    if ok:
        assert result.ok, [failure.error for failure in result.failures()]
    return result


def history(tiny, member: str) -> list[tuple]:
    """A member's versions, oldest first: (segment, from, to, current, deleted)."""
    rows = tiny.rows("gold.dim_customer", order_by=["effective_from"])
    return [
        (r["segment"], r["effective_from"], r["effective_to"], r["is_current"], r["is_deleted"])
        for r in rows
        if r["id"] == member
    ]


def loaded_at(tiny) -> datetime:
    """When the snapshot in bronze was loaded: its time, when it declares none."""
    return tiny.rows("bronze.customers")[0]["_loaded_at"]


def facts(tiny) -> dict[str, tuple]:
    """Each sale's customer version, as (id, segment, effective_from), or -1."""
    versions = {r["customer_key"]: r for r in tiny.rows("gold.dim_customer")}
    found = {}
    for row in tiny.rows("gold.fact_sales"):
        version = versions[row["customer_key"]]
        found[row["sale_id"]] = (
            -1 if row["customer_key"] == -1 else (version["id"], version["segment"])
        )
    return found


def test_a_delete_never_ends_a_version_before_it_began(tiny):
    options = f"{UPDATED_AT}, deletes: invalidate"
    # Bo changed last, in March; the next snapshot, without Bo, holds only January's rows.
    load(tiny, "1,Al,Retail,2024-01-01\n2,Bo,SMB,2024-03-01\n", options)
    load(tiny, "1,Al,Retail,2024-01-01\n", options)
    [(segment, start, end, current, _)] = history(tiny, "2")
    assert (segment, start, current) == ("SMB", BEGINNING, False)
    assert end == loaded_at(tiny)  # deleted when the snapshot without Bo was taken
    assert start < end


@pytest.mark.parametrize("strategy", [UPDATED_AT, CHECK_TAKEN])
def test_a_member_back_unchanged_after_invalidate_gets_one_new_version(tiny, strategy):
    options = f"{strategy}, deletes: invalidate"
    taken = "" if "taken" in strategy else None
    rows = {
        "both": "1,Al,Retail,2024-01-01{t}\n2,Bo,SMB,2024-03-01{t}\n",
        "al": "1,Al,Retail,2024-01-01{t}\n",
    }

    def snapshot(name: str, when: str) -> str:
        return rows[name].format(t="" if taken is None else f",{when}")

    load(tiny, snapshot("both", "2024-04-01"), options)
    load(tiny, snapshot("al", "2024-05-01"), options)
    gone = history(tiny, "2")[0][2]
    result = load(tiny, snapshot("both", "2024-07-01"), options)
    back = history(tiny, "2")
    assert [(segment, current) for segment, _, _, current, _ in back] == [
        ("SMB", False),
        ("SMB", True),
    ]
    assert back[0][1:3] == (BEGINNING, gone)
    assert gone < back[1][1], "the member is back after it went, not from its old updated_at"
    fact = next(m for m in result.models if m.model == "gold.fact_sales")
    assert len(tiny.rows("gold.fact_sales")) == 2, "a fact matches one version, not two"
    assert fact.rows_out == 2


def test_new_record_restores_a_member_that_comes_back_unchanged(tiny):
    options = f"{UPDATED_AT}, deletes: new_record"
    load(tiny, "1,Al,Retail,2024-01-01\n2,Bo,SMB,2024-03-01\n", options)
    load(tiny, "1,Al,Retail,2024-01-01\n", options)
    load(tiny, "1,Al,Retail,2024-01-01\n2,Bo,SMB,2024-03-01\n", options)
    assert [(current, deleted) for *_, current, deleted in history(tiny, "2")] == [
        (False, False),
        (False, True),
        (True, False),  # restored: current, live, with the attributes it came back with
    ]
    load(tiny, "1,Al,Retail,2024-01-01\n2,Bo,SMB,2024-03-01\n", options)
    assert len(history(tiny, "2")) == 3, "a rerun changes nothing"


@pytest.mark.parametrize("deletes", ["invalidate", "new_record"])
def test_a_late_snapshot_is_placed_in_time(tiny, deletes):
    options = f"{CHECK_TAKEN}, deletes: {deletes}"
    january = "1,Al,Retail,x,2024-01-01\n2,Bo,SMB,x,2024-01-01\n"
    march = "1,Al,Enterprise,x,2024-03-01\n2,Bo,SMB,x,2024-03-01\n"
    february = "1,Al,Mid-market,x,2024-02-01\n"  # Bo is missing from it
    sales = "sale_id,id,sold_at\n1,1,2024-02-15\n2,2,2024-02-15\n3,1,2024-01-15\n"
    load(tiny, january, options, sales)
    load(tiny, march, options, sales)
    before = {r["customer_key"] for r in tiny.rows("gold.dim_customer")}
    result = load(tiny, february, options, sales)  # taken between the two, arriving last
    dimension = next(m for m in result.models if m.model == "gold.dim_customer")
    assert "a late snapshot (2024-02-01 00:00:00) placed before 2024-03-01" in dimension.note

    feb, mar = datetime(2024, 2, 1), datetime(2024, 3, 1)
    assert [v[:3] for v in history(tiny, "1")] == [
        ("Retail", BEGINNING, feb),
        ("Mid-market", feb, mar),
        ("Enterprise", mar, END),
    ]
    if deletes == "invalidate":
        assert [v[:4] for v in history(tiny, "2")] == [
            ("SMB", BEGINNING, feb, False),
            ("SMB", mar, END, True),  # back in March
        ]
    else:
        assert [(v[1], v[2], v[4]) for v in history(tiny, "2")] == [
            (BEGINNING, feb, False),
            (feb, mar, True),
            (mar, END, False),
        ]
    # The facts follow: mid-February Al was Mid-market and Bo gone (or flagged deleted).
    bo = -1 if deletes == "invalidate" else ("2", "SMB")
    assert facts(tiny) == {"1": ("1", "Mid-market"), "2": bo, "3": ("1", "Retail")}
    after = {r["customer_key"] for r in tiny.rows("gold.dim_customer")}
    assert before <= after, "surrogate keys given out before stay"


def test_loading_snapshots_in_any_order_gives_the_same_history(tiny, tmp_path):
    options = f"{CHECK_TAKEN}, deletes: new_record"
    snapshots = [
        "1,Al,Retail,x,2024-01-01\n2,Bo,SMB,x,2024-01-01\n",
        "1,Al,Enterprise,x,2024-02-01\n",
        "1,Al,Enterprise,x,2024-03-01\n2,Bo,SMB,x,2024-03-01\n3,Cy,SMB,x,2024-03-01\n",
    ]
    for snapshot in (snapshots[2], snapshots[0], snapshots[1]):
        load(tiny, snapshot, options)
    shuffled = {m: history(tiny, m) for m in ("1", "2", "3")}
    tiny.target = f"duckdb:///{tmp_path}/in-order.duckdb"
    for snapshot in snapshots:
        load(tiny, snapshot, options)
    assert {m: history(tiny, m) for m in ("1", "2", "3")} == shuffled


def test_facts_fail_rather_than_match_two_versions_of_a_member(tiny):
    options = f"{UPDATED_AT}, deletes: invalidate"
    load(tiny, "1,Al,Retail,2024-01-01\n2,Bo,SMB,2024-03-01\n", options)
    load(tiny, "1,Al,SMB,2024-02-01\n2,Bo,SMB,2024-03-01\n", options)
    kept = tiny.rows("gold.fact_sales", order_by="sale_id")
    wh = connect(tiny.target)
    try:  # break the dimension by hand: Al's first version now overlaps his second
        wh.con.raw_sql(
            "UPDATE gold.dim_customer SET effective_to = '9999-12-31', _wk_run_id = 'x' "
            "WHERE id = '1' AND effective_from = '1900-01-01'"
        )
    finally:
        wh.close()
    more_sales = SALES + "3,1,2024-07-01\n"  # a new sale of Al's
    result = load(tiny, "1,Al,SMB,2024-02-01\n2,Bo,SMB,2024-03-01\n", options, more_sales, ok=False)
    [failure] = result.failures()
    assert failure.model == "gold.fact_sales"
    assert "gold.dim_customer has overlapping versions of a member" in failure.error
    assert "id=1: customer_key 1 [1900-01-01 00:00:00, 9999-12-31 00:00:00)" in failure.error
    assert tiny.rows("gold.fact_sales", order_by="sale_id") == kept


def test_wk_check_checks_the_whole_history_against_the_rules(tiny):
    options = f"{UPDATED_AT}, deletes: invalidate"
    load(tiny, "1,Al,Retail,2024-01-01\n2,Bo,SMB,2024-03-01\n", options)
    load(tiny, "1,Al,SMB,2024-02-01\n2,Bo,SMB,2024-03-01\n", options)
    [verdict] = [r for r in check(tiny.root, target=tiny.target) if r.check == "history_rules"]
    assert (verdict.model, verdict.status, verdict.total_rows) == ("gold.dim_customer", "pass", 3)
    wh = connect(tiny.target)
    try:  # Al's first version now ends before it starts
        wh.con.raw_sql(
            "UPDATE gold.dim_customer SET effective_to = '1899-01-01' "
            "WHERE id = '1' AND effective_from = '1900-01-01'"
        )
    finally:
        wh.close()
    [verdict] = [r for r in check(tiny.root, target=tiny.target) if r.check == "history_rules"]
    assert (verdict.status, verdict.failing_rows) == ("fail", 1)
    assert verdict.sample[0]["problem"] == "ends before it starts"
    assert "1 of 3 versions break the rules: id=1, customer_key=1" in verdict.message
