"""Every row accounted for: rows in = rows out + quarantined + dropped, by reason; on every
backend. A value that does not parse is counted in the run's notes."""

from __future__ import annotations

import json

from warehouse_kit.core.backends import connect

ORDERS = """id,customer,amount,status
1,a,10,paid
2,b,20,paid
2,b,20,paid
,c,5,paid
4,d,x,paid
5,e,-3,paid
6,f,7,void
"""

PIPELINE = """
pipeline:
  name: p
  sources: [{name: shop, type: files, path: data, tables: [orders], load: replace}]
  transformations:
    - stage: silver
      models:
        - name: orders
          operations:
            - {op: type_casting, columns: {id: int64, amount: int64}}
            - {op: null_handling, columns: {id: drop}}
            - {op: deduplicate, key: id}
            - op: apply_business_rules
              rules: [{name: not_void, condition: "status <> 'void'", action: filter}]
          quality_checks:
            - {name: amount_positive, type: range, field: amount, min: 0, action: quarantine}
"""


def record(tiny, run_id: str) -> dict:
    wh = connect(tiny.target)
    try:
        runs = wh.table("model_runs", "_wk")
        [row] = wh.rows(runs.filter((runs.run_id == run_id) & (runs.model == "silver.orders")))
        return row
    finally:
        wh.close()


def test_rows_in_are_rows_out_plus_quarantined_plus_dropped_by_reason(tiny):
    tiny.csv("orders", ORDERS)
    tiny.pipeline(PIPELINE)
    result = tiny.run()
    assert result.ok
    step = record(tiny, result.run_id)
    assert (step["rows_in"], step["rows_out"], step["rows_quarantined"]) == (7, 3, 1)
    assert json.loads(step["dropped"]) == {
        "NULL id": 1,
        "duplicate (id)": 1,
        "rule not_void": 1,
    }
    assert step["rows_dropped"] == 3
    assert step["rows_in"] == step["rows_out"] + step["rows_quarantined"] + step["rows_dropped"]
    assert "amount as int64: 1 of 7 non-empty values (14.3%) did not parse (NULL)" in step["notes"]
    [model] = [m for m in result.models if m.model == "silver.orders"]
    assert model.dropped == {"NULL id": 1, "duplicate (id)": 1, "rule not_void": 1}


def test_a_file_of_another_dialect_says_its_values_did_not_parse(tiny):
    """Decimal commas in a ;-separated file: every amount is NULL, and the run says so."""
    tiny.csv("orders", "id;customer;amount;status\n1;a;10,5;paid\n2;b;20,25;paid\n")
    tiny.pipeline(PIPELINE.replace("amount: int64", "amount: 'decimal(10,2)'"))
    result = tiny.run()
    step = record(tiny, result.run_id)
    assert (
        "amount as decimal(10, 2): 2 of 2 non-empty values (100.0%) did not parse"
        in (step["notes"])
    )


def test_a_cast_that_loses_more_than_allowed_warns_and_fails_under_freeze(tiny, caplog):
    many = "id,customer,amount,status\n" + "".join(f"{i},c,{i},paid\n" for i in range(1, 40))
    tiny.csv("orders", many + "40,c,x,paid\n")  # 1 in 40: within the 5% allowed
    tiny.pipeline(PIPELINE)
    step = record(tiny, tiny.run().run_id)
    assert "1 amount as int64 did not parse (NULL)" in step["notes"]
    assert "did not parse" not in caplog.text
    tiny.csv("orders", many + "40,c,x,paid\n41,c,y,paid\n42,c,z,paid\n")  # 3 in 42
    step = record(tiny, tiny.run().run_id)
    warning = "amount as int64: 3 of 42 non-empty values (7.1%) did not parse"
    assert f"{warning} (NULL)" in step["notes"]
    assert f"silver.orders: {warning}, over the 5% type_casting allows (max_unparsed)" in (
        caplog.text
    )
    tiny.pipeline(PIPELINE.replace("amount: int64}}", "amount: int64}, max_unparsed: 0.1}"))
    # The limit says nothing about what the table holds: the model is up to date till rebuilt.
    step = record(tiny, tiny.run(full_refresh=True).run_id)
    assert "3 amount as int64 did not parse (NULL)" in step["notes"]
    frozen = PIPELINE.replace("  name: p\n", "  name: p\n  schema_contract: freeze\n")
    tiny.pipeline(frozen)
    before = tiny.rows("silver.orders", order_by="id")
    [failure] = tiny.run(full_refresh=True).failures()
    assert failure.error == f"{warning}, over the 5% type_casting allows (max_unparsed), and " + (
        "schema_contract: freeze fails it"
    )
    assert tiny.rows("silver.orders", order_by="id") == before


def test_a_single_reason_and_a_clean_input_are_accounted_for_without_counting_again(tiny):
    tiny.csv("orders", "id,customer,amount,status\n1,a,10,paid\n1,a,10,paid\n2,b,5,paid\n")
    tiny.pipeline(
        PIPELINE.replace(
            """            - {op: null_handling, columns: {id: drop}}
""",
            "",
        )
    )
    first = record(tiny, tiny.run().run_id)
    assert json.loads(first["dropped"]) == {"duplicate (id)": 1, "rule not_void": 0}
    assert (first["rows_in"], first["rows_out"], first["rows_dropped"]) == (3, 2, 1)
    tiny.csv("orders", "id,customer,amount,status\n1,a,10,paid\n2,b,5,paid\n")
    clean = record(tiny, tiny.run().run_id)
    assert (clean["rows_dropped"], json.loads(clean["dropped"])) == (
        0,
        {"duplicate (id)": 0, "rule not_void": 0},
    )


def test_models_that_make_their_own_rows_are_not_held_to_rows_in(tiny):
    """A date dimension has a row per day, a Python model whatever its function returns:
    neither is short of rows it dropped."""
    tiny.csv("days", "day\n2024-01-05\n2024-03-01\n")
    tiny.pipeline(
        """
        pipeline:
          name: p
          sources: [{name: shop, type: files, path: data, tables: [days]}]
          transformations:
            - stage: bronze
            - stage: gold
              models:
                - name: dim_date
                  from: days
                  operations: [{op: create_date_dimension, column: day}]
        """
    )
    tiny.python_models(
        """
        import warehouse_kit as wk

        @wk.model(stage="gold")
        def early(days):
            return days.filter(days.day < "2024-02-01")
        """
    )
    result = tiny.run()
    assert result.ok, [m.error for m in result.failures()]
    notes = {m.model: m.note for m in result.models}
    assert "not accounted for" not in notes["gold.dim_date"]
    assert "not accounted for" not in notes["gold.early"]
