"""Bluesky through the `atproto` SDK: posts, threads, images, facets, exactly once.

Exactly once: Herald chooses each part's record key before the create, a TID derived from
the post, the part and its due second (`record_key`). A retry of the same part (another
try, a duplicate delivery that got past the part guard, a re-post after reconciliation
found nothing) then meets the record already there: whatever the PDS answers to that
(a 500 today, RecordAlreadyExists once the lexicon names it, or a lost answer), the
record at that key is read and, when it holds this part's text, is the part's result.

Sessions: an app password (kept in the secrets store) opens a session per process and
account; the SDK refreshes it under its own lock, so the threads of one process never
spend one refresh token twice, and no refresh token is shared between processes. A
refresh the PDS refuses (the session was revoked) falls back to the app password once;
an app password the PDS refuses flags the account "revoked" with the PDS's reason.

Text: links, mentions and hashtags become facets with UTF-8 byte offsets through the
SDK's own detection (`Client.detect_facets`, which resolves mentioned handles to DIDs).
A part's network id is "<at-uri>|<cid>": replies need both (root and parent refs).

Over 400 lines because posting, reconciling and sessions share the record-key scheme and
the PDS's error vocabulary, which must be read the same way in each.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from shared.channels.base import PartRef
from shared.x.xapi import (
    CONNECT_TIMEOUT_S,
    READ_TIMEOUT_S,
    AccountProblem,
    Created,
    NotSent,
    RateInfo,
    RateLimited,
    Rejected,
    UnknownOutcome,
    XError,
)

if TYPE_CHECKING:
    from shared.runtime import Runtime
    from shared.x.models import XAccount

DEFAULT_SERVICE = "https://bsky.social"
PUBLIC_APPVIEW = "https://public.api.bsky.app"  # unauthenticated reads (metrics)
POST_COLLECTION = "app.bsky.feed.post"
CREATE_POINTS = 3  # a create spends 3 of the PDS's write points (docs.bsky.app)
IMAGE_MAX_BYTES = 1_000_000
RECENT_POSTS_MAX_PAGES = 10
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
# What a PDS answers when the session itself is gone (refresh or access token).
_SESSION_GONE = frozenset({"ExpiredToken", "InvalidToken"})
_SUSPENDED = frozenset({"AccountTakedown", "AccountDeactivated", "AccountSuspended"})


def record_key(part: PartRef) -> str:
    """The part's TID: microseconds of its due second plus bits of the post's identity
    and the part's index, so a thread's parts sort in order; the 10-bit clock id from
    the same digest. Two posts due the same second collide with odds of about 1e-6, and
    a collision is detected (the record holds other text) and refused, never taken."""
    digest = part.digest()
    second = int(part.due_at.timestamp()) if part.due_at else digest % 1_700_000_000
    micros = second * 1_000_000 + (digest % 1000) * 1000 + min(part.index, 999)
    value = (micros << 10) | ((digest >> 32) % 1024)
    return "".join(_TID_ALPHABET[(value >> (60 - 5 * i)) & 31] for i in range(13))


def split_id(post_id: str) -> tuple[str, str]:
    uri, _, cid = post_id.partition("|")
    return uri, cid


def web_url(post_id: str) -> str:
    """The post on bsky.app."""
    uri = split_id(post_id)[0]
    parts = uri.removeprefix("at://").split("/")
    return f"https://bsky.app/profile/{parts[0]}/post/{parts[-1]}" if len(parts) == 3 else uri


def _rate(headers: dict[str, Any] | None) -> RateInfo:
    """The PDS's ratelimit-* headers in posts (a create spends CREATE_POINTS)."""

    def num(name: str) -> int | None:
        try:
            return int((headers or {}).get(name))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None

    limit, remaining, reset = (
        num("ratelimit-limit"),
        num("ratelimit-remaining"),
        num("ratelimit-reset"),
    )
    return RateInfo(
        limit=limit // CREATE_POINTS if limit is not None else None,
        remaining=remaining // CREATE_POINTS if remaining is not None else None,
        reset_at=datetime.fromtimestamp(reset, UTC) if reset is not None else None,
    )


def _error_name(exc: Any) -> tuple[int | None, str, str]:
    """(status, XRPC error name, message) of an SDK error."""
    response = getattr(exc, "response", None)
    if response is None:
        cause = exc.__cause__ or exc.__context__
        return None, type(cause or exc).__name__, str(cause or exc)
    content = response.content
    name = getattr(content, "error", None) or ""
    message = getattr(content, "message", None) or (name or f"HTTP {response.status_code}")
    return int(response.status_code), str(name), str(message)


def error_message(exc: Exception) -> str:
    """What the PDS said (or why nothing answered), with its status and XRPC error name."""
    status, name, message = _error_name(exc)
    return message if status is None else f"{status} {name}: {message}" if name else message


