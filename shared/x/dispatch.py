"""The X dispatch source: enqueue posts due within the lookahead, recover lost tasks.

Cost: one query whose results are only the due posts (`status == "scheduled"` and
`next_key <= horizon`, ordered by `next_key`, paged with cursors), then per post one
update (scheduled → queued, guarded by the snapshot's update time) and the task. The
updates go WRITE_BATCH to a BatchWrite request, each applied and answered on its own,
while the query is still streaming; a post's task is created as soon as its update is
confirmed, ENQUEUE_THREADS at a time (create_task is a round trip of tens of ms).
Recovery runs at most every RECOVERY_EVERY_S per process and reads only posts whose
task should have run long ago (the Cloud Tasks emulator loses its tasks on restart; a
worker may die between claim and answer); on the same cadence, series due within a
day get their posts created.

Light imports only: this module is loaded by the dispatch function on cold start.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.batch_writes import FAILED_PRECONDITION, NOT_FOUND, Write, apply_each
from shared.log import get_logger
from shared.x.enqueue import enqueue_publish, task_spec
from shared.x.models import PostStatus
from shared.x.store import instant_key, order_key

if TYPE_CHECKING:
    from shared.dispatch import DispatchContext
    from shared.runtime import Runtime

log = get_logger("x.dispatch")

# A queued post whose task instant is this far past with no progress lost its task.
RECOVERY_GRACE = timedelta(minutes=2)
RECOVERY_EVERY_S = 30.0
PAGE = 200
# The due posts are read in pages this large: one query where 200-post pages made fifty
# (Google's emulator scans the collection for every query), handed on as they arrive.
DUE_PAGE = 20_000
# Guarded updates per BatchWrite request, and requests in flight at once.
WRITE_BATCH = 250
WRITES_IN_FLIGHT = 4
# Tasks created at once. create_task is a 10-50 ms round trip on Cloud Tasks: 10,000 due
# posts take 10,000 x 20 ms / 64 = ~3 s; the gRPC channel carries them side by side.
ENQUEUE_THREADS = 64
# What a due post's move and task read of it (the query projects the rest away).
DUE_FIELDS = ("workspace_id", "account_id", "try_n", "next_at")


def _claim_write(snap: Any, now: datetime) -> Write:
    """The move of one due post from scheduled to queued, guarded by its snapshot.

    The update carries the snapshot's update time as a precondition, so of two
    overlapping ticks only one wins the transition and enqueues (Firestore and its
    emulator both refuse the second write). A single guarded write, no transaction: the
    query already read the post. (Were both to enqueue, the worker's per-part claim
    would still keep the post from going out twice.)
    """
    changes: dict[str, Any] = {"status": PostStatus.QUEUED.value, "queued_at": now}
    if snap.get("next_at") < now:
        # Overdue (after an outage, or a long tick): its task runs now, and recovery must
        # count its grace from now, not from the old instant, or it would enqueue the
        # post a second time in this very tick.
        changes |= {"next_at": now, "next_key": order_key(now, snap.id)}
    return Write(snap.reference, changes, last_update_time=snap.update_time)


def _enqueue_claimed(
    runtime: Runtime, snap: Any, claimed_at: datetime | None, now: datetime
) -> str:
    """Create the task of a post this tick moved to queued; on failure, put it back.

    The post goes back to scheduled (the next tick tries again) only if nothing has
    changed it since this tick's update: a post cancelled or rescheduled meanwhile keeps
    its new state. If even that write fails, recovery finds the post queued with no
    task after its grace.
    """
    data = snap.to_dict()
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
    except Exception as exc:
        log.exception("could not enqueue a due post", exc=exc, post_id=snap.id)
        try:
            option = runtime.db.write_option(last_update_time=claimed_at) if claimed_at else None
            snap.reference.update({"status": PostStatus.SCHEDULED.value}, option=option)
        except Exception as put_back:
            log.exception("could not put a post back to scheduled", exc=put_back, post_id=snap.id)
        return "failed"
    return "enqueued"


def dispatch_posts(
    runtime: Runtime, snaps: list[Any], enqueues: ThreadPoolExecutor
) -> tuple[Counter[str], list[Future[str]]]:
    """Move due posts to queued in one BatchWrite; enqueue the task of each one moved.

    Returns the posts not moved ("skipped": another tick or an edit got there first;
    "failed": left scheduled, the next tick tries again) and the futures of the tasks.
    """
    now = runtime.clock.now()
    counts: Counter[str] = Counter()
    try:
        outcomes = apply_each(runtime.db, [_claim_write(snap, now) for snap in snaps])
    except Exception as exc:
        # None was confirmed: those left scheduled go on the next tick; any the request
        # did move before its answer was lost are queued with no task: recovery's case.
        log.exception("could not move due posts to queued", exc=exc, posts=len(snaps))
        counts["failed"] += len(snaps)
        return counts, []
    tasks = []
    for snap, outcome in zip(snaps, outcomes, strict=True):
        if outcome.ok:
            tasks.append(enqueues.submit(_enqueue_claimed, runtime, snap, outcome.update_time, now))
        elif outcome.code in (FAILED_PRECONDITION, NOT_FOUND):
            counts["skipped"] += 1  # another tick moved it, or it was changed or deleted
        else:
            log.error(
                "could not move a due post to queued",
                post_id=snap.id,
                code=outcome.code,
                reason=outcome.message,
            )
            counts["failed"] += 1
    return counts, tasks


def _due(runtime: Runtime, statuses: list[str], upto: datetime, **how: Any) -> Any:
    from shared.queries import pages
    from shared.queries.x import DUE_POSTS

    # "|~" sorts after every "|<id>", so every post due at or before `upto` is included.
    upto_key = instant_key(upto) + "|~"
    how.setdefault("page_size", PAGE)
    return pages(runtime.db, DUE_POSTS, status=statuses, le=upto_key, **how)


class XSource:
    name = "x"

    def __init__(self) -> None:
        self._last_recovery = 0.0
        self._lock = threading.Lock()

    def run(self, ctx: DispatchContext) -> dict[str, int]:
        runtime = ctx.runtime
        counts = {"enqueued": 0, "skipped": 0, "failed": 0, "recovered": 0}
        moved: Counter[str] = Counter()
        # While the query streams, each WRITE_BATCH of due posts is moved in one request
        # and each post's task created as soon as its move is confirmed. The periodic
        # pass runs beside them: it looks only at posts whose task is long overdue, and a
        # due post this tick moves is queued with an instant of now or later (an overdue
        # one gets now, in the same write), so neither sees the other's posts.
        # (The write pool is shut down first: its requests hand tasks to the other.)
        with (
            ThreadPoolExecutor(1, thread_name_prefix="x-recovery") as periodic,
            ThreadPoolExecutor(ENQUEUE_THREADS, thread_name_prefix="x-enqueue") as enqueues,
            ThreadPoolExecutor(WRITES_IN_FLIGHT, thread_name_prefix="x-due") as writes,
        ):
            passes = periodic.submit(self._periodic, ctx) if self._recovery_due() else None
            batches = [
                writes.submit(dispatch_posts, runtime, snaps, enqueues)
                for snaps in _due(
                    runtime,
                    [PostStatus.SCHEDULED.value],
                    ctx.horizon,
                    page_size=DUE_PAGE,
                    chunk=WRITE_BATCH,
                    fields=DUE_FIELDS,
                )
            ]
            tasks = []
            for batch in batches:
                not_moved, enqueued = batch.result()
                moved.update(not_moved)
                tasks += enqueued
            moved.update(task.result() for task in tasks)
            if passes is not None:
                counts.update(passes.result())
        for outcome, n in moved.items():
            counts[outcome] += n
        return counts

    @staticmethod
    def _periodic(ctx: DispatchContext) -> dict[str, int]:
        """Recover lost tasks; create the posts of series due within a day."""
        from shared.x.series import materialize_due

        recovered = recover(ctx.runtime, ctx.now)
        return {"recovered": recovered, "series_posts": materialize_due(ctx.runtime)}

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
