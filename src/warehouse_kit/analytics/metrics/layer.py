"""The semantic layer of a project: every analytics file, checked and cross-referenced.

`load(project)` reads ``analytics/*.yml``: it checks each file's shape, that
names are unique across files, that every metric a ratio, derived metric or
saved query names exists, and that derived metrics form no cycle. Columns are
checked later, against the real tables, when a query is compiled.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import sqlglot
import sqlglot.expressions as sge
from sqlglot.errors import SqlglotError

from warehouse_kit.analytics.metrics.spec import (
    AnalyticsFile,
    Custom,
    Derived,
    Measure,
    QueryOptions,
    Ratio,
    SemanticModel,
)
from warehouse_kit.core.catalog import Catalog, load_catalog
from warehouse_kit.core.config import parse
from warehouse_kit.core.errors import ConfigError, did_you_mean
from warehouse_kit.core.project import Project
from warehouse_kit.core.sqlexpr import DIALECT
from warehouse_kit.core.yamlfile import read_yaml

MetricSpec = Measure | Custom | Ratio | Derived


@dataclass(frozen=True)
class Where:
    """Where a definition is: for error messages."""

    file: str
    key_path: str

    def error(self, message: str, key: str = "") -> ConfigError:
        path = f"{self.key_path}.{key}" if key else self.key_path
        return ConfigError(message, file=self.file, key_path=path)

    def prefix(self, key: str = "") -> str:
        """``analytics/x.yml: metrics.revenue.expr``, the prefix of an expression's errors."""
        return f"{self.file}: {self.key_path}.{key}" if key else f"{self.file}: {self.key_path}"


@dataclass(frozen=True)
class ModelDef:
    name: str
    spec: SemanticModel
    where: Where


@dataclass(frozen=True)
class MetricDef:
    name: str
    spec: MetricSpec
    where: Where
    model: str | None = None
    """The semantic model of a measure (None for ratio and derived metrics)."""

    @property
    def inputs(self) -> tuple[str, ...]:
        """The metrics a ratio or derived metric is computed from."""
        if isinstance(self.spec, Ratio):
            return (self.spec.numerator, self.spec.denominator)
        if isinstance(self.spec, Derived):
            return tuple(_names_in(self.spec.expr, self.where.prefix("expr")))
        return ()

    @property
    def is_measure(self) -> bool:
        return self.model is not None

    @property
    def label(self) -> str:
        return self.spec.label or self.name.replace("_", " ").capitalize()


@dataclass(frozen=True)
class QueryDef:
    name: str
    options: QueryOptions
    where: Where


@dataclass(frozen=True)
class SemanticLayer:
    """A project's semantic models, metrics and saved queries."""

    project: Project
    models: dict[str, ModelDef]
    metrics: dict[str, MetricDef]
    queries: dict[str, QueryDef]

    def metric(self, name: str) -> MetricDef:
        if name not in self.metrics:
            raise ConfigError(f"unknown metric {name!r}{self._hint(name)}")
        return self.metrics[name]

    def closure(self, names: Sequence[str]) -> list[MetricDef]:
        """The metrics `names` need, inputs before the metrics computed from them."""
        ordered: dict[str, MetricDef] = {}

        def visit(name: str) -> None:
            metric = self.metric(name)
            for dependency in metric.inputs:
                visit(dependency)
            ordered.setdefault(name, metric)

        for name in names:
            visit(name)
        return list(ordered.values())

    @cached_property
    def catalog(self) -> Catalog:
        """The project's models: the star schema's joins come from them."""
        return load_catalog(self.project, allow_empty=True)

    def _hint(self, name: str) -> str:
        known = sorted(self.metrics) + sorted(self.queries)
        return did_you_mean(name, known) or f"; metrics: {', '.join(sorted(self.metrics))}"


def load(project: Project | str | Path = ".") -> SemanticLayer:
    """Read and check the project's analytics files."""
    project = Project.of(project)
    models: dict[str, ModelDef] = {}
    metrics: dict[str, MetricDef] = {}
    queries: dict[str, QueryDef] = {}
    for path in _files(project):
        display = project.display(path)
        data = read_yaml(path, display=display)
        if data is None:
            continue
        if not isinstance(data, dict):
            raise ConfigError("expected a mapping of models, metrics and queries", file=display)
        content: AnalyticsFile = parse(AnalyticsFile, data, file=display)
        _add_file(content, display, path.stem, models, metrics, queries)
    _resolve_models(metrics, models)
    layer = SemanticLayer(project, models, metrics, queries)
    _check_references(layer)
    return layer


