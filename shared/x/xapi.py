"""The X API for the pipeline: the protocol every X client (real, sandbox) implements, the
rate headers of an answer, and tweepy's errors as Herald's outcomes
(shared.channels.outcomes).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.channels.outcomes import (
    AccountProblem,
    Duplicate,
    NotSent,
    RateInfo,
    RateLimited,
    Rejected,
    XError,
)


def rate_info(headers: Any) -> RateInfo:
    """The x-rate-limit-* (15 min window) and x-user-limit-24hour-* headers of an answer."""

    def num(name: str) -> int | None:
        value = headers.get(name)
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    def instant(name: str) -> datetime | None:
        epoch = num(name)
        return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None

    return RateInfo(
        limit=num("x-rate-limit-limit"),
        remaining=num("x-rate-limit-remaining"),
        reset_at=instant("x-rate-limit-reset"),
        day_limit=num("x-user-limit-24hour-limit"),
        day_remaining=num("x-user-limit-24hour-remaining"),
        day_reset_at=instant("x-user-limit-24hour-reset"),
    )


def _message(exc: Any) -> str:
    messages = [str(m) for m in getattr(exc, "api_messages", []) if m]
    return "; ".join(messages) or str(exc).splitlines()[0]


def map_http(exc: Any) -> XError:
    import tweepy

    status = exc.response.status_code
    message = _message(exc)
    if isinstance(exc, tweepy.TooManyRequests):
        rate = rate_info(exc.response.headers)
        resets = [
            r
            for r, left in (
                (rate.reset_at, rate.remaining),
                (rate.day_reset_at, rate.day_remaining),
            )
            if r is not None and (left is None or left <= 0)
        ]
        return RateLimited(f"X rate limit reached: {message}", max(resets) if resets else None)
    if isinstance(exc, tweepy.Unauthorized):
        return AccountProblem(f"X refused the account's tokens: {message}", status, "revoked")
    if isinstance(exc, tweepy.Forbidden):
        lowered = message.lower()
        codes = set(getattr(exc, "api_codes", []))
        if "duplicate" in lowered or 187 in codes:
            return Duplicate(f"X refused a duplicate post: {message}", status)
        if "suspend" in lowered or codes & {64, 326} or "locked" in lowered:
            return AccountProblem(
                f"X says the account is suspended: {message}", status, "suspended"
            )
        return Rejected(f"X does not permit this post: {message}", status)
    if isinstance(exc, tweepy.TwitterServerError):
        return NotSent(f"X answered {status}: {message}", status)
    return Rejected(f"X refused the request ({status}): {message}", status)
