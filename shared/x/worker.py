"""post_tweet: publish one post (or thread) exactly once, whatever Cloud Tasks delivers.

A task carries (post_id, workspace_id, try_n, action). Tasks of an older try are
stale and do nothing, so a retry, a deferral or a reschedule never races an old
delivery. Before each irreversible create request the worker takes the claim
`xp:<post>:<part>:<try>` with `create()`: of duplicate or concurrent deliveries only
one sends it. Each part's X id is written as soon as it is known, so a later try
resumes at the first unposted part.

Outcomes: success → next part / published. Not sent (5xx, refused) → new try after a
backoff, a retry spent. 429 → new try at x-rate-limit-reset, no retry spent. Answer
lost after sending → `unconfirmed`, then reconciliation against the account's recent
posts; while that is unsettled every task of the post reconciles, whatever its action
(a publish task racing a recovery must not post again). Revoked / suspended → failed,
account flagged. Failed and unconfirmed posts
log one ERROR entry with a stable `alert` type.

Cost of a published single post: 2 reads (post, account) and 2 writes (claim, post);
the sandbox's own `create()` record is its claim, so it costs the same.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.claims import claim_id, claim_or_take_over, get_claim, try_claim
from shared.log import bound, get_logger
from shared.x import cache, governor
from shared.x.client import (
    CONNECT_TIMEOUT_S,
    READ_TIMEOUT_S,
    AccountProblem,
    Duplicate,
    NotSent,
    RateLimited,
    UnknownOutcome,
    XApi,
    XError,
)
from shared.x.dispatch import STEP_STALE, enqueue_publish
from shared.x.models import (
    POSTS,
    TERMINAL,
    X_ACCOUNTS,
    AccountKind,
    AccountStatus,
    Post,
    PostStatus,
    XAccount,
)

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
RECONCILE_MARGIN = timedelta(seconds=60)
RATE_LIMIT_FALLBACK = timedelta(minutes=1)
ALERT_FAILED = "x_post_failed"
ALERT_UNCONFIRMED = "x_post_unconfirmed"

ApiFactory = Callable[["Runtime", XAccount], XApi]


class BadTask(ValueError):
    """The task's payload cannot name a post; retrying it would not help."""


def backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(300, 5 * 2 ** max(0, attempt - 1)))


def make_api(runtime: Runtime, account: XAccount) -> XApi:
    from shared.x.accounts import account_tokens, consumer_credentials
    from shared.x.client import SandboxX, TweepyX

    if account.kind == AccountKind.SANDBOX:
        if not runtime.settings.sandbox:
            raise AccountProblem("sandbox accounts cannot post: HERALD_SANDBOX is off", 0, "")
        return SandboxX(runtime, account)
    from shared.errors import HeraldError
    from shared.secrets import SecretNotFound

    try:
        key, secret = consumer_credentials(runtime)
        token, token_secret = account_tokens(runtime, account)
    except (HeraldError, SecretNotFound) as exc:
        # Configuration a person must fix: retried with backoff, then failed with this.
        reason = exc.message if isinstance(exc, HeraldError) else str(exc)
        raise NotSent(f"cannot sign requests for @{account.handle}: {reason}") from exc
    return TweepyX(
        key,
        secret,
        token,
        token_secret,
        account.x_user_id,
        api_base=runtime.settings.x_api_base,
    )


@dataclass
class Job:
    runtime: Runtime
    post: Post
    account: XAccount
    api: XApi
    try_n: int
    now: datetime
    x_ids: list[str] = field(default_factory=list)

    def err(self, code: str | int | None, reason: str) -> dict[str, Any]:
        return {"code": code, "reason": reason, "at": self.now}

    def update(self, fields: dict[str, Any]) -> None:
        self.runtime.db.collection(POSTS).document(self.post.id).update(
            {**fields, "updated_at": self.now}
        )


