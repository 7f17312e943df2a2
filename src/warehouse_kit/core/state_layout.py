"""The layout of the run store, schema ``_wk``: its tables and what each row is.

Tables (one row each per...):

- ``meta``: setting; ``state_version`` is the layout of these tables (`VERSION`),
  brought up to date in place by `state.ensure`.
- ``runs``: run. ``run_id`` sorts in start order; ``status`` is running,
  success, failed or aborted; ``host`` and ``pid`` name the process. A run
  is recorded only by a process that holds the target (`runlock`), so once
  another process holds it, a run still ``running`` is dead (killed, or its
  connection lost): `state.start_run` marks it aborted, ``finished_at`` being when
  that was found. A run of ``wk check`` builds nothing: its ``pipeline`` is
  `CHECK_RUN`, and readers of pipeline runs take `state.pipeline_runs`.
- ``model_runs``: model per run: rows in (of its first input; for a bronze
  model, the rows read), rows out (in the table after the run), duration,
  status (success: it wrote; up_to_date: it had nothing to write; failed;
  skipped: an input failed), error, the fingerprint of its definition and
  inputs when it was built (an unchanged fingerprint means up to date), and
  the rows its operations set apart (``rows_dropped``; ``dropped``: JSON, by
  reason), and which of the ``attempts`` its retries allow the row records
  (``attempt``; the notes say what the attempts before it met: `retries`).
- ``batches``: file landed in bronze (``batch_id``: its fingerprint; ``rows``: the
  rows it added), or database load (``batch_id``: the run id). Each bronze row's
  ``_batch_id`` is the ``batch_id`` it was recorded under, so ``rows`` is that id's
  count in bronze. A file already here is not loaded again, which is what makes
  reruns add nothing.
- ``check_results``: data-quality check per model per run: status, failing
  rows, rows checked, the measure of a table-level check, a JSON sample of
  failing rows. Written with the model's data (or, for a rejected model, alone).
- ``snapshots``: batch a type-2 dimension applied, by the time it was taken
  (``snapshot_at``): the latest says whether a new batch is late, and a late
  full snapshot is placed in history between the ones before and after it.
  Written with the dimension's data.
- ``schema_versions``: set of columns a table took (``columns``: JSON, name and
  type in order; ``change``: what differs from the version before), recorded by
  the write that changed them, in its transaction (`materialize.schema`).
- ``watermarks``: model with an incremental cursor: the highest cursor value
  loaded (a bronze model) or input ``_loaded_at`` processed (an incremental
  model), as text. Advanced in the transaction that loads the rows.
- ``stream_offsets``: partition of a topic a stream model reads: the offset of
  the next message to land (one past the last landed), and the lag (messages past
  it when the batch was read, as the broker reported its log's end). Written with
  the rows.
- ``dead_letters``: message a stream could not land (not JSON, a field that does
  not fit its type): where it was, its key, its bytes (as text when they are
  UTF-8, and always in base64) and why. Written with the batch it came in.

- ``column_lineage``: column of a table a model wrote (its own, its quarantine table, a
  bronze model's source) per input column it is computed from (`lineage`): ``model``
  and ``column_name`` name it, ``input_table`` and ``input_column`` the input (NULL for
  a column computed from none, such as load metadata); ``pii`` is its tag (a kind of
  personal data, NULL for safe) where ``pii_declared``; ``origin`` says what a source
  reads; ``position`` orders a table's rows as its columns are. Written with the
  model's data, so each run's rows describe what it built; a model that was up to
  date wrote none, and its last build's rows stand.
- ``unmasked``: time someone read personal data unmasked (``wk export --unmask``, a
  report run with ``--unmask``): when, the operating-system user, the command, the
  table and its personal columns. Written before the data is read.
- ``incidents``: time a monitor (``pipeline``, ``monitor``: its name) began firing:
  ``opened_at`` and the ``reason`` it gave then; ``resolved_at`` and ``resolution`` once it
  was evaluated ok again (NULL while it still fires). One incident is one alert per
  channel, however many evaluations see it firing.
- ``alerts``: attempt to deliver a message of an incident (``kind``: firing or resolved)
  on a channel: when, the ``recipient`` (a webhook's scheme and host only, an email's
  addresses: never a secret), the message, ``status`` (delivered or failed), the error
  and the ``attempts`` made within that delivery. A failed one is tried again at the next
  evaluation, as a new row, until one is delivered.

A model's row in ``model_runs`` and its batch are written in the same
transaction as its data, so the history never disagrees with the tables.
"""

