"""The run's reporter, followed by OpenLineage: what the console shows, and the events.

The runner reports each step of a run to a `Reporter`; `listening` puts one in front of
it that also turns those steps into events and sends them. Nothing here can fail the
run: an event that cannot be built or sent is one warning, then no more events.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from openlineage.client.event_v2 import RunEvent

from warehouse_kit.core.catalog import Catalog
from warehouse_kit.core.errors import first_line
from warehouse_kit.core.openlineage.events import ColumnLineageProvider, RunEvents
from warehouse_kit.core.openlineage.transport import Delivery, delivery
from warehouse_kit.core.planner import Planned
from warehouse_kit.core.progress import Reporter

if TYPE_CHECKING:
    from warehouse_kit.core.results import ModelResult, Published, RunResult

log = logging.getLogger(__name__)


class WithEvents:
    """Reports to `console`, and sends the matching OpenLineage events."""

    def __init__(self, console: Reporter, events: RunEvents, out: Delivery):
        self.console = console
        self.events = events
        self.out = out
        self.broken = False

    def run_started(self, run_id: str, target: str, models: list[str]) -> None:
        self.console.run_started(run_id, target, models)
        self._send(lambda: self.events.run_started(run_id))

    def model_started(self, model_id: str) -> None:
        self.console.model_started(model_id)
        self._send(lambda: self.events.model_started(model_id))

    def model_finished(self, result: ModelResult) -> None:
        self.console.model_finished(result)
        self._send(lambda: self.events.model_finished(result))

    def run_finished(self, result: RunResult) -> None:
        self.console.run_finished(result)
        self._send(lambda: self.events.run_finished(result))
        self.out.close()

    def publish_started(self, table: str) -> None:
        self.console.publish_started(table)

    def publish_progress(self, table: str, rows: int) -> None:
        self.console.publish_progress(table, rows)

    def published(self, result: Published) -> None:
        self.console.published(result)

    def _send(self, build: Callable[[], RunEvent | None]) -> None:
        if self.broken:
            return
        try:
            event = build()
        except Exception as exc:  # a lineage bug must not fail the build
            self.broken = True
            log.warning(
                "OpenLineage: could not build an event (%s); no more are sent", first_line(exc)
            )
            return
        if event is not None:
            self.out.send(event)


def listening(
    reporter: Reporter,
    catalog: Catalog,
    url: str,
    plan: Mapping[str, Planned],
    *,
    column_lineage: ColumnLineageProvider | None = None,
) -> Reporter:
    """`reporter`, followed by the events of the project's ``openlineage`` setting (itself
    when the setting is off). `url` is the target's; `plan` the run's models."""
    console = reporter.console if isinstance(reporter, WithEvents) else reporter
    spec = catalog.project.spec.openlineage
    if spec is None:
        return console
    namespace = spec.namespace or catalog.project.spec.name
    events = RunEvents(catalog, url, plan, namespace=namespace, column_lineage=column_lineage)
    return WithEvents(console, events, delivery(spec, catalog.project.root))
