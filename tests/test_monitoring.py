"""Monitors and alerts: real runs, a real HTTP server for webhooks, a real SMTP server."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from conftest import REPO_ROOT, TinyProject
from test_cli import wk
from warehouse_kit.core import state
from warehouse_kit.core.backends import connect
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.monitoring import channels, monitor, send_test_alerts

WEBHOOK_PATH = "/hooks/T000/s3cr3t-path"
TOKEN = "Bearer tok-s3cr3t"
SMTP_PASSWORD = "smtp-s3cr3t"
SECRETS = ("s3cr3t",)


class Webhook(ThreadingHTTPServer):
    """Records each post; answers 500 to the next `failures` of them."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.posts: list[dict[str, Any]] = []
        self.failures = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{WEBHOOK_PATH}"

    def texts(self) -> list[str]:
        return [post["body"]["text"] for post in self.posts if post["status"] == 200]


class _Handler(BaseHTTPRequestHandler):
    server: Webhook

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status = 500 if self.server.failures > 0 else 200
        self.server.failures -= status == 500
        post = {"path": self.path, "auth": self.headers["Authorization"], "body": body}
        self.server.posts.append({**post, "status": status})
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    server = Webhook()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("WK_TEST_WEBHOOK", server.url)
    monkeypatch.setenv("WK_TEST_TOKEN", TOKEN)
    monkeypatch.setattr(channels, "BACKOFF_S", 0.01)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


ORDERS_BAD = "id,amount\n1,10\n2,-5\n"
ORDERS_GOOD = "id,amount\n1,10\n2,5\n"


def pipeline(monitoring: str, check_action: str = "reject") -> str:
    return f"""
pipeline:
  name: p
  sources: [{{name: files, type: files, path: data, tables: [orders], load: replace}}]
  transformations:
    - stage: silver
      models:
        - name: orders
          operations: [{{op: type_casting, columns: {{id: int64, amount: int64}}}}]
          quality_checks:
            - {{name: amount_positive, type: range, field: amount, min: 0, action: {check_action}}}
  monitoring:
{monitoring}
"""


WEBHOOK_ON_FAILURE = """
    alerts:
      - type: pipeline_failure
        channel: webhook
        url: ${WK_TEST_WEBHOOK}
        headers: {Authorization: "${WK_TEST_TOKEN}"}
"""


def stored(target: str, name: str) -> list[dict[str, Any]]:
    wh = connect(target)
    try:
        return wh.rows(wh.table(name, "_wk"))
    finally:
        wh.close()


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in str(text)


def test_one_alert_per_incident_then_its_resolution(tiny, webhook, caplog):
    caplog.set_level(logging.DEBUG)
    tiny.csv("orders", ORDERS_BAD)
    tiny.pipeline(pipeline(WEBHOOK_ON_FAILURE))
    assert not tiny.run().ok
    assert not tiny.run().ok  # still failing: the same incident, nothing new sent
    [firing] = webhook.texts()
    assert firing.startswith("[warehouse-kit] p: pipeline_failure firing: run ")
    assert "amount_positive" in firing
    assert (webhook.posts[0]["path"], webhook.posts[0]["auth"]) == (WEBHOOK_PATH, TOKEN)

    webhook.failures = 2  # the resolution gets through on its third attempt
    tiny.csv("orders", ORDERS_GOOD)
    assert tiny.run().ok
    assert [p["status"] for p in webhook.posts] == [200, 500, 500, 200]
    assert webhook.texts()[1].startswith("[warehouse-kit] p: pipeline_failure resolved: run ")

    [incident] = stored(tiny.target, "incidents")
    assert incident["resolved_at"] is not None
    alerts = sorted(stored(tiny.target, "alerts"), key=lambda row: row["sent_at"])
    assert [(a["kind"], a["status"], a["attempts"]) for a in alerts] == [
        ("firing", "delivered", 1),
        ("resolved", "delivered", 3),
    ]
    assert {a["incident_id"] for a in alerts} == {incident["incident_id"]}
    assert alerts[0]["recipient"] == f"http://127.0.0.1:{webhook.server_address[1]}/***"
    assert_no_secret(alerts, incident, caplog.text)


