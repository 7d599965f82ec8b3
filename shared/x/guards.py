"""The part guard: the one document whose `create()` decides who has a post's part at a try.

post_tweet creates it right before sending the part (for an X account the claim
`claims/xp:<post>:<part>:<try>`; for a sandbox account its record
`sandbox_posts/<post>-<part>-<try>`, which is what the sandbox "sends"). A cancel, a
reschedule, an edit or a delete of a post that may have a live task withdraws the
current try in a Firestore transaction that reads the guard: if a worker created it,
the post is already publishing and the change answers 409; otherwise the transaction
creates the guard itself (a tombstone) and moves the post to the next try. Whoever
creates the document first wins, so the API's answer and what X shows always agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.claims import CLAIMS, DEFAULT_TTL, claim_id
from shared.errors import Conflict
from shared.x.models import SANDBOX_POSTS, Post, PostStatus

WITHDRAWN = "withdrawn"  # the `owner` of a claim (and the flag of a sandbox record) a change took
# A post in one of these may have a task that is about to send it.
LIVE = frozenset({PostStatus.SCHEDULED, PostStatus.QUEUED})
# X has, or may be receiving, some of the post: it can no longer be cancelled or changed.
OUT = frozenset(
    {PostStatus.PUBLISHING, PostStatus.PUBLISHED, PostStatus.UNCONFIRMED, PostStatus.HELD}
)


def sandbox_key(post_id: str, index: int, try_n: int) -> str:
    return f"{post_id}-{index}-{try_n}"


def part_guard(db: Any, post: Post, index: int, try_n: int) -> Any:
    """The guard document of `post`'s part `index` at try `try_n`."""
    if post.sandbox:
        return db.collection(SANDBOX_POSTS).document(sandbox_key(post.id, index, try_n))
    return db.collection(CLAIMS).document(claim_id("xp", post.id, str(index), str(try_n)))


def already_publishing(post: Post) -> Conflict:
    sent = f" ({len(post.x_ids)} of its parts are on X)" if post.x_ids else ""
    return Conflict(f"this post is already publishing{sent}; it can no longer be changed")


def withdraw(transaction: Any, db: Any, post: Post, now: datetime) -> None:
    """Inside `transaction` (before its writes): take the current try's guard from any
    worker, or raise Conflict if a worker has it. The caller then moves the post to the
    next try in the same transaction, so every task of this try is stale."""
    if post.status in OUT:
        raise already_publishing(post)
    if post.status not in LIVE:
        return
    ref = part_guard(db, post, len(post.x_ids), post.try_n)
    snap = ref.get(transaction=transaction)
    if snap.exists:
        if is_withdrawn(snap.to_dict() or {}):
            return  # an earlier change of this try took it already
        raise already_publishing(post)
    tombstone: dict[str, Any] = {"workspace_id": post.workspace_id, "post_id": post.id}
    if post.sandbox:  # no account_id: reconciliation's query never returns it
        tombstone |= {WITHDRAWN: True, "created_at": now}
    else:
        tombstone |= {"owner": WITHDRAWN, "claimed_at": now, "expires_at": now + DEFAULT_TTL}
    transaction.create(ref, tombstone)


def is_withdrawn(guard: dict[str, Any]) -> bool:
    return guard.get("owner") == WITHDRAWN or bool(guard.get(WITHDRAWN))
