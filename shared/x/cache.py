"""A short-lived per-process cache of X account documents.

Bursts of posts for one account (an autopilot plan, a bulk schedule) would otherwise
read the same account document once per post. Entries live ACCOUNT_TTL_S; a process
that changes an account (flags it, updates it) drops its entry at once, other
processes see the change within the TTL, and the worker still handles whatever X
answers for a stale view (a 401 after a revocation fails that post with its reason).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from shared.x.models import X_ACCOUNTS, XAccount

if TYPE_CHECKING:
    from shared.runtime import Runtime

ACCOUNT_TTL_S = 30.0

_entries: dict[tuple[str, str], tuple[float, XAccount]] = {}
_lock = threading.Lock()


def _key(runtime: Runtime, account_id: str) -> tuple[str, str]:
    return (runtime.settings.project_id, account_id)


def cached(runtime: Runtime, account_id: str) -> XAccount | None:
    with _lock:
        entry = _entries.get(_key(runtime, account_id))
    if entry is None or time.monotonic() - entry[0] > ACCOUNT_TTL_S:
        return None
    return entry[1]


def remember(runtime: Runtime, snap: Any) -> XAccount | None:
    """Cache the account from its snapshot; None if it does not exist."""
    if not snap.exists:
        invalidate(runtime, snap.id)
        return None
    account = XAccount.from_doc(snap.id, snap.to_dict())
    with _lock:
        _entries[_key(runtime, snap.id)] = (time.monotonic(), account)
    return account


def account(runtime: Runtime, account_id: str) -> XAccount | None:
    """The account, from the cache or one read."""
    hit = cached(runtime, account_id)
    if hit is not None:
        return hit
    return remember(runtime, runtime.db.collection(X_ACCOUNTS).document(account_id).get())


def invalidate(runtime: Runtime, account_id: str) -> None:
    with _lock:
        _entries.pop(_key(runtime, account_id), None)
