"""Bronze: land a source batch with its load metadata, once.

Three ways, by the source's `load`: replace the table with the batch; append
the batch (a batch whose fingerprint is already loaded is skipped, so reruns
add nothing); or, with an `incremental` cursor, append only the rows past the
stored watermark, checking the lookback window for rows already loaded, and
advance the watermark in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import ibis
import ibis.expr.types as ir
import sqlglot as sg
import sqlglot.expressions as sge

from warehouse_kit.core import state
from warehouse_kit.core.backends import Transaction, Warehouse
from warehouse_kit.core.errors import ModelError
from warehouse_kit.core.materialize.target import Outcome, Record, Target
from warehouse_kit.core.models import Batch, Model, SourceLoad
from warehouse_kit.core.spec import Incremental
from warehouse_kit.core.transforms import LOAD_METADATA


def load_source(
    target: Target, batch: Batch, load: SourceLoad, model: Model, record: Record
) -> Outcome:
    """Land a source batch in bronze with `_loaded_at`, `_source` and `_batch_id`."""
    wh = target.warehouse
    if batch.fingerprints == () and target.exists():
        rows = wh.scalar(wh.table(target.name, target.schema).count())
        with wh.transaction() as tx:
            outcome = Outcome(0, rows, loaded=False, note=batch.nothing_new)
            record(tx, outcome)
        return outcome
    replace = load.mode == "replace" or target.full_refresh or not target.exists()
    window = Window.of(load.incremental, wh, model, target) if load.incremental else None
    rows = batch.table
    if window is not None and batch.filterable:
        rows = window.pushdown(rows)
    rows = _with_metadata(rows, batch, target)
    with _explained(batch), target.transaction() as tx:
        if replace:
            tx.run(sge.Drop(kind="TABLE", this=target.ref, exists=True))
            state.forget_batches(tx, model.id)
            _create(tx, wh, target.ref, rows.schema())
        note = ""
        if window is None:
            written = _append(tx, wh, target.ref, rows)
        else:
            written, note = window.load(tx, rows)
        total = written if replace else tx.run(sg.select("count(*)").from_(target.ref))[0][0]
        ids = batch.fingerprints or (target.run_id,)
        for batch_id, count in _rows_per_batch(tx, target.ref, ids, written).items():
            tx.run(state.insert("batches", _batch_row(model, batch, batch_id, target, count)))
        if batch.commit is not None:
            note = "; ".join(filter(None, [note, batch.commit(tx, target.run_id)]))
        outcome = Outcome(written, int(total), note=note)
        record(tx, outcome)
    batch.done()
    return outcome


def _with_metadata(rows: ir.Table, batch: Batch, target: Target) -> ir.Table:
    """The rows, then `_loaded_at`, `_source` and `_batch_id`: a file's fingerprint when
    the source gives each row its file's (see `sources.files`), else the run id."""
    given = rows["_batch_id"] if "_batch_id" in rows.columns else None
    return rows.select(
        *(c for c in rows.columns if c not in LOAD_METADATA),
        _loaded_at=ibis.literal(target.started_at, "timestamp"),
        _source=ibis.literal(batch.description, "string"),
        _batch_id=given if given is not None else ibis.literal(target.run_id, "string"),
    )


def _rows_per_batch(
    tx: Transaction, ref: sge.Table, ids: tuple[str, ...], written: int
) -> dict[str, int]:
    """The rows each batch id added: all of them for one id, else counted in the table
    (an id is new to it, as a file already loaded is never read again)."""
    if len(ids) == 1:
        return {ids[0]: written}
    column = sg.column("_batch_id", quoted=True)
    query = (
        sg.select(column, "count(*)")
        .from_(ref)
        .where(column.isin(*(sge.Literal.string(i) for i in ids)))
        .group_by(column)
    )
    counts = dict(tx.run(query))
    return {batch_id: int(counts.get(batch_id, 0)) for batch_id in ids}


@contextmanager
def _explained(batch: Batch) -> Iterator[None]:
    """The rows are read while they are written: a malformed row past what the source
    checked before the run fails here, and the source says which file and line."""
    try:
        yield
    except Exception as exc:
        problem = batch.explain(exc)
        if problem is None:
            raise
        raise problem from exc


