"""When a published post's metrics are read next: a decaying frequency.

Counters move fast in a post's first day and barely after a month, and pay-per-use X
billing charges every read, so: hourly for the first 24 hours, then daily until 30 days
after publication, then never again. The next instant is stored on the post as
`next_metrics_at`, so "which posts are due" is one range query on one field.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

HOURLY_FOR = timedelta(days=1)
DAILY_UNTIL = timedelta(days=30)
# A post whose metrics are final keeps a far-future `next_metrics_at`, so the due query
# (`next_metrics_at <= horizon`) never sees it.
NEVER = datetime(9999, 12, 31, tzinfo=UTC)


def first_pull_at(published_at: datetime) -> datetime:
    return published_at + timedelta(hours=1)


def next_pull_at(published_at: datetime, now: datetime) -> datetime:
    """The first slot strictly after `now` on the post's schedule, or NEVER when done.

    Slots are anchored on the publication instant (published + 1 h, + 2 h, ... + 24 h,
    then + 2 d, + 3 d, ... + 30 d), so a late pull does not shift the ones after it.
    """
    age = now - published_at
    if age < HOURLY_FOR:
        hours = int(age // timedelta(hours=1)) + 1
        return published_at + timedelta(hours=hours)
    if age < DAILY_UNTIL:
        days = int(age // timedelta(days=1)) + 1
        return published_at + timedelta(days=days)
    return NEVER


def is_final(next_at: datetime) -> bool:
    return next_at >= NEVER
