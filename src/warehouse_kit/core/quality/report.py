"""Check results and how they are shown: console, JSON, JUnit XML, HTML.

- `CheckResults.to_table()` (or printing it with rich): a console table;
  `to_text()` is the same table as plain text, for a file;
- `to_json()` / `CheckResults.from_json()`: every field, round-trips;
- `to_junit()`: JUnit XML for CI systems: one testsuite per model, one
  testcase per check; a ``fail`` is a ``<failure>``; a ``warn`` passes (a
  warning must not break a build) and says ``warn: ...`` in its
  ``<system-out>``;
- `to_html(history=...)`: one self-contained page (inline CSS, no script,
  no link): a row per check with its status, counts, its history over the
  last runs as an inline SVG sparkline, and sample failing rows. It opens
  offline; every value is escaped.

XML is built with `xml.etree` and HTML from the templates ``check_report.html.j2``
and ``check_table.html.j2`` (`warehouse_kit.core.templating`); both escape every value.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from warehouse_kit.core.templating import render

Status = Literal["pass", "warn", "fail"]
"""pass; warn: a warn check failed; fail: a quarantine or reject check failed."""

HISTORY_RUNS = 20
"""How many past runs the HTML report shows per check."""

FORMATS = ("table", "json", "junit", "html")
"""What `CheckResults.render` writes."""
_EXTENSIONS = {".json": "json", ".xml": "junit", ".html": "html", ".htm": "html"}


def format_of(path: Path) -> str:
    """The format a report file's name asks for (``checks.xml`` is JUnit); else a table."""
    return _EXTENSIONS.get(path.suffix.lower(), "table")


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome on one model in one run."""

    model: str
    check: str
    """The check's name."""
    type: str
    action: str
    status: Status
    failing_rows: int
    """Rows failing a row-level check; for table-level checks, the rows at fault
    where that means something (NULLs, duplicates), else 0."""
    total_rows: int
    measured: float | None
    """A table-level check's measure: rows, worst NULL share, duplicates, age in
    seconds, schema problems. None for row-level checks."""
    message: str
    sample: list[dict[str, Any]] = field(default_factory=list)
    """A few failing rows (the key and checked columns, or all columns), JSON-safe."""