def handle(
    runtime: Runtime, payload: dict[str, Any], api_factory: ApiFactory | None = None
) -> dict[str, Any]:
    post_id, workspace_id = payload.get("post_id"), payload.get("workspace_id")
    try_n, action = payload.get("try_n", 0), payload.get("action", "publish")
    if not isinstance(post_id, str) or not post_id or "/" in post_id:
        raise BadTask("post_id is missing")
    if not isinstance(workspace_id, str) or not isinstance(try_n, int):
        raise BadTask("workspace_id and try_n are required")
    if action not in ("publish", "reconcile"):
        raise BadTask(f"unknown action {action!r}")
    with bound(post_id=post_id, workspace_id=workspace_id, try_n=try_n, action=action):
        snap, account = _read(runtime, post_id, payload.get("account_id"))
        data = snap.to_dict() if snap.exists else None
        if not data or data.get("workspace_id") != workspace_id:
            log.warning("task for a post that no longer exists")
            return {"result": "gone"}
        post = Post.from_doc(snap.id, data)
        if post.status in TERMINAL or post.status in (PostStatus.DRAFT, PostStatus.APPROVED):
            return {"result": "noop", "status": post.status}
        if post.try_n != try_n:
            return {"result": "stale", "current_try": post.try_n}
        now = runtime.clock.now()
        if account is None or account.id != post.account_id:
            account = cache.account(runtime, post.account_id)
        job = Job(runtime, post, account or XAccount(), None, try_n, now, list(post.x_ids))  # type: ignore[arg-type]
        if account is None or account.workspace_id != workspace_id:
            return _fail(job, "account_missing", "the post's X account no longer exists")
        if account.status != AccountStatus.ACTIVE:
            reason = f"account @{account.handle} is {account.status}"
            return _fail(job, f"account_{account.status}", f"{reason}: {account.status_reason}")
        try:
            job.api = (api_factory or make_api)(runtime, account)
        except XError as exc:
            return _on_error(job, exc)
        if action == "reconcile" or _in_doubt(post):
            return _reconcile(job)
        return _publish(job)


def _in_doubt(post: Post) -> bool:
    """The last create request's answer was lost and reconciliation has not yet ruled it
    out: whatever task arrives, X must be read before anything is posted again."""
    tries = int(post.extra.get("reconcile_tries") or 0)
    return post.unknown_outcome and tries < RECONCILE_TRIES


def _read(runtime: Runtime, post_id: str, account_id: Any) -> tuple[Any, XAccount | None]:
    """The post and (when the task names it) its account: cached, or in the same round trip."""
    db = runtime.db
    post_ref = db.collection(POSTS).document(post_id)
    if not isinstance(account_id, str) or not account_id or "/" in account_id:
        return post_ref.get(), None
    hit = cache.cached(runtime, account_id)
    if hit is not None:
        return post_ref.get(), hit
    account_ref = db.collection(X_ACCOUNTS).document(account_id)
    snaps = {s.reference.path: s for s in db.get_all([post_ref, account_ref])}
    return snaps[post_ref.path], cache.remember(runtime, snaps[account_ref.path])


# ------------------------------------------------------------------------------ publish


def _publish(job: Job) -> dict[str, Any]:
    post, now = job.post, job.now
    if post.due_at and now < post.due_at - timedelta(seconds=1):
        # Early delivery (clock skew, a rescheduled post): wait for the due second.
        return _requeue(job, post.due_at, "early", spend=False, error=None)
    media_ids: list[str] = []
    if not job.x_ids and post.media:
        deferred = _governed(job)  # before uploading media that would then expire unused
        if deferred:
            return deferred
        from shared import media
        from shared.errors import NotFound

        try:
            for ref in post.media:
                data, ctype = media.resolve(job.runtime, post.workspace_id, ref)
                media_ids.append(job.api.upload_media(data, ctype))
        except NotFound as exc:
            return _fail(job, "media_missing", str(exc))
        except XError as exc:
            return _on_error(job, exc)
    for index in range(len(job.x_ids), len(post.parts)):
        # Every part spends quota: check before each one, with the last answer's headers.
        deferred = _governed(job)
        if deferred:
            return deferred
        if job.account.kind != AccountKind.SANDBOX:
            key = claim_id("xp", post.id, str(index), str(job.try_n))
            if not try_claim(
                job.runtime.db, key, owner="post_tweet", now=now, workspace_id=post.workspace_id
            ):
                return _claim_lost(job, key)
        reply_to = job.x_ids[index - 1] if index else None
        try:
            created = job.api.create_post(
                post.parts[index],
                reply_to,
                media_ids if index == 0 else [],
                idempotency_key=f"{post.id}-{index}",
            )
        except XError as exc:
            return _on_error(job, exc)
        job.x_ids.append(created.id)
        account_fields = governor.observe(job.account, created.rate, now)
        if account_fields:
            job.runtime.db.collection(X_ACCOUNTS).document(job.account.id).update(account_fields)
        if index < len(post.parts) - 1:
            job.update({"x_ids": job.x_ids, "status": PostStatus.PUBLISHING.value})
    return _published(job)


