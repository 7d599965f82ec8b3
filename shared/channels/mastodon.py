"""Mastodon through `Mastodon.py`: statuses, threads, media with alt text and focus.

Exactly once: every create carries an `Idempotency-Key` stable per part (not per try):
Mastodon answers a repeat within an hour with the status it already made, so a retry
after a lost answer cannot make a second one; the part guard and reconciliation (the
account's statuses) stay the first line, as for every network.

Rate limits: Mastodon.py throws on 429 (`ratelimit_method="throw"`, never its sleeping
"wait") and keeps the X-RateLimit-* headers of the last answer; they feed the shared
governor like X's. The client takes the account's token (OAuth, any instance; shared.x
keeps it in the secrets store).
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.channels.base import PartRef
from shared.channels.outcomes import (
    AccountProblem,
    Created,
    MediaProcessing,
    NotSent,
    RateInfo,
    RateLimited,
    Rejected,
    UnknownOutcome,
    XError,
)
from shared.http import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, request_left, timed_session

SCOPES = ["read", "write"]
DEFAULT_VERSION = "4.3.0"
RECENT_POSTS_MAX_PAGES = 10
STATUSES_PAGE = 40  # Mastodon's largest page of an account's statuses
MEDIA_CHECK_AFTER_S = 5.0
_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p>", re.I)
_TAG = re.compile(r"<[^>]+>")


def plain_text(content: str) -> str:
    """A status's HTML content as the text that was posted (breaks kept)."""
    return html.unescape(_TAG.sub("", _BREAK.sub("\n", content or ""))).strip()


def _status_code(exc: Any) -> int | None:
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    return args[1] if len(args) > 1 and isinstance(args[1], int) else None


def _message(exc: Any) -> str:
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    return str(args[3] if len(args) > 3 and args[3] else args[-1] if args else exc)


def reset_at(api: Any, now: datetime) -> datetime | None:
    """The rate window's reset on Herald's clock. Mastodon.py keeps it as an epoch on this
    machine's clock (moved by the server's Date offset): what counts is how far off it is."""
    reset = getattr(api, "ratelimit_reset", None)
    if not reset:
        return None
    return now + timedelta(seconds=max(0.0, float(reset) - time.time()))


def map_error(api: Any, exc: Exception, *, creating: bool, now: datetime | None = None) -> XError:
    """A Mastodon.py error as one of Herald's outcomes."""
    from mastodon import errors as me

    if isinstance(exc, me.MastodonRatelimitError):
        at = reset_at(api, now or datetime.now(UTC))
        return RateLimited(f"Mastodon rate limit reached: {exc}", at)
    if isinstance(exc, me.MastodonNetworkError):
        cause = exc.__context__ or exc
        if creating and request_left(cause):
            return UnknownOutcome(f"no answer from Mastodon after sending the post: {cause}")
        return NotSent(f"could not reach Mastodon: {cause}")
    status, message = _status_code(exc), _message(exc)
    if isinstance(exc, me.MastodonUnauthorizedError) or status == 401:
        return AccountProblem(f"Mastodon refused the account's token: {message}", 401, "revoked")
    if status == 403:
        lowered = message.lower()
        if any(word in lowered for word in ("suspend", "disabled", "frozen")):
            return AccountProblem(
                f"Mastodon says the account is suspended: {message}", 403, "suspended"
            )
        return Rejected(f"Mastodon does not permit this post: {message}", 403)
    if isinstance(exc, me.MastodonServerError) or (status is not None and status >= 500):
        return NotSent(f"Mastodon answered {status}: {message}", status)
    return Rejected(f"Mastodon refused the post ({status}): {message}", status)


