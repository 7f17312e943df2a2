"""Progress of a run: a live bar on a terminal, plain log lines anywhere else."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from warehouse_kit.core.results import ModelResult, Published, RunResult

STATUS_STYLE = {
    "success": "green",
    "up_to_date": "dim green",
    "failed": "bold red",
    "skipped": "yellow",
    "planned": "cyan",
}


class PublishReporter(Protocol):
    """Follows tables being published to the lake."""

    def publish_started(self, table: str) -> None: ...
    def publish_progress(self, table: str, rows: int) -> None: ...
    def published(self, result: Published) -> None: ...


class Reporter(PublishReporter, Protocol):
    def run_started(self, run_id: str, target: str, models: list[str]) -> None: ...
    def model_started(self, model_id: str) -> None: ...
    def model_finished(self, result: ModelResult) -> None: ...
    def run_finished(self, result: RunResult) -> None: ...


class Silent:
    """Reports nothing (the Python API's default)."""

    def run_started(self, run_id: str, target: str, models: list[str]) -> None:
        pass

    def model_started(self, model_id: str) -> None:
        pass

    def model_finished(self, result: ModelResult) -> None:
        pass

    def run_finished(self, result: RunResult) -> None:
        pass

    def publish_started(self, table: str) -> None:
        pass

    def publish_progress(self, table: str, rows: int) -> None:
        pass

    def published(self, result: Published) -> None:
        pass


class LogLines:
    """One line per event, for logs and CI."""

    def __init__(self, console: Console):
        self.console = console
        self.total = 0
        self.done = 0

    def line(self, text: str) -> None:
        """One line, however long: a log is read by grep and tail, not wrapped at 80."""
        self.console.print(text, highlight=False, markup=False, soft_wrap=True)

    def run_started(self, run_id: str, target: str, models: list[str]) -> None:
        self.total = len(models)
        self.line(f"run {run_id} on {target}: {self.total} models")

    def model_started(self, model_id: str) -> None:
        pass

    def model_finished(self, result: ModelResult) -> None:
        self.done += 1
        self.line(f"[{self.done}/{self.total}] {describe(result)}")

    def run_finished(self, result: RunResult) -> None:
        self.line(summary_line(result))

    def publish_started(self, table: str) -> None:
        pass

    def publish_progress(self, table: str, rows: int) -> None:
        pass

    def published(self, result: Published) -> None:
        self.line(describe_publish(result))


class LiveBar(LogLines):
    """A progress bar with the model being built; finished models scroll above it."""

    def __init__(self, console: Console):
        super().__init__(console)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task = self.progress.add_task("", total=0)

    def run_started(self, run_id: str, target: str, models: list[str]) -> None:
        super().run_started(run_id, target, models)
        self.progress.update(self.task, total=len(models))
        self.progress.start()

    def model_started(self, model_id: str) -> None:
        self.progress.update(self.task, description=f"building {model_id}")

    def model_finished(self, result: ModelResult) -> None:
        style = STATUS_STYLE.get(result.status, "")
        self.progress.console.print(
            f"[{style}]{result.status:>7}[/] {escape(describe(result, status=False))}",
            highlight=False,
        )
        self.progress.advance(self.task)

    def publish_started(self, table: str) -> None:
        self.progress.update(self.task, description=f"publishing {table} to the lake")

    def publish_progress(self, table: str, rows: int) -> None:
        self.progress.update(self.task, description=f"publishing {table}: {rows:,} rows")

    def published(self, result: Published) -> None:
        style = "bold red" if result.status == "failed" else "green"
        line = escape(describe_publish(result, status=False))
        self.progress.console.print(f"[{style}]{result.status:>7}[/] {line}", highlight=False)

    def run_finished(self, result: RunResult) -> None:
        self.progress.stop()
        table = Table(title=f"run {result.run_id}", show_lines=False)
        for column in ("model", "status", "rows in", "rows out", "seconds"):
            table.add_column(
                column, justify="right" if column[0] in "rs" and column != "status" else "left"
            )
        for model in result.models:
            style = STATUS_STYLE.get(model.status, "")
            table.add_row(
                escape(model.model),
                f"[{style}]{model.status}[/]",
                format_count(model.rows_in),
                format_count(model.rows_out),
                f"{model.duration_s:.2f}",
            )
        self.console.print(table)
        self.console.print(summary_line(result), highlight=False)


def reporter_for(console: Console | None = None) -> Reporter:
    """A live bar on an interactive terminal, log lines otherwise."""
    console = console or Console()
    return LiveBar(console) if console.is_terminal else LogLines(console)


def describe(result: ModelResult, *, status: bool = True) -> str:
    head = f"{result.model} {result.status}" if status else result.model
    if result.status == "failed":
        return f"{head}: {result.error}"
    if result.status == "skipped":
        return f"{head}: {result.error or 'an input failed'}"
    if result.status == "planned":
        return f"{head}: {result.note}"
    if result.status == "up_to_date":
        return f"{head}: {result.note}" if result.note else head
    notes = [result.note] if result.note else []
    if result.rows_quarantined:
        notes.append(f"{format_count(result.rows_quarantined)} quarantined")
    notes += [f"{count:,} dropped: {reason}" for reason, count in result.dropped.items() if count]
    notes += [
        f"check {check.check} {check.status}: {format_count(check.failing_rows)} rows"
        for check in result.checks or ()
        if check.status != "pass"
    ]
    note = f" ({'; '.join(notes)})" if notes else ""
    rows = f"{format_count(result.rows_in)} rows in, {format_count(result.rows_out)} out"
    return f"{head}: {rows}{note}, {result.duration_s:.2f}s"


def describe_publish(result: Published, *, status: bool = True) -> str:
    """``lake fact_orders published: v000003, 2,959 rows in 27 files (181 kB), 0.21s``."""
    head = f"lake {result.table} {result.status}" if status else f"lake {result.table}"
    if result.status == "failed":
        return f"{head}: {result.error}"
    version = f"v{result.version:06d}" if result.version is not None else "-"
    if result.status == "unchanged":
        return f"{head}: {version} holds its last build"
    size = f"{(result.bytes or 0) / 1000:,.0f} kB"
    return (
        f"{head}: {version}, {format_count(result.rows)} rows in "
        f"{format_count(result.files)} files ({size}), {result.duration_s:.2f}s"
    )


def summary_line(result: RunResult) -> str:
    counts: dict[str, int] = {}
    for model in result.models:
        counts[model.status] = counts.get(model.status, 0) + 1
    parts = ", ".join(f"{n} {status}" for status, n in counts.items())
    return f"run {result.run_id} {result.status}: {parts} in {result.duration_s:.1f}s"


def format_count(value: int | None) -> str:
    """1234 -> '1,234'; None -> '-'."""
    return "-" if value is None else f"{value:,}"
