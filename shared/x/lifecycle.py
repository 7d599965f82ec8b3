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
from shared.x import spend, store
from shared.x.accounts import usable_account
from shared.x.enqueue import task_spec
from shared.x.guards import OUT, already_publishing, withdraw
from shared.x.links import outgoing_parts
from shared.x.models import POSTS, TRANSITIONS, Campaign, Post, PostSource, PostStatus
from shared.x.posts import get_post, require_valid

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("x.lifecycle")


def _transition(post: Post, target: PostStatus) -> None:
    if post.status in OUT and target != post.status:
        raise already_publishing(post)
    if target not in TRANSITIONS[PostStatus(post.status)]:
        raise Conflict(f"a {post.status} post cannot become {target}")


def _posts(runtime: Runtime) -> Any:
    return runtime.db.collection(POSTS)


def approve_post(runtime: Runtime, workspace_id: str, post_id: str) -> dict[str, Any]:
    def decide(transaction: Any) -> None:
        post = store.load(runtime, Post, workspace_id, post_id, "post", transaction)
        _transition(post, PostStatus.APPROVED)
        require_valid(runtime, post, usable_account(runtime, workspace_id, post.account_id))
        transaction.update(
            _posts(runtime).document(post_id),
            {"status": PostStatus.APPROVED.value, "updated_at": runtime.clock.now()},
        )

    store.transact(runtime, decide)
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


def _due(runtime: Runtime, value: datetime | str | None, default: datetime | None) -> datetime:
    now = runtime.clock.now()
    due = store.parse_instant(value, "due_at") if value else default
    if due is None:
        raise ValidationError("due_at is required to schedule a post")
    if due < now - timedelta(minutes=1):
        raise ValidationError("due_at is in the past")
    return max(due, now)


def schedule_post(
    runtime: Runtime,
    workspace_id: str,
    post_id: str,
    due_at: datetime | str | None = None,
    timezone: str | None = None,
    confirm_over_budget: bool = False,
) -> dict[str, Any]:
    """Validate and schedule for `due_at` (or the post's own due instant).

    A post due within the dispatch lookahead is enqueued right away, so it goes out at
    its second even if the next dispatcher tick comes after it. Scheduling a post that
    is already scheduled moves it, as reschedule_post does. Past a monthly budget it is
    refused, or needs `confirm_over_budget` (shared.x.spend).
    """

    def decide(transaction: Any) -> tuple[Post, dict[str, Any]]:
        post = store.load(runtime, Post, workspace_id, post_id, "post", transaction)
        _transition(post, PostStatus.SCHEDULED)
        if post.status not in (PostStatus.DRAFT, PostStatus.APPROVED, PostStatus.SCHEDULED):
            raise Conflict(f"a {post.status} post cannot be scheduled")
        if _needs_approval(runtime, post):
            raise Conflict("this campaign requires approval before generated posts are scheduled")
        due = _due(runtime, due_at, post.due_at)
        require_valid(runtime, post, usable_account(runtime, workspace_id, post.account_id))
        spend.check(runtime, post, due, confirmed=confirm_over_budget)
        return post, _set_schedule(transaction, runtime, post, due, timezone)

    return _enqueue_if_queued(runtime, *store.transact(runtime, decide))


def reschedule_post(
    runtime: Runtime,
    workspace_id: str,
    post_id: str,
    due_at: datetime | str,
    timezone: str | None = None,
    confirm_over_budget: bool = False,
) -> dict[str, Any]:
    """Move a scheduled or queued post; a task already queued for it becomes stale.
    A post a worker has begun to send answers 409 (already publishing); a move into a
    month past its budget is refused or needs `confirm_over_budget`."""

    def decide(transaction: Any) -> tuple[Post, dict[str, Any]]:
        post = store.load(runtime, Post, workspace_id, post_id, "post", transaction)
        if post.status in OUT:
            raise already_publishing(post)
        if post.status not in (PostStatus.SCHEDULED, PostStatus.QUEUED):
            raise Conflict(f"a {post.status} post cannot be rescheduled")
        due = _due(runtime, due_at, None)
        spend.check(runtime, post, due, confirmed=confirm_over_budget)
        return post, _set_schedule(transaction, runtime, post, due, timezone)

    return _enqueue_if_queued(runtime, *store.transact(runtime, decide))


