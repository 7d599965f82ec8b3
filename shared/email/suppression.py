"""The per-workspace suppression list: `email_suppressions/{workspace_id}__{hash}`.

Fields: workspace_id, email, email_norm, reason (unsubscribe | hard_bounce | manual),
campaign_id, at. Checked before every send with `in` queries of at most 30 addresses,
so a batch of 50 costs two queries, not fifty reads (the worker runs them side by side).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from shared.email.model import IN_LIMIT, SUPPRESSIONS, normalize_email, suppression_id
from shared.queries import build, pages
from shared.queries import email as q


def suppression_chunks(emails: Iterable[str]) -> list[list[str]]:
    """The normalized addresses, deduplicated, in chunks of one `in` query each."""
    wanted = sorted({normalize_email(e) for e in emails})
    return [wanted[i : i + IN_LIMIT] for i in range(0, len(wanted), IN_LIMIT)]


def suppressed_in(db: Any, workspace_id: str, chunk: list[str]) -> set[str]:
    """The addresses of one chunk (normalized, at most IN_LIMIT) that are suppressed."""
    query = build(db, q.SUPPRESSED_IN, workspace_id=workspace_id, email_norm=chunk)
    return {doc.get("email_norm") for doc in query.stream()}


def suppressed_among(db: Any, workspace_id: str, emails: Iterable[str]) -> set[str]:
    """The normalized addresses of `emails` that are suppressed in this workspace."""
    found: set[str] = set()
    for chunk in suppression_chunks(emails):
        found |= suppressed_in(db, workspace_id, chunk)
    return found


def all_suppressed(db: Any, workspace_id: str) -> set[str]:
    """The whole list (for imports, which check many rows at once)."""
    every = pages(db, q.SUPPRESSIONS, fields=("email_norm",), workspace_id=workspace_id)
    return {d.get("email_norm") for page in every for d in page}


def suppress(
    db: Any,
    workspace_id: str,
    email: str,
    reason: str,
    now: datetime,
    campaign_id: str | None = None,
) -> None:
    norm = normalize_email(email)
    db.collection(SUPPRESSIONS).document(suppression_id(workspace_id, norm)).set(
        {
            "workspace_id": workspace_id,
            "email": email,
            "email_norm": norm,
            "reason": reason,
            "campaign_id": campaign_id,
            "at": now,
        }
    )