class CheckResults(Sequence[CheckResult]):
    """The results of a run's checks (one model or many), in the order checked."""

    def __init__(self, results: Iterable[CheckResult], *, run_id: str | None = None):
        self._results = tuple(results)
        self.run_id = run_id

    @overload
    def __getitem__(self, index: int) -> CheckResult: ...
    @overload
    def __getitem__(self, index: slice) -> CheckResults: ...
    def __getitem__(self, index: int | slice) -> CheckResult | CheckResults:
        if isinstance(index, slice):
            return CheckResults(self._results[index], run_id=self.run_id)
        return self._results[index]

    def __len__(self) -> int:
        return len(self._results)

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self._results)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CheckResults):
            return NotImplemented
        return (self._results, self.run_id) == (other._results, other.run_id)

    __hash__ = None  # type: ignore[assignment]  # results hold lists: not hashable

    def __repr__(self) -> str:
        counts = self.counts()
        return f"CheckResults({len(self)} checks: {_summary(counts)})"

    @property
    def failed(self) -> list[CheckResult]:
        """Failing reject checks: the model must not be published."""
        return [r for r in self if r.status == "fail" and r.action == "reject"]

    @property
    def ok(self) -> bool:
        """No reject check failed (warnings and quarantines let the model go on)."""
        return not self.failed

    def counts(self) -> dict[str, int]:
        return {
            status: sum(r.status == status for r in self) for status in ("pass", "warn", "fail")
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        data = {"run_id": self.run_id, "results": [asdict(r) for r in self]}
        return json.dumps(data, indent=indent, default=str)

    @classmethod
    def from_json(cls, text: str) -> CheckResults:
        data = json.loads(text)
        return cls((CheckResult(**r) for r in data["results"]), run_id=data.get("run_id"))

    def to_junit(self) -> str:
        return to_junit(self)

    def to_html(
        self, history: Iterable[Mapping[str, Any]] | None = None, *, title: str | None = None
    ) -> str:
        return to_html(self, history, title=title)

    def _repr_html_(self) -> str:
        return render("check_table.html.j2", rows=_rows(self, []))

    def to_table(self) -> Table:
        return to_table(self)

    def to_text(self) -> str:
        return to_text(self)

    def render(self, fmt: str, history: Iterable[Mapping[str, Any]] | None = None) -> str:
        """The results as text in `fmt`, one of `FORMATS`; `history` shows in HTML only."""
        if fmt == "html":
            return self.to_html(history)
        writers = {"table": self.to_text, "json": self.to_json, "junit": self.to_junit}
        if fmt not in writers:
            raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
        return writers[fmt]()

    def __rich__(self) -> Table:
        return to_table(self)


def _summary(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in counts.items())


# --- console --------------------------------------------------------------------------

_STYLES = {"pass": "green", "warn": "yellow", "fail": "bold red"}


def to_table(results: CheckResults) -> Table:
    """A rich table, a row per check."""
    title = f"checks of run {results.run_id}" if results.run_id else "checks"
    table = Table(title=title, caption=_summary(results.counts()))
    for header in ("model", "check", "action", "status"):
        table.add_column(header)
    table.add_column("failing", justify="right")
    table.add_column("rows", justify="right")
    table.add_column("message")
    for r in results:  # Text, not markup: a message may hold [a-z]
        numbers = (f"{r.failing_rows:,}", f"{r.total_rows:,}")
        status = Text(r.status, style=_STYLES[r.status])
        table.add_row(
            Text(r.model), Text(r.check), Text(r.action), status, *numbers, Text(r.message)
        )
    return table


def to_text(results: CheckResults) -> str:
    """The console table as plain text, as wide as it needs (no terminal will wrap a file)."""
    table, text = to_table(results), io.StringIO()
    console = Console(file=text, width=10_000, color_system=None)
    console.width = Measurement.get(console, console.options, table).maximum
    console.print(table)
    return "".join(line.rstrip() + "\n" for line in text.getvalue().splitlines())


# --- JUnit ----------------------------------------------------------------------------


def to_junit(results: CheckResults) -> str:
    """JUnit XML: a testsuite per model, a testcase per check (see the module doc)."""
    root = ET.Element("testsuites", name="warehouse-kit quality checks")
    _junit_counts(root, list(results))
    for model, model_results in _by_model(results).items():
        suite = ET.SubElement(root, "testsuite", name=model)
        _junit_counts(suite, model_results)
        if results.run_id:
            properties = ET.SubElement(suite, "properties")
            ET.SubElement(properties, "property", name="run_id", value=results.run_id)
        for r in model_results:
            _junit_case(suite, r)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _junit_counts(element: ET.Element, results: Sequence[CheckResult]) -> None:
    failures = sum(r.status == "fail" for r in results)
    element.attrib.update(tests=str(len(results)), failures=str(failures), errors="0", skipped="0")


def _junit_case(suite: ET.Element, r: CheckResult) -> None:
    case = ET.SubElement(suite, "testcase", classname=r.model, name=r.check)
    details = _details(r)
    if r.status == "fail":
        failure = ET.SubElement(case, "failure", message=r.message, type=r.action)
        failure.text = details
    elif r.status == "warn":
        ET.SubElement(case, "system-out").text = f"warn: {details}"


def _details(r: CheckResult) -> str:
    lines = [
        r.message,
        f"type {r.type}, action {r.action}, {r.failing_rows} of {r.total_rows} rows failing",
    ]
    lines += [json.dumps(row, default=str) for row in r.sample]
    return "\n".join(lines)


def _by_model(results: Iterable[CheckResult]) -> dict[str, list[CheckResult]]:
    grouped: dict[str, list[CheckResult]] = {}
    for r in results:
        grouped.setdefault(r.model, []).append(r)
    return grouped


# --- HTML -----------------------------------------------------------------------------

_COLOURS = {"pass": "#1a7f37", "warn": "#d4a72c", "fail": "#cf222e"}
_SPARKLINE_HEIGHT = 20
"""Pixels; a bar is 6 wide, 8 apart, and at least 4 high (a run without failures shows)."""


@dataclass(frozen=True)
class _Bar:
    """One past run in a check's history sparkline."""

    x: int
    y: int
    height: int
    fill: str
    title: str


@dataclass(frozen=True)
class _History:
    bars: list[_Bar]
    not_passing: int
    height: int = _SPARKLINE_HEIGHT

    @property
    def width(self) -> int:
        return 8 * len(self.bars)


@dataclass(frozen=True)
class _Row:
    """What check_table.html.j2 shows of one result."""

    result: CheckResult
    history: _History | None
    columns: list[str]
    """The sample rows' columns, in the order first seen."""


def to_html(
    results: CheckResults,
    history: Iterable[Mapping[str, Any]] | None = None,
    *,
    title: str | None = None,
) -> str:
    """A self-contained HTML page; see the module doc.

    `history` rows are ``{run_id, check, status, failing_rows}`` (``model`` too
    when checks of several models share names), from older runs and, if it
    should show, the current one; run ids sort in start order.
    """
    title = title or (f"Data quality: run {results.run_id}" if results.run_id else "Data quality")
    summary = f"{len(results)} checks: {_summary(results.counts())}"
    rows = _rows(results, list(history or []))
    return render("check_report.html.j2", title=title, summary=summary, rows=rows)


def _rows(results: CheckResults, history: list[Mapping[str, Any]]) -> list[_Row]:
    return [
        _Row(r, _history(_runs_of(r, history)), list(dict.fromkeys(k for s in r.sample for k in s)))
        for r in results
    ]


def _runs_of(r: CheckResult, history: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    mine = [h for h in history if h.get("check") == r.check and h.get("model", r.model) == r.model]
    return sorted(mine, key=lambda h: str(h.get("run_id")))[-HISTORY_RUNS:]


def _history(runs: list[Mapping[str, Any]]) -> _History | None:
    """A bar per run, oldest first: its colour the status, its height the failing rows."""
    if not runs:
        return None
    peak = max(int(h.get("failing_rows") or 0) for h in runs) or 1
    bars = []
    for i, run in enumerate(runs):
        failing, status = int(run.get("failing_rows") or 0), str(run.get("status"))
        height = 4 + round((_SPARKLINE_HEIGHT - 4) * failing / peak)
        title = f"run {run.get('run_id')}: {status}, {failing:,} failing rows"
        bars.append(
            _Bar(8 * i, _SPARKLINE_HEIGHT - height, height, _COLOURS.get(status, "#888"), title)
        )
    not_passing = sum(str(h.get("status")) != "pass" for h in runs)
    return _History(bars, not_passing)