@dataclass(frozen=True)
class Window:
    """The rows an incremental load may take: past the watermark, or within the lookback."""

    spec: Incremental
    mark: str | None
    target: Target
    model: Model

    @classmethod
    def of(cls, spec: Incremental, wh: Warehouse, model: Model, target: Target) -> Window:
        mark = None if target.full_refresh else state.watermark(wh, model.id)
        return cls(spec, mark, target, model)

    def cursor(self, table: ir.Table) -> ir.Value:
        value = table[self.spec.cursor]
        if self.spec.type or value.type().is_string():
            return value.cast(self.spec.type or "timestamp")
        return value

    def bounds(self, cursor: ir.Value) -> tuple[ir.Value, ir.Value]:
        """The watermark and the lookback's floor, typed like the cursor."""
        mark = ibis.literal(self.mark).cast(cursor.type())
        lookback = self.spec.lookback
        if not isinstance(lookback, timedelta):
            return mark, mark - lookback
        if cursor.type().is_numeric():
            if lookback:
                raise ModelError(
                    self.model.id,
                    f"incremental.lookback is a duration ({lookback}) but the cursor "
                    f"{self.spec.cursor} is a number: give the lookback as a number",
                )
            return mark, mark  # no lookback: the default, a zero duration
        return mark, mark - ibis.interval(seconds=int(lookback.total_seconds()))

    def pushdown(self, rows: ir.Table) -> ir.Table:
        """A database source reads only rows past the floor."""
        if self.mark is None:
            return rows
        cursor = self.cursor(rows)
        return rows.filter(cursor > self.bounds(cursor)[1])

    def load(self, tx: Transaction, rows: ir.Table) -> tuple[int, str]:
        """Stage the rows, append those not loaded yet, advance the watermark."""
        wh, target = self.target.warehouse, self.target
        staging = target.staging("inc")
        tx.run(sge.Drop(kind="TABLE", this=staging, exists=True))
        _create(tx, wh, staging, rows.schema())
        _append(tx, wh, staging, rows)
        staged = ibis.table(rows.schema(), name=staging.name, database=target.schema)
        new, late = self._split(staged)
        written = _insert(tx, wh, target.ref, new)
        late_rows = (
            tx.run(wh.to_sqlglot(late.aggregate(n=late.count())))[0][0] if late is not None else 0
        )
        highest = tx.run(wh.to_sqlglot(staged.aggregate(m=self._advanced(staged))))[0][0]
        if highest is not None:
            state.set_watermark(tx, self.model.id, highest, target.run_id)
        tx.run(sge.Drop(kind="TABLE", this=staging, exists=True))
        note = f"watermark {self.spec.cursor} = {highest}"
        if late_rows:
            note += f"; {late_rows} rows older than watermark - lookback (loaded, unchecked)"
        return written, note

    def _advanced(self, staged: ir.Table) -> ir.Value:
        """The new watermark: the highest cursor seen, never lower than the old one."""
        highest = self.cursor(staged).max()
        if self.mark is None:
            return highest
        mark = self.bounds(self.cursor(staged))[0]
        return ibis.greatest(highest.fill_null(mark), mark)

    def _split(self, staged: ir.Table) -> tuple[ir.Table, ir.Table | None]:
        if self.mark is None:
            return staged, None
        cursor = self.cursor(staged)
        mark, floor = self.bounds(cursor)
        fresh = staged.filter(cursor > mark)
        window = staged.filter((cursor <= mark) & (cursor > floor))
        late = staged.filter((cursor <= floor) | cursor.isnull())
        loaded = self.target.warehouse.table(self.target.name, self.target.schema)
        loaded_cursor = self.cursor(loaded)
        seen = loaded.filter((loaded_cursor <= mark) & (loaded_cursor > floor))
        key = self.spec.key or [c for c in staged.columns if c not in LOAD_METADATA]
        unseen = window.anti_join(seen, [window[c].identical_to(seen[c]) for c in key])
        return fresh.union(unseen).union(late), late


def _create(tx: Transaction, wh: Warehouse, ref: sge.Table, schema: ibis.Schema) -> None:
    columns = schema.to_sqlglot_column_defs(wh.kind)
    tx.run(sge.Create(kind="TABLE", this=sge.Schema(this=ref, expressions=columns)))


def _append(tx: Transaction, wh: Warehouse, ref: sge.Table, rows: ir.Table) -> int:
    """Insert source rows: read by this warehouse itself, or streamed from another engine."""
    if ibis.get_backend(rows) is wh.con:
        return _insert(tx, wh, ref, rows)
    return tx.load(ref, list(rows.columns), rows.to_pyarrow_batches())


def _insert(tx: Transaction, wh: Warehouse, ref: sge.Table, rows: ir.Table) -> int:
    """Insert rows computed from this warehouse's tables."""
    names = [sg.to_identifier(c, quoted=True) for c in rows.columns]
    return tx.write(sge.insert(wh.to_sqlglot(rows), into=ref, columns=names))


def _batch_row(
    model: Model, batch: Batch, batch_id: str, target: Target, written: int
) -> dict[str, object]:
    return {
        "model": model.id,
        "batch_id": batch_id,
        "run_id": target.run_id,
        "rows": written,
        "loaded_at": target.started_at,
        "description": batch.description,
    }
