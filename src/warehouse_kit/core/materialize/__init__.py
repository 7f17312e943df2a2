"""Materializations: how a model's expression becomes a table, atomically.

Every write happens in one transaction (`Target.transaction`) together with the
model's run record, so a failure leaves the previous table, and the history, as
they were; `warehouse_kit.core.strategies` picks one per model kind, the executor
carries every one out the same way, and `schema` holds the rows to the table's
schema contract. One module per materialization:

- `table.replace_table`: build the new table under a staging name, swap it in;
- `view.create_view`: a view over the model's inputs, which holds no rows
  (`dependents`: the views that read a relation, kept through its write);
- `dimension.type1`: a dimension whose members keep their surrogate key;
- `scd2.scd2`: a dimension that keeps every version (`history`: which versions;
  `snapshot`: merging a batch; `rules`: what every publish checks);
- `source.load_source`: land a source batch in bronze with its load metadata;
- `merge.merge`: merge the rows built from new input into an incremental model;
- `indexes`: the indexes of a model's table, created where the engine keeps them;
- `statistics`: the planner statistics of a table just written, where the engine needs them.
"""

from warehouse_kit.core.materialize import history, indexes, statistics
from warehouse_kit.core.materialize.dimension import prepare, type1
from warehouse_kit.core.materialize.merge import History, incoming, merge
from warehouse_kit.core.materialize.scd2 import scd2
from warehouse_kit.core.materialize.source import load_source
from warehouse_kit.core.materialize.table import replace_table
from warehouse_kit.core.materialize.target import Outcome, Record, Target
from warehouse_kit.core.materialize.view import create_view

__all__ = [
    "History",
    "Outcome",
    "Record",
    "Target",
    "create_view",
    "history",
    "incoming",
    "indexes",
    "load_source",
    "merge",
    "prepare",
    "replace_table",
    "scd2",
    "statistics",
    "type1",
]
