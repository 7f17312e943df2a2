"""DDL scripts and an ER diagram of the gold layer, from the planned schemas.

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
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import ibis
import ibis.common.exceptions as ibis_errors
import ibis.expr.datatypes as dt
import sqlglot as sg
import sqlglot.expressions as sge

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


DIALECTS: dict[str, Dialect] = {
    "duckdb": Dialect("duckdb", keys=True, comments="statements"),
    "postgres": Dialect("postgres", keys=True, comments="statements"),
    "snowflake": Dialect("snowflake", keys=True),
    "bigquery": Dialect("bigquery", keys=True, key_options=("NOT ENFORCED",), comments="options"),
    "spark": Dialect("spark", keys=False),
}
ALL = "all"


@dataclass(frozen=True)
class ForeignKey:
    """A fact's column that holds a dimension's surrogate key."""

    column: str
    target: str
    """The dimension's model id; its surrogate key has the same name as `column`."""


# --- what the gold layer is -------------------------------------------------------------


def gold_models(catalog: Catalog, planned: Mapping[str, Planned]) -> list[str]:
    """The ids of the gold models, each after the models it reads.

    Gold is the last stage of each pipeline; without pipelines, the last stage.
    A fact reads the dimensions it references, so they come before it.
    """
    stages = {pipeline.stages[-1] for pipeline in catalog.pipelines}
    stages = stages or set(catalog.graph.stages[-1:])
    ids = [node for node in catalog.graph.order() if catalog.graph.models[node].stage in stages]
    missing = [node for node in ids if node not in planned]
    if missing:
        raise WarehouseKitError(
            f"the plan lacks gold models {', '.join(missing)}: plan the whole project"
        )
    return ids


def primary_key(item: Planned) -> str | None:
    """A dimension's surrogate key, the column facts reference."""
    keys = item.model.keys
    return keys.surrogate if keys is not None and keys.surrogate in item.output else None


def foreign_keys(
    catalog: Catalog, planned: Mapping[str, Planned], node: str, among: Collection[str]
) -> list[ForeignKey]:
    """The surrogate keys `node` holds of the dimensions in `among`."""
    item = planned[node]
    found = []
    for reference in item.model.dimensions:
        target = catalog.graph.resolve(reference, item.model)
        key = primary_key(planned[target]) if target in among else None
        if key is not None and key in item.output:
            found.append(ForeignKey(key, target))
    return found


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
        references = foreign_keys(catalog, planned, node, gold)
        statements.append(create_table(planned[node], references, planned, dialect))
        if dialect.comments == "statements":
            statements += comment_statements(planned[node])
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
    return sge.Create(
        kind="TABLE",
        this=sge.Schema(this=table_ref(item.model.name, item.schema), expressions=columns),
        properties=_table_comment(item.model.description, dialect),
    )


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


def comment_statements(item: Planned) -> list[sge.Comment]:
    """COMMENT ON TABLE and COMMENT ON COLUMN, for the dialects that comment that way."""
    table = table_ref(item.model.name, item.schema)
    statements = []
    if item.model.description:
        statements.append(_comment(table, "TABLE", item.model.description))
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


# --- ER diagram -------------------------------------------------------------------------

_MERMAID_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_MERMAID_KEYWORDS = {"pk", "fk", "uk"}


def generate_er(catalog: Catalog, planned: Mapping[str, Planned]) -> str:
    """A Mermaid ``erDiagram`` of the gold layer: columns, types, keys, relationships.

    Each dimension relates to the facts that hold its key as ``||--o{``: a
    fact row has exactly one member, a member any number of fact rows.
    """
    gold = gold_models(catalog, planned)
    names = _entity_names(gold, planned)
    references = {node: foreign_keys(catalog, planned, node, gold) for node in gold}
    lines = ["erDiagram"]
    for node in gold:
        lines += _entity(names[node], planned[node], references[node])
    for node in gold:
        for ref in references[node]:
            lines.append(f'    {names[ref.target]} ||--o{{ {names[node]} : "{ref.column}"')
    return "\n".join(lines) + "\n"


def er_markdown(diagram: str, title: str) -> str:
    """The diagram in a fenced block, which GitHub renders as a picture."""
    note = "Generated by `wk ddl`; do not edit."
    return f"# {title}\n\n{note}\n\n```mermaid\n{diagram}```\n"


def _entity(name: str, item: Planned, references: Sequence[ForeignKey]) -> list[str]:
    key = primary_key(item)
    foreign = {ref.column for ref in references}
    lines = [f"    %% {_er_text(item.model.description)}"] if item.model.description else []
    lines.append(f"    {name} {{")
    for column, dtype in item.output.items():
        markers = ", ".join(m for m, on in (("PK", column == key), ("FK", column in foreign)) if on)
        description = item.model.columns.get(column, "")
        comment = f'"{_er_text(description)}"' if description else ""
        parts = (_er_type(dtype), _er_attribute(column), markers, comment)
        lines.append("        " + " ".join(part for part in parts if part))
    lines.append("    }")
    return lines


def _entity_names(gold: Sequence[str], planned: Mapping[str, Planned]) -> dict[str, str]:
    """Entity names: the table name, schema-qualified when two schemas share it."""
    tables = [planned[node].model.name for node in gold]
    names = {}
    for node in gold:
        item = planned[node]
        name = item.model.name
        if tables.count(name) > 1:
            name = f"{item.schema}.{name}"
        names[node] = name if _MERMAID_WORD.fullmatch(name) else f'"{_er_text(name)}"'
    return names


def _er_type(dtype: dt.DataType) -> str:
    """The Ibis type, in the characters Mermaid accepts: ``decimal(10_2)``."""
    text = re.sub(r"\s+", "", str(dtype.copy(nullable=True)))
    return re.sub(r"[^A-Za-z0-9_()\[\]-]", "_", text)


def _er_attribute(name: str) -> str:
    word = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    if (not word[:1].isalpha() and not word.startswith("_")) or word.lower() in _MERMAID_KEYWORDS:
        word = f"_{word}"
    return word


def _er_text(text: str) -> str:
    """Text for a Mermaid comment or label: one line, no double quotes or percent signs."""
    return " ".join(text.replace('"', "'").replace("%", " percent").split())


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
