"""Talking to X: the real API through tweepy (OAuth 1.0a user context) and the sandbox.

Every failure is mapped to one of a few outcomes the worker knows how to handle:
`NotSent` (safe to retry), `UnknownOutcome` (the create request left, its answer did
not arrive), `RateLimited`, `AccountProblem` (revoked / suspended), `Duplicate`,
`Rejected` (permanent). tweepy has no helper for the v2 media upload, so those requests
are signed with requests_oauthlib's OAuth1 on tweepy's own session.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shared.runtime import Runtime
    from shared.x.models import XAccount

API = "https://api.twitter.com"  # tweepy's host for /2/tweets
MEDIA_API = "https://api.x.com/2/media/upload"
RECENT_POSTS_MAX_PAGES = 10  # reconciliation reads at most 1,000 posts of the window
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
MEDIA_POLL_LIMIT_S = 60.0
CHUNK = 4 * 1024 * 1024


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
    def upload_media(self, data: bytes, content_type: str) -> str: ...

    def create_post(
        self, text: str, reply_to: str | None, media_ids: list[str], idempotency_key: str
    ) -> Created: ...

    def recent_posts(self, since: datetime, until: datetime | None = None) -> list[dict[str, Any]]:
        """[{id, text, in_reply_to}] of the account's posts in [since, until], newest first."""
        ...


def _message(exc: Any) -> str:
    messages = [str(m) for m in getattr(exc, "api_messages", []) if m]
    return "; ".join(messages) or str(exc).splitlines()[0]


def _request_left(exc: BaseException) -> bool:
    """Whether a requests connection error happened after the request was sent."""
    import requests

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    if isinstance(exc, requests.exceptions.Timeout):
        return True  # read timeout: X may have acted on it
    text = repr(exc)
    refused = ("NewConnectionError", "Connection refused", "NameResolutionError", "getaddrinfo")
    return not any(marker in text for marker in refused)


def _map_http(exc: Any) -> XError:
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


class TweepyX:
    """The account's real X API, user context (OAuth 1.0a)."""

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
        x_user_id: str | None,
        sleep: Callable[[float], None] = time.sleep,
        api_base: str | None = None,
    ) -> None:
        import requests
        import tweepy
        from requests.adapters import HTTPAdapter
        from requests_oauthlib import OAuth1

        class _Timeout(HTTPAdapter):
            # tweepy sets no timeout: a hung connection would hold the worker forever.
            def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
                if kwargs.get("timeout") is None:
                    kwargs["timeout"] = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
                if api_base:
                    # tweepy hard-codes its host; HERALD_X_API_BASE points it elsewhere
                    # (a proxy, or the chaos benchmark's fault-injecting X).
                    for host in (API, "https://api.x.com"):
                        if request.url.startswith(host):
                            request.url = api_base + request.url[len(host) :]
                return super().send(request, **kwargs)

        self._client = tweepy.Client(
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            access_token=access_token,
            access_token_secret=access_token_secret,
            return_type=requests.Response,
        )
        self._client.session.mount("https://", _Timeout())
        self._auth = OAuth1(consumer_key, consumer_secret, access_token, access_token_secret)
        self._user_id = x_user_id
        self._sleep = sleep

    # -- media (v2: initialize / append / finalize / status) ---------------------------

    def _media_call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        import requests
        import tweepy

        try:
            response = self._client.session.request(method, url, auth=self._auth, **kwargs)
        except requests.exceptions.RequestException as exc:
            raise NotSent(f"media upload did not complete: {exc}") from exc
        if response.status_code >= 400:
            error_cls = {
                400: tweepy.BadRequest,
                401: tweepy.Unauthorized,
                403: tweepy.Forbidden,
                404: tweepy.NotFound,
                429: tweepy.TooManyRequests,
            }.get(response.status_code)
            if error_cls is None:
                error_cls = (
                    tweepy.TwitterServerError
                    if response.status_code >= 500
                    else tweepy.HTTPException
                )
            raise _map_http(error_cls(response))
        if not response.content:
            return {}
        body: dict[str, Any] = response.json()
        return body.get("data") or body

    def upload_media(self, data: bytes, content_type: str) -> str:
        category = "tweet_gif" if content_type == "image/gif" else "tweet_image"
        init = self._media_call(
            "POST",
            f"{MEDIA_API}/initialize",
            json={"media_type": content_type, "total_bytes": len(data), "media_category": category},
        )
        media_id = str(init["id"])
        for index, start in enumerate(range(0, len(data), CHUNK)):
            self._media_call(
                "POST",
                f"{MEDIA_API}/{media_id}/append",
                data={"segment_index": str(index)},
                files={"media": ("chunk", data[start : start + CHUNK], "application/octet-stream")},
            )
        info = self._media_call("POST", f"{MEDIA_API}/{media_id}/finalize").get("processing_info")
        waited = 0.0
        while info and info.get("state") in ("pending", "in_progress"):
            delay = float(info.get("check_after_secs") or 1)
            if waited + delay > MEDIA_POLL_LIMIT_S:
                raise NotSent(f"X is still processing media {media_id} after {waited:.0f}s")
            self._sleep(delay)
            waited += delay
            status = self._media_call(
                "GET", MEDIA_API, params={"command": "STATUS", "media_id": media_id}
            )
            info = status.get("processing_info")
        if info and info.get("state") == "failed":
            error = info.get("error") or {}
            raise Rejected(f"X could not process the image: {error.get('message', 'failed')}")
        return media_id

    # -- posts ------------------------------------------------------------------------

    def create_post(
        self, text: str, reply_to: str | None, media_ids: list[str], idempotency_key: str
    ) -> Created:
        import requests
        import tweepy

        try:
            response = self._client.create_tweet(
                text=text,
                in_reply_to_tweet_id=reply_to,
                media_ids=media_ids or None,
                user_auth=True,
            )
        except tweepy.HTTPException as exc:
            raise _map_http(exc) from exc
        except requests.exceptions.RequestException as exc:
            if _request_left(exc):
                raise UnknownOutcome(f"no answer from X after sending the post: {exc}") from exc
            raise NotSent(f"could not reach X: {exc}") from exc
        return Created(str(response.json()["data"]["id"]), RateInfo.from_headers(response.headers))

    def recent_posts(self, since: datetime, until: datetime | None = None) -> list[dict[str, Any]]:
        import requests
        import tweepy

        if not self._user_id:
            raise Rejected("the account's X user id is unknown; reconnect it")
        out: list[dict[str, Any]] = []
        token: str | None = None
        # X answers newest first, 100 a page: a busy account can post more than that in
        # the window, and missing the post here would mean posting it twice.
        for _ in range(RECENT_POSTS_MAX_PAGES):
            try:
                response = self._client.get_users_tweets(
                    self._user_id,
                    start_time=since,
                    end_time=until,
                    max_results=100,
                    pagination_token=token,
                    tweet_fields=["created_at", "referenced_tweets"],
                    user_auth=True,
                )
            except tweepy.HTTPException as exc:
                raise _map_http(exc) from exc
            except requests.exceptions.RequestException as exc:
                raise NotSent(f"could not read the account's recent posts: {exc}") from exc
            body = response.json()
            for item in body.get("data") or []:
                replied = [
                    r["id"]
                    for r in item.get("referenced_tweets") or []
                    if r["type"] == "replied_to"
                ]
                out.append(
                    {
                        "id": str(item["id"]),
                        "text": item["text"],
                        "in_reply_to": (replied or [None])[0],
                    }
                )
            token = (body.get("meta") or {}).get("next_token")
            if not token:
                return out
        raise NotSent(
            f"more than {RECENT_POSTS_MAX_PAGES * 100} posts in the reconciliation window"
        )


