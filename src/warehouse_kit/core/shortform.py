"""What the short form of a pipeline file leaves out and cannot be inferred, found at once.

The short form names operations alone (``operations: [join_tables, build_facts]``). Those
whose options all have defaults run as they are (`operations.SHORT_FORMS`); the others
need something only the author knows: which table to join on which column, a
dimension's key, a metric's expression. `missing_pieces` reads the file as written and
returns one error per missing piece, each a snippet to paste that names the tables the
sources declare and, for CSV files, their columns (from the header line)::

    pipeline.yml: pipeline.transformations[1].operations[0]: join_tables needs with: and
    on:; the tables here are customers, transactions, items; e.g. {op: join_tables,
    with: customers, on: customer_id}

A Kafka source without ``brokers`` is one too. `stand_in` replaces each piece by one that
validates, so the rest of the file is checked in the same pass.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.operations import OPERATIONS, SHORT_FORMS

_MEASURE = re.compile(r"amount|price|total|quantity|qty|revenue|cost|value")
_DATE = re.compile(r"date|_at$|time")
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STAND_IN = {"op": "deduplicate"}
_BROKERS = "${KAFKA_BROKERS}"


def missing_pieces(data: Any, *, file: str, root: Path | None) -> list[ConfigError]:
    """One error per operation named alone that needs options, and per Kafka source
    without brokers; `root` (the project folder) lets CSV headers name columns."""
    pipeline = data.get("pipeline") if isinstance(data, Mapping) else None
    if not isinstance(pipeline, Mapping):
        return []
    found = _Found.of(pipeline, root)
    errors = []
    for path, source in _kafka_without_brokers(pipeline):
        snippet = _flow({**source, "brokers": _BROKERS})
        errors.append(_error(f"kafka needs brokers:; e.g. {snippet}", file, path))
    for path, name in _bare_operations(pipeline):
        errors.append(_error(_explain(name, found), file, path))
    return errors


def stand_in(data: Any) -> Any:
    """`data` with each missing piece filled by a stand-in that validates (never run)."""
    pipeline = dict(data["pipeline"])
    sources = pipeline.get("sources")
    if isinstance(sources, list):
        pipeline["sources"] = [
            {**s, "brokers": "localhost:9092"} if _is_kafka_without_brokers(s) else s
            for s in sources
        ]
    stages = pipeline.get("transformations")
    if isinstance(stages, list):
        pipeline["transformations"] = [_stand_in_operations(stage) for stage in stages]
    return {**data, "pipeline": pipeline}


def _error(message: str, file: str, key_path: str) -> ConfigError:
    return ConfigError(message, file=file, key_path=key_path)


def _is_kafka_without_brokers(source: Any) -> bool:
    return isinstance(source, Mapping) and source.get("type") == "kafka" and "brokers" not in source


def _kafka_without_brokers(pipeline: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    sources = pipeline.get("sources")
    return [
        (f"pipeline.sources[{i}]", s)
        for i, s in enumerate(sources if isinstance(sources, list) else [])
        if _is_kafka_without_brokers(s)
    ]


def _bare_operations(pipeline: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key path, name) of each operation named alone that needs options: a stage's, or
    one of its models'."""
    found = []
    for path, holder in _operation_holders(pipeline):
        ops = holder.get("operations")
        for o, op in enumerate(ops if isinstance(ops, list) else []):
            if isinstance(op, str) and op in _NEEDS:
                found.append((f"{path}.operations[{o}]", op))
    return found


