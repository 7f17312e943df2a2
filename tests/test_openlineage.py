"""OpenLineage events of `wk run`: what they hold, field by field against the spec's
required fields, and how they travel (a real HTTP receiver, a file, standard error)."""

from __future__ import annotations

import json
import logging
import socket
import textwrap
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
from openlineage.client.serde import Serde

from conftest import REPO_ROOT, TinyProject
from warehouse_kit.core import runner
from warehouse_kit.core.config import parse
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.openlineage import RunEvents
from warehouse_kit.core.openlineage.facets import PRODUCER
from warehouse_kit.core.openlineage.transport import Delivery, RetryingHttp
from warehouse_kit.core.project import Project, ProjectSpec
from warehouse_kit.core.results import ModelResult
from warehouse_kit.core.spec_openlineage import HttpTransport

SECRET = "s3cret-api-key-0042"

PIPELINE = """
pipeline:
  name: shop
  sources: [{name: files, type: files, path: data, tables: [orders]}]
  transformations:
    - stage: bronze
    - stage: silver
      models:
        - name: orders
          operations:
            - op: type_casting
              columns: {order_id: int64, amount: "decimal(10,2)"}
          quality_checks:
            - {name: amount_positive, type: range, field: amount, min: 0, action: reject}
    - stage: gold
      models:
        - name: revenue
          from: orders
          operations: [{op: aggregate_metrics, measures: {revenue: "sum(amount)"}}]
"""


# --- a real HTTP receiver ------------------------------------------------------------------


class Receiver:
    """An OpenLineage endpoint on localhost: keeps each POST, answers 503 to the first
    `failures` of them."""

    def __init__(self, failures: int = 0, status: int = 503):
        self.posts: list[tuple[int, dict[str, str], dict[str, Any]]] = []
        self.failures, self.status = failures, status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                answer = receiver.status if len(receiver.posts) < receiver.failures else 200
                receiver.posts.append((answer, dict(self.headers), body | {"_path": self.path}))
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def events(self) -> list[dict[str, Any]]:
        """The events it accepted."""
        return [body for status, _, body in self.posts if status == 200]


@contextmanager
def receiving(failures: int = 0, status: int = 503) -> Iterator[Receiver]:
    receiver = Receiver(failures, status)
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def dead_url() -> str:
    """A localhost URL nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- projects ------------------------------------------------------------------------------


def shop(root: Path, target: str, setting: str, amounts: str = "10.5\n20") -> TinyProject:
    """The small shop pipeline in `root`, its warehouse.yml sending events as `setting`."""
    project = TinyProject(root, target)
    rows = "\n".join(f"{i},{amount}" for i, amount in enumerate(amounts.split("\n"), 1))
    project.csv("orders", f"order_id,amount\n{rows}\n")
    project.pipeline(PIPELINE)
    (root / "warehouse.yml").write_text(f"name: shop_project\nopenlineage: {setting}\n")
    return project


def http_setting(url: str, retries: int = 3) -> str:
    return (
        f"{{transport: http, url: '{url}', api_key: '${{OL_TEST_KEY}}', retries: {retries},"
        " backoff: 0.01s, timeout: 2s}"
    )


def example_with(setting: dict[str, Any]) -> Project:
    """The repository's example project, sending its events as `setting`."""
    example = Project.load(REPO_ROOT)
    data = example.spec.model_dump(mode="json", exclude_none=True) | {"openlineage": setting}
    return Project(example.root, parse(ProjectSpec, data, file="warehouse.yml"))


# --- what the spec requires ----------------------------------------------------------------


