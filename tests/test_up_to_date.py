"""A model whose definition and inputs are unchanged since its last build is not built again.

On every backend: a second run writes nothing; a change to one model's definition, or new
data for one source, rebuilds that part of the DAG only; a model that reads the clock is
built on every run; --full-refresh builds everything.
"""

from __future__ import annotations

from warehouse_kit.core.backends import connect

PIPELINE = """
pipeline:
  name: p
  sources:
    - {{name: shop, type: files, path: data, tables: [orders]}}            # appended
    - {{name: catalog, type: files, path: data, tables: [products], load: replace}}
  transformations:
    - stage: bronze
    - stage: silver
      models:
        - name: orders
          operations:
            - {{op: type_casting, columns: {{id: int64, amount: int64}}}}
            - {{op: deduplicate, key: id}}     # ordered by _loaded_at
            - {{op: calculate_metrics, columns: {{net: "{net}"}}}}
        - name: products
          operations: [{{op: type_casting, columns: {{id: int64}}}}]
    - stage: gold
      models:
        - name: totals
          from: orders
          operations: [{{op: aggregate_metrics, measures: {{total: "sum(net)"}}}}]
        - name: today
          from: products
          operations: [{{op: calculate_metrics, columns: {{seen: "current_date"}}}}]
"""


def statuses(result) -> dict[str, str]:
    return {model.model: model.status for model in result.models}


def build(tiny, net: str = "amount * 2"):
    tiny.pipeline(PIPELINE.format(net=net))
    result = tiny.run()
    assert result.ok, [failure.error for failure in result.failures()]
    return statuses(result)


def written_runs(tiny) -> int:
    wh = connect(tiny.target)
    try:
        runs = wh.table("model_runs", "_wk")
        return int(wh.scalar(runs.filter(runs.status == "success").count()))
    finally:
        wh.close()


def test_a_second_run_builds_nothing_but_what_reads_the_clock(tiny):
    tiny.csv("orders", "id,amount\n1,10\n2,20\n")
    tiny.csv("products", "id\n7\n")
    assert set(build(tiny).values()) == {"success"}
    before = (tiny.rows("gold.totals"), written_runs(tiny))
    assert build(tiny) == {
        "bronze.orders": "up_to_date",  # no new file
        "bronze.products": "up_to_date",
        "silver.orders": "up_to_date",
        "silver.products": "up_to_date",
        "gold.totals": "up_to_date",
        "gold.today": "success",  # current_date: built on every run
    }
    assert (tiny.rows("gold.totals"), written_runs(tiny) - 1) == before


def test_a_changed_definition_rebuilds_the_model_and_what_depends_on_it(tiny):
    tiny.csv("orders", "id,amount\n1,10\n2,20\n")
    tiny.csv("products", "id\n7\n")
    build(tiny)
    found = build(tiny, net="amount * 3")
    assert (found["silver.orders"], found["gold.totals"]) == ("success", "success")
    assert found["silver.products"] == "up_to_date"
    assert tiny.rows("gold.totals") == [{"total": 90}]


def test_new_data_rebuilds_what_reads_it_and_full_refresh_everything(tiny):
    tiny.csv("orders", "id,amount\n1,10\n2,20\n")
    tiny.csv("products", "id\n7\n")
    build(tiny)
    tiny.csv("products", "id\n7\n8\n")
    found = build(tiny)
    assert (found["bronze.products"], found["silver.products"]) == ("success", "success")
    assert (found["silver.orders"], found["gold.totals"]) == ("up_to_date", "up_to_date")
    result = tiny.run(full_refresh=True)
    assert set(statuses(result).values()) == {"success"}