def _set_schedule(
    transaction: Any, runtime: Runtime, post: Post, due: datetime, timezone: str | None
) -> dict[str, Any]:
    """In the caller's transaction: withdraw the post's current try (409 if a worker is
    sending it) and schedule it at the next try; queued at once when due soon."""
    now = runtime.clock.now()
    withdraw(transaction, runtime.db, post, now)
    try_n = post.try_n + (1 if post.status != PostStatus.DRAFT else 0)
    update: dict[str, Any] = {
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
    if due <= now + timedelta(seconds=runtime.settings.dispatch_lookahead_s):
        # Due before the next tick could see it: queued in the same write, its task
        # enqueued once the transaction has committed.
        update |= {"status": PostStatus.QUEUED.value, "queued_at": now}
    transaction.update(_posts(runtime).document(post.id), update)
    return update


def _enqueue_if_queued(runtime: Runtime, post: Post, update: dict[str, Any]) -> dict[str, Any]:
    if update["status"] != PostStatus.QUEUED:
        return post.to_dict() | update  # the dispatcher enqueues it within the lookahead
    spec = task_spec(
        post.id,
        post.workspace_id,
        try_n=update["try_n"],
        at=update["due_at"],
        now=runtime.clock.now(),
        account_id=post.account_id,
    )
    try:
        runtime.enqueuer.enqueue(spec)
    except Exception as exc:
        # Cloud Tasks unreachable: back to scheduled (unless it changed meanwhile), and
        # the dispatcher retries it.
        log.exception("could not enqueue a post due soon", exc=exc, post_id=post.id)
        if _unqueue(runtime, post.id, update["try_n"]):
            update["status"] = PostStatus.SCHEDULED.value
    return post.to_dict() | update


def _unqueue(runtime: Runtime, post_id: str, try_n: int) -> bool:
    ref = _posts(runtime).document(post_id)

    def decide(transaction: Any) -> bool:
        data = ref.get(transaction=transaction).to_dict() or {}
        if data.get("status") != PostStatus.QUEUED or data.get("try_n") != try_n:
            return False
        transaction.update(ref, {"status": PostStatus.SCHEDULED.value})
        return True

    return store.transact(runtime, decide)


def cancel_post(runtime: Runtime, workspace_id: str, post_id: str) -> dict[str, Any]:
    """Cancel a post that has not gone out. Decided in one transaction with post_tweet's
    part guard: 200 means nothing of this post goes out; a post a worker has begun to
    send answers 409 (already publishing) and goes out once."""

    def decide(transaction: Any) -> None:
        post = store.load(runtime, Post, workspace_id, post_id, "post", transaction)
        _transition(post, PostStatus.CANCELLED)
        now = runtime.clock.now()
        withdraw(transaction, runtime.db, post, now)
        transaction.update(
            _posts(runtime).document(post_id),
            {
                "status": PostStatus.CANCELLED.value,
                "try_n": post.try_n + 1,  # any queued task for it is now stale
                "updated_at": now,
            },
        )

    store.transact(runtime, decide)
    return get_post(runtime, workspace_id, post_id)


def post_rest_separately(runtime: Runtime, workspace_id: str, post_id: str) -> dict[str, Any]:
    """A held thread: the parts X did not take as replies go out now as separate posts."""

    def decide(transaction: Any) -> tuple[Post, dict[str, Any]]:
        post = store.load(runtime, Post, workspace_id, post_id, "post", transaction)
        if post.status != PostStatus.HELD:
            raise Conflict(
                f"only a held thread can go on as separate posts; this one is {post.status}"
            )
        now = runtime.clock.now()
        update = {
            "status": PostStatus.QUEUED.value,
            "separate_from": len(post.x_ids),
            "try_n": post.try_n + 1,
            "due_at": post.due_at,
            "next_at": now,
            "next_key": store.order_key(now, post.id),
            "queued_at": now,
            "updated_at": now,
        }
        transaction.update(_posts(runtime).document(post_id), update)
        return post, update

    post, update = store.transact(runtime, decide)
    spec = task_spec(
        post.id,
        post.workspace_id,
        try_n=update["try_n"],
        at=update["next_at"],
        now=runtime.clock.now(),
        account_id=post.account_id,
    )
    runtime.enqueuer.enqueue(spec)  # if this fails, recovery finds the queued post
    return get_post(runtime, workspace_id, post_id)


def drop_rest(runtime: Runtime, workspace_id: str, post_id: str) -> dict[str, Any]:
    """A held thread: keep what is on X, post nothing more (it ends failed, with why)."""

    def decide(transaction: Any) -> None:
        post = store.load(runtime, Post, workspace_id, post_id, "post", transaction)
        if post.status != PostStatus.HELD:
            raise Conflict(f"only a held thread's rest can be dropped; this one is {post.status}")
        now = runtime.clock.now()
        reason = (
            f"the thread stopped after {len(post.x_ids)} of {len(outgoing_parts(post))} parts: "
            f"X refused the next as a reply ({(post.last_error or {}).get('reason', '')}); "
            "the rest was dropped by a person"
        )
        transaction.update(
            _posts(runtime).document(post_id),
            {
                "status": PostStatus.FAILED.value,
                "try_n": post.try_n + 1,
                "last_error": {"code": "rest_dropped", "reason": reason, "at": now},
                "failed_at": now,
                "updated_at": now,
            },
        )

    store.transact(runtime, decide)
    return get_post(runtime, workspace_id, post_id)
