"""The X API's vocabulary for the pipeline: the outcomes a call can have, the rate headers
of an answer, and the protocol every X client (real, sandbox) implements.

Every failure is mapped to one of a few outcomes the worker knows how to handle:
`NotSent` (safe to retry), `UnknownOutcome` (the create request left, its answer did
not arrive), `RateLimited`, `AccountProblem` (revoked / suspended), `Duplicate`,
`Rejected` (permanent), `Withdrawn` (a change took the part first), `MediaProcessing`
(X is still processing an upload).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0


class XError(Exception):
    def __init__(self, reason: str, code: int | str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class NotSent(XError):
    """Nothing was posted (connection refused, 5xx, media failure): retry with backoff."""


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
    """Whether X received the request that failed so: everything but a request that never
    left (connection refused, connect timeout: NotSent without a status) or that a change
    withdrew first. A lost answer counts: X may well have received it."""
    if isinstance(exc, Withdrawn):
        return False
    return not (isinstance(exc, NotSent) and exc.code is None)


@dataclass(frozen=True)
class RateInfo:
    """The x-rate-limit-* (15 min window) and x-user-limit-24hour-* headers of an answer."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: datetime | None = None
    day_limit: int | None = None
    day_remaining: int | None = None
    day_reset_at: datetime | None = None

    @classmethod
    def from_headers(cls, headers: Any) -> RateInfo:
        def num(name: str) -> int | None:
            value = headers.get(name)
            try:
                return int(value) if value is not None else None
            except ValueError:
                return None

        def instant(name: str) -> datetime | None:
            epoch = num(name)
            return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None

        return cls(
            limit=num("x-rate-limit-limit"),
            remaining=num("x-rate-limit-remaining"),
            reset_at=instant("x-rate-limit-reset"),
            day_limit=num("x-user-limit-24hour-limit"),
            day_remaining=num("x-user-limit-24hour-remaining"),
            day_reset_at=instant("x-user-limit-24hour-reset"),
        )


@dataclass(frozen=True)
class Created:
    id: str
    rate: RateInfo


class XApi(Protocol):
    def upload_media(self, data: bytes, content_type: str, alt_text: str = "") -> str:
        """The media id, once X has processed it (MediaProcessing if it still is)."""
        ...

    def resume_media(self, media_id: str, alt_text: str = "") -> str:
        """An upload X was still processing: the media id once it is done."""
        ...

    def create_post(
        self,
        text: str,
        reply_to: str | None,
        media_ids: list[str],
        idempotency_key: str,
        part: Any = None,
    ) -> Created:
        """`part` (shared.channels.base.PartRef): which part of which post, for networks
        that derive their idempotency from it."""
        ...

    def recent_posts(self, since: datetime, until: datetime | None = None) -> list[dict[str, Any]]:
        """[{id, text, in_reply_to}] of the account's posts in [since, until], newest first."""
        ...


def _message(exc: Any) -> str:
    messages = [str(m) for m in getattr(exc, "api_messages", []) if m]
    return "; ".join(messages) or str(exc).splitlines()[0]


def request_left(exc: BaseException) -> bool:
    """Whether a requests connection error happened after the request was sent."""
    import requests

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    if isinstance(exc, requests.exceptions.Timeout):
        return True  # read timeout: X may have acted on it
    text = repr(exc)
    refused = ("NewConnectionError", "Connection refused", "NameResolutionError", "getaddrinfo")
    return not any(marker in text for marker in refused)


def map_http(exc: Any) -> XError:
    import tweepy

    status = exc.response.status_code
    message = _message(exc)
    if isinstance(exc, tweepy.TooManyRequests):
        rate = RateInfo.from_headers(exc.response.headers)
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
