"""Fresh planner statistics for the table a model has just written.

PostgreSQL plans every query from the statistics ANALYZE gathers. A table a run has
just rebuilt under a staging name has none, and one it has merged into has those of
its earlier rows, until autovacuum comes round: after the run's next models have read
it. A row estimate far off can make a plan pathological. Building the example's
incremental fact (1.5M lines) from dimensions written earlier in the same run took
513 s on PostgreSQL 15: a hash aggregate planned for 58 thousand rows got 354
thousand and spilled in 323,076 batches. With every table analysed as the run published it, 9 s
(benchmarks/README.md, `physical_design.py`). So the write that publishes a table
analyses it, in its transaction: ANALYZE samples a fixed number of rows, whatever the
table's size.
"""

from __future__ import annotations

import sqlglot.expressions as sge

from warehouse_kit.core.backends import Transaction, table_ref


def analyze(tx: Transaction, schema: str, table: str) -> None:
    """Gather the table's statistics in the write's transaction."""
    tx.run(sge.Analyze(this=table_ref(table, schema)))
