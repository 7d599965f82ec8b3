"""Exactly-once guards built on Firestore's atomic `create()`.

A claim is a document whose id is the guarded action's key (for example
`post:<id>:publish:<attempt>`). `create()` fails with AlreadyExists when the document
exists, on real Firestore and on the emulator alike, so of any number of concurrent or
repeated deliveries exactly one wins. A create needs no transaction (one write, no
read): the right tool for a one-shot action ("one X request per claimed part"). A
decision that reads before it writes runs in a transaction instead: a cancel against
post_tweet takes the same claims (shared.x.guards); who owns an email batch is
shared.email.ownership.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.firestore import is_already_exists

CLAIMS = "claims"
# The send path's write-ahead list of recipient indexes: never queried (infra/ exempts it
# from indexing; see shared.email.model.UNINDEXED_FIELDS).
UNINDEXED_FIELDS = {CLAIMS: ("inflight",)}
# Claims expire through a Firestore TTL policy on `expires_at` (see infra/).
DEFAULT_TTL = timedelta(days=30)


def claim_id(*parts: str) -> str:
    key = ":".join(parts)
    if "/" in key:
        raise ValueError("claim keys cannot contain '/'")
    return key


def claim_doc(
    *,
    owner: str,
    now: datetime,
    workspace_id: str | None = None,
    ttl: timedelta = DEFAULT_TTL,
    **data: Any,
) -> dict[str, Any]:
    """The claim document `try_claim` creates (also created many at a time, each on its
    own, by shared.batch_writes)."""
    return {
        "owner": owner,
        "claimed_at": now,
        "expires_at": now + ttl,
        "workspace_id": workspace_id,
        **data,
    }


def try_claim(
    db: Any,
    key: str,
    *,
    owner: str,
    now: datetime,
    workspace_id: str | None = None,
    ttl: timedelta = DEFAULT_TTL,
    **data: Any,
) -> bool:
    """Create the claim document; True if this caller won, False if it already existed."""
    doc = claim_doc(owner=owner, now=now, workspace_id=workspace_id, ttl=ttl, **data)
    try:
        db.collection(CLAIMS).document(key).create(doc)
    except Exception as exc:
        if is_already_exists(exc):
            return False
        raise
    return True


def get_claim(db: Any, key: str) -> dict[str, Any] | None:
    snap = db.collection(CLAIMS).document(key).get()
    return snap.to_dict() if snap.exists else None


def claim_or_take_over(
    db: Any,
    key: str,
    *,
    owner: str,
    now: datetime,
    stale_after: timedelta,
    workspace_id: str | None = None,
    max_generations: int = 5,
    **data: Any,
) -> str | None:
    """Win `key`, or take over from a holder that died before finishing.

    For a step whose holder must be done long before `stale_after` (enqueue a task,
    then record it): a claim older than that was left by a dead worker, and without a
    takeover the step would never run. The takeover is itself a claim (`key:1`,
    `key:2`, ...), so of several callers noticing the same dead holder one wins.
    Use it only where a slow holder finishing after all is harmless. Returns the key
    won, or None while a live holder has it.
    """
    for generation in range(max_generations):
        attempt = key if generation == 0 else f"{key}:{generation}"
        if try_claim(db, attempt, owner=owner, now=now, workspace_id=workspace_id, **data):
            return attempt
        held = get_claim(db, attempt)
        if held is not None and now - held["claimed_at"] < stale_after:
            return None
    return None
