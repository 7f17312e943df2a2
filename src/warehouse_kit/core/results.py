"""What a run did: each model's result, and the run's (with a table in Jupyter)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from warehouse_kit.core.quality import CheckResults
from warehouse_kit.core.templating import render


@dataclass
class ModelResult:
    model: str
    stage: str
    status: str
    """success, failed, skipped, or planned (dry run)."""
    rows_in: int | None = None
    rows_out: int | None = None
    duration_s: float = 0.0
    error: str | None = None
    note: str = ""
    sql: str = ""
    started_at: datetime | None = None
    rows_quarantined: int | None = None
    checks: CheckResults | None = None
    fingerprint: str | None = None
    """Of the model's definition and its inputs' last writes, when it was built."""
    rows_dropped: int | None = None
    dropped: dict[str, int] = field(default_factory=dict)
    """Rows its operations set apart, by reason (a NULL key, a duplicate, a filter rule)."""
    attempt: int = 1
    """Which attempt at its write this is the outcome of (`core.retries`)."""
    attempts: int = 1
    """The attempts its retries allow in all."""
    retried: list[str] = field(default_factory=list)
    """The errors of the attempts before this one: transient faults."""


@dataclass
class Published:
    """What publishing one table to the lake did (`warehouse_kit.core.lakehouse`)."""

    table: str
    status: str
    """published, unchanged (its current version holds the same build), or failed."""
    version: int | None = None
    path: str = ""
    """The version's folder."""
    rows: int | None = None
    files: int | None = None
    bytes: int | None = None
    duration_s: float = 0.0
    error: str | None = None


@dataclass
class RunResult:
    run_id: str
    status: str
    target: str
    models: list[ModelResult] = field(default_factory=list)
    duration_s: float = 0.0
    dry_run: bool = False
    published: list[Published] = field(default_factory=list)
    """The lake tables the run published, after its models (see `lakehouse`)."""

    @property
    def ok(self) -> bool:
        return self.status in ("success", "planned")

    def failures(self) -> list[ModelResult]:
        return [m for m in self.models if m.status == "failed"]

    def first_error(self) -> str | None:
        """A failed model's error, else a failed publish's."""
        errors = [m.error for m in self.failures()]
        errors += [f"lake {p.table}: {p.error}" for p in self.published if p.error]
        return next(iter(errors), None)

    def _repr_html_(self) -> str:
        return render("run_result.html.j2", run=self)
