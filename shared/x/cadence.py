"""The cadence of a series: its step, and how many occurrences fall in a span."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.x.models import Series

CADENCES = {"hours", "daily", "weekly"}


def step(series: Series) -> timedelta:
    if series.every == "hours":
        return timedelta(hours=series.every_hours)
    return timedelta(days=7 if series.every == "weekly" else 1)


def occurrences(series: Series, after: datetime, before: datetime) -> int:
    """How many of the series' not yet materialized occurrences fall in [after, before)."""
    gap = step(series)
    at = series.next_at or series.start_at
    if at is None or not series.active:
        return 0
    if at < after:
        at += gap * -((at - after) // gap)  # the first occurrence at or after `after`
    last = min(before, series.end_at + timedelta(microseconds=1)) if series.end_at else before
    return 0 if at >= last else int((last - at - timedelta(microseconds=1)) // gap) + 1
