"""Herald's outcomes of a network call: every network's client (X, Bluesky, Mastodon)
maps its failures to one of these, and the publishing pipeline (shared.x.worker, outcomes,
reconcile, governor) handles them the same way for every network.

`NotSent` (safe to retry), `UnknownOutcome` (the create request left, its answer did not
arrive), `RateLimited`, `AccountProblem` (revoked / suspended), `Duplicate`, `Rejected`
(permanent), `Withdrawn` (a change took the part first), `MediaProcessing` (the network is
still processing an upload). They are named X* for history: X was the first network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class XError(Exception):
    def __init__(self, reason: str, code: int | str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class NotSent(XError):
    """Nothing was posted (connection refused, 5xx, media failure): retry with backoff."""


def cannot_sign(handle: str, exc: Exception) -> NotSent:
    """The account's credentials are missing or unusable: configuration a person must
    fix (HeraldError's message, or a secret not found), retried with backoff, then failed
    with this reason."""
    reason = getattr(exc, "message", None) or str(exc)
    return NotSent(f"cannot sign requests for @{handle}: {reason}")


class UnknownOutcome(XError):
    """The create request was sent and its answer lost (timeout, reset)."""


class RateLimited(XError):
    def __init__(self, reason: str, reset_at: datetime | None, code: int = 429) -> None:
        super().__init__(reason, code)
        self.reset_at = reset_at


class AccountProblem(XError):
    """401 revoked tokens / 403 suspended or locked account: the account is flagged."""

    def __init__(self, reason: str, code: int, account_status: str) -> None:
        super().__init__(reason, code)
        self.account_status = account_status


class Duplicate(XError):
    """X refuses the text as a duplicate of a recent post of the account."""


class Rejected(XError):
    """X refuses this post for good (bad request, not permitted)."""


class Withdrawn(XError):
    """A cancel, reschedule or edit took this part's guard first: nothing was sent."""


class MediaProcessing(XError):
    """X is still processing an uploaded video or GIF after the wait a request allows."""

    def __init__(self, reason: str, media_id: str, check_after_s: float) -> None:
        super().__init__(reason)
        self.media_id = media_id
        self.check_after_s = check_after_s


def reached_x(exc: XError) -> bool:
    """Whether the network received the request that failed so: everything but a request that never
    left (connection refused, connect timeout: NotSent without a status) or that a change
    withdrew first. A lost answer counts: X may well have received it."""
    if isinstance(exc, Withdrawn):
        return False
    return not (isinstance(exc, NotSent) and exc.code is None)


@dataclass(frozen=True)
class RateInfo:
    """What a network says of its rate limits in an answer: the short window (X: 15
    minutes) and, where there is one, the day's."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: datetime | None = None
    day_limit: int | None = None
    day_remaining: int | None = None
    day_reset_at: datetime | None = None


@dataclass(frozen=True)
class Created:
    id: str
    rate: RateInfo
