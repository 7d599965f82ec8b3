"""Bluesky through the `atproto` SDK: posts, threads, images, facets, exactly once.

Exactly once: Herald chooses each part's record key before the create, a TID derived from
the post, the part and its due second (`record_key`). A retry of the same part (another
try, a duplicate delivery that got past the part guard, a re-post after reconciliation
found nothing) then meets the record already there: whatever the PDS answers to that
(a 500 today, RecordAlreadyExists once the lexicon names it, or a lost answer), the
record at that key is read and, when it holds this part's text, is the part's result.

Sessions (shared.x.bluesky_sessions, handed to the channel as a callable): one session
lineage per account for every process, renewed by one at a time (one refreshSession per
version; createSession with the app password only when the lineage is lost or has not
begin, once for all processes); each call uses the current version, and an access token
the PDS refuses renews the lineage past it once. An app password the PDS refuses flags
the account "revoked" with the PDS's reason.

Text: links, mentions and hashtags become facets with UTF-8 byte offsets through the
SDK's own detection (`Client.detect_facets`, which resolves mentioned handles to DIDs).
A part's network id is "<at-uri>|<cid>": replies need both (root and parent refs).
The SDK is imported where it is used: functions that only
show a post's link (web_url) load none of them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from shared.channels.base import PartRef
from shared.channels.outcomes import (
    AccountProblem,
    Created,
    NotSent,
    RateInfo,
    RateLimited,
    Rejected,
    XError,
)
from shared.channels.rules import BLUESKY_IMAGE_MAX_BYTES
from shared.lineage import Held

PUBLIC_APPVIEW = "https://public.api.bsky.app"  # unauthenticated reads (metrics)
POST_COLLECTION = "app.bsky.feed.post"
CREATE_POINTS = 3  # a create spends 3 of the PDS's write points (docs.bsky.app)
RECENT_POSTS_MAX_PAGES = 10
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
CLIENTS = "bluesky-client"  # a process's clients (ProcessCache keys)


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


class PooledClient:
    """A process's client for an account, and the session installed in it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.access_jwt: str | None = None
        self.lock = threading.Lock()

    def install(self, held: Held) -> None:
        with self.lock:
            if self.access_jwt != held.credentials["access_jwt"]:
                install(self.client, held)
                self.access_jwt = held.credentials["access_jwt"]


class BlueskyChannel:
    """One account's Bluesky client, using its session lineage's current version."""

    def __init__(
        self,
        pooled: PooledClient,
        session: Callable[[int | None], Held],
        did: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pooled = pooled
        self._session = session
        self._did = did
        self._now = now

    @property
    def client(self) -> Any:
        return self._pooled.client

    def use_session(self, past: int | None = None) -> int:
        """Install the lineage's current session (renewed past version `past`, whose
        access token the PDS refused); its version."""
        held = self._session(past)
        self._pooled.install(held)
        if not self._did:
            self._did = self._pooled.client._session.did  # the DID the session is for
        return held.version

    def _call(self, fn: Callable[[], Any], *, creating: bool = False) -> Any:
        """`fn` with the current session; when the PDS refuses its access token, once
        more with the next one (the call was refused, so repeating it is safe)."""
        from atproto_client import exceptions as ax
        from atproto_core.exceptions import AtProtocolError

        from shared.channels.bluesky_xrpc import SESSION_GONE, error_name, map_error

        version = self.use_session()
        try:
            return fn()
        except (ax.BadRequestError, ax.UnauthorizedError) as exc:
            if error_name(exc)[1] not in SESSION_GONE:
                raise map_error(exc, creating=creating) from exc
        except AtProtocolError as exc:
            raise map_error(exc, creating=creating) from exc
        self.use_session(past=version)
        try:
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
        if len(data) > BLUESKY_IMAGE_MAX_BYTES:
            raise Rejected(
                f"an image of {len(data):,} bytes is over Bluesky's "
                f"{BLUESKY_IMAGE_MAX_BYTES:,} bytes"
            )
        from atproto_client import models
        from atproto_client.models.utils import get_response_model

        def upload() -> Any:
            # The SDK's upload_blob sends "*/*"; the PDS is told the image's own type.
            return self.client.invoke_procedure(
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

        facets = self._call(lambda: self.client.detect_facets(text)) or None
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
            return self.client.invoke_procedure(
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
            return self.client.app.bsky.feed.post.get(self._did, rkey)

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
            page = self._call(partial(self.client.com.atproto.repo.list_records, params))
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


def install(client: Any, held: Held) -> None:
    """Make `held` the client's session (the SDK's session string import)."""
    from atproto_client.client.session import Session

    data = held.credentials
    session = Session(
        handle=data["handle"],
        did=data["did"],
        access_jwt=data["access_jwt"],
        refresh_jwt=data["refresh_jwt"],
        pds_endpoint=data["pds_endpoint"],
    )
    client.login(session_string=session.encode(), fetch_bsky_profile=False)
