"""Checks a post must pass before it is approved or scheduled.

Each part's length as the account's network counts it, against its limit (X:
twitter-text v3 weighted; Bluesky: graphemes; Mastodon: the instance's count, see
shared.channels.rules), at most four media, and no duplicate of a recent post of the same
account. The duplicate check is
an equality query on (account_id, content_hash): it reads only the matching posts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.channels import rules
from shared.text import content_hash
from shared.x.models import MAX_MEDIA, MAX_THREAD_PARTS, PostStatus, XAccount

# X refuses an identical post within a window it does not publish; a week is safe.
DUPLICATE_WINDOW = timedelta(days=7)
_LIVE = frozenset(
    {
        PostStatus.SCHEDULED,
        PostStatus.QUEUED,
        PostStatus.PUBLISHING,
        PostStatus.PUBLISHED,
        PostStatus.UNCONFIRMED,
    }
)


def content_problems(parts: list[str], media: list[str], account: Any) -> list[dict[str, Any]]:
    """What the account's network would refuse in these parts and media."""
    problems: list[dict[str, Any]] = []
    limit = rules.rules_for(account).limit
    if not parts:
        problems.append({"field": "text", "message": "the post is empty"})
    if len(parts) > MAX_THREAD_PARTS:
        problems.append(
            {"field": "parts", "message": f"a thread has at most {MAX_THREAD_PARTS} parts"}
        )
    for i, part in enumerate(parts):
        message = rules.text_problem(account, part)
        if message:
            problems.append(
                {
                    "field": "text" if i == 0 else f"parts[{i}]",
                    "message": message if len(parts) == 1 else f"part {i + 1}: {message}",
                    "weighted_length": rules.length(account, part) if part else 0,
                    "limit": limit,
                }
            )
    if len(media) > MAX_MEDIA:
        problems.append(
            {"field": "media", "message": f"at most {MAX_MEDIA} images per post, got {len(media)}"}
        )
    return problems


def duplicates(
    db: Any, account_id: str, parts: list[str], exclude_id: str, now: datetime
) -> list[str]:
    """Ids of this account's live posts with the same normalized text, recent or upcoming."""
    from shared.queries import build
    from shared.queries.x import DUPLICATE_TEXTS

    query = build(
        db, DUPLICATE_TEXTS, account_id=account_id, content_hash=content_hash(parts)
    ).limit(10)
    found = []
    for snap in query.stream():
        data = snap.to_dict()
        if snap.id == exclude_id or data.get("status") not in _LIVE:
            continue
        when = data.get("published_at") or data.get("due_at")
        if when is None or abs(when - now) <= DUPLICATE_WINDOW:
            found.append(snap.id)
    return found


def problems_for(
    db: Any,
    account: XAccount,
    parts: list[str],
    media: list[str],
    post_id: str,
    now: datetime,
) -> list[dict[str, Any]]:
    problems = content_problems(parts, media, account)
    if parts and not problems:
        dupes = duplicates(db, account.id, parts, post_id, now)
        if dupes:
            problems.append(
                {
                    "field": "text",
                    "message": "the same text is already scheduled or posted on this account "
                    "within 7 days; X refuses duplicates",
                    "duplicate_of": dupes,
                }
            )
    return problems
