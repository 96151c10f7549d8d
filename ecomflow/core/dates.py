"""Calendar helpers shared by every layer: day ranges, month arithmetic, and the data day ↔ as-of date rule.

A *data day* is a landing partition (``dt=YYYY-MM-DD``); the features and scores built from it are *as of* the
next day, because a point-in-time row as of D may only use data from strictly before D.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from typing import Any

ONE_DAY = dt.timedelta(days=1)


def as_date(value: Any) -> dt.date:
    """A date from a date, a datetime (its date) or an ISO string (its first ten characters)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def day_range(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every day from ``first`` through ``last``, both included (empty when ``last`` is before ``first``)."""
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def as_of_date(data_day: dt.date) -> dt.date:
    """The as-of date whose features and scores a data day completes: the day after it."""
    return data_day + ONE_DAY


def as_of_dates(data_days: Iterable[dt.date]) -> list[dt.date]:
    """:func:`as_of_date` of each data day, in order."""
    return [as_of_date(day) for day in sorted(data_days)]


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by ``months`` calendar months (clamped to the month's last day), as SQL intervals count."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