def map_error(exc: Exception, *, creating: bool) -> XError:
    """An atproto error as one of Herald's outcomes."""
    import httpx
    from atproto_client import exceptions as ax

    status, name, message = _error_name(exc)
    if isinstance(exc, ax.RateLimitExceededError):
        reset = exc.reset_at
        return RateLimited(f"Bluesky rate limit reached: {message}", reset)
    if status is None:  # no answer: did the request leave?
        cause = exc.__cause__ or exc.__context__ or exc
        if isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return NotSent(f"could not reach Bluesky: {message}")
        if creating:
            return UnknownOutcome(f"no answer from Bluesky after sending the post: {message}")
        return NotSent(f"Bluesky did not answer: {message}")
    if name in _SUSPENDED:
        return AccountProblem(
            f"Bluesky says the account is suspended: {message}", status, "suspended"
        )
    if status in (401, 403) or name == "AuthenticationRequired":
        return AccountProblem(
            f"Bluesky refused the account's credentials: {message}", status, "revoked"
        )
    if status >= 500 or status in (408, 409, 502):
        return NotSent(f"Bluesky answered {status}: {message}", status)
    return Rejected(f"Bluesky refused the post ({status} {name}): {message}", status)


class BlueskyChannel:
    """One account's Bluesky client (a logged-in atproto Client)."""

    def __init__(
        self,
        client: Any,
        login: Callable[[], None],
        did: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._login = login
        self._did = did
        self._now = now

    @property
    def client(self) -> Any:
        return self._client

    def _call(self, fn: Callable[[], Any], *, creating: bool = False) -> Any:
        """`fn` with the session; a session the PDS no longer knows is opened again once
        with the app password (the call was refused, so repeating it is safe)."""
        from atproto_client import exceptions as ax
        from atproto_core.exceptions import AtProtocolError

        try:
            return fn()
        except (ax.BadRequestError, ax.UnauthorizedError) as exc:
            if _error_name(exc)[1] not in _SESSION_GONE:
                raise map_error(exc, creating=creating) from exc
        except AtProtocolError as exc:
            raise map_error(exc, creating=creating) from exc
        try:
            self._login()
            return fn()
        except AtProtocolError as exc:
            raise map_error(exc, creating=creating) from exc

    # -- media ----------------------------------------------------------------------------

    def upload_media(
        self, data: bytes, content_type: str, alt_text: str = "", focus: Any = None
    ) -> str:
        """The blob reference (JSON, with the alt text) that the post's embed names."""
        if not content_type.startswith("image/"):
            raise Rejected(f"Bluesky posts from Herald carry images; got {content_type}")
        if len(data) > IMAGE_MAX_BYTES:
            raise Rejected(
                f"an image of {len(data):,} bytes is over Bluesky's {IMAGE_MAX_BYTES:,} bytes"
            )
        from atproto_client import models
        from atproto_client.models.utils import get_response_model

        def upload() -> Any:
            # The SDK's upload_blob sends "*/*"; the PDS is told the image's own type.
            return self._client.invoke_procedure(
                "com.atproto.repo.uploadBlob",
                data=data,
                input_encoding=content_type,
                output_encoding="application/json",
            )

        response = self._call(upload)
        uploaded = get_response_model(response, models.ComAtprotoRepoUploadBlob.Response)
        blob = uploaded.blob.model_dump(mode="json", by_alias=True)
        return json.dumps({"blob": blob, "alt": alt_text})

    def resume_media(self, media_id: str, alt_text: str = "") -> str:
        return media_id  # blobs need no processing

    # -- posts ----------------------------------------------------------------------------

    def _record(self, text: str, reply_to: str | None, media_ids: list[str], part: PartRef) -> Any:
        from atproto_client import models
        from atproto_client.models.blob_ref import BlobRef

        facets = self._call(lambda: self._client.detect_facets(text)) or None
        reply = None
        if reply_to:
            parent = models.create_strong_ref(_ref(reply_to))
            root = models.create_strong_ref(_ref(part.root or reply_to))
            reply = models.AppBskyFeedPost.ReplyRef(parent=parent, root=root)
        embed = None
        if media_ids:
            images = []
            for media_id in media_ids:
                item = json.loads(media_id)
                blob = BlobRef.model_validate(item["blob"], strict=False)
                images.append(models.AppBskyEmbedImages.Image(alt=item.get("alt", ""), image=blob))
            embed = models.AppBskyEmbedImages.Main(images=images)
        langs = (part.options or {}).get("langs") if part.options else None
        return models.AppBskyFeedPost.Record(
            created_at=self._now().isoformat().replace("+00:00", "Z"),
            text=text,
            reply=reply,
            embed=embed,
            facets=facets,
            langs=langs,
        )

    def create_post(
        self,
        text: str,
        reply_to: str | None,
        media_ids: list[str],
        idempotency_key: str,
        part: PartRef | None = None,
    ) -> Created:
        from atproto_client import models
        from atproto_client.models.utils import get_response_model

        if part is None:
            raise ValueError("Bluesky creates need the part (its record key comes from it)")
        rkey = record_key(part)
        record = self._record(text, reply_to, media_ids, part)
        data = models.ComAtprotoRepoCreateRecord.Data(
            collection=POST_COLLECTION, repo=self._did, record=record, rkey=rkey, validate_=True
        )

        def create() -> Any:
            return self._client.invoke_procedure(
                "com.atproto.repo.createRecord",
                data=data,
                input_encoding="application/json",
                output_encoding="application/json",
            )

        try:
            response = self._call(create, creating=True)
        except (RateLimited, AccountProblem):
            raise
        except XError:
            existing = self._existing(rkey, text)
            if existing is None:
                raise
            return Created(existing, RateInfo())
        made = get_response_model(response, models.ComAtprotoRepoCreateRecord.Response)
        return Created(f"{made.uri}|{made.cid}", _rate(response.headers))

    def _existing(self, rkey: str, text: str) -> str | None:
        """The record already at `rkey` ("uri|cid") if it is this part; None if there is
        none (or it cannot be read now: the caller's outcome stands); Rejected if another
        post holds the key."""

        def get() -> Any:
            return self._client.app.bsky.feed.post.get(self._did, rkey)

        try:
            found = self._call(get)
        except XError:
            return None  # RecordNotFound, or unreadable now: reconciliation looks again
        if (found.value.text or "") != text:
            raise Rejected(f"record key {rkey} already holds another post; not taken as this one")
        return f"{found.uri}|{found.cid}"

    def recent_posts(self, since: datetime, until: datetime | None = None) -> list[dict[str, Any]]:
        """The account's posts created in [since, until], newest first (listRecords)."""
        from atproto_client import models

        out: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(RECENT_POSTS_MAX_PAGES):
            params = models.ComAtprotoRepoListRecords.Params(
                collection=POST_COLLECTION, repo=self._did, limit=100, cursor=cursor
            )
            page = self._call(partial(self._client.com.atproto.repo.list_records, params))
            oldest = None
            for item in page.records:
                value = item.value
                created = _instant(getattr(value, "created_at", None))
                oldest = created if oldest is None or (created and created < oldest) else oldest
                if created and (created < since or (until and created > until)):
                    continue
                reply = getattr(value, "reply", None)
                parent = f"{reply.parent.uri}|{reply.parent.cid}" if reply else None
                out.append(
                    {
                        "id": f"{item.uri}|{item.cid}",
                        "text": getattr(value, "text", ""),
                        "in_reply_to": parent,
                    }
                )
            cursor = page.cursor
            if not cursor or (oldest is not None and oldest < since):
                return out
        raise NotSent(f"more than {RECENT_POSTS_MAX_PAGES * 100} posts to look through")


def _ref(post_id: str) -> Any:
    from atproto_client import models

    uri, cid = split_id(post_id)
    return models.ComAtprotoRepoCreateRecord.Response(uri=uri, cid=cid)


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- sessions -------------------------------------------------------------------------------

_clients: dict[tuple[str, str, int], tuple[Any, Callable[[], None]]] = {}
_opening: dict[tuple[str, str, int], threading.Lock] = {}
_lock = threading.Lock()


def credentials(runtime: Runtime, account: XAccount) -> tuple[str, str]:
    from shared.errors import ProviderError

    if not account.secret_ref:
        raise ProviderError(f"Bluesky account @{account.handle} has no app password; reconnect it")
    data = json.loads(runtime.secrets.get(account.secret_ref))
    return str(data["identifier"]), str(data["app_password"])


def new_client(service_url: str | None, transport: Any = None) -> Any:
    import httpx
    from atproto_client import Client
    from atproto_client.request import Request

    timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    options: dict[str, Any] = {"timeout": timeout}
    if transport is not None:
        options["transport"] = transport
    return Client(base_url=service_url or DEFAULT_SERVICE, request=Request(**options))


def bluesky_channel(runtime: Runtime, account: XAccount, transport: Any = None) -> BlueskyChannel:
    """The account's channel; its session is opened once per process (app password) and
    kept, the SDK refreshing it before it expires."""
    from atproto_core.exceptions import AtProtocolError

    key = (runtime.settings.project_id, account.id, id(transport))
    with _lock:
        opening = _opening.setdefault(key, threading.Lock())
    with opening:  # the deliveries a cold process gets at once open one session
        with _lock:
            known = _clients.get(key)
        if known is None:
            client = new_client(account.service_url, transport)
            identifier, password = credentials(runtime, account)

            def login() -> None:
                client.login(identifier, password, fetch_bsky_profile=False)

            try:
                login()
            except AtProtocolError as exc:
                raise map_error(exc, creating=False) from exc
            known = (client, login)
            with _lock:
                _clients[key] = known
    client, login = known
    did = account.x_user_id or client._session.did  # the DID the session is for
    return BlueskyChannel(client, login, did, now=runtime.clock.now)


def forget(account_id: str | None = None) -> None:
    """Drop cached sessions (a reconnected or disconnected account; tests)."""
    with _lock:
        for key in [k for k in _clients if account_id is None or k[1] == account_id]:
            _clients.pop(key, None)
