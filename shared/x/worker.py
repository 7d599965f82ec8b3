"""post_tweet: publish one post (or thread) exactly once, whatever Cloud Tasks delivers.

For every network (X, Bluesky, Mastodon: the account's channel, shared.channels); the
function keeps its first network's name.

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

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shared.channels.base import Channel, PartRef
from shared.channels.outcomes import Duplicate, MediaProcessing, Rejected, XError, reached_x
from shared.claims import claim_id, try_claim
from shared.log import bound, get_logger
from shared.x import cache, governor
from shared.x.guards import sandbox_key
from shared.x.links import outgoing_parts
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
from shared.x.outcomes import (
    CLAIM_STALE,
    MAX_ATTEMPTS,
    RECONCILE_AFTER,
    RECONCILE_TRIES,
    Job,
    claim_lost,
    fail,
    held,
    on_error,
    published,
    requeue,
)
from shared.x.reconcile import reconcile, settle_duplicate

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("x.post_tweet")

# Tests and operators read these here, where the worker's behaviour is described.
__all__ = ["CLAIM_STALE", "MAX_ATTEMPTS", "RECONCILE_AFTER", "RECONCILE_TRIES", "handle"]

# Statuses no task acts on: not yet scheduled, or waiting for a person (a held thread).
WAITING = frozenset({PostStatus.DRAFT, PostStatus.APPROVED, PostStatus.HELD})
# How long an uploaded media id is reused by a later try (X keeps them a day or more),
# and how many times a post comes back for a video X is still processing.
MEDIA_ID_TTL = timedelta(hours=6)
MAX_MEDIA_WAITS = 30
# The longest early delivery held in the request; Cloud Tasks' dispatch deadline and
# the request timeouts leave room for it.
EARLY_WAIT = timedelta(seconds=5)

ApiFactory = Callable[["Runtime", XAccount], Channel]


class BadTask(ValueError):
    """The task's payload cannot name a post; retrying it would not help."""


def make_api(runtime: Runtime, account: XAccount) -> Channel:
    """The account's channel on its network (X, Bluesky, Mastodon) or the sandbox."""
    from shared.x.registry import make_channel

    return make_channel(runtime, account)


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
        if post.status in TERMINAL or post.status in WAITING:
            return {"result": "noop", "status": post.status}
        if post.try_n != try_n:
            return {"result": "stale", "current_try": post.try_n}
        now = runtime.clock.now()
        if account is None or account.id != post.account_id:
            account = cache.account(runtime, post.account_id)
        job = Job(
            runtime,
            post,
            account or XAccount(),
            None,  # type: ignore[arg-type]
            try_n,
            now,
            list(post.x_ids),
            read_time=snap.update_time,
        )
        if account is None or account.workspace_id != workspace_id:
            return fail(job, "account_missing", "the post's X account no longer exists")
        if account.status != AccountStatus.ACTIVE:
            reason = f"account @{account.handle} is {account.status}"
            return fail(job, f"account_{account.status}", f"{reason}: {account.status_reason}")
        try:
            job.api = (api_factory or make_api)(runtime, account)
        except XError as exc:
            return on_error(job, exc)
        if action == "reconcile" or _in_doubt(post):
            return reconcile(job)
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


# -------------------------------------------------------------------- publish