def _files(project: Project) -> list[Path]:
    folder = project.path("analytics")
    return sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]) if folder.is_dir() else []


def _add_file(
    content: AnalyticsFile,
    file: str,
    stem: str,
    models: dict[str, ModelDef],
    metrics: dict[str, MetricDef],
    queries: dict[str, QueryDef],
) -> None:
    for name, model in content.models.items():
        _unique(name, Where(file, f"models.{name}"), models, "model")
        models[name] = ModelDef(name, model, Where(file, f"models.{name}"))
    declared: list[tuple[str, Any, Where]] = [
        (name, spec, Where(file, f"metrics.{name}")) for name, spec in content.metrics.items()
    ]
    if content.metric is not None:
        if content.metrics:
            raise ConfigError(
                "use either metric: (one, named after the file) or metrics:", file=file
            )
        declared.append((stem, content.metric, Where(file, "metric")))
    # A measure's model defaults to the only model of its file, else of the project ("").
    default = next(iter(content.models)) if len(content.models) == 1 else ""
    for name, spec, where in declared:
        _unique(name, where, {**metrics, **queries}, "metric or query")
        owner = (spec.model or default) if isinstance(spec, Measure | Custom) else None
        metrics[name] = MetricDef(name, spec, where, owner)
    for name, options in content.queries.items():
        where = Where(file, f"queries.{name}")
        _unique(name, where, {**metrics, **queries}, "metric or query")
        queries[name] = QueryDef(name, options, where)


def _unique(name: str, where: Where, existing: dict[str, Any], noun: str) -> None:
    if name in existing:
        raise where.error(f"{noun} {name!r} is already defined in {existing[name].where.file}")


def _resolve_models(metrics: dict[str, MetricDef], models: dict[str, ModelDef]) -> None:
    """Give each measure its model: as declared, else the project's only model."""
    for name, metric in list(metrics.items()):
        if metric.model is None:
            continue
        chosen = metric.model or (next(iter(models)) if len(models) == 1 else "")
        if not chosen:
            known = ", ".join(sorted(models)) or "none are defined"
            raise metric.where.error(f"say which model the metric is of (models: {known})", "model")
        if chosen not in models:
            hint = (
                did_you_mean(chosen, models) or f"; models: {', '.join(sorted(models)) or 'none'}"
            )
            raise metric.where.error(f"unknown model {chosen!r}{hint}", "model")
        metrics[name] = MetricDef(name, metric.spec, metric.where, chosen)


def _check_references(layer: SemanticLayer) -> None:
    for metric in layer.metrics.values():
        for index, name in enumerate(metric.inputs):
            key = ("numerator", "denominator")[index] if isinstance(metric.spec, Ratio) else "expr"
            if name not in layer.metrics:
                raise metric.where.error(f"unknown metric {name!r}{layer._hint(name)}", key)
        _check_cycle(layer, metric.name, ())
    for query in layer.queries.values():
        for index, name in enumerate(query.options.metrics):
            if name not in layer.metrics:
                message = f"unknown metric {name!r}{layer._hint(name)}"
                raise query.where.error(message, f"metrics[{index}]")


def _check_cycle(layer: SemanticLayer, name: str, path: tuple[str, ...]) -> None:
    if name in path:
        cycle = " -> ".join([*path[path.index(name) :], name])
        raise layer.metrics[path[0]].where.error(f"metrics depend on each other: {cycle}")
    for dependency in layer.metrics[name].inputs:
        _check_cycle(layer, dependency, (*path, name))


def _names_in(sql: str, where: str) -> Iterator[str]:
    """The metric names a derived metric's expression uses (its columns)."""
    try:
        node = sqlglot.parse_one(sql, read=DIALECT)
    except SqlglotError:
        from warehouse_kit.core.sqlexpr import columns_used  # the same parser: its message

        columns_used(sql, where=where)
        raise
    seen: dict[str, None] = {}
    for column in node.find_all(sge.Column):
        seen.setdefault(column.name)
    yield from seen
