"""Column lineage, read off the planned expressions and stored per run in _wk, on DuckDB
and PostgreSQL: the example warehouse (built once per backend for the module) and a
tiny project that changes between runs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from conftest import REPO_ROOT, TinyProject
from warehouse_kit.analytics.lineage import metric_lineage
from warehouse_kit.analytics.metrics import load
from warehouse_kit.apps.cli import app
from warehouse_kit.apps.lineage import Lineage, answer, pii_warnings, stored_graph
from warehouse_kit.core import state
from warehouse_kit.core.backends import Warehouse, connect
from warehouse_kit.core.errors import ConfigError, WarehouseKitError
from warehouse_kit.core.lineage import METRIC, ColumnRef
from warehouse_kit.core.lineage_graph import pii_columns
from warehouse_kit.core.project import Project

EXAMPLE = Project.load(REPO_ROOT)
ITEMS = "source:shop_orders.order_items"


def ref(name: str) -> ColumnRef:
    table, _, column = name.rpartition(".")
    return ColumnRef(table, column)


def sources(lineage: Lineage) -> set[str]:
    return {str(r) for r in lineage.graph.edges if r.table.startswith("source:")}


def _fact_amount_upstream_reaches_the_seed_columns(example_warehouse: Warehouse) -> None:
    found = answer(example_warehouse, EXAMPLE, "gold.fact_orders.amount", "upstream")
    graph = found.graph
    assert graph.inputs(ref("gold.fact_orders.amount")) == (ref("silver.order_lines.amount"),)
    assert graph.inputs(ref("silver.order_lines.amount")) == tuple(
        ref(f"silver.order_items.{c}") for c in ("discount", "quantity", "unit_price")
    )
    assert sources(found) == {f"{ITEMS}.{c}" for c in ("discount", "quantity", "unit_price")}
    assert graph.origins[ITEMS].endswith("order_items_seed.csv")
    assert graph.origins[ITEMS].startswith("shop_orders: seeds/")


def _revenue_metric_reaches_the_seed_columns(example_warehouse: Warehouse) -> None:
    found = answer(example_warehouse, EXAMPLE, "metric:revenue", "upstream")
    assert found.graph.inputs(ColumnRef(METRIC, "revenue")) == (
        ref("gold.fact_orders.amount"),
        ref("gold.fact_orders.status"),  # the is_sale filter
    )
    assert {f"{ITEMS}.quantity", f"{ITEMS}.unit_price"} <= sources(found)
    assert "source:shop_orders.orders.status" in sources(found)
    # a ratio reads its metrics
    layer = load(EXAMPLE)
    ratio = metric_lineage(layer, example_warehouse, ["aov"])
    assert ratio.inputs(ColumnRef(METRIC, "aov")) == (
        ColumnRef(METRIC, "revenue"),
        ColumnRef(METRIC, "orders"),
    )
    with pytest.raises(ConfigError, match="unknown metric 'revenu'; did you mean 'revenue'"):
        metric_lineage(layer, example_warehouse, ["revenu"])


def _customer_email_downstream_and_pii(example_warehouse: Warehouse) -> None:
    email = "source:shop_snapshots.customers.email"
    found = answer(example_warehouse, EXAMPLE, email, "downstream")
    assert {str(r) for r in found.graph.edges} == {
        email,
        "bronze.customers.email",
        "silver.customers.email",
        "silver.customers__quarantine.email",  # rows the email regex sets apart
        "gold.dim_customer.email",
    }
    graph = stored_graph(example_warehouse)
    gold = pii_columns(graph, "gold.dim_customer")
    assert gold == {
        ref("gold.dim_customer.first_name"): "name",
        ref("gold.dim_customer.last_name"): "name",
        ref("gold.dim_customer.email"): "email",
    }
    assert not pii_columns(graph, "gold.fact_orders")  # keys, not personal data


def _scd2_columns_and_date_dimension(example_warehouse: Warehouse) -> None:
    graph = stored_graph(example_warehouse)
    assert graph.inputs(ref("gold.dim_customer.customer_key")) == (
        ref("silver.customers.customer_id"),
    )
    assert graph.inputs(ref("gold.dim_customer.effective_from")) == (
        ref("silver.customers.updated_at"),
    )
    assert graph.inputs(ref("gold.dim_customer.segment")) == (ref("silver.customers.segment"),)
    assert graph.inputs(ref("gold.dim_date.fiscal_year")) == (ref("silver.orders.order_date"),)
    assert graph.inputs(ref("gold.fact_orders.customer_key")) == (
        ref("gold.dim_customer.customer_key"),
    )
    assert graph.inputs(ref("bronze.orders._loaded_at")) == ()  # load metadata


def _output_shapes(example_warehouse: Warehouse) -> None:
    found = answer(example_warehouse, EXAMPLE, "gold.dim_customer.email", "upstream")
    data = json.loads(found.to_json())
    assert data["start"] == ["gold.dim_customer.email"]
    assert data["direction"] == "upstream"
    ids = [node["id"] for node in data["nodes"]]
    assert len(ids) == len(set(ids)) == 4
    assert {"from": "silver.customers.email", "to": "gold.dim_customer.email"} in data["edges"]
    assert all(node["pii"] == "email" for node in data["nodes"])
    mermaid = found.mermaid().splitlines()
    assert mermaid[0] == "flowchart LR"
    assert sum(line.strip() == "end" for line in mermaid) == 4  # a box per table
    assert sum("-->" in line for line in mermaid) == 3
    assert found.text().splitlines()[:2] == [
        "gold.dim_customer.email [pii: email]",
        "  <- silver.customers.email [pii: email]",
    ]
    spec = found.chart().to_dict()
    assert len(spec["layer"]) == 3
    bundle = found._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    assert bundle["text/plain"] == found.text()
    shown = ("application/vnd.vegalite", "image/", "text/html")
    assert any(kind.startswith(shown) for kind in bundle)


def _bad_names_give_one_line(example_warehouse: Warehouse) -> None:
    typo = "no table or column 'gold.fact_ordrs' in the lineage"
    for name, message in (
        ("gold.fact_ordrs", f"{typo}; did you mean 'gold.fact_orders'?"),
        (
            "gold.fact_orders.amout",
            "gold.fact_orders has no column 'amout'; did you mean 'amount'?",
        ),
    ):
        with pytest.raises(WarehouseKitError) as raised:
            answer(example_warehouse, EXAMPLE, name, "both")
        assert str(raised.value) == message


def test_example_lineage(example_warehouse: Warehouse) -> None:
    """One test per engine: building the example is what takes the time."""
    _fact_amount_upstream_reaches_the_seed_columns(example_warehouse)
    _revenue_metric_reaches_the_seed_columns(example_warehouse)
    _customer_email_downstream_and_pii(example_warehouse)
    _scd2_columns_and_date_dimension(example_warehouse)
    _output_shapes(example_warehouse)
    _bad_names_give_one_line(example_warehouse)


PEOPLE = """\
    pipeline:
      name: people
      sources:
        - {name: crm, type: files, path: data, pattern: "{table}.csv",
           tables: [{name: people, pii: {email: email}}]}
      transformations:
        - stage: silver
          models:
            - name: people
              operations:
                - {op: type_casting, columns: {id: int64, amount: int64}}
                - op: calculate_metrics
                  columns: {contact: "EXPR", email_length: "length(email)"}
              columns:
                email_length: {description: How long the email is., pii: false}
        - stage: gold
          models:
            - {name: customers, from: people}