def _publish(job: Job) -> dict[str, Any]:
    post = job.post
    if not job.x_ids and post.due_at and post.due_at - job.now > EARLY_WAIT:
        # Delivered long before its instant (a clock off, a task moved): come back then.
        return requeue(job, post.due_at, "early", spend=False, error=None)
    media_ids: list[str] = []
    if not job.x_ids and post.media:
        deferred = _governed(job)  # before uploading media that would then expire unused
        if deferred:
            return deferred
        try:
            media_ids = _upload_media(job)
        except _Deferred as deferred_media:
            return deferred_media.result
    parts = outgoing_parts(post)  # with "link in first reply", the links go in part two
    for index in range(len(job.x_ids), len(parts)):
        # Every part spends quota: check before each one, with the last answer's headers.
        deferred = _governed(job)
        if deferred:
            return deferred
        if index == 0:
            _wait_for_due(job)
        now = job.now
        if job.account.kind != AccountKind.SANDBOX:
            # The part guard (shared.x.guards): from here on a cancel answers 409.
            key = claim_id("xp", post.id, str(index), str(job.try_n))
            if not try_claim(
                job.runtime.db, key, owner="post_tweet", now=now, workspace_id=post.workspace_id
            ):
                return claim_lost(job, key)
            job.guarded = True
        separate = post.separate_from is not None and index >= post.separate_from
        reply_to = job.x_ids[index - 1] if index and not separate else None
        try:
            # A sandbox account's record is its guard, created under the same key.
            created = job.api.create_post(
                parts[index],
                reply_to,
                media_ids if index == 0 else [],
                idempotency_key=sandbox_key(post.id, index, job.try_n),
                part=PartRef(
                    post.id,
                    index,
                    job.try_n,
                    post.due_at,
                    job.x_ids[0] if reply_to else None,
                    post.options,
                ),
            )
        except XError as exc:
            job.sent += int(reached_x(exc))
            if isinstance(exc, Duplicate) and job.post.unknown_outcome:
                # The earlier, unanswered request did go out: this is the proof.
                return settle_duplicate(job)
            if reply_to and isinstance(exc, Rejected) and exc.code == 403:
                return held(job, exc)
            return on_error(job, exc)
        job.sent += 1
        job.bill_post(parts[index])
        job.guarded = True
        job.x_ids.append(created.id)
        account_fields = governor.observe(job.account, created.rate, now)
        if account_fields:
            job.runtime.db.collection(X_ACCOUNTS).document(job.account.id).update(account_fields)
        if index < len(parts) - 1:
            job.update({"x_ids": job.x_ids, "status": PostStatus.PUBLISHING.value})
    return published(job)


class _Deferred(Exception):
    """Control flow: the media step decided this try's outcome (`result`)."""

    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result


def _upload_media(job: Job) -> list[str]:
    """The post's media on X, each with its alt text. A video X is still processing is
    remembered on the post (`x_media`) and the post comes back for it later, without
    uploading it again."""
    from shared import media
    from shared.errors import NotFound

    post, now = job.post, job.now
    uploads: dict[str, Any] = dict(post.x_media)
    alts = post.media_alt + [""] * (len(post.media) - len(post.media_alt))
    focuses = post.media_focus + [{}] * (len(post.media) - len(post.media_focus))
    media_ids: list[str] = []
    try:
        for ref, alt, focus in zip(post.media, alts, focuses, strict=True):
            known = uploads.get(ref)
            if known and known["expires_at"] > now:
                media_id = str(known["id"])
                ready = known.get("ready")
                media_ids.append(media_id if ready else job.api.resume_media(media_id, alt))
            else:
                data, ctype = media.resolve(job.runtime, post.workspace_id, ref)
                media_ids.append(job.api.upload_media(data, ctype, alt, focus or None))
            expires = known["expires_at"] if known else now + MEDIA_ID_TTL
            uploads[ref] = {"id": media_ids[-1], "expires_at": expires, "ready": True}
    except NotFound as exc:
        raise _Deferred(fail(job, "media_missing", str(exc))) from exc
    except MediaProcessing as exc:
        uploads[ref] = {"id": exc.media_id, "expires_at": now + MEDIA_ID_TTL, "ready": False}
        waits = int(post.extra.get("media_waits") or 0) + 1
        if waits > MAX_MEDIA_WAITS:
            raise _Deferred(fail(job, "media_processing", f"{exc.reason}; gave up")) from exc
        at = now + timedelta(seconds=max(exc.check_after_s, 5))
        error = job.err("media_processing", exc.reason)
        extra = {"x_media": uploads, "media_waits": waits}
        result = requeue(job, at, "media_processing", spend=False, error=error, extra=extra)
        raise _Deferred(result) from exc
    except XError as exc:
        raise _Deferred(on_error(job, exc)) from exc
    return media_ids


def _wait_for_due(job: Job) -> None:
    """Never before the due instant: a delivery a little early (Cloud Tasks' own timing,
    clock skew) waits out the remainder here, after the media are uploaded."""
    due = job.post.due_at
    if due and job.runtime.clock.now() < due:
        job.runtime.clock.sleep((due - job.runtime.clock.now()).total_seconds())
    job.now = job.runtime.clock.now()


def _governed(job: Job) -> dict[str, Any] | None:
    wait = governor.defer_until(job.account, job.now)
    if wait is None:
        return None
    log.info("rate governor defers the post", until=wait, part=len(job.x_ids))
    error = job.err("rate_governor", "the account's posting quota is spent until reset")
    return requeue(job, wait, "governor", spend=False, error=error)
