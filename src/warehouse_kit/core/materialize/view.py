"""A view: the model's query, created anew over its inputs on every build.

A view holds no rows: it shows what its inputs hold when it is read, so it is never
stale, and building it costs no scan. What stood at its name (the view as it was, or
the table it was before it became a view) is dropped and the view created in one
transaction, with the model's run record and, where the engine's views bind, the views
that read it (`dependents`): a failed build leaves the previous view or table as it
was. The model's checks read the new view inside that transaction, before it commits.

Its run record has no row counts (rows in and out are NULL): a count taken at build
time would be out of date as soon as an input changed, and taking it would scan what
the view exists not to copy.
"""

from __future__ import annotations

import ibis.expr.types as ir
import sqlglot.expressions as sge

from warehouse_kit.core.materialize.target import Outcome, Record, Target


def create_view(target: Target, expr: ir.Table, record: Record) -> Outcome:
    """Replace whatever stands at the model's name with a view of `expr`, checked."""
    query = target.warehouse.to_sqlglot(target.to_check(expr))
    with target.transaction() as tx:  # drops a table standing there (`Target.makes`)
        tx.run(sge.Drop(kind="VIEW", this=target.ref, exists=True))
        tx.run(sge.Create(kind="VIEW", this=target.ref, expression=query))
        target.checked(tx, target.ref, 0)
        outcome = Outcome(None, None)
        record(tx, outcome)
    return outcome
