"""What the worker records for each outcome of a try: the next try, failure, publication,
an unknown outcome; one ERROR entry with a stable `alert` type for each failure.

Each re-enqueue goes through `enqueue_publish`, which claims the next try once, so of
duplicate deliveries only one moves the post on. A post's failure is recorded once
(claim `xfail:<post>:<try>`), however many deliveries get there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from shared.channels.base import Channel
from shared.channels.outcomes import (
    AccountProblem,
    NotSent,
    RateLimited,
    UnknownOutcome,
    Withdrawn,
    XError,
)
from shared.claims import claim_id, claim_or_take_over, get_claim
from shared.http import CONNECT_TIMEOUT_S, READ_TIMEOUT_S
from shared.log import get_logger
from shared.x import cache, governor
from shared.x.cost import post_cost, pricing_of, read_cost
from shared.x.enqueue import STEP_STALE, PostChanged, enqueue_publish
from shared.x.guards import is_withdrawn
from shared.x.links import outgoing_parts
from shared.x.models import POSTS, X_ACCOUNTS, Post, PostStatus, Pricing, XAccount
from shared.x.store import month_key

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("x.post_tweet")

MAX_ATTEMPTS = 5
CLAIM_STALE = timedelta(minutes=3)  # longer than any worker holds a claim (timeouts ~35 s)
RECONCILE_AFTER = timedelta(seconds=20)
RECONCILE_TRIES = 3
# The unanswered request left at most one request timeout before the error was seen;
# the margin absorbs clock skew between Herald and X's created_at.
REQUEST_TIMEOUT = timedelta(seconds=CONNECT_TIMEOUT_S + READ_TIMEOUT_S)
RATE_LIMIT_FALLBACK = timedelta(minutes=1)
ALERT_FAILED = "x_post_failed"
ALERT_UNCONFIRMED = "x_post_unconfirmed"
ALERT_HELD = "x_thread_held"


def backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(300, 5 * 2 ** max(0, attempt - 1)))


@dataclass
class Job:
    runtime: Runtime
    post: Post
    account: XAccount
    api: Channel
    try_n: int
    now: datetime
    x_ids: list[str] = field(default_factory=list)
    # The post's update time as this job read it. Until the job holds a part's guard, a
    # cancel, reschedule or edit may land after that read: the job's writes are then
    # conditional on it, so they never undo such a change (PostChanged instead).
    read_time: Any = None
    guarded: bool = False
    sent: int = 0  # create requests this job made that reached X (whatever X answered)
    cost_usd: float = 0.0  # what X bills for the calls this job made

    @cached_property
    def sent_parts(self) -> list[str]:
        """The parts as they go to X ("link in first reply" moves the links to part two)."""
        return outgoing_parts(self.post)

    @cached_property
    def pricing(self) -> Pricing:
        return pricing_of(self.runtime.settings, self.account)

    def bill_post(self, text: str) -> None:
        """X accepted a create request of this text (or reconciliation proved it did)."""
        self.cost_usd += post_cost(self.pricing, text)

    def bill_reads(self, resources: int) -> None:
        """Reads of the account's own posts with its own token: owned reads."""
        self.cost_usd += read_cost(self.pricing, resources, owned=True)

    def counted(self) -> dict[str, Any]:
        """What this job spent, for the post's next write: `attempts` counts every create
        request X received for the post, over all its parts and tries; `x_cost_usd` what
        X bills for them and the reads made for it, in the month `spend_month`."""
        out: dict[str, Any] = {}
        if self.sent:
            out["attempts"] = self.post.attempts + self.sent
        if self.cost_usd:
            out["x_cost_usd"] = round(self.post.x_cost_usd + self.cost_usd, 6)
            out["spend_month"] = month_key(self.now)
        return out

    def err(self, code: str | int | None, reason: str) -> dict[str, Any]:
        return {"code": code, "reason": reason, "at": self.now}

    @property
    def unchanged_since(self) -> Any:
        return None if self.guarded else self.read_time

    def update(self, fields: dict[str, Any]) -> None:
        """Write the post; PostChanged if a change landed since the job read it."""
        from google.api_core import exceptions

        db = self.runtime.db
        since = self.unchanged_since
        try:
            db.collection(POSTS).document(self.post.id).update(
                {**self.counted(), **fields, "updated_at": self.now},
                option=db.write_option(last_update_time=since) if since else None,
            )
        except (exceptions.FailedPrecondition, exceptions.NotFound) as exc:
            raise PostChanged(self.post.id) from exc