from __future__ import annotations

import ibis
import sqlglot.expressions as sge

SCHEMA = "_wk"
VERSION = 2
"""The layout of ``_wk`` this code writes, recorded in ``meta`` (``state_version``).
Version 2 added ``schema_versions`` and the row accounting and fingerprint columns of
``model_runs``. A new table or column is added to an older warehouse by `ensure`
itself; any other change bumps the version with its statements in `MIGRATIONS`."""
MIGRATIONS: dict[int, tuple[sge.Expression, ...]] = {}
"""For a layout version, what brings a warehouse from the version before to it, after
the new tables and columns are added."""
CHECK_RUN = "wk check"
"""The ``pipeline`` of a ``wk check`` run: never a pipeline's name (those are identifiers)."""

TABLES: dict[str, ibis.Schema] = {
    "meta": ibis.schema({"key": "string", "value": "string"}),
    "runs": ibis.schema(
        {
            "run_id": "string",
            "pipeline": "string",
            "target": "string",
            "selection": "string",
            "started_at": "timestamp",
            "finished_at": "timestamp",
            "status": "string",
            "error": "string",
            "host": "string",
            "pid": "int64",
        }
    ),
    "model_runs": ibis.schema(
        {
            "run_id": "string",
            "model": "string",
            "stage": "string",
            "materialization": "string",
            "rows_in": "int64",
            "rows_out": "int64",
            "started_at": "timestamp",
            "duration_s": "float64",
            "status": "string",
            "error": "string",
            "notes": "string",
            "rows_quarantined": "int64",
            "fingerprint": "string",
            "rows_dropped": "int64",
            "dropped": "string",
            "attempt": "int64",
            "attempts": "int64",
        }
    ),
    "batches": ibis.schema(
        {
            "model": "string",
            "batch_id": "string",
            "run_id": "string",
            "rows": "int64",
            "loaded_at": "timestamp",
            "description": "string",
        }
    ),
    "watermarks": ibis.schema({"model": "string", "value": "string", "run_id": "string"}),
    "schema_versions": ibis.schema(
        {
            "table_name": "string",
            "version": "int64",
            "columns": "string",
            "change": "string",
            "run_id": "string",
            "recorded_at": "timestamp",
        }
    ),
    "snapshots": ibis.schema(
        {"model": "string", "snapshot_at": "timestamp", "run_id": "string", "rows": "int64"}
    ),
    "stream_offsets": ibis.schema(
        {
            "model": "string",
            "topic": "string",
            "partition": "int64",
            "next_offset": "int64",
            "lag": "int64",
            "run_id": "string",
        }
    ),
    "dead_letters": ibis.schema(
        {
            "model": "string",
            "topic": "string",
            "partition": "int64",
            "offset": "int64",
            "timestamp": "timestamp",
            "key": "string",
            "value": "string",
            "value_base64": "string",
            "error": "string",
            "run_id": "string",
        }
    ),
    "column_lineage": ibis.schema(
        {
            "run_id": "string",
            "model": "string",
            "position": "int64",
            "column_name": "string",
            "input_table": "string",
            "input_column": "string",
            "pii": "string",
            "pii_declared": "boolean",
            "origin": "string",
        }
    ),
    "unmasked": ibis.schema(
        {
            "at": "timestamp",
            "user_name": "string",
            "command": "string",
            "table_name": "string",
            "columns": "string",
        }
    ),
    "incidents": ibis.schema(
        {
            "incident_id": "string",
            "pipeline": "string",
            "monitor": "string",
            "monitor_type": "string",
            "opened_at": "timestamp",
            "reason": "string",
            "resolved_at": "timestamp",
            "resolution": "string",
        }
    ),
    "alerts": ibis.schema(
        {
            "sent_at": "timestamp",
            "pipeline": "string",
            "monitor": "string",
            "incident_id": "string",
            "kind": "string",
            "channel": "string",
            "recipient": "string",
            "message": "string",
            "status": "string",
            "error": "string",
            "attempts": "int64",
        }
    ),
    "check_results": ibis.schema(
        {
            "run_id": "string",
            "model": "string",
            "check": "string",
            "type": "string",
            "action": "string",
            "status": "string",
            "failing_rows": "int64",
            "total_rows": "int64",
            "measured": "float64",
            "message": "string",
            "sample": "string",
        }
    ),
}
