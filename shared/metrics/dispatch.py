"""The dispatch source for metrics: metric pulls due and periodic sweeps due.

Why dispatch and not a Cloud Scheduler job of its own: a post's pulls are due at
instants stored on the post (`next_metrics_at`), exactly what the minute tick already
finds for posts and campaigns, and the local stack's only scheduler is the dispatch
tick, so the same path runs in `make dev` and in production. collect_metrics also
accepts {"action": "sweep"} for a deployment that prefers calling it from Scheduler.

Per tick (reads ∝ posts published in the last minutes + posts due, plus one document):
1. discovery (at most once a minute): posts published since the watermark (less
   DISCOVERY_LAG) get their first `next_metrics_at` (published + 1 h), unless
   post_tweet already set it (`schedule.first_pull_at`); a post is read here once or
   twice;
2. due pulls: posts with `next_metrics_at` <= horizon are leased (next_metrics_at moved
   LEASE ahead, so the next tick does not see them and a lost task comes back), claimed
   once per (post, due instant), grouped per account in tasks of up to 100 posts;
3. email engagement: when an event waits to be folded (one read), a fold task, so an
   open, click, unsubscribe or bounce reaches the dashboards within a tick;
4. sweeps: the ads rollup fan-out (every HERALD_METRICS_ROLLUP_INTERVAL_S) and the
   daily ad-insights fan-out, each claimed per due instant.
This module imports no provider SDK.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared import claims
from shared.batch_writes import ALREADY_EXISTS, Write, apply_each
from shared.log import get_logger
from shared.metrics import schedule
from shared.metrics.model import DISCOVERY_DOC, SWEEPS_DOC, SYSTEM, slot_key
from shared.queries import build, pages
from shared.queries.metrics import DUE_PULLS, PUBLISHED_POSTS
from shared.tasks import TaskSpec, safe_task_id

if TYPE_CHECKING:
    from shared.dispatch import DispatchContext
    from shared.runtime import Runtime

log = get_logger("metrics.dispatch")

LEASE = timedelta(hours=1)
# post_tweet stamps published_at just before its write lands, so two concurrent
# publishes can land out of order: each discovery re-reads this much behind the newest.
DISCOVERY_LAG = timedelta(seconds=90)
DISCOVERY_EVERY = timedelta(minutes=1)
PAGE = 300
MAX_PAGES = 10  # per tick; the rest waits for the next tick
ADS_SWEEP_HOUR_UTC = 6  # insights of yesterday are settled by then on both platforms
SWEEP_KINDS = ("rollups", "ads_insights")


def _field(snap: Any, name: str) -> Any:
    return (snap.to_dict() or {}).get(name)


def discover(runtime: Runtime, now: datetime, scanned: list[int] | None = None) -> int:
    """Give newly published posts their first pull instant.

    `scanned_to` is the instant up to which every publication has been seen: a post
    whose write lands after this tick was stamped after now - DISCOVERY_LAG, so the next
    tick starts there. Idle ticks read nothing but that mark (and one empty query).
    `scanned`, when given, receives the number of published posts read.
    """
    db = runtime.db
    mark_ref = db.collection(SYSTEM).document(DISCOVERY_DOC)
    mark_snap = mark_ref.get()
    since = _field(mark_snap, "scanned_to") if mark_snap.exists else None
    since = since or now - schedule.DAILY_UNTIL
    found, pages_read, last_seen = 0, 0, None
    for docs in pages(db, PUBLISHED_POSTS, page_size=PAGE, ge=since):
        batch = db.batch()
        for snap in docs:
            post = snap.to_dict()
            if not isinstance(post.get("published_at"), datetime):
                continue  # ordered by published_at, so only a non-instant value lands here
            if "next_metrics_at" not in post and "metrics_status" not in post:
                batch.update(
                    snap.reference,
                    {
                        "next_metrics_at": schedule.first_pull_at(post["published_at"]),
                        "metrics_status": "scheduled",
                    },
                )
                found += 1
        batch.commit()
        if scanned is not None:
            scanned.append(len(docs))
        last_seen = docs[-1].get("published_at")
        pages_read += 1
        if pages_read >= MAX_PAGES:
            break  # the rest waits for the next tick, from where this one stopped
    if pages_read >= MAX_PAGES and last_seen is not None:
        mark = last_seen
    else:
        mark = max(since, now - DISCOVERY_LAG)
    if mark != since:
        mark_ref.set({"scanned_to": mark, "updated_at": now})
    return found


def enqueue_due(runtime: Runtime, now: datetime, horizon: datetime) -> dict[str, int]:
    db = runtime.db
    slot = now.astimezone(UTC).replace(second=0, microsecond=0)
    groups: dict[tuple[str, str], list[tuple[str, datetime]]] = defaultdict(list)
    counts = {"due": 0, "claimed": 0, "tasks": 0}
    for _ in range(MAX_PAGES):
        docs = list(build(db, DUE_PULLS, le=horizon).limit(PAGE).stream())
        if not docs:
            break
        # Lease first: a tick that dies after this loses nothing (the post is due again
        # when the lease ends); a racing tick then loses the claim below.
        batch = db.batch()
        for snap in docs:
            batch.update(snap.reference, {"next_metrics_at": now + LEASE})
        batch.commit()
        # One claim per (post, due instant): a racing tick loses it. The page's claims
        # go in one BatchWrite, each won or lost on its own.
        posts = [snap.to_dict() for snap in docs]
        keys = [
            claims.claim_id("mxdue", snap.id, slot_key(post["next_metrics_at"]))
            for snap, post in zip(docs, posts, strict=True)
        ]
        outcomes = apply_each(
            db,
            [
                Write(
                    db.collection(claims.CLAIMS).document(key),
                    claims.claim_doc(
                        owner="dispatch",
                        now=now,
                        workspace_id=post.get("workspace_id"),
                        ttl=timedelta(days=2),
                    ),
                    op="create",
                )
                for key, post in zip(keys, posts, strict=True)
            ],
        )
        for snap, post, outcome in zip(docs, posts, outcomes, strict=True):
            counts["due"] += 1
            if not outcome.ok:
                if outcome.code != ALREADY_EXISTS:
                    # Leased above: it is due again when the lease ends.
                    log.error(
                        "could not claim a metrics pull", post_id=snap.id, reason=outcome.message
                    )
                continue
            due = post["next_metrics_at"]
            counts["claimed"] += 1
            account, workspace = post.get("account_id"), post.get("workspace_id")
            if not account or not workspace or "/" in str(account):
                # Nothing to read it with: end it here, with the reason.
                snap.reference.update(
                    {
                        "metrics_status": "error",
                        "metrics_error": {"reason": "the post has no X account", "at": now},
                        "next_metrics_at": schedule.NEVER,
                    }
                )
                continue
            groups[(str(workspace), str(account))].append((snap.id, due))
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


def fold_task(instant: str, n: int = 0) -> TaskSpec:
    """A fold of pending email events; one per dispatch tick that finds some, and a
    follow-up (n + 1) while a backlog remains."""
    return TaskSpec(
        kind="metrics",
        target="collect_metrics",
        payload={"action": "fold", "n": n},
        task_id=safe_task_id("mfold", instant, str(n)),
    )


def enqueue_fold(runtime: Runtime, now: datetime) -> int:
    """A fold task when email events wait (one read). Its id is the tick's second, so a
    duplicate delivery of the tick enqueues it once in production; two folds side by
    side count nothing twice anyway (see email_rollups)."""
    from shared.metrics.email_rollups import has_pending

    if not has_pending(runtime.db):
        return 0
    runtime.enqueuer.enqueue(fold_task(now.astimezone(UTC).strftime("%Y%m%dT%H%M%S")))
    return 1


class MetricsSource:
    name = "metrics"

    def __init__(self) -> None:
        self._next_discovery: dict[str, datetime] = {}

    def run(self, ctx: DispatchContext) -> dict[str, int]:
        # Discovery re-reads the last DISCOVERY_LAG of publications each time it runs:
        # once a minute (per instance and project; a fresh instance looks at once), a
        # post is read once or twice whatever the tick's cadence (`--tick 5` locally).
        discovered, scanned = 0, [0]
        project = ctx.runtime.settings.project_id
        next_at = self._next_discovery.get(project)
        if next_at is None or not next_at - DISCOVERY_EVERY <= ctx.now < next_at:
            self._next_discovery[project] = ctx.now + DISCOVERY_EVERY
            discovered = discover(ctx.runtime, ctx.now, scanned)
        counts = enqueue_due(ctx.runtime, ctx.now, ctx.horizon)
        counts["discovered"] = discovered
        counts["email_fold"] = enqueue_fold(ctx.runtime, ctx.now)
        counts["discovery_read"] = sum(scanned)  # posts read, new or seen before
        counts["sweeps"] = run_sweeps(ctx.runtime, ctx.now)
        return counts


SOURCE = MetricsSource()
