"""The X part of a workspace-day rollup: posts published that day and their latest counters.

Recomputed from the day's posts (reads ∝ posts published that day), so it is idempotent
under repeated pulls. Not by every pull that touched one of them: a fan-out of pulls over
one workspace's posts of one day (the metrics queue runs up to 5 a second) would rewrite
that day's document once per pull, far over the ~1 write a second a Firestore document
sustains, and re-read the whole day each time. A pull schedules an `x_day` task at the end
of the REFRESH_EVERY window it finished in, named after the workspace, the day and the
window: Cloud Tasks keeps one task per name, so the day is recomputed once per window
after every pull of that window has written its posts (at most one write per window,
whatever the number of pulls). A duplicate (the local emulator does not dedupe names)
recomputes the same values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
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
from shared.tasks import TaskSpec, safe_task_id

if TYPE_CHECKING:
    from shared.runtime import Runtime

FIELDS = (*X_METRIC_FIELDS, "engagements")


REFRESH_EVERY = timedelta(seconds=15)


def window_end(now: datetime) -> datetime:
    step = int(REFRESH_EVERY.total_seconds())
    return datetime.fromtimestamp((int(now.timestamp()) // step + 1) * step, UTC)


def refresh_task(workspace_id: str, d: date, at: datetime) -> TaskSpec:
    return TaskSpec(
        kind="metrics",
        target="collect_metrics",
        payload={"action": "x_day", "workspace_id": workspace_id, "day": day_key(d)},
        schedule_time=at,
        task_id=safe_task_id("xday", workspace_id, day_key(d), str(int(at.timestamp()))),
    )


def schedule_refresh(runtime: Runtime, published: Iterable[tuple[str, datetime]]) -> int:
    """Have the days of these (workspace, published_at) recomputed at the window's end;
    returns how many tasks it asked for (a name the window already has is refused by
    Cloud Tasks, which the enqueuer takes as done)."""
    at = window_end(runtime.clock.now())
    zones: dict[str, Any] = {}
    days: set[tuple[str, date]] = set()
    for workspace_id, published_at in published:
        if workspace_id not in zones:
            zones[workspace_id] = workspace_timezone(runtime.db, workspace_id)
        days.add((workspace_id, local_day(published_at, zones[workspace_id])))
    for workspace_id, d in sorted(days):
        runtime.enqueuer.enqueue(refresh_task(workspace_id, d, at))
    return len(days)


def refresh_day(runtime: Runtime, workspace_id: str, day: date) -> dict[str, int]:
    """The `x_day` task: recompute one workspace-day from its posts."""
    return recompute_day(runtime, workspace_id, day, workspace_timezone(runtime.db, workspace_id))


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