def superseded(job: Job) -> dict[str, Any]:
    log.info("the post changed while this try was deciding; nothing written")
    return {"result": "superseded"}


def published(job: Job) -> dict[str, Any]:
    # estimated_cost_usd was set when the post was written: no twitter-text on this path.
    now = job.runtime.clock.now()
    try:
        job.update(
            {
                "status": PostStatus.PUBLISHED.value,
                "x_ids": job.x_ids,
                "published_at": now,
                "unknown_outcome": False,
            }
        )
    except PostChanged:
        return superseded(job)  # reconciliation found it; the next look records it
    lateness = (now - job.post.due_at).total_seconds() if job.post.due_at else None
    log.info("post published", x_ids=job.x_ids, lateness_s=lateness, sandbox=job.post.sandbox)
    return {"result": "published", "x_ids": job.x_ids}


def claim_lost(job: Job, key: str) -> dict[str, Any]:
    claim = get_claim(job.runtime.db, key)
    if claim and is_withdrawn(claim):
        return withdrawn(job)
    if claim and job.now - claim["claimed_at"] > CLAIM_STALE:
        # The worker that held it stopped between sending and recording the answer.
        return unconfirmed(
            job,
            UnknownOutcome("a worker stopped after claiming this part; outcome unknown"),
            sent_after=claim["claimed_at"],
        )
    return {"result": "in_progress"}


def withdrawn(job: Job) -> dict[str, Any]:
    log.info("a cancel, reschedule or edit took this try before it was sent; nothing sent")
    return {"result": "withdrawn"}


def requeue(
    job: Job,
    at: datetime,
    reason: str,
    *,
    spend: bool,
    error: dict[str, Any] | None,
    action: str = "publish",
    status: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "try_n": job.try_n + 1,
        "retries": job.post.retries + (1 if spend else 0),
        **job.counted(),
        **(extra or {}),
    }
    if error:
        fields["last_error"] = error
    if job.x_ids != job.post.x_ids:
        fields["x_ids"] = job.x_ids
    if status is None:
        status = PostStatus.PUBLISHING.value if job.x_ids else PostStatus.QUEUED.value
    try:
        won = enqueue_publish(
            job.runtime,
            job.post.id,
            job.post.workspace_id,
            try_n=job.try_n + 1,
            at=at,
            reason=reason,
            action=action,
            status=status,
            extra={**fields, "updated_at": job.now},
            once_per_try=True,
            account_id=job.post.account_id,
            unchanged_since=job.unchanged_since,
        )
    except PostChanged:
        return superseded(job)
    return {"result": "requeued" if won else "in_progress", "reason": reason, "at": at}


def fail(job: Job, code: str | int | None, reason: str) -> dict[str, Any]:
    # One failure record and one alert, however many deliveries get here.
    # A worker that died between the claim and the update is taken over, or the post
    # would never reach its terminal state.
    won = claim_or_take_over(
        job.runtime.db,
        claim_id("xfail", job.post.id, str(job.try_n)),
        owner="post_tweet",
        now=job.now,
        stale_after=STEP_STALE,
        workspace_id=job.post.workspace_id,
    )
    if won is None:
        return {"result": "in_progress"}
    try:
        job.update(
            {
                "status": PostStatus.FAILED.value,
                "last_error": job.err(code, reason),
                "x_ids": job.x_ids,
                "failed_at": job.now,
            }
        )
    except PostChanged:
        return superseded(job)
    log.alert(
        ALERT_FAILED,
        f"X post failed: {reason}",
        code=code,
        account_id=job.post.account_id,
        handle=job.account.handle,
        parts_posted=len(job.x_ids),
    )
    return {"result": "failed", "code": code, "reason": reason}


