"""What the data dictionary says about each table, column, metric and experiment.

Plain values, gathered once (`gather`) and then written out as HTML and Markdown by
`apps.docs_site`; nothing here touches the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ColumnEntry:
    name: str
    type: str
    description: str
    """Empty when the column is undocumented."""
    tags: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    """The checks that read this column, each as ``name: the rule in words``."""
    nulls: int | None = None
    distinct: int | None = None
    """None when the column's type has no distinct count (arrays, maps, structs)."""

    @property
    def documented(self) -> bool:
        return bool(self.description)

    def null_share(self, rows: int | None) -> float | None:
        """The share of NULL values, given the table's row count."""
        if rows is None or self.nulls is None:
            return None
        return self.nulls / rows if rows else 0.0


@dataclass(frozen=True)
class TableEntry:
    id: str
    """The model's id, ``stage.name``."""
    schema: str
    name: str
    description: str
    origin: str
    """Where the model is declared: ``pipelines/x.yml`` or ``models/y.py:12``."""
    built: bool
    """Whether the table is in the warehouse (else it has no columns or counts here)."""
    view: bool = False
    """A view (``materialized: view``): its rows are its inputs' as they are now."""
    columns: tuple[ColumnEntry, ...] = ()
    rows: int | None = None
    last_run: str | None = None
    """The run id of the model's last successful build."""
    checks: tuple[str, ...] = ()
    """Checks of the whole table (row_count, a NULL share of every column...)."""
    upstream: tuple[str, ...] = ()
    downstream: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    """The metrics computed from this table."""

    @property
    def qualified(self) -> str:
        """Where the table is: ``schema.name``."""
        return f"{self.schema}.{self.name}"

    @property
    def undocumented(self) -> list[str]:
        return [column.name for column in self.columns if not column.documented]


@dataclass(frozen=True)
class MetricEntry:
    name: str
    label: str
    type: str
    description: str
    definition: tuple[tuple[str, str], ...]
    """The metric's keys as written in its file, apart from its description."""
    table: str | None
    """The table a measure is computed from; None for ratio and derived metrics."""
    sql: str
    """The query computing it over all time, as the warehouse's dialect."""
    file: str
    error: str = ""
    """Why it could not be compiled (then `sql` is empty)."""


@dataclass(frozen=True)
class ExperimentEntry:
    key: str
    description: str
    variants: tuple[tuple[str, float], ...]
    start: str
    end: str
    exposures: str
    """The exposures table."""
    metrics: tuple[tuple[str, str, str, str], ...]
    """Each metric: name, type, role, description."""
    engine: str
    file: str


@dataclass(frozen=True)
class DataDictionary:
    project: str
    target: str
    """The warehouse read, its password redacted."""
    tables: tuple[TableEntry, ...]
    metrics: tuple[MetricEntry, ...] = ()
    experiments: tuple[ExperimentEntry, ...] = ()
    edges: tuple[tuple[str, str], ...] = field(default=())
    """Lineage between tables: (upstream id, downstream id), one per model input."""

    @property
    def schemas(self) -> dict[str, list[TableEntry]]:
        """The tables by schema, in the order schemas first appear (stage order)."""
        grouped: dict[str, list[TableEntry]] = {}
        for table in self.tables:
            grouped.setdefault(table.schema, []).append(table)
        return grouped
