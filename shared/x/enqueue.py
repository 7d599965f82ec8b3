"""Enqueueing post_tweet tasks: one task per try of a post, at the instant it is due.

Used by scheduling (a post due within the lookahead), the dispatcher, recovery and the
worker's own re-enqueues (retry, rate limit, reconciliation). Light imports only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.claims import CLAIMS, claim_id, claim_or_take_over
from shared.tasks import TaskSpec, safe_task_id
from shared.x.models import POSTS, PostStatus
from shared.x.store import instant_key, order_key

if TYPE_CHECKING:
    from shared.runtime import Runtime

# A claim on a quick step (record the next try and enqueue it, create_task gives up after
# 30 s; record a failure) that is this old was left by a worker that died in between.
STEP_STALE = timedelta(minutes=2)


class PostChanged(Exception):
    """The post changed after the caller read it (a cancel, a reschedule, an edit): the
    caller's decision was made on a state that no longer holds, so nothing was written."""


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
    unchanged_since: Any = None,
) -> bool:
    """Claim (post, try, instant) once, record it on the post, enqueue its task.

    For the worker's own re-enqueues (retry, rate limit, reconciliation) and recovery,
    where duplicate deliveries race: returns False when another caller already claimed
    it. If enqueueing fails the claim is released so a later attempt can try again.
    `extra` fields (try_n, attempts, last_error, ...) go into the same post update;
    `status` None leaves the post's status as it is.
    `once_per_try` claims the try alone (not the instant): duplicate deliveries
    computing different instants still enqueue one task. The caller has read the post
    at the try before `try_n`. `unchanged_since` (the update time the caller read) makes
    the post update conditional: PostChanged if the post was changed since.
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
    from google.api_core import exceptions

    option = db.write_option(last_update_time=unchanged_since) if unchanged_since else None
    try:
        db.collection(POSTS).document(post_id).update(
            {
                **({"status": status} if status is not None else {}),
                "next_at": at,
                "next_key": order_key(at, post_id),
                "queued_at": now,
                **(extra or {}),
            },
            option=option,
        )
    except (exceptions.FailedPrecondition, exceptions.NotFound) as exc:
        db.collection(CLAIMS).document(key).delete()
        raise PostChanged(post_id) from exc
    try:
        runtime.enqueuer.enqueue(spec)
    except Exception:
        db.collection(CLAIMS).document(key).delete()
        raise
    return True