def _operation_holders(pipeline: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    holders = []
    stages = pipeline.get("transformations")
    for s, stage in enumerate(stages if isinstance(stages, list) else []):
        if not isinstance(stage, Mapping):
            continue
        holders.append((f"pipeline.transformations[{s}]", stage))
        models = stage.get("models")
        for m, model in enumerate(models if isinstance(models, list) else []):
            if isinstance(model, Mapping):
                holders.append((f"pipeline.transformations[{s}].models[{m}]", model))
    return holders


def _stand_in_operations(holder: Any) -> Any:
    if not isinstance(holder, Mapping):
        return holder
    ops = holder.get("operations")
    if isinstance(ops, list):
        holder = {**holder, "operations": [_STAND_IN if op in _NEEDS else op for op in ops]}
    models = holder.get("models")
    if isinstance(models, list):
        holder = {**holder, "models": [_stand_in_operations(m) for m in models]}
    return holder


# --- what the sources declare ----------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    """The tables the sources declare, their columns where a CSV header says them, and
    the tables the destination publishes."""

    columns: Mapping[str, tuple[str, ...]]
    published: tuple[str, ...]

    @classmethod
    def of(cls, pipeline: Mapping[str, Any], root: Path | None) -> _Found:
        columns: dict[str, tuple[str, ...]] = {}
        sources = pipeline.get("sources")
        for source in sources if isinstance(sources, list) else []:
            if not isinstance(source, Mapping):
                continue
            tables = source.get("topics" if source.get("type") == "kafka" else "tables")
            for table in tables if isinstance(tables, list) else []:
                name = _table_name(table)
                if name:
                    columns[name] = _header(source, table, name, root)
        destination = pipeline.get("destination")
        published = destination.get("tables") if isinstance(destination, Mapping) else None
        names = [t for t in published if isinstance(t, str)] if isinstance(published, list) else []
        return cls(columns, tuple(names))

    @property
    def tables(self) -> list[str]:
        return list(self.columns) or ["orders"]

    def key(self, table: str) -> str:
        """The column that most likely identifies `table`'s rows."""
        known = self.columns.get(table, ())
        guesses = [f"{_singular(table)}_id", "id"]
        ids = [c for c in known if c.endswith("_id")]
        return next((c for c in (*guesses, *ids) if c in known), guesses[0])

    def measure(self) -> str:
        every = [c for columns in self.columns.values() for c in columns]
        return next((c for c in every if _MEASURE.search(c.lower())), "amount")

    def date(self) -> str:
        every = [c for columns in self.columns.values() for c in columns]
        return next((c for c in every if _DATE.search(c.lower())), "order_date")

    def fact_table(self, dimension_table: str) -> str:
        """A table holding `dimension_table`'s key that is not that table (the facts)."""
        key = self.key(dimension_table)
        others = [t for t in self.tables if t != dimension_table]
        return next((t for t in others if key in self.columns[t]), others[0] if others else key)

    def dimension(self) -> tuple[str, str]:
        """A dimension's name and the table it is built from."""
        named = [t for t in self.published if t.startswith("dim_")]
        if not named:
            return f"dim_{_singular(self.tables[0])}", self.tables[0]
        match = [t for t in self.tables if _singular(t) == named[0].removeprefix("dim_")]
        return named[0], (match or self.tables)[0]

    def fact(self, from_table: str) -> str:
        named = [t for t in self.published if t.startswith("fact_")]
        return named[0] if named else f"fact_{from_table}"


def _table_name(table: Any) -> str | None:
    if isinstance(table, str):
        return table
    if isinstance(table, Mapping):
        name = table.get("name") or table.get("topic")
        return name if isinstance(name, str) else None
    return None


def _header(source: Mapping[str, Any], table: Any, name: str, root: Path | None) -> tuple[str, ...]:
    """The columns of a CSV table's first file, from its header line; () when unknown."""
    if root is None or source.get("type") != "files":
        return ()
    folder = root / str(source.get("path", "."))
    own = table.get("path") if isinstance(table, Mapping) else None
    pattern = str(own or source.get("pattern", "{table}.*")).replace("{table}", name)
    target = folder / pattern
    files = sorted(target.glob("*.csv")) if target.is_dir() else sorted(folder.glob(pattern))
    csv_files = [f for f in files if f.suffix == ".csv"]
    if not csv_files:
        return ()
    try:
        with csv_files[0].open(newline="", encoding="utf-8") as handle:
            return tuple(next(csv.reader(handle), []))
    except (OSError, UnicodeDecodeError):
        return ()


def _singular(table: str) -> str:
    if table.endswith("ies"):
        return table[:-3] + "y"
    return table[:-1] if table.endswith("s") and not table.endswith("ss") else table


# --- the snippets ----------------------------------------------------------------------


def _required(op: str) -> list[str]:
    cls = next(c for c in OPERATIONS if op in get_args(c.model_fields["op"].annotation))
    return [f.alias or k for k, f in cls.model_fields.items() if k != "op" and f.is_required()]


def _explain(op: str, found: _Found) -> str:
    needs = " and ".join(f"{key}:" for key in _required(op))
    tables = f"; the tables here are {', '.join(found.tables)}" if op in _NAMES_TABLES else ""
    own = " in a model of its own" if op in _MODELS else ""
    return f"{op} needs {needs}{own}{tables}; e.g. {_NEEDS[op](found)}"


def _join(found: _Found) -> str:
    other = found.tables[0]
    return _flow({"op": "join_tables", "with": other, "on": found.key(other)})


def _rules(found: _Found) -> str:
    column = found.measure()
    rule = {"name": f"positive_{column}", "condition": f"{column} > 0"}
    return _flow({"op": "apply_business_rules", "rules": [rule]})


def _metrics(found: _Found) -> str:
    column = found.measure()
    return _flow(
        {"op": "calculate_metrics", "columns": {f"{column}_rounded": f"round({column}, 2)"}}
    )


def _aggregate(found: _Found) -> str:
    column, group = found.measure(), found.key(found.tables[0])
    measures = {"rows": "count(*)", f"total_{column}": f"sum({column})"}
    return _flow({"op": "aggregate_metrics", "group_by": [group], "measures": measures})


def _dimension(found: _Found) -> str:
    name, table = found.dimension()
    op = {"op": "create_dimensions", "key": found.key(table)}
    return "models: " + _flow([{"name": name, "from": table, "operations": [op]}])


def _facts(found: _Found) -> str:
    dimension, table = found.dimension()
    facts = found.fact_table(table)
    link = {"dimension": dimension, "key": found.key(table)}
    op = {"op": "build_facts", "dimensions": [link]}
    return "models: " + _flow([{"name": found.fact(facts), "from": facts, "operations": [op]}])


def _select(found: _Found) -> str:
    table = found.tables[0]
    columns = list(found.columns.get(table, ())[:3]) or [found.key(table)]
    return _flow({"op": "select", "columns": columns})


def _rename(found: _Found) -> str:
    column = found.measure()
    return _flow({"op": "rename", "columns": {column: f"{column}_usd"}})


def _date_dimension(found: _Found) -> str:
    return _flow({"op": "create_date_dimension", "column": found.date()})


_NEEDS: dict[str, Callable[[_Found], str]] = {
    "join_tables": _join,
    "apply_business_rules": _rules,
    "calculate_metrics": _metrics,
    "aggregate_metrics": _aggregate,
    "create_dimensions": _dimension,
    "build_facts": _facts,
    "select": _select,
    "rename": _rename,
    "create_date_dimension": _date_dimension,
}
"""Each operation that cannot be written by name alone -> a snippet of its options."""
_NAMES_TABLES = {"join_tables", "create_dimensions", "build_facts"}
_MODELS = {"create_dimensions", "build_facts"}
assert not set(_NEEDS) & set(SHORT_FORMS), "an operation with defaults needs no snippet"


def _flow(value: Any) -> str:
    """`value` as YAML flow style, on one line: ``{op: join_tables, with: customers}``."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    text = str(value)
    return (
        text if _PLAIN.match(text) and text not in ("true", "false", "null") else json.dumps(text)
    )