def _governed(job: Job) -> dict[str, Any] | None:
    wait = governor.defer_until(job.account, job.now)
    if wait is None:
        return None
    log.info("rate governor defers the post", until=wait, part=len(job.x_ids))
    error = job.err("rate_governor", "the account's posting quota is spent until reset")
    return _requeue(job, wait, "governor", spend=False, error=error)


def _published(job: Job) -> dict[str, Any]:
    # estimated_cost_usd was set when the post was written: no twitter-text on this path.
    now = job.runtime.clock.now()
    job.update(
        {
            "status": PostStatus.PUBLISHED.value,
            "x_ids": job.x_ids,
            "published_at": now,
            "unknown_outcome": False,
        }
    )
    lateness = (now - job.post.due_at).total_seconds() if job.post.due_at else None
    log.info("post published", x_ids=job.x_ids, lateness_s=lateness, sandbox=job.post.sandbox)
    return {"result": "published", "x_ids": job.x_ids}


def _claim_lost(job: Job, key: str) -> dict[str, Any]:
    claim = get_claim(job.runtime.db, key)
    if claim and job.now - claim["claimed_at"] > CLAIM_STALE:
        # The worker that held it stopped between sending and recording the answer.
        return _unconfirmed(
            job,
            UnknownOutcome("a worker stopped after claiming this part; outcome unknown"),
            sent_after=claim["claimed_at"],
        )
    return {"result": "in_progress"}


def _requeue(
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
    attempts = job.post.attempts + (1 if spend else 0)
    fields: dict[str, Any] = {"try_n": job.try_n + 1, "attempts": attempts, **(extra or {})}
    if error:
        fields["last_error"] = error
    if job.x_ids != job.post.x_ids:
        fields["x_ids"] = job.x_ids
    if status is None:
        status = PostStatus.PUBLISHING.value if job.x_ids else PostStatus.QUEUED.value
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
    )
    return {"result": "requeued" if won else "in_progress", "reason": reason, "at": at}


def _fail(job: Job, code: str | int | None, reason: str) -> dict[str, Any]:
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
    job.update(
        {
            "status": PostStatus.FAILED.value,
            "last_error": job.err(code, reason),
            "x_ids": job.x_ids,
            "failed_at": job.now,
        }
    )
    log.alert(
        ALERT_FAILED,
        f"X post failed: {reason}",
        code=code,
        account_id=job.post.account_id,
        handle=job.account.handle,
        parts_posted=len(job.x_ids),
    )
    return {"result": "failed", "code": code, "reason": reason}


