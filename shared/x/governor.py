"""Per-account rate governor: defer a post that X would refuse, instead of sending it.

State: the last x-rate-limit-* (15 minute window) and x-user-limit-24hour-* headers,
held per process (fresh, free) and on the account document (shared across instances,
written only when the budget is nearly spent or a 429 was seen, so an ordinary post
costs no extra write). The tier's quotas cap what the headers allow: when X reports a
larger window than the tier allows (e.g. an app-level limit), the tier wins.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.channels.outcomes import RateInfo
from shared.x.models import XAccount

LOW_WATER = 2  # persist the state when this few posts are left in a window
RESET_MARGIN = timedelta(seconds=1)


@dataclass(frozen=True)
class Window:
    used_quota: int | None  # posts used out of the tier's quota, if headers tell us
    remaining: int | None
    reset_at: datetime | None


_cache: dict[str, RateInfo] = {}
_lock = threading.Lock()


def _left(limit: int | None, remaining: int | None, quota: int) -> int | None:
    """Posts left in a window under both X's answer and the tier's quota."""
    if remaining is None:
        return None
    if limit is None:
        return min(remaining, quota)
    used = max(0, limit - remaining)
    return max(0, min(remaining, quota - used))


def state(account: XAccount) -> RateInfo:
    """The freshest known rate state: this process's last answer, else the document's."""
    with _lock:
        cached = _cache.get(account.id)
    if cached is not None:
        return cached
    return RateInfo(
        remaining=account.rl_remaining,
        reset_at=account.rl_reset_at,
        day_remaining=account.day_remaining,
        day_reset_at=account.day_reset_at,
    )


def defer_until(account: XAccount, now: datetime) -> datetime | None:
    """The instant to wait for if posting now would exceed a window, else None."""
    rate = state(account)
    per_15, per_day = int(account.limits["posts_per_15min"]), int(account.limits["posts_per_24h"])
    windows = (
        (_left(rate.limit, rate.remaining, per_15), rate.reset_at),
        (_left(rate.day_limit, rate.day_remaining, per_day), rate.day_reset_at),
    )
    waits = [
        reset + RESET_MARGIN
        for left, reset in windows
        if left is not None and left <= 0 and reset is not None and reset > now
    ]
    return max(waits) if waits else None


def _doc_fields(rate: RateInfo) -> dict[str, Any]:
    return {
        "rl_remaining": rate.remaining,
        "rl_reset_at": rate.reset_at,
        "day_remaining": rate.day_remaining,
        "day_reset_at": rate.day_reset_at,
    }


def observe(account: XAccount, rate: RateInfo, now: datetime) -> dict[str, Any] | None:
    """Remember an answer's headers; returns account fields to write, or None (no write)."""
    if rate.remaining is None and rate.day_remaining is None:
        return None
    with _lock:
        _cache[account.id] = rate
    limits = account.limits
    left_15 = _left(rate.limit, rate.remaining, int(limits["posts_per_15min"]))
    left_day = _left(rate.day_limit, rate.day_remaining, int(limits["posts_per_24h"]))
    low = any(left is not None and left <= LOW_WATER for left in (left_15, left_day))
    stored_low = any(
        left is not None and left <= LOW_WATER and (reset is None or reset > now)
        for left, reset in (
            (account.rl_remaining, account.rl_reset_at),
            (account.day_remaining, account.day_reset_at),
        )
    )
    if low:
        return _doc_fields(
            RateInfo(
                remaining=left_15,
                reset_at=rate.reset_at,
                day_remaining=left_day,
                day_reset_at=rate.day_reset_at,
            )
        )
    if stored_low:  # the document still says "nearly spent": clear it for other instances
        return _doc_fields(RateInfo())
    return None


def exhausted(account: XAccount, reset_at: datetime) -> dict[str, Any]:
    """After a 429: the window is spent until `reset_at`, for every instance."""
    rate = RateInfo(remaining=0, reset_at=reset_at)
    with _lock:
        _cache[account.id] = rate
    return _doc_fields(rate)


def forget(account_id: str | None = None) -> None:
    """Drop cached state (tests; a reconnected account)."""
    with _lock:
        if account_id is None:
            _cache.clear()
        else:
            _cache.pop(account_id, None)
