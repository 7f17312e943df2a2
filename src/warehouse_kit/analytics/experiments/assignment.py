"""Deterministic assignment of units to variants, the same in Python and in SQL.

The hash, so that anyone can recompute an assignment::

    bucket = int(md5(f"{key}:{unit}").hexdigest()[:7], 16) % 10000

- ``key`` is the experiment key and ``unit`` the unit id as text (an integer
  in decimal, a string as it is), joined by ``:``;
- the first 7 hex digits of the MD5 digest, read as an integer (0 ..
  2**28 - 1): 7 digits and not 8, so that the SQL version stays within a
  32-bit integer on every engine (PostgreSQL's ``strpos`` is one);
- modulo `BUCKETS` (10,000; the modulo bias is under 1 in 26,000).

The variants take consecutive ranges of buckets in the order they are
declared, each as wide as its weight: with ``{control: 50, treatment: 50}``
buckets 0-4999 are control and 5000-9999 treatment. The boundaries are
``round(10000 * cumulative share)``, so a unit keeps its variant as long as
the key and the weights stay the same (changing the weights moves only the
units whose buckets change hands). Different keys hash independently, so
concurrent experiments do not line up.

`bucket_expr` and `variant_expr` build the same computation as an Ibis
expression from portable functions (``md5``, ``substr``, ``strpos``, integer
arithmetic), so an assignment can be audited where the exposures live:
`audit` compares the logged variants with the computed ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
from ibis import udf

from warehouse_kit.core.backends import Warehouse

BUCKETS = 10_000
HEX_DIGITS = 7
_HEX = "0123456789abcdef"


def bucket(key: str, unit: object) -> int:
    """The bucket (0 .. 9999) of `unit` in experiment `key`."""
    digest = hashlib.md5(f"{key}:{unit}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:HEX_DIGITS], 16) % BUCKETS


def boundaries(weights: Mapping[str, float]) -> dict[str, int]:
    """Each variant's first bucket past its range, in declaration order."""
    total = sum(weights.values())
    bounds: dict[str, int] = {}
    cumulative = 0.0
    for name, weight in weights.items():
        cumulative += weight
        bounds[name] = round(BUCKETS * cumulative / total)
    bounds[name] = BUCKETS  # the last range ends at the last bucket, whatever the rounding
    return bounds


def assign(key: str, unit: object, weights: Mapping[str, float]) -> str:
    """The variant of `unit` in experiment `key` with these variant weights."""
    position = bucket(key, unit)
    for name, bound in boundaries(weights).items():
        if position < bound:
            return name
    raise AssertionError("the last boundary is BUCKETS")  # pragma: no cover


@udf.scalar.builtin
def md5(value: str) -> str:  # type: ignore[empty-body]
    """The hex MD5 digest of `value` (``md5`` in DuckDB and PostgreSQL alike)."""


def bucket_expr(key: str, unit: ir.Value) -> ir.IntegerValue:
    """`bucket` as an Ibis expression over a unit id column."""
    digest = md5(ibis.literal(f"{key}:").concat(unit.cast("string")))
    value: ir.IntegerValue = ibis.literal(0)
    for index in range(HEX_DIGITS):
        # strpos counts from 1, so a hex digit's value is its position less 1
        digit = ibis.literal(_HEX).find(digest.substr(index, 1))
        value = value * 16 + digit
    result: ir.IntegerValue = value % BUCKETS
    return result


def variant_expr(key: str, unit: ir.Value, weights: Mapping[str, float]) -> ir.StringValue:
    """`assign` as an Ibis expression over a unit id column."""
    position = bucket_expr(key, unit)
    bounds = list(boundaries(weights).items())
    cases = [(position < bound, ibis.literal(name)) for name, bound in bounds[:-1]]
    result: ir.StringValue = ibis.cases(*cases, else_=ibis.literal(bounds[-1][0]))
    return result


@dataclass(frozen=True)
class AssignmentAudit:
    """Logged variants against the hash, over an experiment's exposed units."""

    units: int
    mismatched: int
    """Units whose logged variant is not the one the hash gives."""

    @property
    def ok(self) -> bool:
        return self.mismatched == 0


def audit(
    warehouse: Warehouse, exposures: ir.Table, key: str, weights: Mapping[str, float]
) -> AssignmentAudit:
    """Count the exposed units (`exposures`: columns ``unit`` and ``variant``, one row per
    unit) whose logged variant differs from the computed one; one query."""
    expected = variant_expr(key, exposures.unit, weights)
    counts = exposures.aggregate(
        units=exposures.count(), mismatched=(exposures.variant != expected).sum()
    )
    (row,) = warehouse.rows(counts)
    return AssignmentAudit(int(row["units"]), int(row["mismatched"] or 0))
