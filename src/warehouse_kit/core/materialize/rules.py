"""The rules every type-2 dimension keeps, checked before every publish and by `wk check`.

`judge` runs `history.violations` over the versions of the members a run
wrote (or the whole dimension) and gives a `Verdict`: recorded in
``_wk.check_results`` as the check ``history_rules``, with a few offending
versions when it fails. A run whose versions would break the rules writes
nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ibis.expr.types as ir

from warehouse_kit.core import state
from warehouse_kit.core.backends import Transaction
from warehouse_kit.core.materialize.history import Layout, violations
from warehouse_kit.core.materialize.target import Target
from warehouse_kit.core.models import UNKNOWN_KEY

CHECK = "history_rules"
"""The check's name in ``_wk.check_results`` and reports. The rules: a member's versions
neither overlap nor leave a gap (but a member deleted under ``deletes: invalidate``); each
ends after it starts; one is current, the open-ended one; the first starts at the beginning
of time; one row per surrogate key."""

Query = Callable[[ir.Table], list[dict[str, Any]]]
"""Runs a (small) query and gives its rows: in the run's transaction, or on its own."""


@dataclass(frozen=True)
class Verdict:
    """What checking a dimension's versions against the rules found."""

    model: str
    checked: int
    """Versions checked."""
    failing: int
    """Versions breaking a rule."""
    sample: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failing == 0

    @property
    def message(self) -> str:
        if self.ok:
            return f"{self.checked:,} versions keep the rules of a type-2 dimension"
        shown = "; ".join(", ".join(f"{c}={v}" for c, v in row.items()) for row in self.sample)
        return f"{self.failing:,} of {self.checked:,} versions break the rules: {shown}"

    def row(self, run_id: str) -> dict[str, object]:
        """The verdict as a row of ``_wk.check_results``."""
        return {
            "run_id": run_id,
            "model": self.model,
            "check": CHECK,
            "type": "history",
            "action": "reject",
            "status": "pass" if self.ok else "fail",
            "failing_rows": self.failing,
            "total_rows": self.checked,
            "measured": float(self.failing),
            "message": self.message,
            "sample": json.dumps(self.sample, default=str) if self.sample else None,
        }


class Broken(Exception):
    """The versions a run wrote break the rules: its transaction rolls back."""

    def __init__(self, verdict: Verdict):
        super().__init__(verdict.message)
        self.verdict = verdict


def require(tx: Transaction, target: Target, layout: Layout, versions: ir.Table) -> None:
    """Check the versions a run wrote, in its transaction: record the verdict with them,
    or raise `Broken` so that nothing is written."""
    wh = target.warehouse

    def query(expr: ir.Table) -> list[dict[str, Any]]:
        return [dict(zip(expr.columns, row, strict=True)) for row in tx.run(wh.to_sqlglot(expr))]

    verdict = judge(query, layout, versions, target.id)
    if not verdict.ok:
        raise Broken(verdict)
    tx.run(state.insert("check_results", verdict.row(target.run_id)))


def judge(query: Query, layout: Layout, versions: ir.Table, model: str) -> Verdict:
    """Check `versions` (a dimension's rows, or some members' rows) against the rules."""
    wrong = violations(layout, versions)
    members = versions.filter(versions[layout.keys.surrogate] != UNKNOWN_KEY)
    [counts] = query(
        members.aggregate(checked=members.count()).cross_join(
            wrong.aggregate(failing=wrong.count())
        )
    )
    sample = query(wrong.limit(5)) if counts["failing"] else []
    return Verdict(model, int(counts["checked"]), int(counts["failing"]), sample)
