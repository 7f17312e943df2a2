"""wk docs: the data dictionary of the example, checked against the warehouse itself;
--check for CI; escaping; the page in Chromium, offline."""

from __future__ import annotations

import fcntl
import re
import textwrap
from pathlib import Path

import duckdb
import pytest

from conftest import chromium_page, wk
from warehouse_kit.analytics.docs import (
    ColumnEntry,
    DataDictionary,
    MetricEntry,
    TableEntry,
    gather,
    undocumented,
)
from warehouse_kit.apps.docs_site import render_html
from warehouse_kit.apps.docs_site.lineage_svg import layers
from warehouse_kit.apps.docs_site.markdown import markdown_files
from warehouse_kit.core.project import Project
from warehouse_kit.core.runner import run

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / "reports" / "test-artifacts"
REMOTE_SOURCE = re.compile(
    r"<(script|link|img|iframe|source|embed)\b[^>]*\b(src|href)\s*=\s*[\"']?(https?:)?//", re.I
)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> tuple[str, Path]:
    """The example warehouse (one run of the seeds) and what `wk docs -o FOLDER --target URL`
    wrote from it: made once per test session, by whichever xdist worker comes first (the
    other waits on the lock and reads the same files), as building it takes seconds."""
    shared = tmp_path_factory.getbasetemp()
    shared = shared if worker_id == "master" else shared.parent  # one per session
    folder = shared / "docs-example"
    target, docs = f"duckdb://{folder}/warehouse.duckdb", folder / "docs"
    with open(shared / "docs-example.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not docs.exists():
            folder.mkdir(exist_ok=True)
            assert run(REPO_ROOT, target=target).ok  # its lake goes to conftest's WK_LAKE
            result = wk("docs", "-o", str(docs), "--target", target)
            assert result.returncode == 0, result.stderr
            written = [Path(line).name for line in result.stdout.split()]
            assert written == ["index.html", "README.md", "bronze.md", "silver.md", "gold.md"]
    return target, docs


@pytest.fixture
def example(built) -> str:
    return built[0]


@pytest.fixture
def site(built) -> Path:
    return built[1]


@pytest.fixture
def dictionary(example) -> DataDictionary:
    project = Project.load(REPO_ROOT)
    with project.reading(example) as warehouse:
        return gather(project, warehouse)


def direct(target: str, sql: str) -> tuple:
    with duckdb.connect(target.removeprefix("duckdb://"), read_only=True) as con:
        row = con.sql(sql).fetchone()
    assert row is not None
    return row


def test_counts_and_last_run_match_the_warehouse(example, dictionary):
    tables = {table.id: table for table in dictionary.tables}
    facts = tables["gold.fact_orders"]
    assert facts.rows == direct(example, "SELECT count(*) FROM gold.fact_orders")[0]
    (last,) = direct(
        example,
        "SELECT max(run_id) FROM _wk.model_runs WHERE model = 'gold.fact_orders' "
        "AND status = 'success'",
    )
    assert facts.last_run == last
    orders = tables["silver.orders"]
    order_date = next(c for c in orders.columns if c.name == "order_date")
    nulls, distinct, rows = direct(
        example,
        "SELECT count(*) - count(order_date), count(DISTINCT order_date), count(*) "
        "FROM silver.orders",
    )
    assert nulls > 0  # the seeds have unreadable dates: the test sees a real share
    assert (order_date.nulls, order_date.distinct, orders.rows) == (nulls, distinct, rows)
    assert order_date.checks == ("order_date_parsed: order_date is not NULL",)
    assert order_date.type == "date"
    assert order_date.description.startswith("The day the order was placed")


def test_lineage_and_metrics_come_from_the_definitions(dictionary):
    tables = {table.id: table for table in dictionary.tables}
    facts = tables["gold.fact_orders"]
    assert facts.upstream == (
        "silver.order_lines", "gold.dim_customer", "gold.dim_product", "gold.dim_date"
    )  # fmt: skip
    assert facts.downstream == ("gold.mart_monthly_sales",)
    assert "revenue" in facts.metrics
    assert not any(table.schema == "_wk" for table in dictionary.tables)
    revenue = next(m for m in dictionary.metrics if m.name == "revenue")
    assert revenue.table == "gold.fact_orders"
    assert ("filter", "is_sale") in revenue.definition
    assert re.search(r'SUM\(.*"amount"', revenue.sql, re.S), revenue.sql
    assert {e.key for e in dictionary.experiments} == {"checkout_redesign", "new_onboarding"}


def test_personal_columns_are_tagged_where_declared_and_downstream(dictionary):
    tags = {
        f"{table.id}.{column.name}": column.tags
        for table in dictionary.tables
        for column in table.columns
    }
    assert tags["gold.dim_customer.email"] == ("pii:email",)
    assert tags["silver.customers.email"] == ("pii:email",)  # from the tagged source
    assert tags["gold.dim_customer.last_name"] == ("pii:name",)
    assert tags["gold.dim_customer.segment"] == ()
    assert not any(
        tags[f"gold.fact_orders.{c.name}"]
        for t in dictionary.tables
        if t.id == "gold.fact_orders"
        for c in t.columns
    )


def test_the_site_is_a_page_and_markdown(site, dictionary):
    page = (site / "index.html").read_text()
    assert not REMOTE_SOURCE.search(page)
    assert page.count('<svg class="lineage"') == len(dictionary.tables)
    assert '<section class="metric" id="m-revenue"' in page
    gold = (site / "gold.md").read_text()
    facts = next(t for t in dictionary.tables if t.id == "gold.fact_orders")
    amount = next(c for c in facts.columns if c.name == "amount")
    assert f"| amount | {amount.type} | Net amount of the line after the discount" in gold
    assert f"| 0% | {amount.distinct:,} |" in gold
    readme = (site / "README.md").read_text()
    assert "### revenue" in readme
    assert "```sql\n" + next(m.sql for m in dictionary.metrics if m.name == "revenue") in readme
    assert "[gold.fact_orders](gold.md#goldfact_orders)" in readme


def test_every_silver_and_gold_column_of_the_example_is_documented(tmp_path):
    missing = tmp_path / "none.duckdb"  # --check compiles the pipelines: no warehouse needed
    assert undocumented(REPO_ROOT, target=f"duckdb:///{missing}") == []
    assert not missing.exists()


def test_check_lists_each_undocumented_column_and_fails(tmp_path):
    """A tiny project: the model describes two of its three columns; bronze describes none."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "people.csv").write_text("id,name,city\n1,Ada,Paris\n")
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "p.yml").write_text(
        textwrap.dedent("""
        pipeline:
          name: p
          sources:
            - {name: files, type: files, path: data, tables: [people]}
          transformations:
            - stage: bronze
            - stage: silver
              models:
                - name: people
                  columns: {id: The person's id., city: Where they live.}
                  operations: [{op: deduplicate, key: id}]
        """)
    )
    target = f"duckdb:///{tmp_path}/w.duckdb"
    result = wk("docs", "--check", "--target", target, "--project", str(tmp_path))
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == ["silver.people.name"]  # bronze is excused


def test_names_and_descriptions_are_escaped():
    attack = "<script>alert(1)</script>"
    column = ColumnEntry("email", "string", attack, tags=(attack,), checks=(attack,), nulls=0)
    table = TableEntry(
        id="silver.people", schema="silver", name="people", description=attack,
        origin="p.yml", built=True, columns=(column,), rows=1,
    )  # fmt: skip
    metric = MetricEntry(
        "m", attack, "sum", attack, (("expr", attack),), None, sql="", file="a.yml", error=attack
    )
    dictionary = DataDictionary(attack, attack, (table,), metrics=(metric,))
    page = render_html(dictionary)
    assert "<script>alert" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 7
    for text in markdown_files(dictionary).values():
        assert "<script>" not in text


def test_the_lineage_layout_puts_each_node_at_its_longest_path():
    edges = [("a", "b"), ("b", "c"), ("a", "c"), ("c", "d"), ("x", "y")]
    assert layers(edges, "c") == {"c": 0, "b": -1, "a": -2, "d": 1}
    assert layers(edges, "a") == {"a": 0, "b": 1, "c": 2, "d": 3}


def test_the_page_searches_and_draws_lineage_in_chromium_offline(site):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page_url = (site / "index.html").as_uri()
    with chromium_page(page_url, width=1400, height=900, offline=True) as (page, elsewhere):
        graph = page.locator('[id="t-gold.fact_orders"] svg.lineage')
        nodes = graph.locator("g.node")
        # itself, its 4 inputs, their 4 silver and 4 bronze ancestors, the mart downstream
        assert nodes.count() == 14
        box = graph.bounding_box()
        assert box is not None
        assert box["width"] > 500
        assert graph.locator("g.node.focus text").text_content() == "gold.fact_orders"
        page.fill("#search", "discount_amount")
        hits = page.locator("tr.column.hit td:first-child")
        # the column, and the one whose description names it (amount)
        assert hits.all_inner_texts() == ["discount_amount", "amount"]
        assert hits.first.is_visible()
        shown = page.locator("section.table:visible")
        assert [shown.nth(i).get_attribute("id") for i in range(shown.count())] == [
            "t-silver.order_lines"
        ]
        assert page.locator("#found").inner_text() == "1 tables, 2 columns match"
        page.screenshot(path=str(ARTIFACTS / "docs-search.png"))
        print(f"screenshot: {ARTIFACTS / 'docs-search.png'}")
    assert elsewhere == []  # nothing but the site's own files