def held(job: Job, exc: XError) -> dict[str, Any]:
    """X refused a reply part (its 2026 reply restriction for self-serve apps answers
    403; whether it covers a self-thread is not documented). Retrying would only earn
    the same answer: the rest waits for a person, with X's reason."""
    part = len(job.x_ids)
    job.update(
        {
            "status": PostStatus.HELD.value,
            "x_ids": job.x_ids,
            "last_error": job.err(exc.code, exc.reason),
            "held_at": job.now,
            "held_part": part,
        }
    )
    log.alert(
        ALERT_HELD,
        f"X refused part {part + 1} of a thread as a reply; the rest is held: {exc.reason}",
        code=exc.code,
        account_id=job.post.account_id,
        handle=job.account.handle,
        parts_posted=part,
    )
    return {"result": "held", "part": part, "reason": exc.reason}


def unconfirmed(job: Job, exc: XError, sent_after: datetime | None = None) -> dict[str, Any]:
    # `sent_after`: the earliest the unanswered request can have left (a dead worker's
    # claim time); reconciliation looks from there, not from when the loss was noticed.
    result = requeue(
        job,
        job.now + RECONCILE_AFTER,
        "unconfirmed",
        spend=False,
        error=job.err(exc.code or "unknown_outcome", exc.reason),
        action="reconcile",
        status=PostStatus.UNCONFIRMED.value,
        extra={
            "unknown_outcome": True,
            "unconfirmed_at": job.now,
            "sent_after": sent_after or job.now - REQUEST_TIMEOUT,
            "reconcile_tries": 0,
        },
    )
    if result["result"] == "requeued":
        log.alert(
            ALERT_UNCONFIRMED,
            f"X post unconfirmed: {exc.reason}; reconciling against the account's posts",
            account_id=job.post.account_id,
            handle=job.account.handle,
            part=len(job.x_ids),
        )
        result["result"] = "unconfirmed"
    return result


def on_error(job: Job, exc: XError) -> dict[str, Any]:
    if isinstance(exc, Withdrawn):
        return withdrawn(job)
    if isinstance(exc, RateLimited):
        reset = exc.reset_at if exc.reset_at and exc.reset_at > job.now else None
        reset = reset or job.now + RATE_LIMIT_FALLBACK
        job.runtime.db.collection(X_ACCOUNTS).document(job.account.id).update(
            governor.exhausted(job.account, reset)
        )
        log.warning("X rate limit: post re-enqueued for the reset", reset_at=reset)
        return requeue(job, reset, "rate_limited", spend=False, error=job.err(429, exc.reason))
    if isinstance(exc, UnknownOutcome):
        return unconfirmed(job, exc)
    if isinstance(exc, AccountProblem):
        if exc.account_status:
            job.runtime.db.collection(X_ACCOUNTS).document(job.account.id).update(
                {"status": exc.account_status, "status_reason": exc.reason, "updated_at": job.now}
            )
            cache.invalidate(job.runtime, job.account.id)
            log.warning("X account flagged", account_status=exc.account_status)
        return fail(job, exc.code, exc.reason)
    if isinstance(exc, NotSent):
        if job.post.retries + 1 >= MAX_ATTEMPTS:
            return fail(job, exc.code, f"{exc.reason} (gave up after {MAX_ATTEMPTS} tries)")
        at = job.now + backoff(job.post.retries + 1)
        log.warning("X post not sent; retrying", reason=exc.reason, retry_at=at)
        return requeue(job, at, "retry", spend=True, error=job.err(exc.code, exc.reason))
    return fail(job, exc.code, exc.reason)