"""

MODELS = """\
    import warehouse_kit as wk

    @wk.model(stage="gold")
    def big_spenders(people):
        return people.filter(people.amount > 10).select("id", spend=people.amount * 2)
"""


def test_stored_lineage_follows_what_was_built(tiny: TinyProject) -> None:
    tiny.csv("people", "id,email,amount\n1,a@x.org,5\n2,b@y.org,20\n")
    tiny.pipeline(PEOPLE.replace("EXPR", "upper(email)"))
    tiny.python_models(MODELS)
    first = tiny.run()
    assert first.ok, first.first_error()
    tiny.pipeline(PEOPLE.replace("EXPR", "cast(amount AS varchar)"))
    second = tiny.run()
    assert second.ok, second.first_error()
    wh = connect(tiny.target)
    try:
        old, new = stored_graph(wh, first.run_id), stored_graph(wh, second.run_id)
        assert state.lineage_runs(wh) == [first.run_id, second.run_id]
        contact = ref("silver.people.contact")
        assert old.inputs(contact) == (ref("bronze.people.email"),)
        assert new.inputs(contact) == (ref("bronze.people.amount"),)
        assert old.pii[contact] == "email"
        assert contact not in new.pii
        # the Python model: a filter keeps columns, an expression reads its fields
        assert new.inputs(ref("gold.big_spenders.spend")) == (ref("silver.people.amount"),)
        # declared safe: derived from the email, not personal itself
        assert old.inputs(ref("silver.people.email_length")) == (ref("bronze.people.email"),)
        assert ref("silver.people.email_length") not in old.pii
    finally:
        wh.close()
    assert pii_warnings(tiny.root, tiny.target) == [
        "gold.customers.email is computed from personal data (email) but has no pii tag: "
        "tag it (pii: email) or declare it safe (pii: false) in its columns"
    ]
    checked = CliRunner().invoke(app, ["check", "--project", str(tiny.root), "-t", tiny.target])
    assert checked.exit_code == 0, checked.output
    assert "warning: gold.customers.email is computed from personal data" in checked.output