def test_a_failing_webhook_never_fails_the_run_and_is_retried(tmp_path, webhook, caplog):
    tiny = TinyProject(tmp_path / "project", f"duckdb:///{tmp_path}/w.duckdb")
    tiny.csv("orders", ORDERS_BAD)
    alerts = WEBHOOK_ON_FAILURE.replace("pipeline_failure", "quality_threshold")
    monitors = "    monitors: [{type: quality_threshold, model: silver.orders, max_rate: 0.1}]"
    tiny.pipeline(pipeline(monitors + alerts, check_action="quarantine"))
    webhook.failures = 3
    assert tiny.run().ok  # half its rows quarantined: firing, and the webhook is down
    assert [p["status"] for p in webhook.posts] == [500, 500, 500]
    assert "not delivered" in caplog.text
    assert "HTTP 500" in caplog.text
    [failed] = stored(tiny.target, "alerts")
    assert (failed["status"], failed["attempts"]) == ("failed", 3)
    assert "silver.orders quarantined 1 of 2 rows (50.0%)" in failed["message"]

    evaluation = monitor(tiny.root, target=tiny.target)  # wk monitor retries it
    assert [s.status for s in evaluation.states] == ["firing"]
    assert [(s.kind, s.delivered) for s in evaluation.sent] == [("firing", True)]
    assert monitor(tiny.root, target=tiny.target).sent == []  # delivered: not again
    assert len(webhook.texts()) == 1
    assert_no_secret(stored(tiny.target, "alerts"), caplog.text)


def test_wk_monitor_prints_states_and_exits_1_when_one_fires(tmp_path, webhook):
    tiny = TinyProject(tmp_path / "project", f"duckdb:///{tmp_path}/w.duckdb")
    tiny.csv("orders", ORDERS_BAD)
    tiny.pipeline(pipeline(WEBHOOK_ON_FAILURE))
    (tiny.root / "warehouse.yml").write_text(f"target: {tiny.target}\n")
    assert not tiny.run().ok
    env = {"WK_TEST_WEBHOOK": webhook.url, "WK_TEST_TOKEN": TOKEN}
    env["PYTHONPATH"] = str(REPO_ROOT / "src")  # this checkout, from the project folder
    done = wk("monitor", cwd=tiny.root, env=env)
    assert done.returncode == 1, done.stderr
    assert "pipeline_failure" in done.stdout
    assert "firing" in done.stdout
    assert_no_secret(done.stdout, done.stderr)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, list[Any], list[tuple[str, str]]]]:
    received: list[Any] = []
    logins: list[tuple[str, str]] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            mail = message_from_bytes(envelope.content, policy=policy.default)
            received.append((envelope.rcpt_tos, mail))
            return "250 OK"

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        logins.append((auth.login.decode(), auth.password.decode()))
        return AuthResult(success=auth.password.decode() == SMTP_PASSWORD)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        Handler(), hostname="127.0.0.1", port=port, authenticator=authenticate,
        auth_require_tls=False,
    )  # fmt: skip
    controller.start()
    try:
        yield controller, received, logins
    finally:
        if controller._thread is not None:  # a test may have stopped it
            controller.stop()


