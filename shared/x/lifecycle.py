"""Status changes of a post: approve, schedule, reschedule, cancel.

Data flows one way: these write the post and, for a post due within the dispatch
lookahead, enqueue its task at once; the dispatcher and post_tweet take it from there.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.errors import Conflict, ValidationError
from shared.log import get_logger
from shared.tenancy import check_timezone
from shared.x import store
from shared.x.accounts import usable_account
from shared.x.enqueue import task_spec
from shared.x.models import POSTS, TRANSITIONS, Campaign, Post, PostSource, PostStatus
from shared.x.posts import get_post, require_valid

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("x.lifecycle")


def _transition(post: Post, target: PostStatus) -> None:
    if target not in TRANSITIONS[PostStatus(post.status)]:
        raise Conflict(f"a {post.status} post cannot become {target}")


def approve_post(runtime: Runtime, workspace_id: str, post_id: str) -> dict[str, Any]:
    post = store.load(runtime, Post, workspace_id, post_id, "post")
    _transition(post, PostStatus.APPROVED)
    require_valid(runtime, post, usable_account(runtime, workspace_id, post.account_id))
    runtime.db.collection(POSTS).document(post_id).update(
        {"status": PostStatus.APPROVED.value, "updated_at": runtime.clock.now()}
    )
    return get_post(runtime, workspace_id, post_id)


def _needs_approval(runtime: Runtime, post: Post) -> bool:
    # Only machine-written text waits for a person; series, plans and templates were
    # set up by one.
    if post.status == PostStatus.APPROVED or post.source != PostSource.GENERATED:
        return False
    if not post.campaign_id:
        return False
    campaign = store.load(runtime, Campaign, post.workspace_id, post.campaign_id, "campaign")
    return bool(campaign.approval_required)


def schedule_post(
    runtime: Runtime,
    workspace_id: str,
    post_id: str,
    due_at: datetime | str | None = None,
    timezone: str | None = None,
) -> dict[str, Any]:
    """Validate and schedule for `due_at` (or the post's own due instant).

    A post due within the dispatch lookahead is enqueued right away, so it goes out at
    its second even if the next dispatcher tick comes after it.
    """
    post = store.load(runtime, Post, workspace_id, post_id, "post")
    if post.status not in (PostStatus.DRAFT, PostStatus.APPROVED, PostStatus.SCHEDULED):
        raise Conflict(f"a {post.status} post cannot be scheduled")
    if _needs_approval(runtime, post):
        raise Conflict("this campaign requires approval before generated posts are scheduled")
    now = runtime.clock.now()
    due = store.parse_instant(due_at, "due_at") if due_at else post.due_at
    if due is None:
        raise ValidationError("due_at is required to schedule a post")
    if due < now - timedelta(minutes=1):
        raise ValidationError("due_at is in the past")
    due = max(due, now)
    account = usable_account(runtime, workspace_id, post.account_id)
    require_valid(runtime, post, account)
    return _set_schedule(runtime, post, due, timezone)


def _set_schedule(runtime: Runtime, post: Post, due: datetime, timezone: str | None) -> dict:
    now = runtime.clock.now()
    try_n = post.try_n + (1 if post.status != PostStatus.DRAFT else 0)
    update = {
        "status": PostStatus.SCHEDULED.value,
        "due_at": due,
        "due_key": store.order_key(due, post.id),
        "next_at": due,
        "next_key": store.order_key(due, post.id),
        "try_n": try_n,
        "updated_at": now,
    }
    if timezone:
        update["timezone"] = check_timezone(timezone)
    ref = runtime.db.collection(POSTS).document(post.id)
    if due > now + timedelta(seconds=runtime.settings.dispatch_lookahead_s):
        ref.update(update)  # the dispatcher enqueues it when it comes within the lookahead
        return post.to_dict() | update
    # Due before the next tick could see it: queue it now, in the same single write.
    update |= {"status": PostStatus.QUEUED.value, "queued_at": now}
    ref.update(update)
    spec = task_spec(
        post.id, post.workspace_id, try_n=try_n, at=due, now=now, account_id=post.account_id
    )
    try:
        runtime.enqueuer.enqueue(spec)
    except Exception as exc:
        # Cloud Tasks unreachable: back to scheduled, the dispatcher retries it.
        log.exception("could not enqueue a post due soon", exc=exc, post_id=post.id)
        update["status"] = PostStatus.SCHEDULED.value
        ref.update({"status": update["status"]})
    return post.to_dict() | update


def reschedule_post(
    runtime: Runtime,
    workspace_id: str,
    post_id: str,
    due_at: datetime | str,
    timezone: str | None = None,
) -> dict[str, Any]:
    """Move a scheduled or queued post; a task already queued for it becomes stale."""
    post = store.load(runtime, Post, workspace_id, post_id, "post")
    if post.status not in (PostStatus.SCHEDULED, PostStatus.QUEUED):
        raise Conflict(f"a {post.status} post cannot be rescheduled")
    now = runtime.clock.now()
    due = store.parse_instant(due_at, "due_at")
    if due < now - timedelta(minutes=1):
        raise ValidationError("due_at is in the past")
    return _set_schedule(runtime, post, max(due, now), timezone)


def cancel_post(runtime: Runtime, workspace_id: str, post_id: str) -> dict[str, Any]:
    post = store.load(runtime, Post, workspace_id, post_id, "post")
    _transition(post, PostStatus.CANCELLED)
    runtime.db.collection(POSTS).document(post_id).update(
        {
            "status": PostStatus.CANCELLED.value,
            "try_n": post.try_n + 1,  # any queued task for it is now stale
            "updated_at": runtime.clock.now(),
        }
    )
    return get_post(runtime, workspace_id, post_id)
