"""`wk schedule`: the project's pipelines run on their ``schedule:``, in the foreground.

Each pipeline with a schedule (a cron expression, UTC: `cron`) is run by itself
(``wk run PIPELINE.yml``) at each time it fires, one run at a time: pipelines due
together run one after the other, and a run waits for any other run holding the
target (`runlock`). A fire missed while a run went on is skipped, not made up:
the next time is counted from when the run ended. Each run logs to a file of its
own, ``<logs>/<pipeline>-<run_id>.log``.

SIGTERM or SIGINT stops the scheduler cleanly: while it waits, at once; while a
run goes on, once that run has finished, so no run is left half done.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import IO, Protocol

from rich.console import Console

from warehouse_kit.core import runner, state
from warehouse_kit.core.cron import fire_times
from warehouse_kit.core.errors import WarehouseKitError, first_line
from warehouse_kit.core.progress import LogLines
from warehouse_kit.core.project import Project
from warehouse_kit.core.results import RunResult
from warehouse_kit.core.runlock import DEFAULT_WAIT_S
from warehouse_kit.core.spec import load_pipeline_spec

log = logging.getLogger(__name__)

_TICK_S = 0.2
"""How often a wait looks for a stop request."""


class Clock(Protocol):
    """Time as the scheduler sees it: injected by tests to run schedules without waiting."""

    def now(self) -> datetime:
        """The current time, naive UTC."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return state.now()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True)
class Scheduled:
    """A pipeline file and when it runs."""

    pipeline: str
    file: Path
    cron: str


def scheduled(project: Project, files: Sequence[Path] | None = None) -> list[Scheduled]:
    """The pipelines of `files` (default: the project's) that have a schedule."""
    found = []
    for path in files or project.pipeline_files():
        spec = load_pipeline_spec(path, display=project.display(path))
        if spec.schedule:
            found.append(Scheduled(spec.name, path.resolve(), spec.schedule))
    if not found:
        raise WarehouseKitError(
            "no pipeline to schedule: give a pipeline a `schedule:` (a cron expression, "
            "like '0 */6 * * *')"
        )
    return found


@dataclass(frozen=True)
class Run:
    """One scheduled run: which pipeline, when it was due, what it did, where its log is."""

    pipeline: str
    due: datetime
    log: Path
    result: RunResult | None
    error: str | None = None


class Scheduler:
    """Runs `entries` at their times until stopped (or after `max_runs` runs)."""

    def __init__(
        self,
        project: Project,
        entries: Sequence[Scheduled],
        *,
        target: str | None = None,
        logs: Path | None = None,
        clock: Clock | None = None,
        max_runs: int | None = None,
        wait: float = DEFAULT_WAIT_S,
        say: Callable[[str], None] = log.info,
    ):
        self.project = project
        self.entries = list(entries)
        self.target = target
        self.logs = logs or project.root / "logs"
        self.clock = clock or SystemClock()
        self.max_runs = max_runs
        self.wait = wait
        self.say = say
        self._stop = threading.Event()

    def stop(self) -> None:
        """Stop once the run going on, if any, has finished."""
        self._stop.set()

    def serve(self) -> list[Run]:
        """Run the schedule; returns the runs it made."""
        done: list[Run] = []
        due = {entry: next(fire_times(entry.cron, self.clock.now())) for entry in self.entries}
        while not self._stop.is_set() and (self.max_runs is None or len(done) < self.max_runs):
            entry = min(due, key=lambda e: (due[e], e.pipeline))
            self.say(self._next_line(due))
            if not self._sleep_until(due[entry]):
                break
            done.append(self._run(entry, due[entry]))
            due[entry] = next(fire_times(entry.cron, max(self.clock.now(), due[entry])))
        return done

    def _next_line(self, due: dict[Scheduled, datetime]) -> str:
        times = ", ".join(
            f"{entry.pipeline} at {when:%Y-%m-%d %H:%M:%S}"
            for entry, when in sorted(due.items(), key=lambda item: item[1])
        )
        return f"next runs (UTC): {times}"

    def _sleep_until(self, when: datetime) -> bool:
        """Wait until `when`; False when asked to stop meanwhile."""
        while not self._stop.is_set():
            left = (when - self.clock.now()).total_seconds()
            if left <= 0:
                return True
            self.clock.sleep(min(left, _TICK_S))
        return False

    def _run(self, entry: Scheduled, due: datetime) -> Run:
        self.logs.mkdir(parents=True, exist_ok=True)
        started = state.new_run_id(self.clock.now())
        partial = self.logs / f"{entry.pipeline}-{started}.log.partial"
        result, error = None, None
        with partial.open("w", encoding="utf-8") as handle, _logging_to(handle):
            console = Console(file=handle, width=120, no_color=True, soft_wrap=True)
            console.print(f"{entry.pipeline}: due {due:%Y-%m-%d %H:%M:%S} UTC ({entry.cron})")
            try:
                result = runner.run(
                    self.project,
                    pipelines=[entry.file],
                    target=self.target,
                    reporter=LogLines(console),
                    wait=self.wait,
                )
            except Exception as exc:  # one run's failure is logged; the schedule goes on
                error = str(exc) if isinstance(exc, WarehouseKitError) else first_line(exc)
                console.print(f"error: {error}", markup=False, highlight=False)
        named = self.logs / f"{entry.pipeline}-{result.run_id if result else started}.log"
        partial.replace(named)
        status = result.status if result else "did not run"
        self.say(f"{entry.pipeline}: run {result.run_id if result else ''} {status}; log {named}")
        if result is not None and error is None:
            error = result.first_error()
        return Run(entry.pipeline, due, named, result, error)


@contextmanager
def _logging_to(handle: IO[str]) -> Iterator[None]:
    """What the library logs during a run (a retry, a wait for the target) goes to its log."""
    handler = logging.StreamHandler(handle)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    library = logging.getLogger("warehouse_kit")
    library.addHandler(handler)
    try:
        yield
    finally:
        library.removeHandler(handler)


@contextmanager
def stopping_on_signals(scheduler: Scheduler) -> Iterator[None]:
    """SIGTERM and SIGINT ask `scheduler` to stop (see the module's description) for the
    block; the handlers before it are put back after it."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers
        return

    def ask(signum: int, frame: FrameType | None) -> None:
        scheduler.say(f"{signal.Signals(signum).name}: stopping after the run going on, if any")
        scheduler.stop()

    before = {sig: signal.signal(sig, ask) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
