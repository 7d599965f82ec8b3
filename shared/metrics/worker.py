"""collect_metrics' actions: what each task on the metrics queue asks for.

- x_pull:    {"action": "x_pull", "workspace_id", "account_id", "post_ids", "slot", ...}
- fold:      {"action": "fold"}: count the email events not folded yet (every
             workspace) into the rollups; enqueued by a dispatch tick that finds some
- x_day:     {"action": "x_day", "workspace_id", "day"}: the X part of one day's rollup,
             scheduled by the pulls that touched the day (once per window; x_daily)
- rollup:    {"action": "rollup", "workspace_id"}: the fold, and the ads_* fields of
             the recent reporting days, for one workspace
- rebuild:   {"action": "rebuild", "workspace_id", "start", "end"}: email rollups of a
             date range, unconditionally (events later than the late window)
- fanout:    {"action": "fanout", "kind": "rollups" | "ads_insights"}: one task per
             workspace (metrics queue) or per ad campaign and date (ads queue)
- sweep:     {"action": "sweep"}: what the dispatch source does for metrics, for a
             deployment that calls collect_metrics from Cloud Scheduler directly
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.errors import Conflict, NotFound, ValidationError
from shared.metrics.model import (
    POSTS,
    local_day,
    parse_day,
    parse_instant,
    slot_key,
    workspace_timezone,
)
from shared.queries import metrics as q
from shared.queries import pages
from shared.tasks import TaskSpec, safe_task_id

if TYPE_CHECKING:
    from shared.runtime import Runtime

ACTIONS = ("x_pull", "fold", "x_day", "rollup", "rebuild", "fanout", "sweep")


def _need(payload: dict[str, Any], *names: str) -> None:
    missing = [n for n in names if not payload.get(n)]
    if missing:
        raise ValidationError(f"metrics task is missing {', '.join(missing)}", {"missing": missing})


def rollup_task(workspace_id: str, due: str) -> TaskSpec:
    return TaskSpec(
        kind="metrics",
        target="collect_metrics",
        payload={"action": "rollup", "workspace_id": workspace_id},
        task_id=safe_task_id("mroll", workspace_id, due),
    )


def fold(runtime: Runtime, n: int = 0) -> dict[str, int]:
    from shared.metrics import email_rollups

    stats = email_rollups.fold_pending(runtime)
    if stats["more"] and n < 50:
        from shared.metrics.dispatch import fold_task

        instant = runtime.clock.now().strftime("%Y%m%dT%H%M%S")
        runtime.enqueuer.enqueue(fold_task(instant, n + 1))
    return stats


def request_rollup(runtime: Runtime, workspace_id: str) -> dict[str, str]:
    """Fold the pending email events and this workspace's ad insights now (API "refresh")."""
    name = runtime.enqueuer.enqueue(rollup_task(workspace_id, slot_key(runtime.clock.now())))
    return {"task": name}


def request_pull(runtime: Runtime, workspace_id: str, post_id: str) -> dict[str, str]:
    """Read a published post's X metrics now (API "refresh"; counts against the budget)."""
    from shared.metrics import x_pull
    from shared.tenancy import scoped_get

    post = scoped_get(runtime.db, POSTS, workspace_id, post_id)
    if post is None:
        raise NotFound(f"post {post_id!r} not found")
    if not post.get("published_at") or not post.get("x_ids") or not post.get("account_id"):
        raise Conflict("the post is not published yet: it has no metrics to read")
    now = runtime.clock.now().replace(second=0, microsecond=0)
    spec = x_pull.task_spec(workspace_id, str(post["account_id"]), [post_id], now.isoformat())
    return {"task": runtime.enqueuer.enqueue(spec)}


def request_rebuild(runtime: Runtime, workspace_id: str, start: str, end: str) -> dict[str, str]:
    """Recompute the email rollups of [start, end] (events older than the late window)."""
    first, last = parse_day(start), parse_day(end)
    if last < first or (last - first).days > 400:
        raise ValidationError("rebuild range must be 1 to 400 days, start before end")
    spec = TaskSpec(
        kind="metrics",
        target="collect_metrics",
        payload={"action": "rebuild", "workspace_id": workspace_id, "start": start, "end": end},
        task_id=safe_task_id("mrebuild", workspace_id, start, end, slot_key(runtime.clock.now())),
    )
    return {"task": runtime.enqueuer.enqueue(spec)}


def fan_out_rollups(runtime: Runtime, due: str) -> dict[str, int]:
    """One rollup task per workspace (reads ∝ workspaces, once per rollup interval)."""
    tasks = 0
    # Workspaces carry `created_at` (shared.tenancy); equal instants are paged safely.
    for page in pages(runtime.db, q.WORKSPACES, page_size=300, fields=()):
        for snap in page:
            runtime.enqueuer.enqueue(rollup_task(snap.id, due))
            tasks += 1
    return {"tasks": tasks}


def rollup(runtime: Runtime, workspace_id: str) -> dict[str, int]:
    from shared.metrics import ads_tasks, email_rollups

    stats = email_rollups.fold_pending(runtime)
    tz = workspace_timezone(runtime.db, workspace_id)
    today = local_day(runtime.clock.now(), tz)
    days = [today, *ads_tasks.reporting_days(today)]
    stats.update(ads_tasks.refresh_ads_days(runtime, workspace_id, days))
    return stats


def handle(runtime: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    action = payload.get("action")
    if action not in ACTIONS:
        raise ValidationError(
            f"unknown metrics action {action!r}; expected one of {', '.join(ACTIONS)}",
            {"action": action},
        )
    if action == "x_pull":
        from shared.metrics import x_pull

        _need(payload, "workspace_id", "account_id", "post_ids", "slot")
        ids = payload["post_ids"]
        if not isinstance(ids, list) or not 0 < len(ids) <= x_pull.MAX_POSTS_PER_TASK:
            raise ValidationError(
                f"post_ids must be a list of 1 to {x_pull.MAX_POSTS_PER_TASK} post ids"
            )
        parse_instant(str(payload["slot"]), "slot")
        return x_pull.pull(runtime, payload)
    if action == "fold":
        n = payload.get("n", 0)
        return fold(runtime, n if isinstance(n, int) and n >= 0 else 0)
    if action == "x_day":
        from shared.metrics import x_daily

        _need(payload, "workspace_id", "day")
        day = parse_day(str(payload["day"]))
        return x_daily.refresh_day(runtime, str(payload["workspace_id"]), day)
    if action == "rollup":
        _need(payload, "workspace_id")
        return rollup(runtime, str(payload["workspace_id"]))
    if action == "rebuild":
        from shared.metrics import email_rollups

        _need(payload, "workspace_id", "start", "end")
        return email_rollups.rebuild(
            runtime,
            str(payload["workspace_id"]),
            parse_day(str(payload["start"])),
            parse_day(str(payload["end"])),
        )
    if action == "fanout":
        kind = payload.get("kind")
        due = str(payload.get("due") or slot_key(runtime.clock.now()))
        if kind == "rollups":
            return fan_out_rollups(runtime, due)
        if kind == "ads_insights":
            from shared.metrics import ads_tasks

            return ads_tasks.fan_out(runtime)
        raise ValidationError(f"unknown fanout kind {kind!r}; expected rollups or ads_insights")
    # sweep
    from shared.dispatch import DispatchContext
    from shared.metrics.dispatch import SOURCE

    now = runtime.clock.now()
    return SOURCE.run(DispatchContext(runtime=runtime, now=now, horizon=now))
