"""Time grains: periods in the engine, and the same arithmetic on Python dates.

A period is named by its first day (a week starts on Monday, ISO). ``start`` and
``end`` pick whole periods: those from the one containing ``start`` up to the
last that begins before ``end``. Same period last year is 52 weeks back for
weeks (the same weekday), a year back for the other grains.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TypeVar

import ibis
import ibis.expr.types as ir

_UNITS = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}
_MONTHS = {"month": 1, "quarter": 3, "year": 12}

When = TypeVar("When", date, datetime)


def bucket(value: ir.Value, grain: str) -> ir.Value:
    """The period `value` falls in, as its first day (a date stays a date)."""
    if grain == "day" and value.type().is_date():
        return value
    return value.truncate(_UNITS[grain])


def interval(grain: str, count: int = 1) -> ir.IntervalScalar:
    """`count` periods, as an Ibis interval."""
    if grain in _MONTHS:
        return ibis.interval(months=_MONTHS[grain] * count)
    # Weeks as days: Ibis cannot write a window bound in weeks for DuckDB.
    return ibis.interval(days=count * (7 if grain == "week" else 1))


def last_year(grain: str) -> ir.IntervalScalar:
    return ibis.interval(days=364) if grain == "week" else ibis.interval(years=1)


def last_year_periods(grain: str) -> int:
    """How many periods back the same period last year is."""
    return {"day": 366, "week": 52, "month": 12, "quarter": 4, "year": 1}[grain]


def floor(value: When, grain: str) -> When:
    """The first instant of the period `value` falls in."""
    if isinstance(value, datetime):
        value = value.replace(hour=0, minute=0, second=0, microsecond=0)
    if grain == "week":
        return value - timedelta(days=value.weekday())
    if grain in _MONTHS:
        size = _MONTHS[grain]
        return value.replace(month=(value.month - 1) // size * size + 1, day=1)
    return value


def shift(value: When, grain: str, count: int) -> When:
    """`value` moved by `count` periods (a period start stays one)."""
    if grain in _MONTHS:
        months = value.year * 12 + value.month - 1 + _MONTHS[grain] * count
        return value.replace(year=months // 12, month=months % 12 + 1, day=1)
    days = count * (7 if grain == "week" else 1)
    return value + timedelta(days=days)


def ceil(value: When, grain: str) -> When:
    """The start of the first period beginning at or after `value`."""
    start = floor(value, grain)
    return start if start == value else shift(start, grain, 1)
