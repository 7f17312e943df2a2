"""The DAG: references resolve to the nearest stage, a stable order, and --select."""

from __future__ import annotations

import pytest

from warehouse_kit.core.dag import Graph, merge_stage_orders
from warehouse_kit.core.errors import ConfigError, SelectionError
from warehouse_kit.core.models import Model

STAGES = ["bronze", "silver", "gold"]


def node(ident: str, *inputs: str) -> Model:
    stage, name = ident.split(".")
    return Model(
        name=name, stage=stage, inputs=inputs, build=lambda ctx: None, origin=f"test:{ident}"
    )


@pytest.fixture
def graph() -> Graph:
    return Graph.build(
        [
            node("bronze.customers"),
            node("bronze.orders"),
            node("silver.customers", "customers"),
            node("silver.orders", "orders"),
            node("gold.dim_customer", "customers"),
            node("gold.fact_orders", "silver.orders", "dim_customer"),
            node("gold.mart", "fact_orders"),
        ],
        [STAGES],
    )


def test_a_bare_name_means_the_same_stage_else_the_nearest_before(graph):
    assert graph.upstream["silver.customers"] == ("bronze.customers",)
    assert graph.upstream["gold.dim_customer"] == ("silver.customers",)
    assert graph.upstream["gold.fact_orders"] == ("silver.orders", "gold.dim_customer")


def test_models_run_after_their_inputs_in_stage_order(graph):
    assert graph.order() == [
        "bronze.customers",
        "bronze.orders",
        "silver.customers",
        "silver.orders",
        "gold.dim_customer",
        "gold.fact_orders",
        "gold.mart",
    ]


@pytest.mark.parametrize(
    ("selectors", "expected"),
    [
        (["fact_orders"], ["gold.fact_orders"]),
        (["gold.fact_orders"], ["gold.fact_orders"]),
        (["+dim_customer"], ["bronze.customers", "silver.customers", "gold.dim_customer"]),
        (
            ["silver.customers+"],
            ["silver.customers", "gold.dim_customer", "gold.fact_orders", "gold.mart"],
        ),
        (["customers"], ["bronze.customers", "silver.customers"]),
        (["silver"], ["silver.customers", "silver.orders"]),
        (["mart,dim_customer"], ["gold.dim_customer", "gold.mart"]),
        (["mart", "bronze.orders"], ["bronze.orders", "gold.mart"]),
    ],
)
def test_select(graph, selectors, expected):
    assert graph.select(selectors) == expected


def test_an_unknown_selector_suggests_a_name(graph):
    with pytest.raises(
        SelectionError, match="'fact_order' matches no model; did you mean 'fact_orders'"
    ):
        graph.select(["fact_order"])


def test_an_unknown_reference_names_the_model_and_suggests():
    with pytest.raises(
        ConfigError, match=r"silver.x reads 'custmers', which is no model; did you mean 'customers'"
    ):
        Graph.build([node("bronze.customers"), node("silver.x", "custmers")], [STAGES])


def test_a_cycle_is_refused():
    with pytest.raises(ConfigError, match=r"cycle: gold\.a, gold\.b"):
        Graph.build([node("gold.a", "b"), node("gold.b", "a")], [STAGES])


def test_a_model_declared_twice_is_refused():
    with pytest.raises(ConfigError, match=r"gold\.a is declared twice"):
        Graph.build([node("gold.a"), node("gold.a")], [STAGES])


def test_pipelines_with_fewer_stages_keep_every_pipelines_stage_order():
    orders = [["bronze", "gold"], ["bronze", "silver", "gold"], ["raw", "bronze"]]
    assert merge_stage_orders(orders) == ["raw", "bronze", "silver", "gold"]


def test_pipelines_that_order_stages_differently_are_refused():
    with pytest.raises(ConfigError, match="order the stages silver, gold differently"):
        merge_stage_orders([["silver", "gold"], ["gold", "silver"]])


def test_a_bare_name_reaches_a_stage_another_pipeline_puts_in_between():
    graph = Graph.build(
        [node("silver.orders"), node("gold.exposures"), node("gold.fact", "orders")],
        [["bronze", "gold"], ["bronze", "silver", "gold"]],
    )
    assert graph.upstream["gold.fact"] == ("silver.orders",)