def _unconfirmed(job: Job, exc: XError, sent_after: datetime | None = None) -> dict[str, Any]:
    # `sent_after`: the earliest the unanswered request can have left (a dead worker's
    # claim time); reconciliation looks from there, not from when the loss was noticed.
    result = _requeue(
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


def _on_error(job: Job, exc: XError) -> dict[str, Any]:
    if isinstance(exc, RateLimited):
        reset = exc.reset_at if exc.reset_at and exc.reset_at > job.now else None
        reset = reset or job.now + RATE_LIMIT_FALLBACK
        job.runtime.db.collection(X_ACCOUNTS).document(job.account.id).update(
            governor.exhausted(job.account, reset)
        )
        log.warning("X rate limit: post re-enqueued for the reset", reset_at=reset)
        return _requeue(job, reset, "rate_limited", spend=False, error=job.err(429, exc.reason))
    if isinstance(exc, UnknownOutcome):
        return _unconfirmed(job, exc)
    if isinstance(exc, AccountProblem):
        if exc.account_status:
            job.runtime.db.collection(X_ACCOUNTS).document(job.account.id).update(
                {"status": exc.account_status, "status_reason": exc.reason, "updated_at": job.now}
            )
            cache.invalidate(job.runtime, job.account.id)
            log.warning("X account flagged", account_status=exc.account_status)
        return _fail(job, exc.code, exc.reason)
    if isinstance(exc, Duplicate) and job.post.unknown_outcome:
        # The earlier, unanswered request did go out: this is the proof.
        return _settle_duplicate(job)
    if isinstance(exc, NotSent):
        if job.post.attempts + 1 >= MAX_ATTEMPTS:
            return _fail(job, exc.code, f"{exc.reason} (gave up after {MAX_ATTEMPTS} tries)")
        at = job.now + backoff(job.post.attempts + 1)
        log.warning("X post not sent; retrying", reason=exc.reason, retry_at=at)
        return _requeue(job, at, "retry", spend=True, error=job.err(exc.code, exc.reason))
    return _fail(job, exc.code, exc.reason)


# ------------------------------------------------------------------------ reconciliation

_URL = re.compile(r"https?://\S+")


def _comparable(text: str) -> str:
    from shared.text import normalize

    # X returns text HTML-escaped and with links shortened to t.co.
    return normalize(_URL.sub("", html.unescape(text)))


def _find(job: Job, recent: list[dict[str, Any]]) -> str | None:
    index = len(job.x_ids)
    wanted = _comparable(job.post.parts[index])
    reply_to = job.x_ids[index - 1] if index else None
    for item in recent:
        if _comparable(item.get("text") or "") != wanted:
            continue
        if index and item.get("in_reply_to") != reply_to:
            continue
        return str(item["id"])
    return None


def _lookup(job: Job) -> str | None:
    # Look only where the unanswered request can be: a tight window keeps the reads (billed
    # on pay-per-use) few even for a busy account. X wants end_time at least 10 s in the
    # past, so a recent window stays open-ended.
    at = job.post.extra.get("unconfirmed_at") or job.now
    since = job.post.extra.get("sent_after") or at - REQUEST_TIMEOUT
    until: datetime | None = at + RECONCILE_MARGIN
    if until is not None and until > job.now - timedelta(seconds=10):
        until = None
    return _find(job, job.api.recent_posts(since - RECONCILE_MARGIN, until))


def _settle_duplicate(job: Job) -> dict[str, Any]:
    try:
        found = _lookup(job)
    except XError:
        found = None
    if found is None and len(job.x_ids) < len(job.post.parts) - 1:
        return _fail(
            job,
            "duplicate_unknown_id",
            "X says this part is already posted but its id cannot be found; "
            "the rest of the thread cannot be attached",
        )
    job.x_ids.append(found or "unknown")
    log.info("duplicate answer after an unknown outcome: settled as posted", x_id=found)
    if len(job.x_ids) < len(job.post.parts):
        extra = {"unknown_outcome": False}
        return _requeue(job, job.now, "continue", spend=False, error=None, extra=extra)
    return _published(job)


def _reconcile(job: Job) -> dict[str, Any]:
    if len(job.x_ids) >= len(job.post.parts):
        return _published(job)
    try:
        found = _lookup(job)
    except (RateLimited, AccountProblem) as exc:
        return _on_error(job, exc)
    except XError as exc:
        tries = int(job.post.extra.get("reconcile_tries") or 0) + 1
        return _requeue(
            job,
            job.now + backoff(tries),
            "reconcile_retry",
            spend=False,
            error=job.err(exc.code, f"reconciliation failed: {exc.reason}"),
            action="reconcile",
            status=PostStatus.UNCONFIRMED.value,
            extra={"reconcile_tries": tries},
        )
    if found:
        job.x_ids.append(found)
        log.info("reconciled: the unconfirmed post is on X", x_id=found)
        if len(job.x_ids) < len(job.post.parts):
            extra: dict[str, Any] = {"unknown_outcome": False}
            return _requeue(job, job.now, "continue", spend=False, error=None, extra=extra)
        return _published(job)
    tries = int(job.post.extra.get("reconcile_tries") or 0) + 1
    if tries < RECONCILE_TRIES:
        return _requeue(
            job,
            job.now + RECONCILE_AFTER,
            "reconcile_again",
            spend=False,
            error=None,
            action="reconcile",
            status=PostStatus.UNCONFIRMED.value,
            extra={"reconcile_tries": tries},
        )
    # Not on the timeline after several looks: it was not posted. Try again; if X then
    # answers "duplicate", the earlier request did go out after all and that settles it.
    log.warning("unconfirmed post not found on X; posting it again")
    if job.post.attempts + 1 >= MAX_ATTEMPTS:
        return _fail(job, "unconfirmed", "the post could not be confirmed on X")
    # unknown_outcome stays: a duplicate-content answer to the new request settles it.
    extra = {"reconcile_tries": tries}
    return _requeue(job, job.now, "not_found", spend=True, error=None, extra=extra)
