"""Reconciliation: settle a post whose create request's answer was lost, by reading the
account's own recent posts (owned reads, the cheapest X bills) around that instant.

Found → its id is stored and the thread continues. Not found after RECONCILE_TRIES
looks → posted again; a "duplicate content" answer to that then proves the earlier
request went out, and settles it as posted.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from typing import Any

from shared.channels.outcomes import AccountProblem, RateLimited, XError
from shared.log import get_logger
from shared.x.models import PostStatus
from shared.x.outcomes import (
    MAX_ATTEMPTS,
    RECONCILE_AFTER,
    RECONCILE_TRIES,
    REQUEST_TIMEOUT,
    Job,
    backoff,
    fail,
    on_error,
    published,
    requeue,
)

log = get_logger("x.post_tweet")

RECONCILE_MARGIN = timedelta(seconds=60)
_URL = re.compile(r"https?://\S+")


def comparable(text: str) -> str:
    from shared.text import normalize

    # X returns text HTML-escaped and with links shortened to t.co.
    return normalize(_URL.sub("", html.unescape(text)))


def find(job: Job, recent: list[dict[str, Any]]) -> str | None:
    index = len(job.x_ids)
    wanted = comparable(job.sent_parts[index])
    reply_to = job.x_ids[index - 1] if index else None
    for item in recent:
        if comparable(item.get("text") or "") != wanted:
            continue
        if index and item.get("in_reply_to") != reply_to:
            continue
        return str(item["id"])
    return None


def lookup(job: Job) -> str | None:
    # Look only where the unanswered request can be: a tight window keeps the reads (billed
    # on pay-per-use) few even for a busy account. X wants end_time at least 10 s in the
    # past, so a recent window stays open-ended.
    at = job.post.extra.get("unconfirmed_at") or job.now
    since = job.post.extra.get("sent_after") or at - REQUEST_TIMEOUT
    until: datetime | None = at + RECONCILE_MARGIN
    if until is not None and until > job.now - timedelta(seconds=10):
        until = None
    recent = job.api.recent_posts(since - RECONCILE_MARGIN, until)
    job.bill_reads(len(recent))
    return find(job, recent)


def settle_duplicate(job: Job) -> dict[str, Any]:
    try:
        found = lookup(job)
    except XError:
        found = None
    if found is None and len(job.x_ids) < len(job.sent_parts) - 1:
        return fail(
            job,
            "duplicate_unknown_id",
            "X says this part is already posted but its id cannot be found; "
            "the rest of the thread cannot be attached",
        )
    job.bill_post(job.sent_parts[len(job.x_ids)])  # the unanswered request was accepted
    job.x_ids.append(found or "unknown")
    log.info("duplicate answer after an unknown outcome: settled as posted", x_id=found)
    if len(job.x_ids) < len(job.sent_parts):
        extra = {"unknown_outcome": False}
        return requeue(job, job.now, "continue", spend=False, error=None, extra=extra)
    return published(job)


def reconcile(job: Job) -> dict[str, Any]:
    if len(job.x_ids) >= len(job.sent_parts):
        return published(job)
    try:
        found = lookup(job)
    except (RateLimited, AccountProblem) as exc:
        return on_error(job, exc)
    except XError as exc:
        tries = int(job.post.extra.get("reconcile_tries") or 0) + 1
        return requeue(
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
        job.bill_post(job.sent_parts[len(job.x_ids)])
        job.x_ids.append(found)
        log.info("reconciled: the unconfirmed post is on X", x_id=found)
        if len(job.x_ids) < len(job.sent_parts):
            extra: dict[str, Any] = {"unknown_outcome": False}
            return requeue(job, job.now, "continue", spend=False, error=None, extra=extra)
        return published(job)
    tries = int(job.post.extra.get("reconcile_tries") or 0) + 1
    if tries < RECONCILE_TRIES:
        return requeue(
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
    if job.post.retries + 1 >= MAX_ATTEMPTS:
        return fail(job, "unconfirmed", "the post could not be confirmed on X")
    # unknown_outcome stays: a duplicate-content answer to the new request settles it.
    extra = {"reconcile_tries": tries}
    return requeue(job, job.now, "not_found", spend=True, error=None, extra=extra)