class SandboxX:
    """Records what would be posted in `sandbox_posts`, with generated X-like ids.

    Creating the record with `create()` under the post and part is what makes it
    idempotent: a repeated or concurrent delivery gets the first id back and nothing
    is recorded twice. Rate headers are simulated from the tier quotas, per process.
    """

    _windows: dict[str, tuple[deque[float], deque[float]]] = {}  # noqa: RUF012
    _lock = threading.Lock()

    def __init__(self, runtime: Runtime, account: XAccount) -> None:
        self._runtime = runtime
        self._account = account

    @staticmethod
    def new_id(now: datetime) -> str:
        # Snowflake-shaped: milliseconds since X's epoch, shifted, plus random bits.
        millis = int(now.timestamp() * 1000) - 1288834974657
        return str((millis << 22) | random.getrandbits(22))

    def upload_media(self, data: bytes, content_type: str) -> str:
        return self.new_id(self._runtime.clock.now())

    def _rate(self, now: datetime) -> RateInfo:
        limits = self._account.limits
        per_15, per_day = int(limits["posts_per_15min"]), int(limits["posts_per_24h"])
        t = now.timestamp()
        with self._lock:
            short, day = self._windows.setdefault(self._account.id, (deque(), deque()))
            for window, span in ((short, 900), (day, 86400)):
                while window and window[0] <= t - span:
                    window.popleft()
                window.append(t)
            return RateInfo(
                limit=per_15,
                remaining=max(0, per_15 - len(short)),
                reset_at=datetime.fromtimestamp(short[0] + 900, UTC),
                day_limit=per_day,
                day_remaining=max(0, per_day - len(day)),
                day_reset_at=datetime.fromtimestamp(day[0] + 86400, UTC),
            )

    def create_post(
        self, text: str, reply_to: str | None, media_ids: list[str], idempotency_key: str
    ) -> Created:
        from shared.firestore import is_already_exists
        from shared.x.models import SANDBOX_POSTS

        now = self._runtime.clock.now()
        ref = self._runtime.db.collection(SANDBOX_POSTS).document(idempotency_key)
        x_id = self.new_id(now)
        try:
            ref.create(
                {
                    "workspace_id": self._account.workspace_id,
                    "account_id": self._account.id,
                    "handle": self._account.handle,
                    "x_id": x_id,
                    "text": text,
                    "in_reply_to": reply_to,
                    "media_ids": media_ids,
                    "created_at": now,
                    "sandbox": True,
                }
            )
        except Exception as exc:
            if not is_already_exists(exc):
                raise NotSent(f"sandbox could not record the post: {exc}") from exc
            x_id = str(ref.get().get("x_id"))
        return Created(x_id, self._rate(now))

    def recent_posts(self, since: datetime, until: datetime | None = None) -> list[dict[str, Any]]:
        from shared.queries import build
        from shared.queries.x import SANDBOX_RECENT

        query = build(
            self._runtime.db,
            SANDBOX_RECENT,
            account_id=self._account.id,
            ge=since - timedelta(seconds=1),
            le=until,
        )
        query = query.limit(RECENT_POSTS_MAX_PAGES * 100)
        return [
            {"id": d.get("x_id"), "text": d.get("text"), "in_reply_to": d.get("in_reply_to")}
            for d in query.stream()
        ]
