"""The X part of a workspace-day rollup: posts published that day and their latest counters.

Recomputed from the day's posts (reads ∝ posts published that day) after every pull
that touched one of them, so it is idempotent under repeated pulls.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from shared.metrics.model import (
    DAILY,
    X_METRIC_FIELDS,
    daily_id,
    day_bounds,
    day_key,
    local_day,
    workspace_timezone,
)

if TYPE_CHECKING:
    from shared.runtime import Runtime

FIELDS = (*X_METRIC_FIELDS, "engagements")


def refresh_days(runtime: Runtime, published: Iterable[tuple[str, datetime]]) -> None:
    zones: dict[str, Any] = {}
    days: set[tuple[str, date]] = set()
    for workspace_id, published_at in published:
        if workspace_id not in zones:
            zones[workspace_id] = workspace_timezone(runtime.db, workspace_id)
        days.add((workspace_id, local_day(published_at, zones[workspace_id])))
    for workspace_id, d in sorted(days):
        recompute_day(runtime, workspace_id, d, zones[workspace_id])


def recompute_day(runtime: Runtime, workspace_id: str, d: date, tz: Any) -> dict[str, int]:
    from shared.queries import build
    from shared.queries.metrics import DAY_POSTS

    db = runtime.db
    start, end = day_bounds(d, tz)
    query = build(db, DAY_POSTS, workspace_id=workspace_id, ge=start, lt=end)
    totals: Counter[str] = Counter()
    for snap in query.stream():  # a day's posts: bounded by the posting quotas
        post = snap.to_dict()
        totals["posts"] += 1
        for f in FIELDS:
            totals[f] += int(post.get(f"metrics_{f}", 0) or 0)
    fields = {f"x_{k}": totals[k] for k in ("posts", *FIELDS)}
    db.collection(DAILY).document(daily_id(workspace_id, d)).set(
        {
            "workspace_id": workspace_id,
            "date": day_key(d),
            "timezone": str(tz),
            **fields,
            "x_updated_at": runtime.clock.now(),
        },
        merge=True,
    )
    return fields