def test_an_email_alert_logs_in_and_reaches_the_smtp_server(tmp_path, smtp_server, monkeypatch):
    controller, received, logins = smtp_server
    url = f"smtp://alerts:{SMTP_PASSWORD}@127.0.0.1:{controller.port}"
    monkeypatch.setenv("SMTP_URL", url)
    tiny = TinyProject(tmp_path / "project", f"duckdb:///{tmp_path}/w.duckdb")
    tiny.csv("orders", ORDERS_BAD)
    tiny.pipeline(
        pipeline(
            "    alerts:\n      - {type: quality_threshold, channel: email, "
            "to: [data-team@example.com], smtp: '${SMTP_URL}', from: wk@example.com}"
        )
    )
    assert not tiny.run().ok
    [(to, mail)] = received
    assert (to, mail["From"]) == (["data-team@example.com"], "wk@example.com")
    assert mail["Subject"] == "[warehouse-kit] p: quality_threshold firing"
    assert "silver.orders: check amount_positive failed in run" in mail.get_content()
    assert logins == [("alerts", SMTP_PASSWORD)]

    [trial] = send_test_alerts(tiny.root, "p")
    assert (trial.channel, trial.recipient, trial.delivery.delivered) == (
        "email", "data-team@example.com", True,
    )  # fmt: skip
    controller.stop()  # the server gone: tried again, then reported without the password
    monkeypatch.setattr(channels, "BACKOFF_S", 0.01)
    [refused] = send_test_alerts(tiny.root)
    assert not refused.delivery.delivered
    assert refused.delivery.attempts == channels.ATTEMPTS
    assert f"could not send through 127.0.0.1:{controller.port}" in str(refused.delivery.error)
    assert_no_secret(refused.delivery.error, stored(tiny.target, "alerts"))


def test_volume_and_freshness_over_real_run_histories(tiny):
    monitors = """
    monitors:
      - {type: volume, model: silver.orders, min_runs: 2}
      - {type: volume, name: orders_range, model: silver.orders, range: {min: 1, max: 20}}
      - {type: freshness, table: silver.orders, max_age: 1h}
      - {type: freshness, source: files, max_age: 30 minutes}
"""
    tiny.pipeline(pipeline(monitors, check_action="warn"))
    verdicts = {}
    for size in (10, 12, 11, 40):
        tiny.csv("orders", "id,amount\n" + "".join(f"{i},{i}\n" for i in range(size)))
        assert tiny.run().ok
        verdicts[size] = {s.monitor: s for s in monitor(tiny.root, target=tiny.target).states}
    volume = "volume silver.orders"
    assert verdicts[12][volume].status == "unknown"  # one earlier build: no verdict yet
    assert verdicts[11][volume].status == "ok"
    assert verdicts[40][volume].status == "firing"
    reason = verdicts[40][volume].reason
    assert reason.startswith("silver.orders has 40 rows after run ")
    assert reason.endswith("outside 8..14 (mean 11 +- 3 sd of 1.0 over 3 builds)")
    assert [verdicts[n]["orders_range"].status for n in (10, 40)] == ["ok", "firing"]

    now = verdicts[40]["freshness silver.orders"]
    assert now.status == "ok"
    later = state.now() + timedelta(hours=2)
    stale = {s.monitor: s for s in monitor(tiny.root, target=tiny.target, now=later).states}
    assert stale["freshness silver.orders"].status == "firing"
    assert "silver.orders was last built 2h" in stale["freshness silver.orders"].reason
    assert stale["freshness files"].status == "firing"
    assert stale["freshness files"].reason.startswith("bronze.orders (source files) last landed")
    assert stale["freshness files"].reason.endswith("limit 30m")


def test_a_monitor_naming_an_unknown_model_is_one_line(tmp_path):
    tiny = TinyProject(tmp_path / "project", f"duckdb:///{tmp_path}/w.duckdb")
    tiny.csv("orders", ORDERS_GOOD)
    tiny.pipeline(pipeline("    monitors: [{type: volume, model: ordres}]"))
    assert tiny.run().ok  # a monitor's mistake never fails the run
    where = r"p.yml: pipeline.monitoring.monitors\[0\].model: 'ordres' names no model"
    with pytest.raises(ConfigError, match=where):
        monitor(tiny.root, target=tiny.target)


def test_an_alert_type_without_its_monitor_is_refused(tmp_path):
    tiny = TinyProject(tmp_path / "project", f"duckdb:///{tmp_path}/w.duckdb")
    tiny.pipeline(pipeline("    alerts: [{type: volume, channel: webhook}]"))
    with pytest.raises(ConfigError, match="an alert of type volume needs a volume monitor"):
        tiny.run()
