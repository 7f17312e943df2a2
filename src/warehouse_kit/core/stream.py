"""`wk stream`: land a project's streams in micro-batches, and keep what is built on them
up to date.

Each micro-batch is one run (`runner.run`) of the stream models: each topic's new
rows, dead letters and next offsets commit in one transaction (`sources.kafka`),
so a kill at any moment neither loses nor repeats a message. Every
`build_every` batches, and after the last, the run also builds every model
downstream of the streams (incremental models take only the new rows). A batch
that fails for a reason that may pass (brokers or warehouse unreachable, a model
failing) is retried after a pause that doubles up to a minute; nothing is lost
meanwhile, the messages wait in the topic. Any other error (a missing topic, a
wrong setting) ends the stream: it raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from warehouse_kit.core import runlock
from warehouse_kit.core.catalog import load_catalog
from warehouse_kit.core.errors import TransientError, WarehouseKitError
from warehouse_kit.core.models import SourceLoad
from warehouse_kit.core.project import Project
from warehouse_kit.core.results import RunResult
from warehouse_kit.core.runner import run

log = logging.getLogger(__name__)

MAX_PAUSE_S = 60.0


@dataclass
class MicroBatch:
    """What one micro-batch did."""

    number: int
    run: RunResult | None
    """None when the run could not start (`error`)."""
    messages: int
    """Rows landed from the streams (dead letters not included)."""
    seconds: float
    built: bool
    """Whether the models downstream of the streams were built too."""
    streams: list[str]
    error: str | None = None
    """Why the batch failed before its run started (brokers unreachable, say)."""

    @property
    def ok(self) -> bool:
        return self.run is not None and self.run.ok

    @property
    def idle(self) -> bool:
        """Nothing new in any stream."""
        if self.run is None or not self.run.ok:
            return False
        return all(m.status == "up_to_date" for m in self.run.models if m.model in self.streams)

    def problems(self) -> list[str]:
        if self.run is None:
            return [self.error or "the run did not start"]
        return [f"{m.model}: {m.error}" for m in self.run.failures()]

    def line(self) -> str:
        rate = self.messages / self.seconds if self.seconds else 0.0
        text = f"batch {self.number}: {self.messages:,} messages in {self.seconds:.2f} s"
        text += f" ({rate:,.0f}/s)" if self.messages else ""
        landed = [m for m in self.run.models if m.model in self.streams] if self.run else []
        text += "".join(f"; {m.model}: {m.note}" for m in landed if m.status == "success")
        if self.built and self.run is not None:
            text += "; downstream built"
        return text + "".join(f"\n  failed: {problem}" for problem in self.problems())


@dataclass
class StreamResult:
    batches: list[MicroBatch] = field(default_factory=list)
    stopped: str = ""
    """Why the loop ended."""

    @property
    def messages(self) -> int:
        return sum(batch.messages for batch in self.batches)

    @property
    def ok(self) -> bool:
        return bool(self.batches) and self.batches[-1].ok


def stream(
    project: Project | str | Path = ".",
    *,
    pipelines: Sequence[str | Path] | None = None,
    target: str | None = None,
    interval: float = 1.0,
    max_batches: int | None = None,
    max_messages: int | None = None,
    until_idle: bool = False,
    build_every: int = 1,
    stop: Callable[[], bool] = lambda: False,
    on_batch: Callable[[MicroBatch], None] = lambda batch: None,
    wait: float = runlock.DEFAULT_WAIT_S,
) -> StreamResult:
    """Land the streams of the project's pipelines batch after batch, every `interval`
    seconds, until `stop()` says so, `max_batches` ran, `max_messages` landed, or (with
    `until_idle`) a batch finds nothing new."""
    project = Project.of(project)
    streams = stream_models(project, pipelines)
    result, pause = StreamResult(), interval
    while True:
        began = time.monotonic()
        number = len(result.batches) + 1
        build = number % build_every == 0
        batch = _batch(project, pipelines, target, streams, number, build, wait)
        result.batches.append(batch)
        on_batch(batch)
        why = _why_stop(result, batch, stop, max_batches, max_messages, until_idle)
        if why:
            if not batch.built and batch.ok:  # what the last batches landed gets built
                result.batches.append(
                    _batch(project, pipelines, target, streams, number + 1, True, wait, 0)
                )
                on_batch(result.batches[-1])
            result.stopped = why
            return result
        pause = interval if batch.ok else min(max(pause, interval, 1.0) * 2, MAX_PAUSE_S)
        if not batch.ok:
            log.warning("batch %d failed; trying again in %.0f s", number, pause)
        _sleep(pause - (time.monotonic() - began), stop)


def stream_models(project: Project, pipelines: Sequence[str | Path] | None = None) -> list[str]:
    """The bronze models the project's streams land in."""
    catalog = load_catalog(project, pipelines)
    found = [
        node
        for node, model in catalog.graph.models.items()
        if isinstance(model.materialization, SourceLoad) and model.materialization.stream
    ]
    if not found:
        raise WarehouseKitError("no stream in these pipelines: add a source of type: kafka")
    return found


def _batch(
    project: Project,
    pipelines: Sequence[str | Path] | None,
    target: str | None,
    streams: list[str],
    number: int,
    build: bool,
    wait: float,
    landed: int | None = None,
) -> MicroBatch:
    select = [f"{node}+" for node in streams] if build else streams
    began = time.perf_counter()
    try:
        outcome = run(project, pipelines=pipelines, target=target, select=select, wait=wait)
    except TransientError as exc:  # the next batch may well work: the loop retries
        return MicroBatch(number, None, 0, time.perf_counter() - began, build, streams, str(exc))
    seconds = time.perf_counter() - began
    if landed is None:
        landed = sum(m.rows_in or 0 for m in outcome.models if m.model in streams)
    return MicroBatch(number, outcome, landed, seconds, build, streams)


def _why_stop(
    result: StreamResult,
    batch: MicroBatch,
    stop: Callable[[], bool],
    max_batches: int | None,
    max_messages: int | None,
    until_idle: bool,
) -> str:
    if stop():
        return "asked to stop"
    if max_batches is not None and len(result.batches) >= max_batches:
        return f"{max_batches} batch{'es' if max_batches != 1 else ''}"
    if max_messages is not None and result.messages >= max_messages:
        return f"{result.messages:,} messages"
    if until_idle and batch.idle:
        return "no new messages"
    return ""


def _sleep(seconds: float, stop: Callable[[], bool]) -> None:
    """Sleep, waking early when asked to stop."""
    deadline = time.monotonic() + seconds
    while not stop() and (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 0.1))
