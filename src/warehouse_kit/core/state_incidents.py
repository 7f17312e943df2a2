"""The run store's incidents and alerts (`core.monitoring`): what the monitors opened,
resolved and sent. Part of the run store (`state`), the only code that touches ``_wk``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.state import insert, table, update


def open_incidents(warehouse: Warehouse, pipeline: str) -> dict[str, dict[str, Any]]:
    """The pipeline's incidents not resolved yet, by monitor."""
    incidents = table(warehouse, "incidents")
    mine = incidents.filter(incidents.pipeline == pipeline, incidents.resolved_at.isnull())
    return {row["monitor"]: row for row in warehouse.rows(mine)}


def open_incident(warehouse: Warehouse, row: Mapping[str, Any]) -> None:
    with warehouse.transaction() as tx:
        tx.run(insert("incidents", row))


def resolve_incident(warehouse: Warehouse, incident_id: str, at: datetime, how: str) -> None:
    change = {"resolved_at": at, "resolution": how}
    with warehouse.transaction() as tx:
        tx.run(update("incidents", {"incident_id": incident_id}, change))


def record_alert(warehouse: Warehouse, row: Mapping[str, Any]) -> None:
    """Record a delivery of an alert, delivered or not (its row holds no secret)."""
    with warehouse.transaction() as tx:
        tx.run(insert("alerts", row))


def undelivered_alerts(warehouse: Warehouse, pipeline: str) -> list[dict[str, Any]]:
    """The pipeline's alert messages never delivered on their channel, with how many
    deliveries failed (``tries``) and whether their incident is still open."""
    alerts, incidents = table(warehouse, "alerts"), table(warehouse, "incidents")
    key = ["incident_id", "kind", "channel", "recipient"]
    mine = alerts.filter(alerts.pipeline == pipeline)
    delivered = mine.filter(mine.status == "delivered").select(*key)
    pending = mine.anti_join(delivered, key)
    grouped = pending.group_by([*key, "monitor"]).aggregate(
        message=pending.message.max(), tries=pending.count()
    )
    state_of = incidents.select("incident_id", still_open=incidents.resolved_at.isnull())
    return warehouse.rows(grouped.inner_join(state_of, "incident_id").order_by(*key))
