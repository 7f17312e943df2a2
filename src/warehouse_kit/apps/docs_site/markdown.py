"""The data dictionary as Markdown that GitHub renders: ``README.md`` (the schemas, the
metrics, the experiments) and one file per schema with its tables and columns.

Markdown passes HTML through, so every value from the project is escaped like HTML, and
its table cells keep their pipes and lines to themselves.
"""

from __future__ import annotations

import html

from warehouse_kit.analytics.docs import DataDictionary, MetricEntry, TableEntry
from warehouse_kit.apps.docs_site.formats import count, share


def markdown_files(dictionary: DataDictionary) -> dict[str, str]:
    """File name (relative to the output folder) -> its text."""
    files = {"README.md": _index(dictionary)}
    schema_of = {table.id: table.schema for table in dictionary.tables}
    for schema, tables in dictionary.schemas.items():
        files[f"{schema}.md"] = _schema(schema, tables, schema_of)
    return files


def text(value: object) -> str:
    """`value` as Markdown text: HTML escaped, on one line, pipes kept out of tables."""
    one_line = " ".join(str(value).split())
    return html.escape(one_line).replace("|", "&#124;").replace("`", "&#96;")


def _index(dictionary: DataDictionary) -> str:
    lines = [
        f"# Data dictionary: {text(dictionary.project)}",
        "",
        f"Built by `wk docs` from the project's definitions and {text(dictionary.target)}. "
        "`index.html` beside this file is the same, with search and lineage graphs.",
        "",
        "## Tables",
        "",
        "| table | rows | description |",
        "|---|---:|---|",
    ]
    for schema, tables in dictionary.schemas.items():
        lines += [
            f"| [{text(t.qualified)}]({schema}.md#{_anchor(t.qualified)}) | {count(t.rows)} "
            f"| {text(t.description)} |"
            for t in tables
        ]
    if dictionary.metrics:
        lines += ["", "## Metrics", ""]
        for metric in dictionary.metrics:
            lines += _metric(metric)
    if dictionary.experiments:
        lines += ["", "## Experiments", ""]
        for experiment in dictionary.experiments:
            variants = ", ".join(f"{text(name)} {weight:g}" for name, weight in experiment.variants)
            metrics = ", ".join(f"{text(name)} ({role})" for name, _, role, _ in experiment.metrics)
            lines += [
                f"### {text(experiment.key)}",
                "",
                text(experiment.description),
                "",
                f"- variants: {variants}; {text(experiment.start)} to {text(experiment.end)}; "
                f"exposures in {text(experiment.exposures)}; {text(experiment.engine)} analysis",
                f"- metrics: {metrics}",
                f"- defined in {text(experiment.file)}",
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


def _metric(metric: MetricEntry) -> list[str]:
    definition = "; ".join(f"{text(key)}: {text(value)}" for key, value in metric.definition)
    lines = [f"### {text(metric.name)}", "", text(metric.description), "", f"- {definition}"]
    if metric.table:
        lines.append(f"- from {text(metric.table)}")
    lines.append(f"- defined in {text(metric.file)}")
    if metric.sql:
        lines += ["", "```sql", metric.sql, "```"]
    else:
        lines += ["", f"Not compiled: {text(metric.error)}"]
    return [*lines, ""]


def _schema(schema: str, tables: list[TableEntry], schema_of: dict[str, str]) -> str:
    lines = [f"# Schema {text(schema)}", "", "[All schemas](README.md)", ""]
    for table in tables:
        lines += _table(table, schema_of)
    return "\n".join(lines).rstrip() + "\n"


def _table(table: TableEntry, schema_of: dict[str, str]) -> list[str]:
    lines = [f"## {text(table.qualified)}", "", text(table.description or "No description."), ""]
    facts = [f"declared in {text(table.origin)}"]
    if not table.built:
        facts.insert(0, "not built yet: run `wk run`")
    else:
        view = " (a view: what its inputs hold now)" if table.view else ""
        facts.insert(0, f"{count(table.rows)} rows{view}")
        facts.insert(1, f"last built by run {text(table.last_run or 'unknown')}")
    lines += [f"- {'; '.join(facts)}"]
    for direction, names in (("upstream", table.upstream), ("downstream", table.downstream)):
        if names:
            lines.append(f"- {direction}: {', '.join(_link(n, schema_of) for n in names)}")
    if table.checks:
        lines.append(f"- checks: {'; '.join(text(check) for check in table.checks)}")
    if table.metrics:
        lines.append(f"- metrics: {', '.join(text(name) for name in table.metrics)}")
    if table.columns:
        lines += [
            "",
            "| column | type | description | tags | checks | null % | distinct |",
            "|---|---|---|---|---|---:|---:|",
        ]
        lines += [
            f"| {text(c.name)} | {text(c.type)} | {text(c.description) or '*undocumented*'} "
            f"| {text(', '.join(c.tags))} | {text('; '.join(c.checks))} "
            f"| {share(c.null_share(table.rows))} | {count(c.distinct)} |"
            for c in table.columns
        ]
    return [*lines, ""]


def _link(model_id: str, schema_of: dict[str, str]) -> str:
    """A link to a model's table in its schema's file, by the model's id."""
    schema, name = schema_of[model_id], model_id.split(".", 1)[1]
    return f"[{text(model_id)}]({schema}.md#{_anchor(f'{schema}.{name}')})"


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, dots and other punctuation dropped."""
    return "".join(c for c in heading.lower() if c.isalnum() or c in "-_ ").replace(" ", "-")
