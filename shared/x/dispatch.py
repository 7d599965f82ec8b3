"""The X dispatch source: enqueue posts due within the lookahead, recover lost tasks.

Cost: one query whose results are only the due posts (`status == "scheduled"` and
`next_key <= horizon`, ordered by `next_key`, paged with cursors), then per post one
update (scheduled → queued, guarded by the snapshot's update time) and the task.
Recovery runs at most every RECOVERY_EVERY_S per process and reads only posts whose
task should have run long ago (the Cloud Tasks emulator loses its tasks on restart; a
worker may die between claim and answer); on the same cadence, series due within a
day get their posts created.

Light imports only: this module is loaded by the dispatch function on cold start.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.claims import CLAIMS, claim_id, claim_or_take_over
from shared.log import get_logger
from shared.tasks import TaskSpec, safe_task_id
from shared.x.models import POSTS, PostStatus
from shared.x.store import instant_key, order_key

if TYPE_CHECKING:
    from shared.dispatch import DispatchContext
    from shared.runtime import Runtime

log = get_logger("x.dispatch")

# A queued post whose task instant is this far past with no progress lost its task.
RECOVERY_GRACE = timedelta(minutes=2)
RECOVERY_EVERY_S = 30.0
# A claim on a quick step (record the next try and enqueue it, create_task gives up after
# 30 s; record a failure) that is this old was left by a worker that died in between.
STEP_STALE = timedelta(minutes=2)
PAGE = 200
ENQUEUE_THREADS = 8


def task_spec(
    post_id: str,
    workspace_id: str,
    *,
    try_n: int,
    at: datetime,
    now: datetime,
    action: str = "publish",
    account_id: str | None = None,
) -> TaskSpec:
    """The post_tweet task for one try of a post, scheduled for `at`."""
    return TaskSpec(
        kind="tweets",
        target="post_tweet",
        payload={
            "post_id": post_id,
            "workspace_id": workspace_id,
            "try_n": try_n,
            "action": action,
            # Lets the worker read the post and its account in one round trip.
            "account_id": account_id,
        },
        schedule_time=at if at > now else None,
        # Unique per try and instant. Cloud Tasks (and the local one) refuses a second
        # task of the same name for about an hour, so a repeated enqueue is dropped; a
        # task delivered twice is still possible: the worker's claim keeps it from
        # posting twice.
        task_id=safe_task_id("post", post_id, str(try_n), str(int(at.timestamp() * 1000))),
    )


def dispatch_post(runtime: Runtime, snap: Any) -> bool:
    """Move one due `scheduled` post to `queued` and enqueue its task: one write.

    The update carries the snapshot's update time as a precondition, so on Firestore
    of two overlapping ticks only one wins the transition and enqueues. (Were both to
    enqueue, the worker's per-part claim would still keep the post from going out twice.)
    """
    from google.api_core import exceptions

    data = snap.to_dict()
    now = runtime.clock.now()
    changes: dict[str, Any] = {"status": PostStatus.QUEUED.value, "queued_at": now}
    if data["next_at"] < now:
        # Overdue (after an outage, or a long tick): its task runs now, and recovery must
        # count its grace from now, not from the old instant, or it would enqueue the
        # post a second time in this very tick.
        changes |= {"next_at": now, "next_key": order_key(now, snap.id)}
    try:
        snap.reference.update(
            changes, option=runtime.db.write_option(last_update_time=snap.update_time)
        )
    except (exceptions.FailedPrecondition, exceptions.NotFound):
        return False  # another tick moved it, or it was changed or deleted meanwhile
    spec = task_spec(
        snap.id,
        data["workspace_id"],
        try_n=int(data.get("try_n") or 0),
        at=data["next_at"],
        now=now,
        account_id=data.get("account_id"),
    )
    try:
        runtime.enqueuer.enqueue(spec)
    except Exception:
        # Back to scheduled: the next tick tries again (recovery would, later, anyway).
        snap.reference.update({"status": PostStatus.SCHEDULED.value})
        raise
    return True


def enqueue_publish(
    runtime: Runtime,
    post_id: str,
    workspace_id: str,
    *,
    try_n: int,
    at: datetime,
    reason: str,
    action: str = "publish",
    status: str | None = PostStatus.QUEUED.value,
    extra: dict[str, Any] | None = None,
    once_per_try: bool = False,
    account_id: str | None = None,
) -> bool:
    """Claim (post, try, instant) once, record it on the post, enqueue its task.

    For the worker's own re-enqueues (retry, rate limit, reconciliation) and recovery,
    where duplicate deliveries race: returns False when another caller already claimed
    it. If enqueueing fails the claim is released so a later attempt can try again.
    `extra` fields (try_n, attempts, last_error, ...) go into the same post update;
    `status` None leaves the post's status as it is.
    `once_per_try` claims the try alone (not the instant): duplicate deliveries
    computing different instants still enqueue one task. The caller has read the post
    at the try before `try_n`.
    """
    db = runtime.db
    now = runtime.clock.now()
    # A worker that died between this claim and the post update would leave the post at
    # the old try for good: every later delivery would lose the claim. Its claim is taken
    # over once it is older than any enqueue can take.
    key = claim_or_take_over(
        db,
        claim_id("xq", post_id, str(try_n), "next" if once_per_try else instant_key(at)),
        owner=reason,
        now=now,
        stale_after=STEP_STALE,
        workspace_id=workspace_id,
    )
    if key is None:
        return False
    spec = task_spec(
        post_id, workspace_id, try_n=try_n, at=at, now=now, action=action, account_id=account_id
    )
    # The post first, then its task: Cloud Tasks may deliver a task due now before
    # enqueue() returns, and a task that finds the post still at the old try would be
    # dropped as stale. If enqueueing fails the post is left at the new try with no task;
    # recovery finds it after its grace.
    db.collection(POSTS).document(post_id).update(
        {
            **({"status": status} if status is not None else {}),
            "next_at": at,
            "next_key": order_key(at, post_id),
            "queued_at": now,
            **(extra or {}),
        }
    )
    try:
        runtime.enqueuer.enqueue(spec)
    except Exception:
        db.collection(CLAIMS).document(key).delete()
        raise
    return True


def _due(runtime: Runtime, statuses: list[str], upto: datetime) -> Any:
    from shared.queries import pages
    from shared.queries.x import DUE_POSTS

    # "|~" sorts after every "|<id>", so every post due at or before `upto` is included.
    upto_key = instant_key(upto) + "|~"
    return pages(runtime.db, DUE_POSTS, page_size=PAGE, status=statuses, le=upto_key)


class XSource:
    name = "x"

    def __init__(self) -> None:
        self._last_recovery = 0.0
        self._lock = threading.Lock()

    def run(self, ctx: DispatchContext) -> dict[str, int]:
        runtime = ctx.runtime
        counts = {"enqueued": 0, "skipped": 0, "failed": 0, "recovered": 0}

        def one(snap: Any) -> str:
            try:
                won = dispatch_post(runtime, snap)
            except Exception as exc:
                # Left (or put back) as scheduled: the next tick tries again. Logged.
                log.exception("could not enqueue a due post", exc=exc, post_id=snap.id)
                return "failed"
            return "enqueued" if won else "skipped"

        # A page's posts are enqueued concurrently: a burst of due posts must not wait
        # on one another's round trips (claim, create_task, update).
        with ThreadPoolExecutor(max_workers=ENQUEUE_THREADS) as pool:
            for docs in _due(runtime, [PostStatus.SCHEDULED.value], ctx.horizon):
                for outcome in pool.map(one, docs):
                    counts[outcome] += 1
        if self._recovery_due():
            counts["recovered"] = recover(runtime, ctx.now)
            from shared.x.series import materialize_due

            counts["series_posts"] = materialize_due(runtime)
        return counts

    def _recovery_due(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now - self._last_recovery < RECOVERY_EVERY_S:
                return False
            self._last_recovery = now
            return True


def recover(runtime: Runtime, now: datetime) -> int:
    """Re-enqueue posts stuck in queued/publishing/unconfirmed long past their instant.

    The worker's per-part claim keeps this safe: a post that is in fact being published
    is not posted twice, and a claim left by a dead worker turns into `unconfirmed`
    and reconciliation instead of a blind second post.
    """
    stuck = [PostStatus.QUEUED.value, PostStatus.PUBLISHING.value, PostStatus.UNCONFIRMED.value]
    count = 0
    for docs in _due(runtime, stuck, now - runtime.settings.recovery_grace(RECOVERY_GRACE)):
        for snap in docs:
            data = snap.to_dict()
            status = data.get("status", PostStatus.QUEUED.value)
            if enqueue_publish(
                runtime,
                snap.id,
                data["workspace_id"],
                try_n=int(data.get("try_n") or 0),
                at=now,
                reason="recovery",
                action="reconcile" if status == PostStatus.UNCONFIRMED else "publish",
                # Its snapshot may be older than a worker's move to the next try (say
                # queued → unconfirmed): writing the old status back would turn a post
                # whose answer was lost into one a publish task posts again.
                status=None,
                account_id=data.get("account_id"),
            ):
                log.warning(
                    "re-enqueued a post whose task was lost",
                    post_id=snap.id,
                    status=data.get("status"),
                    next_at=data.get("next_at"),
                )
                count += 1
    return count


SOURCE = XSource()
