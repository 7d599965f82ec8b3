"""The dispatch source for metrics: metric pulls due and periodic sweeps due.

Why dispatch and not a Cloud Scheduler job of its own: a post's pulls are due at
instants stored on the post (`next_metrics_at`), exactly what the minute tick already
finds for posts and campaigns, and the local stack's only scheduler is the dispatch
tick, so the same path runs in `make dev` and in production. collect_metrics also
accepts {"action": "sweep"} for a deployment that prefers calling it from Scheduler.

Per tick (reads ∝ posts published in the last minutes + posts due, plus one document):
1. discovery: posts published since the watermark get their first `next_metrics_at`
   (published + 1 h), unless post_tweet already set it (`schedule.first_pull_at`);
2. due pulls: posts with `next_metrics_at` <= horizon are leased (next_metrics_at moved
   LEASE ahead, so the next tick does not see them and a lost task comes back), claimed
   once per (post, due instant), grouped per account in tasks of up to 100 posts;
3. sweeps: the email/ads rollup fan-out (every HERALD_METRICS_ROLLUP_INTERVAL_S) and the
   daily ad-insights fan-out, each claimed per due instant.
This module imports no provider SDK.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared import claims
from shared.metrics import schedule
from shared.metrics.model import DISCOVERY_DOC, POSTS, SWEEPS_DOC, SYSTEM, slot_key
from shared.tasks import TaskSpec, safe_task_id

if TYPE_CHECKING:
    from shared.dispatch import DispatchContext
    from shared.runtime import Runtime

LEASE = timedelta(hours=1)
DISCOVERY_LAG = timedelta(minutes=5)  # a post's published_at may be written a bit late
PAGE = 300
MAX_PAGES = 10  # per tick; the rest waits for the next tick
ADS_SWEEP_HOUR_UTC = 6  # insights of yesterday are settled by then on both platforms
SWEEP_KINDS = ("rollups", "ads_insights")


def _field(snap: Any, name: str) -> Any:
    return (snap.to_dict() or {}).get(name)


def discover(runtime: Runtime, now: datetime) -> int:
    from google.cloud.firestore_v1.base_query import FieldFilter

    db = runtime.db
    wm_ref = db.collection(SYSTEM).document(DISCOVERY_DOC)
    wm_snap = wm_ref.get()
    watermark = _field(wm_snap, "published_at") if wm_snap.exists else None
    since = (watermark - DISCOVERY_LAG) if watermark else now - schedule.DAILY_UNTIL
    found = 0
    newest = watermark
    for _ in range(MAX_PAGES):
        query = db.collection(POSTS).where(filter=FieldFilter("published_at", ">", since))
        docs = list(query.order_by("published_at").limit(PAGE).stream())
        batch = db.batch()
        for snap in docs:
            post = snap.to_dict()
            if "next_metrics_at" not in post and "metrics_status" not in post:
                batch.update(
                    snap.reference,
                    {
                        "next_metrics_at": schedule.first_pull_at(post["published_at"]),
                        "metrics_status": "scheduled",
                    },
                )
                found += 1
            if newest is None or post["published_at"] > newest:
                newest = post["published_at"]
        batch.commit()
        if len(docs) < PAGE:
            break
        since = docs[-1].get("published_at")
    if newest is not None and newest != watermark:
        wm_ref.set({"published_at": newest, "updated_at": now})
    return found


def enqueue_due(runtime: Runtime, now: datetime, horizon: datetime) -> dict[str, int]:
    from google.cloud.firestore_v1.base_query import FieldFilter

    db = runtime.db
    slot = now.astimezone(UTC).replace(second=0, microsecond=0)
    groups: dict[tuple[str, str], list[tuple[str, datetime]]] = defaultdict(list)
    counts = {"due": 0, "claimed": 0, "tasks": 0}
    for _ in range(MAX_PAGES):
        query = db.collection(POSTS).where(filter=FieldFilter("next_metrics_at", "<=", horizon))
        docs = list(query.order_by("next_metrics_at").limit(PAGE).stream())
        if not docs:
            break
        # Lease first: a tick that dies after this loses nothing (the post is due again
        # when the lease ends); a racing tick then loses the claim below.
        batch = db.batch()
        for snap in docs:
            batch.update(snap.reference, {"next_metrics_at": now + LEASE})
        batch.commit()
        for snap in docs:
            post = snap.to_dict()
            counts["due"] += 1
            due = post["next_metrics_at"]
            key = claims.claim_id("mxdue", snap.id, slot_key(due))
            if not claims.try_claim(
                db, key, owner="dispatch", now=now, workspace_id=post.get("workspace_id"),
                ttl=timedelta(days=2),
            ):  # fmt: skip
                continue
            counts["claimed"] += 1
            account = str(post.get("account_id") or "")
            groups[(str(post.get("workspace_id")), account)].append((snap.id, due))
        if len(docs) < PAGE:
            break
    from shared.metrics.x_pull import IDS_PER_REQUEST, task_spec

    for (workspace_id, account_id), items in groups.items():
        for i in range(0, len(items), IDS_PER_REQUEST):
            chunk = items[i : i + IDS_PER_REQUEST]
            at = max(due for _, due in chunk)
            runtime.enqueuer.enqueue(
                task_spec(
                    workspace_id,
                    account_id,
                    [pid for pid, _ in chunk],
                    slot.isoformat(),
                    at=at if at > now else None,
                )
            )
            counts["tasks"] += 1
    return counts


def _next_sweep(kind: str, due: datetime, now: datetime, interval_s: int) -> datetime:
    if kind == "ads_insights":
        base = now.astimezone(UTC).replace(
            hour=ADS_SWEEP_HOUR_UTC, minute=0, second=0, microsecond=0
        )
        return base if base > now else base + timedelta(days=1)
    return max(due, now) + timedelta(seconds=max(60, interval_s))


def sweep_task(kind: str, due: datetime) -> TaskSpec:
    return TaskSpec(
        kind="metrics",
        target="collect_metrics",
        payload={"action": "fanout", "kind": kind, "due": due.isoformat()},
        task_id=safe_task_id("msweep", kind, slot_key(due)),
    )


def run_sweeps(runtime: Runtime, now: datetime) -> int:
    db = runtime.db
    ref = db.collection(SYSTEM).document(SWEEPS_DOC)
    snap = ref.get()
    state = (snap.to_dict() or {}) if snap.exists else {}
    started = 0
    updates: dict[str, Any] = {}
    for kind in SWEEP_KINDS:
        due = state.get(f"{kind}_next_at") or now
        if due > now:
            continue
        if claims.try_claim(
            db, claims.claim_id("msweep", kind, slot_key(due)), owner="dispatch", now=now,
            ttl=timedelta(days=2),
        ):  # fmt: skip
            runtime.enqueuer.enqueue(sweep_task(kind, due))
            started += 1
        updates[f"{kind}_next_at"] = _next_sweep(
            kind, due, now, runtime.settings.metrics_rollup_interval_s
        )
    if updates:
        ref.set({**updates, "updated_at": now}, merge=True)
    return started


class MetricsSource:
    name = "metrics"

    def run(self, ctx: DispatchContext) -> dict[str, int]:
        discovered = discover(ctx.runtime, ctx.now)
        counts = enqueue_due(ctx.runtime, ctx.now, ctx.horizon)
        counts["discovered"] = discovered
        counts["sweeps"] = run_sweeps(ctx.runtime, ctx.now)
        return counts


SOURCE = MetricsSource()
