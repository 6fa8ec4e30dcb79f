"""Workdays for hand-written histories."""

from __future__ import annotations

from datetime import date, timedelta

START = date(2010, 1, 4)


def workdays(count: int, start: date = START) -> list[date]:
    """The first `count` Monday-to-Friday days from `start`."""
    days, day = [], start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days
