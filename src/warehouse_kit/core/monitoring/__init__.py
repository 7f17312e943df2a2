"""Monitors and alerts: what ``monitoring:`` in a pipeline file asks to watch, and tell.

`evaluate_and_notify` finds each monitor's state (`monitors`), opens and resolves
incidents and delivers their alerts (`incidents`, `channels`). A run calls `after_run` at
its end; `monitor` does the same on its own (``wk monitor``); `send_test_alerts` sends a test
message on every channel (``wk alerts test``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from warehouse_kit.core import runlock, state
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.catalog import Catalog, load_catalog
from warehouse_kit.core.errors import ConfigError, first_line
from warehouse_kit.core.monitoring import channels
from warehouse_kit.core.monitoring.incidents import Sent, message, notify
from warehouse_kit.core.monitoring.monitors import MonitorState, evaluate
from warehouse_kit.core.project import Project

__all__ = ["Evaluation", "MonitorState", "Sent", "after_run", "monitor", "send_test_alerts"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evaluation:
    """Every monitor's state, and the alerts delivered (or not) because of them."""

    states: list[MonitorState]
    sent: list[Sent] = field(default_factory=list)

    @property
    def firing(self) -> list[MonitorState]:
        return [s for s in self.states if s.status == "firing"]


def evaluate_and_notify(
    catalog: Catalog, warehouse: Warehouse, *, now: datetime | None = None
) -> Evaluation:
    """Evaluate the catalog's monitors and send what changed; the caller holds the target."""
    at = now or state.now()
    states = evaluate(catalog, warehouse, now=at)
    if not states:
        return Evaluation([])
    state.ensure(warehouse)
    return Evaluation(states, notify(warehouse, catalog.pipelines, states, at))


def after_run(catalog: Catalog, warehouse: Warehouse) -> Evaluation | None:
    """The end of a run: evaluate and notify, and log what fires or was not delivered.
    Never raises: a monitor or a channel must not fail the run it watches."""
    try:
        evaluation = evaluate_and_notify(catalog, warehouse)
    except Exception as exc:
        log.warning("monitoring: could not evaluate the monitors: %s", first_line(exc))
        return None
    for verdict in evaluation.firing:
        log.warning("monitor %s firing: %s", verdict.monitor, verdict.reason)
    for sent in evaluation.sent:
        if not sent.delivered:
            log.warning(
                "alert of %s to %s %s not delivered (retried at the next run or wk monitor): %s",
                sent.monitor,
                sent.channel,
                sent.recipient,
                sent.error,
            )
    return evaluation


def monitor(
    project: Project | str | Path = ".",
    *,
    pipelines: Sequence[str | Path] | None = None,
    target: str | None = None,
    now: datetime | None = None,
    wait: float = runlock.DEFAULT_WAIT_S,
) -> Evaluation:
    """Evaluate the project's monitors now, outside a run, and send what changed
    (and retry what was not delivered). Holds the target as a run does."""
    project = Project.of(project)
    catalog = load_catalog(project, pipelines)
    with runlock.hold(catalog.target(target), base_dir=project.root, wait_s=wait) as held:
        return evaluate_and_notify(catalog, held.warehouse, now=now)


@dataclass(frozen=True)
class TrialDelivery:
    """A test message's delivery on one channel."""

    pipeline: str
    channel: str
    recipient: str
    delivery: channels.Delivery


def send_test_alerts(
    project: Project | str | Path = ".", pipeline: str | None = None
) -> list[TrialDelivery]:
    """Send a test message on every alert channel of the project's pipelines (or of the
    one named `pipeline`: its name or file). Nothing is recorded; the warehouse is not
    opened."""
    project = Project.of(project)
    catalog = load_catalog(project)
    chosen = [
        p
        for p in catalog.pipelines
        if pipeline is None or pipeline in (p.name, p.file, Path(p.file).name)
    ]
    if pipeline is not None and not chosen:
        names = ", ".join(p.name for p in catalog.pipelines)
        raise ConfigError(f"no pipeline called {pipeline!r} (the project has: {names})")
    results: list[TrialDelivery] = []
    for found in chosen:
        tried: set[tuple[str, str]] = set()  # a channel declared for several types: once
        for alert in found.spec.monitoring.alerts:
            where = channels.recipient(alert)
            if (alert.channel, where) in tried:
                continue
            tried.add((alert.channel, where))
            subject, text = message(found.name, "test", "message", "alerts reach this channel")
            delivery = channels.send(alert, subject, text)
            results.append(TrialDelivery(found.name, alert.channel, where, delivery))
    return results
