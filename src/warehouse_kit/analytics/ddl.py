"""DDL scripts and an ER diagram of the gold layer, from the planned schemas (what the
gold layer is: `gold_layer`; the diagram: `er`).

The gold layer is the last stage of each pipeline (Python models of that
stage included). For each dialect, `generate_ddl` returns one script that
creates its schemas and tables in an empty database, each dimension before
the facts that reference it. Every statement is a sqlglot expression, and the
column types come from Ibis's type mapper for the dialect, the one its backend
uses; nothing is formatted into SQL by hand.

What each dialect gets:

=========  =====================  =====================  ==========================
dialect    primary key            foreign keys           table and column comments
=========  =====================  =====================  ==========================
duckdb     enforced               enforced               COMMENT ON TABLE / COLUMN
postgres   enforced               enforced               COMMENT ON TABLE / COLUMN
snowflake  informational          informational          inline COMMENT
bigquery   NOT ENFORCED           NOT ENFORCED           OPTIONS(description=...)
spark      none (NOT NULL only)   none                   inline COMMENT
=========  =====================  =====================  ==========================

- The primary key is a dimension's surrogate key; it is NOT NULL everywhere.
- A fact's foreign keys are its columns holding the surrogate keys of the
  dimensions it references (`Model.dimensions`), when those dimensions are in
  the script too. A fact whose member is missing points to the unknown member
  (key -1), which every dimension has, so the keys hold.
- Spark SQL has no key constraints (only Databricks' Unity Catalog does), so
  the Spark script states none; the ER diagram still shows them.
- Comments come from the models' descriptions (`description:`) and column
  descriptions (`columns:`).
- Each table's physical design follows it (`physical_ddl`): PostgreSQL's
  indexes, Snowflake's and BigQuery's clustering, BigQuery's and Spark's
  partitions (Spark tables are ``USING parquet``).
- A view model (``materialized: view``) is a CREATE VIEW of its query in the
  dialect, after the tables it reads; it reads them where the script runs, so a
  view over another stage's tables needs that stage there.
- Schemas are created ``IF NOT EXISTS``; tables are not, so running a script
  against a database that already has a table fails loudly instead of leaving
  a table of another shape in place.

`write` puts the files in the project's ``schemas/`` folder, named after the
database: the ``database`` of the first pipeline destination that names one,
else the project's name. One file per dialect,
``<database>-<dialect>-schema.sql``, and the ER diagram twice:
``<database>-er.mmd`` (Mermaid source) and ``<database>-er.md`` (the same in a
fenced block, which GitHub renders).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import ibis
import ibis.common.exceptions as ibis_errors
import ibis.expr.datatypes as dt
import sqlglot as sg
import sqlglot.expressions as sge

from warehouse_kit.analytics.er import er_markdown, generate_er
from warehouse_kit.analytics.gold_layer import ForeignKey, foreign_keys, gold_models, primary_key
from warehouse_kit.analytics.physical_ddl import Layout, index_statements, table_properties
from warehouse_kit.core.backends import engine_of, table_ref
from warehouse_kit.core.catalog import Catalog
from warehouse_kit.core.errors import ConfigError, ModelError, WarehouseKitError, first_line
from warehouse_kit.core.materialize import history
from warehouse_kit.core.planner import Planned
from warehouse_kit.core.project import Project
from warehouse_kit.core.runner import plan


@dataclass(frozen=True)
class Dialect:
    """How one SQL dialect states keys and comments."""

    name: str
    keys: bool
    """Whether CREATE TABLE takes PRIMARY KEY and FOREIGN KEY constraints."""
    key_options: tuple[str, ...] = ()
    """Words after each key constraint (BigQuery's ``NOT ENFORCED``)."""
    comments: Literal["statements", "inline", "options"] = "inline"
    """COMMENT ON statements, inline COMMENT clauses, or OPTIONS(description=...)."""
    layout: Layout = field(default_factory=Layout)
    """How it states indexes, partitions and clustering (`physical_ddl`)."""


DIALECTS: dict[str, Dialect] = {
    "duckdb": Dialect("duckdb", keys=True, comments="statements"),
    "postgres": Dialect("postgres", keys=True, comments="statements", layout=Layout(indexes=True)),
    "snowflake": Dialect(
        "snowflake", keys=True, layout=Layout(partitions="clustering", clusters=True)
    ),
    "bigquery": Dialect(
        "bigquery",
        keys=True,
        key_options=("NOT ENFORCED",),
        comments="options",
        layout=Layout(partitions="date", clusters=True, max_cluster_columns=4),
    ),
    "spark": Dialect(
        "spark", keys=False, layout=Layout(partitions="folders", file_format="parquet")
    ),
}
ALL = "all"


# --- DDL ----------------------------------------------------------------------------------


def dialect_named(name: str) -> Dialect:
    if name not in DIALECTS:
        raise WarehouseKitError(
            f"unknown dialect {name!r}: use one of {', '.join(DIALECTS)}, or {ALL}"
        )
    return DIALECTS[name]


def generate_ddl(catalog: Catalog, planned: Mapping[str, Planned], dialect: str) -> str:
    """The script that creates every gold table in `dialect`, as SQL text."""
    rules = dialect_named(dialect)
    statements = ddl_statements(catalog, planned, rules)
    files = ", ".join(" ".join(p.file.split()) for p in catalog.pipelines) or "Python models"
    header = f"-- Gold tables for {dialect}, from {files}. Generated by `wk ddl`; do not edit.\n"
    body = ";\n\n".join(statement.sql(dialect=dialect, pretty=True) for statement in statements)
    return f"{header}\n{body};\n"


def ddl_statements(
    catalog: Catalog, planned: Mapping[str, Planned], dialect: Dialect
) -> list[sge.Expression]:
    """CREATE SCHEMA for each gold schema, then CREATE TABLE (and comments) per model."""
    gold = gold_models(catalog, planned)
    schemas = dict.fromkeys(planned[node].schema for node in gold)
    statements: list[sge.Expression] = [create_schema(schema) for schema in schemas]
    for node in gold:
        if planned[node].model.materialization.kind == "view":
            statements += view_statements(planned[node], dialect)
            continue
        references = foreign_keys(catalog, planned, node, gold)
        statements.append(create_table(planned[node], references, planned, dialect))
        if dialect.comments == "statements":
            statements += comment_statements(planned[node])
        key = primary_key(planned[node]) if dialect.keys else None
        statements += index_statements(planned[node], dialect.layout, key)
    return statements


def create_schema(schema: str) -> sge.Create:
    return sge.Create(kind="SCHEMA", this=_name(schema), exists=True)


def create_table(
    item: Planned,
    references: Sequence[ForeignKey],
    planned: Mapping[str, Planned],
    dialect: Dialect,
) -> sge.Create:
    key = primary_key(item)
    columns: list[sge.Expression] = [*column_defs(item, dialect, key)]
    if dialect.keys and key is not None:
        columns.append(sge.PrimaryKey(expressions=[_name(key)], options=_options(dialect)))
    if dialect.keys:
        columns += [_foreign_key(ref, planned[ref.target], dialect) for ref in references]
    layout = table_properties(item, dialect.layout, dialect.name)
    comment = _table_comment(item.model.description, dialect)
    properties = [*layout, *(comment.expressions if comment else [])]
    return sge.Create(
        kind="TABLE",
        this=sge.Schema(this=table_ref(item.model.name, item.schema), expressions=columns),
        properties=sge.Properties(expressions=properties) if properties else None,
    )


def view_statements(item: Planned, dialect: Dialect) -> list[sge.Expression]:
    """CREATE VIEW of a view model, its query in `dialect` (it reads its inputs where the
    script runs), and its comments."""
    _check_described(item)
    query = sg.parse_one(
        ibis.to_sql(item.expr, dialect=_IBIS_DIALECTS.get(dialect.name, dialect.name)),
        dialect=dialect.name,
    )
    view = table_ref(item.model.name, item.schema)
    comment = _table_comment(item.model.description, dialect)
    create = sge.Create(kind="VIEW", this=view, expression=query, properties=comment)
    if dialect.comments != "statements":
        return [create]
    return [create, *comment_statements(item, kind="VIEW")]


_IBIS_DIALECTS = {"spark": "pyspark"}
"""Ibis's name of a dialect, where it is not sqlglot's."""


def column_defs(item: Planned, dialect: Dialect, key: str | None) -> list[sge.ColumnDef]:
    """One column definition per output column: its type, NOT NULL for the key, a comment."""
    _check_described(item)
    definitions = []
    for name, dtype in item.output.items():
        definition = _column_def(item, name, dtype, dialect)
        if name == key and dtype.nullable:
            definition.append(
                "constraints", sge.ColumnConstraint(kind=sge.NotNullColumnConstraint())
            )
        description = _described(item, name)
        if description and dialect.comments != "statements":
            definition.append("constraints", _column_comment(description, dialect))
        definitions.append(definition)
    return definitions


def comment_statements(item: Planned, kind: str = "TABLE") -> list[sge.Comment]:
    """COMMENT ON TABLE (or VIEW) and COMMENT ON COLUMN, for the dialects that comment
    that way."""
    table = table_ref(item.model.name, item.schema)
    statements = []
    if item.model.description:
        statements.append(_comment(table, kind, item.model.description))
    for name in item.output:
        description = _described(item, name)
        if description:
            column = sge.Column(this=_name(name), table=table.this, db=table.args["db"])
            statements.append(_comment(column, "COLUMN", description))
    return statements


def _described(item: Planned, name: str) -> str:
    """A column's description: the model's, else what warehouse-kit says of its own columns."""
    return item.model.columns.get(name) or history.DESCRIPTIONS.get(name, "")


def _column_def(item: Planned, name: str, dtype: dt.DataType, dialect: Dialect) -> sge.ColumnDef:
    try:
        definitions: list[sge.ColumnDef] = ibis.schema({name: dtype}).to_sqlglot_column_defs(
            dialect.name
        )
    except (ibis_errors.IbisError, NotImplementedError) as exc:
        raise ModelError(
            item.model.id, f"column {name} ({dtype}) has no {dialect.name} type: {first_line(exc)}"
        ) from exc
    return definitions[0]


def _check_described(item: Planned) -> None:
    unknown = sorted(set(item.model.columns) - set(item.output))
    if unknown:
        raise ConfigError(
            f"{item.model.id} describes columns it does not have: {', '.join(unknown)}",
            file=item.model.origin,
        )


def _foreign_key(reference: ForeignKey, target: Planned, dialect: Dialect) -> sge.ForeignKey:
    referenced = sge.Schema(
        this=table_ref(target.model.name, target.schema), expressions=[_name(reference.column)]
    )
    return sge.ForeignKey(
        expressions=[_name(reference.column)],
        reference=sge.Reference(this=referenced, options=_options(dialect)),
    )


def _table_comment(description: str, dialect: Dialect) -> sge.Properties | None:
    if not description or dialect.comments == "statements":
        return None
    if dialect.comments == "options":
        return sge.Properties(expressions=[_description(description)])
    return sge.Properties(expressions=[sge.SchemaCommentProperty(this=_text(description))])


def _column_comment(description: str, dialect: Dialect) -> sge.ColumnConstraint:
    if dialect.comments == "options":
        return sge.ColumnConstraint(kind=sge.Properties(expressions=[_description(description)]))
    return sge.ColumnConstraint(kind=sge.CommentColumnConstraint(this=_text(description)))


def _description(text: str) -> sge.Property:
    return sge.Property(this=sge.var("description"), value=_text(text))


def _comment(this: sge.Expression, kind: str, text: str) -> sge.Comment:
    return sge.Comment(this=this, kind=kind, expression=_text(text))


def _options(dialect: Dialect) -> list[str] | None:
    return list(dialect.key_options) or None


def _name(name: str) -> sge.Identifier:
    return sg.to_identifier(name, quoted=True)


def _text(text: str) -> sge.Literal:
    return sge.Literal.string(text.strip())


# --- files --------------------------------------------------------------------------------


def database_name(catalog: Catalog) -> str:
    """What the files are named after: the destination database, else the project's name."""
    named = [p.spec.destination.database for p in catalog.pipelines if p.spec.destination.database]
    name = Path(named[0]).stem if named else catalog.project.spec.name
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip(".-") or "warehouse"


def dialects_for(dialect: str | None, target: str) -> list[str]:
    """The dialects `dialect` names: one, all of them, or (None) the target's engine."""
    if dialect is None:
        return [engine_of(target)]
    if dialect == ALL:
        return list(DIALECTS)
    return [dialect_named(dialect).name]


def write(
    project: Project | str | Path = ".",
    dialect: str | None = None,
    target: str | None = None,
    out: Path | None = None,
) -> list[Path]:
    """Write the DDL of `dialect` (``all``; default: the target's engine) and the ER diagram.

    Files go to `out`, by default the project's ``schemas/`` folder; returns their paths.
    """
    if dialect not in (None, ALL):
        dialect_named(dialect)  # a typo fails before the project is planned
    project = Project.of(project)
    catalog, planned = plan(project, target=target)
    names = dialects_for(dialect, catalog.target(target))
    folder = out if out is not None else project.path("schemas")
    folder.mkdir(parents=True, exist_ok=True)
    database = database_name(catalog)
    written = []
    for name in names:
        path = folder / f"{database}-{name}-schema.sql"
        path.write_text(generate_ddl(catalog, planned, name))
        written.append(path)
    diagram = generate_er(catalog, planned)
    mermaid, markdown = folder / f"{database}-er.mmd", folder / f"{database}-er.md"
    mermaid.write_text(diagram)
    markdown.write_text(er_markdown(diagram, f"{database}: the gold layer"))
    return [*written, mermaid, markdown]


__all__ = [  # what the gold layer is, used here, is read from this module too
    "ForeignKey", "foreign_keys", "generate_ddl", "generate_er", "gold_models", "primary_key",
    "write",
]  # fmt: skip
