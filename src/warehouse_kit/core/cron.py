"""Cron expressions: a pipeline's ``schedule``, checked when the file is read.

Five fields (minute, hour, day of month, month, day of week), as cron has them, or
six, the sixth being seconds (croniter's form); ``@hourly``, ``@daily`` and the other
nicknames too. Times are UTC, as every time warehouse-kit records.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from croniter import croniter
from pydantic import AfterValidator, Field

CRON_HELP = (
    "five fields (minute hour day-of-month month day-of-week, e.g. '0 */6 * * *'), "
    "a sixth for seconds, or @hourly, @daily, @weekly, @monthly"
)


def check_cron(value: str) -> str:
    """`value`, stripped, when croniter reads it; else a ValueError saying what a cron
    expression is."""
    text = value.strip()
    if not croniter.is_valid(text):
        raise ValueError(f"{value!r} is not a cron expression: write {CRON_HELP}")
    return text


Cron = Annotated[
    str,
    AfterValidator(check_cron),
    Field(json_schema_extra={"description": f"A cron expression: {CRON_HELP}; in UTC."}),
]
"""A validated cron expression."""


def fire_times(expression: str, after: datetime) -> Iterator[datetime]:
    """The times `expression` fires strictly after `after`, in order (naive UTC)."""
    times = croniter(expression, after)
    while True:
        found: datetime = times.get_next(datetime)
        yield found
