"""Exactly-once guards built on Firestore's atomic `create()`.

A claim is a document whose id is the guarded action's key (for example
`post:<id>:publish:<attempt>`). `create()` fails with AlreadyExists when the document
exists, on real Firestore and on the emulator alike, so of any number of concurrent or
repeated deliveries exactly one wins. Transactions are not used for this: the
emulator does not isolate them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.firestore import is_already_exists

CLAIMS = "claims"
# Claims expire through a Firestore TTL policy on `expires_at` (see infra/).
DEFAULT_TTL = timedelta(days=30)


def claim_id(*parts: str) -> str:
    key = ":".join(parts)
    if "/" in key:
        raise ValueError("claim keys cannot contain '/'")
    return key


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
    doc = {
        "owner": owner,
        "claimed_at": now,
        "expires_at": now + ttl,
        "workspace_id": workspace_id,
        **data,
    }
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
