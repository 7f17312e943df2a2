"""From monitors' verdicts to incidents, and the alerts that tell of them.

A monitor that begins firing opens an incident and sends one alert on each channel of its
type; later evaluations that still find it firing send nothing; the first that finds it ok
resolves the incident and sends the resolution. Every delivery is recorded in
``_wk.alerts``; one that failed is tried again at each evaluation (the failed message of a
resolved incident's firing is dropped for its resolution) until delivered or `MAX_TRIES`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from warehouse_kit.core import state_incidents
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.monitoring import channels
from warehouse_kit.core.monitoring.monitors import MonitorState
from warehouse_kit.core.pipeline import Pipeline
from warehouse_kit.core.spec_monitoring import Alert

MAX_TRIES = 10
"""Evaluations a message is tried at before it is given up (each one `channels.ATTEMPTS`)."""


@dataclass(frozen=True)
class Sent:
    """One delivery of an alert, as recorded."""

    pipeline: str
    monitor: str
    kind: str
    channel: str
    recipient: str
    delivered: bool
    error: str | None
    attempts: int


def notify(
    warehouse: Warehouse,
    pipelines: Sequence[Pipeline],
    states: Sequence[MonitorState],
    now: datetime,
) -> list[Sent]:
    """Open and resolve incidents as `states` say, and deliver what that tells (first, the
    messages earlier evaluations failed to deliver)."""
    sent: list[Sent] = []
    for pipeline in pipelines:
        alerts = pipeline.spec.monitoring.alerts
        if not alerts:
            continue
        sent += _retry(warehouse, pipeline.name, alerts, now)
        open_ = state_incidents.open_incidents(warehouse, pipeline.name)
        for verdict in (s for s in states if s.pipeline == pipeline.name):
            incident = open_.get(verdict.monitor)
            if verdict.status == "firing" and incident is None:
                incident = _open(warehouse, verdict, now)
                sent += _tell(warehouse, verdict, incident, "firing", alerts, now)
            elif verdict.status == "ok" and incident is not None:
                state_incidents.resolve_incident(
                    warehouse, incident["incident_id"], now, verdict.reason
                )
                sent += _tell(warehouse, verdict, incident, "resolved", alerts, now)
    return sent


def message(pipeline: str, monitor: str, kind: str, reason: str) -> tuple[str, str]:
    """An alert's subject line and text."""
    subject = f"[warehouse-kit] {pipeline}: {monitor} {kind}"
    return subject, f"{subject}: {reason}"


def _open(warehouse: Warehouse, verdict: MonitorState, now: datetime) -> dict[str, Any]:
    row = {
        "incident_id": uuid.uuid4().hex[:16],
        "pipeline": verdict.pipeline,
        "monitor": verdict.monitor,
        "monitor_type": verdict.type,
        "opened_at": now,
        "reason": verdict.reason,
    }
    state_incidents.open_incident(warehouse, row)
    return row


def _tell(
    warehouse: Warehouse,
    verdict: MonitorState,
    incident: dict[str, Any],
    kind: str,
    alerts: Sequence[Alert],
    now: datetime,
) -> list[Sent]:
    subject, text = message(verdict.pipeline, verdict.monitor, kind, verdict.reason)
    return [
        _deliver(warehouse, alert, incident, kind, now, (subject, text))
        for alert in alerts
        if alert.type == verdict.type
    ]


def _retry(
    warehouse: Warehouse, pipeline: str, alerts: Sequence[Alert], now: datetime
) -> list[Sent]:
    sent = []
    for pending in state_incidents.undelivered_alerts(warehouse, pipeline):
        stale = pending["kind"] == "firing" and not pending["still_open"]
        channel = _declared(alerts, pending["channel"], pending["recipient"])
        if stale or channel is None or pending["tries"] >= MAX_TRIES:
            continue
        subject, _ = message(pipeline, pending["monitor"], pending["kind"], "")
        incident = {**pending, "pipeline": pipeline}
        text = (subject, pending["message"])
        sent.append(_deliver(warehouse, channel, incident, pending["kind"], now, text))
    return sent


def _declared(alerts: Sequence[Alert], channel: str, recipient: str) -> Alert | None:
    """The declared alert a recorded delivery went to, if it is still declared."""
    for alert in alerts:
        if alert.channel == channel and channels.recipient(alert) == recipient:
            return alert
    return None


def _deliver(
    warehouse: Warehouse,
    alert: Alert,
    incident: dict[str, Any],
    kind: str,
    now: datetime,
    content: tuple[str, str],
) -> Sent:
    """Send `content` (subject, text) about `incident` on `alert`'s channel; record it."""
    subject, text = content
    delivery = channels.send(alert, subject, text)
    sent = Sent(
        incident["pipeline"],
        incident["monitor"],
        kind,
        alert.channel,
        channels.recipient(alert),
        delivery.delivered,
        delivery.error,
        delivery.attempts,
    )
    state_incidents.record_alert(
        warehouse,
        {
            "sent_at": now,
            "pipeline": sent.pipeline,
            "monitor": sent.monitor,
            "incident_id": incident["incident_id"],
            "kind": kind,
            "channel": sent.channel,
            "recipient": sent.recipient,
            "message": text,
            "status": "delivered" if delivery.delivered else "failed",
            "error": delivery.error,
            "attempts": delivery.attempts,
        },
    )
    return sent