def assert_spec_fields(event: dict[str, Any]) -> None:
    """The fields the OpenLineage spec requires of a RunEvent and of every facet."""
    assert event["eventType"] in {"START", "COMPLETE", "FAIL"}
    assert "T" in event["eventTime"]
    assert datetime.fromisoformat(event["eventTime"]).tzinfo is not None
    assert uuid.UUID(event["run"]["runId"])
    assert event["job"]["namespace"]
    assert event["job"]["name"]
    assert event["producer"] == PRODUCER
    assert event["schemaURL"].startswith("https://openlineage.io/spec/2-0-2/OpenLineage.json#")
    facet_groups = [event["run"].get("facets", {}), event["job"].get("facets", {})]
    for dataset in event.get("inputs", []) + event.get("outputs", []):
        assert dataset["namespace"]
        assert dataset["name"]
        for key in ("facets", "inputFacets", "outputFacets"):
            facet_groups.append(dataset.get(key, {}))
    for group in facet_groups:
        for facet in group.values():
            assert facet["_producer"] == PRODUCER
            assert facet["_schemaURL"].startswith("https://openlineage.io/spec/")


def by_job(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    jobs: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        jobs.setdefault(event["job"]["name"], []).append(event)
    return jobs


def output(event: dict[str, Any]) -> dict[str, Any]:
    (found,) = event["outputs"]
    return found


# --- the example, to a real receiver -------------------------------------------------------


def test_the_example_posts_one_start_and_one_complete_per_model(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    with receiving() as receiver:
        project = example_with({"transport": "http", "url": receiver.url, "api_key": SECRET})
        result = runner.run(project, target=f"duckdb:///{database}")
    assert result.ok
    assert all(status == 200 for status, _, _ in receiver.posts)
    assert {headers["Authorization"] for _, headers, _ in receiver.posts} == {f"Bearer {SECRET}"}
    assert {body["_path"] for _, _, body in receiver.posts} == {"/api/v1/lineage"}
    events = receiver.events
    assert SECRET not in json.dumps(events)
    for event in events:
        assert_spec_fields(event)
    jobs = by_job(events)
    run_job = "experiments_pipeline,retail_pipeline"
    assert set(jobs) == {run_job} | {model.model for model in result.models}
    assert [e["eventType"] for e in jobs[run_job]] == ["START", "COMPLETE"]
    run_id = jobs[run_job][0]["run"]["runId"]
    for model in result.models:
        start, complete = jobs[model.model]
        assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
        assert start["run"]["runId"] == complete["run"]["runId"] != run_id
        parent = complete["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == run_id
        assert parent["job"] == {"namespace": "retail-example", "name": run_job, "facets": {}}
        assert output(complete)["outputFacets"]["outputStatistics"]["rowCount"] == model.rows_out

    namespace = f"duckdb://{database}"
    fact = output(jobs["gold.fact_orders"][1])
    assert (fact["namespace"], fact["name"]) == (namespace, "gold.fact_orders")
    columns = {f["name"]: f["type"] for f in fact["facets"]["schema"]["fields"]}
    assert columns["amount"] == "decimal(18, 2)"
    assert columns["customer_key"] == "int64"
    fact_inputs = {(d["namespace"], d["name"]) for d in jobs["gold.fact_orders"][1]["inputs"]}
    assert (namespace, "silver.order_lines") in fact_inputs
    assert (namespace, "gold.dim_customer") in fact_inputs
    # Column lineage comes from the compiled models (core/lineage.py).
    amount = fact["facets"]["columnLineage"]["fields"]["amount"]["inputFields"]
    assert [(f["name"], f["field"]) for f in amount] == [("silver.order_lines", "amount")]

    (seed,) = jobs["bronze.orders"][1]["inputs"]
    assert (seed["namespace"], seed["name"]) == ("file", str(REPO_ROOT / "seeds/orders_seed.csv"))
    rows_read = next(m.rows_in for m in result.models if m.model == "bronze.orders")
    assert seed["inputFacets"]["inputStatistics"]["rowCount"] == rows_read == 1206

    checks = output(jobs["silver.customers"][1])["facets"]["dataQualityAssertions"]["assertions"]
    assert checks == [
        {
            "assertion": "regex",
            "name": "customer_email_valid",
            "column": "email",
            "success": False,
            "severity": "warn",  # quarantined: the model goes on without those rows
            "description": checks[0]["description"],
        }
    ]
    assert checks[0]["description"].startswith("7 of ")


# --- a failing model, retries, a dead receiver ---------------------------------------------


def test_a_failing_model_sends_fail_with_its_error_and_the_run_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("OL_TEST_KEY", SECRET)
    with receiving() as receiver:
        target = f"duckdb:///{tmp_path}/w.duckdb"
        project = shop(tmp_path / "p", target, http_setting(receiver.url), amounts="10\n-5")
        result = project.run()
    assert not result.ok
    (failure,) = result.failures()
    # The key came from ${OL_TEST_KEY} in warehouse.yml; it is sent, and in no event.
    assert {headers["Authorization"] for _, headers, _ in receiver.posts} == {f"Bearer {SECRET}"}
    assert SECRET not in json.dumps(receiver.events)
    jobs = by_job(receiver.events)
    for event in receiver.events:
        assert_spec_fields(event)
    assert [e["eventType"] for e in jobs["shop"]] == ["START", "FAIL"]
    assert jobs["shop"][1]["run"]["facets"]["errorMessage"]["message"] == failure.error
    start, fail = jobs["silver.orders"]
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    error = fail["run"]["facets"]["errorMessage"]
    assert error["message"] == failure.error
    assert "amount_positive" in error["message"]
    assert error["programmingLanguage"] == "python"
    (check,) = output(fail)["facets"]["dataQualityAssertions"]["assertions"]
    assert (check["name"], check["column"], check["success"], check["severity"]) == (
        "amount_positive",
        "amount",
        False,
        "error",
    )
    assert "outputStatistics" not in output(fail)["outputFacets"]
    assert "gold.revenue" not in jobs  # skipped: it never ran
    assert [e["eventType"] for e in jobs["bronze.orders"]] == ["START", "COMPLETE"]


def event(name: str = "job") -> RunEvent:
    return RunEvent(
        eventType=RunState.START,
        eventTime=datetime.now().astimezone().isoformat(),
        run=Run(runId=str(uuid.uuid4())),
        job=Job(namespace="test", name=name),
        producer=PRODUCER,
    )


def http(url: str, retries: int) -> Delivery:
    spec = HttpTransport(transport="http", url=url, retries=retries, backoff=0.01)
    return Delivery(RetryingHttp(spec), url)


def test_http_retries_a_receiver_that_fails_the_first_posts(caplog):
    with receiving(failures=2) as receiver:
        out = http(receiver.url, retries=3)
        out.send(event("first"))
        out.send(event("second"))
    assert [status for status, _, _ in receiver.posts] == [503, 503, 200, 200]
    assert [e["job"]["name"] for e in receiver.events] == ["first", "second"]
    assert not out.failed
    assert not caplog.records  # urllib3 logs nothing: the retries are ours


def test_http_gives_up_after_its_retries_and_does_not_retry_a_client_error(caplog):
    with receiving(failures=10) as receiver:
        out = http(receiver.url, retries=2)
        out.send(event("first"))
        out.send(event("second"))  # not tried: delivery ended with the first failure
    assert len(receiver.posts) == 3
    assert out.failed
    assert out.undelivered == 2
    (warning,) = caplog.records
    assert "could not send the START event of first" in warning.getMessage()
    with receiving(failures=10, status=400) as receiver:
        http(receiver.url, retries=3).send(event())
    assert len(receiver.posts) == 1


def test_a_dead_receiver_is_one_warning_and_the_run_goes_on(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("OL_TEST_KEY", SECRET)
    project = shop(tmp_path / "p", f"duckdb:///{tmp_path}/w.duckdb", http_setting(dead_url(), 1))
    with caplog.at_level(logging.DEBUG):
        result = project.run()
    assert result.ok
    assert [m.status for m in result.models] == ["success"] * 3
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    (warning,) = warnings
    assert warning.name.startswith("warehouse_kit.core.openlineage")
    assert "could not send the START event of shop to http://127.0.0.1:" in warning.getMessage()
    assert SECRET not in caplog.text


# --- file and console transports, the PostgreSQL namespace --------------------------------


def test_the_file_transport_appends_one_json_event_per_line(tmp_path):
    project = shop(tmp_path / "p", f"duckdb:///{tmp_path}/w.duckdb", "{transport: file}")
    assert project.run().ok
    lines = (tmp_path / "p" / "lineage" / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [
        ("shop", "START"),
        ("bronze.orders", "START"),
        ("bronze.orders", "COMPLETE"),
        ("silver.orders", "START"),
        ("silver.orders", "COMPLETE"),
        ("gold.revenue", "START"),
        ("gold.revenue", "COMPLETE"),
        ("shop", "COMPLETE"),
    ]
    for each in events:
        assert_spec_fields(each)
        assert each["job"]["namespace"] == "shop_project"
    revenue = output(events[6])
    assert revenue["facets"]["schema"]["fields"] == [
        {"name": "revenue", "type": "decimal(38, 2)", "ordinal_position": 1}
    ]
    assert revenue["outputFacets"]["outputStatistics"]["rowCount"] == 1


def test_the_console_transport_writes_each_event_to_stderr(tmp_path, capfd):
    project = shop(tmp_path / "p", f"duckdb:///{tmp_path}/w.duckdb", "{transport: console}")
    assert project.run().ok
    lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    assert [json.loads(line)["eventType"] for line in lines] == ["START"] + [
        "START",
        "COMPLETE",
    ] * 3 + ["COMPLETE"]


@pytest.mark.postgres
def test_a_postgresql_namespace_is_its_host_and_port_without_credentials(tmp_path, postgres_url):
    database = postgres_url.rsplit("/", 1)[1]
    with_password = postgres_url.replace("root@", "root:hunter2@")  # trust auth ignores it
    project = shop(tmp_path / "p", with_password, "{transport: file, path: out/ol.jsonl}")
    assert project.run().ok
    text = (tmp_path / "p" / "out" / "ol.jsonl").read_text()
    assert "hunter2" not in text
    assert "root@" not in text
    assert "root:" not in text
    events = [json.loads(line) for line in text.splitlines()]
    revenue = output(next(e for e in events if e["job"]["name"] == "gold.revenue"))
    assert (revenue["namespace"], revenue["name"]) == (
        "postgres://127.0.0.1:5432",
        f"{database}.gold.revenue",
    )


# --- the column-lineage facet, from a hand-made mapping ------------------------------------


@dataclass(frozen=True)
class ColumnRef:
    """As `warehouse_kit.core.lineage.ColumnRef`."""

    table: str
    column: str


def test_the_column_lineage_facet_names_each_input_dataset_and_column(tmp_path):
    target = f"duckdb:///{tmp_path}/w.duckdb"
    project = shop(tmp_path / "p", target, "{transport: file}")
    catalog, plan = runner.plan(project.root, target=target)
    lineage = {
        "order_id": (ColumnRef("bronze.orders", "order_id"),),
        "amount": (ColumnRef("source:files.orders", "amount"), ColumnRef("nowhere", "x")),
    }
    events = RunEvents(catalog, target, plan, namespace="ns", column_lineage=lambda item: lineage)
    events.run_started("20260102T030405.000006Z")
    done = events.model_finished(ModelResult("silver.orders", "silver", "success", rows_out=2))
    found = Serde.to_dict(done)["outputs"][0]["facets"]["columnLineage"]
    namespace = f"duckdb://{tmp_path}/w.duckdb"
    csv = str(tmp_path / "p" / "data" / "orders.*")
    assert found["_schemaURL"].endswith(
        "ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
    )
    assert found["_producer"] == PRODUCER
    assert found["fields"] == {
        "order_id": {
            "inputFields": [{"namespace": namespace, "name": "bronze.orders", "field": "order_id"}]
        },
        # a table that names no model nor source is left out
        "amount": {"inputFields": [{"namespace": "file", "name": csv, "field": "amount"}]},
    }


def test_a_bad_openlineage_setting_is_one_line_naming_the_key(tmp_path):
    (tmp_path / "warehouse.yml").write_text(
        textwrap.dedent("openlineage: {transport: http, url: 'http://x:1', retries: -1}\n")
    )
    with pytest.raises(ConfigError) as error:
        Project.load(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / 'warehouse.yml'}: openlineage.retries:")
