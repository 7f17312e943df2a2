"""The views that read a relation, kept through a write that replaces it.

PostgreSQL binds a view to what it reads when the view is created: a table that a
view reads cannot be dropped (a rebuilt table is dropped and replaced), nor its columns
retyped, while the view stands. So on an engine whose views bind
(`Capabilities.views_bind`), a write sets aside the views that read its relation,
directly or through other views, and creates them again from their stored definitions
once it has written, in the same transaction: readers see the old relation and its
views, or the new ones. DuckDB binds a view each time it is read, and needs none of
this.

A view that no longer fits the new relation (it reads a column that is gone) is left
out, with a warning, rather than failing the write: if it is a model, its next build
creates it again from its own definition (a run builds it after its input, since its
input changed); any other view must be created again by hand. The views created again
keep their definitions, but not their owners' grants or comments.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlglot as sg
import sqlglot.expressions as sge

from warehouse_kit.core.backends import Transaction, Warehouse, table_ref
from warehouse_kit.core.errors import first_line

log = logging.getLogger(__name__)

# Each view reading the relation, directly or through views, with its longest path
# from it: creating them in that order creates each after everything it reads.
_DEPENDENT_VIEWS = sg.parse_one(
    """
    WITH RECURSIVE found(oid, depth) AS (
      SELECT r.ev_class, 1
      FROM pg_depend AS d JOIN pg_rewrite AS r ON r.oid = d.objid
      WHERE r.ev_class <> d.refobjid AND d.refobjid = (
        SELECT c.oid FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = :schema AND c.relname = :name)
      UNION
      SELECT r.ev_class, f.depth + 1
      FROM found AS f JOIN pg_depend AS d ON d.refobjid = f.oid
      JOIN pg_rewrite AS r ON r.oid = d.objid
      WHERE r.ev_class <> d.refobjid
    )
    SELECT n.nspname, c.relname, pg_get_viewdef(c.oid), MAX(f.depth) AS depth
    FROM found AS f JOIN pg_class AS c ON c.oid = f.oid
    JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.relkind = 'v'
    GROUP BY n.nspname, c.relname, c.oid
    ORDER BY depth, n.nspname, c.relname
    """,
    dialect="postgres",
)
_SAVEPOINT = "_wk_view"


@dataclass(frozen=True)
class Dependent:
    """A view that reads the relation being written, and what it is."""

    schema: str
    name: str
    query: sge.Expression
    """Its definition as the engine stores it."""

    @property
    def ref(self) -> sge.Table:
        return table_ref(self.name, self.schema)


@contextmanager
def kept(tx: Transaction, warehouse: Warehouse, schema: str, name: str) -> Iterator[None]:
    """Around a write of `schema.name` in `tx`: its dependent views set aside before,
    created again after (where the engine's views bind; otherwise nothing to do)."""
    if not warehouse.capabilities.views_bind:
        yield
        return
    found = dependents(tx, schema, name)
    for view in reversed(found):  # the ones reading others first
        tx.run(sge.Drop(kind="VIEW", this=view.ref, exists=True))
    yield
    for view in found:
        restore(tx, view, f"{schema}.{name}")


def dependents(tx: Transaction, schema: str, name: str) -> list[Dependent]:
    """The views reading `schema.name`, each after the views it reads."""
    query = sge.replace_placeholders(_DEPENDENT_VIEWS.copy(), schema=schema, name=name)
    return [
        Dependent(view_schema, view, sg.parse_one(text.strip().rstrip(";"), dialect=tx.kind))
        for view_schema, view, text, _ in tx.run(query)
    ]


def restore(tx: Transaction, view: Dependent, written: str) -> None:
    """Create `view` again; one that no longer fits what was `written` is left out."""
    tx.run(sge.Command(this="SAVEPOINT", expression=sge.Literal.string(_SAVEPOINT)))
    try:
        tx.run(sge.Create(kind="VIEW", this=view.ref, expression=view.query))
    except Exception as exc:  # the engine's own error: it says which column is gone
        tx.run(sge.Rollback(savepoint=sg.to_identifier(_SAVEPOINT)))
        log.warning(
            "view %s.%s was dropped: it no longer reads %s as rebuilt (%s); a model creates "
            "it again when it runs",
            view.schema,
            view.name,
            written,
            first_line(exc),
        )
        return
    tx.run(sge.Command(this="RELEASE", expression=sge.Literal.string(f"SAVEPOINT {_SAVEPOINT}")))