class MastodonChannel:
    """One account's Mastodon client."""

    def __init__(
        self,
        api: Any,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        account_id: str | None = None,
    ) -> None:
        self._api = api
        self._now = now
        self._account_id = account_id  # the instance's id of the account (else asked)

    @property
    def api(self) -> Any:
        return self._api

    def _rate(self) -> RateInfo:
        api = self._api
        return RateInfo(
            limit=getattr(api, "ratelimit_limit", None),
            remaining=getattr(api, "ratelimit_remaining", None),
            reset_at=reset_at(api, self._now()),
        )

    def _call(self, fn: Any, *args: Any, creating: bool = False, **kwargs: Any) -> Any:
        from mastodon import MastodonError

        try:
            return fn(*args, **kwargs)
        except MastodonError as exc:
            raise map_error(self._api, exc, creating=creating, now=self._now()) from exc

    # -- media ----------------------------------------------------------------------------

    def upload_media(
        self, data: bytes, content_type: str, alt_text: str = "", focus: Any = None
    ) -> str:
        point = (float(focus["x"]), float(focus["y"])) if focus else None
        media = self._call(
            self._api.media_post,
            data,
            mime_type=content_type,
            description=alt_text or None,
            focus=point,
        )
        if media.get("url") is None:  # a video the instance is still processing
            raise MediaProcessing(
                "Mastodon is still processing the media", str(media["id"]), MEDIA_CHECK_AFTER_S
            )
        return str(media["id"])

    def resume_media(self, media_id: str, alt_text: str = "") -> str:
        media = self._call(self._api.media, media_id)
        if media.get("url") is None:
            raise MediaProcessing(
                "Mastodon is still processing the media", media_id, MEDIA_CHECK_AFTER_S
            )
        return media_id

    # -- posts ----------------------------------------------------------------------------

    def create_post(
        self,
        text: str,
        reply_to: str | None,
        media_ids: list[str],
        idempotency_key: str,
        part: PartRef | None = None,
    ) -> Created:
        options = dict((part.options if part else None) or {})
        status = self._call(
            self._api.status_post,
            text,
            in_reply_to_id=reply_to,
            media_ids=media_ids or None,
            visibility=options.get("visibility"),
            spoiler_text=options.get("spoiler_text") or None,
            sensitive=bool(options.get("sensitive")),
            language=options.get("language"),
            # Stable per part: a repeat within the instance's hour gets the same status.
            idempotency_key=part.stable_key if part else idempotency_key,
            creating=True,
        )
        return Created(str(status["id"]), self._rate())

    def recent_posts(self, since: datetime, until: datetime | None = None) -> list[dict[str, Any]]:
        """The account's statuses created in [since, until], newest first."""
        account_id = self._account_id or self._call(self._api.me)["id"]
        out: list[dict[str, Any]] = []
        max_id: str | None = None
        for _ in range(RECENT_POSTS_MAX_PAGES):
            page = self._call(
                self._api.account_statuses,
                account_id,
                max_id=max_id,
                limit=STATUSES_PAGE,
                exclude_reblogs=True,
            )
            if not page:
                return out
            for status in page:
                created = _instant(status.get("created_at"))
                if created and (created < since or (until and created > until)):
                    continue
                reply = status.get("in_reply_to_id")
                out.append(
                    {
                        "id": str(status["id"]),
                        "text": plain_text(status.get("content") or ""),
                        "in_reply_to": str(reply) if reply else None,
                    }
                )
            oldest = _instant(page[-1].get("created_at"))
            if (oldest and oldest < since) or len(page) < STATUSES_PAGE:
                return out
            max_id = str(page[-1]["id"])
        raise NotSent(
            f"more than {RECENT_POSTS_MAX_PAGES * STATUSES_PAGE} statuses to look through"
        )


def _instant(value: Any) -> datetime | None:
    """A status's created_at (Mastodon.py gives a datetime; a raw answer, ISO 8601)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if isinstance(value, datetime) else None


def client(
    service_url: str,
    access_token: str | None = None,
    version: str | None = None,
    **options: Any,
) -> Any:
    """A Mastodon.py client for the instance, with Herald's timeouts, never sleeping on
    a rate limit, no version probe per process: the instance's version was read when the
    account was connected (Mastodon.py picks endpoints by it)."""
    import requests
    from mastodon import Mastodon

    return Mastodon(
        access_token=access_token,
        api_base_url=service_url,
        ratelimit_method="throw",
        request_timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),  # type: ignore[arg-type]
        session=timed_session(requests.Session(), None),
        version_check_mode="created",  # endpoints chosen by the stored version
        mastodon_version=version or DEFAULT_VERSION,
        **options,
    )
