"""Reading Bluesky and Mastodon metrics: likes, reposts, replies (and quotes and
bookmarks where the network counts them; neither shows impressions).

- Bluesky: public reads from the AppView (`app.bsky.feed.getPosts`, 25 AT-URIs a request,
  no session, through the atproto SDK); a post the AppView does not return is deleted
  or hidden.
- Mastodon: the status endpoint (`GET /api/v1/statuses/:id`, one request per status,
  through Mastodon.py with the account's token: its own statuses whatever their
  visibility); 404 means deleted.
Neither network bills reads, so no read budget applies. Both answer a `Fetch` like
`x_api.fetch_x`: what was answered, what is gone, and why the rest was not read.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.metrics.x_api import DEFAULT_RESET, Fetch, RateLimited, Refused, Transient

if TYPE_CHECKING:
    from shared.runtime import Runtime

URIS_PER_REQUEST = 25  # app.bsky.feed.getPosts takes up to 25 AT-URIs


def fetch_bluesky(ids: list[str], now: datetime, transport: Any = None) -> Fetch:
    """Counters of Bluesky posts by their Herald ids ("at-uri|cid")."""
    from atproto_client import exceptions as ax
    from atproto_core.exceptions import AtProtocolError

    from shared.channels.bluesky import PUBLIC_APPVIEW, split_id
    from shared.channels.bluesky_xrpc import new_client

    client = new_client(PUBLIC_APPVIEW, transport)
    by_uri = {split_id(i)[0]: i for i in ids}
    uris = list(by_uri)
    out = Fetch()
    for start in range(0, len(uris), URIS_PER_REQUEST):
        chunk = uris[start : start + URIS_PER_REQUEST]
        try:
            response = client.app.bsky.feed.get_posts({"uris": chunk})
        except ax.RateLimitExceededError as exc:
            out.failure = RateLimited(exc.reset_at or now + DEFAULT_RESET)
        except (ax.UnauthorizedError, ax.BadRequestError) as exc:
            out.failure = Refused(f"Bluesky refused the read: {exc}")
        except AtProtocolError as exc:  # 5xx, 502, no answer
            out.failure = Transient(f"Bluesky did not answer the read: {exc or type(exc).__name__}")
        if out.failure:
            return out
        out.requests += 1
        out.fetched += [by_uri[u] for u in chunk]
        seen = set()
        for view in response.posts:
            if view.uri not in by_uri:
                continue
            seen.add(view.uri)
            out.found[by_uri[view.uri]] = {
                "likes": int(view.like_count or 0),
                "reposts": int(view.repost_count or 0),
                "replies": int(view.reply_count or 0),
                "quotes": int(view.quote_count or 0),
                "bookmarks": int(view.bookmark_count or 0),
            }
        out.missing |= {by_uri[u] for u in chunk if u not in seen}
    return out


def mastodon_reader(runtime: Runtime, account_id: str, account: dict[str, Any]) -> Any:
    """The account's Mastodon.py client (Refused when it cannot be signed for)."""
    from shared.errors import ProviderError
    from shared.secrets import SecretNotFound
    from shared.x.models import XAccount
    from shared.x.registry import mastodon_client

    try:
        return mastodon_client(runtime, XAccount.from_doc(account_id, account))
    except (ProviderError, SecretNotFound) as exc:
        raise Refused(getattr(exc, "message", None) or str(exc)) from exc


def fetch_mastodon(api: Any, ids: list[str], now: datetime) -> Fetch:
    """Counters of Mastodon statuses by id; one request each (a task's 200 stay within
    the default 300 per 5 minutes; a 429 defers the rest), stopping at the first
    failure (what was read before it is kept)."""
    from mastodon import errors as me

    from shared.channels.mastodon import reset_at

    out = Fetch()
    for status_id in ids:
        try:
            status = api.status(status_id)
        except me.MastodonNotFoundError:
            out.requests += 1
            out.fetched.append(status_id)
            out.missing.add(status_id)
            continue
        except me.MastodonRatelimitError:
            out.failure = RateLimited(reset_at(api, now) or now + timedelta(minutes=5))
        except me.MastodonUnauthorizedError as exc:
            out.failure = Refused(f"Mastodon refused the read: {exc}")
        except (me.MastodonServerError, me.MastodonNetworkError) as exc:
            out.failure = Transient(f"Mastodon did not answer the read: {type(exc).__name__}")
        except me.MastodonAPIError as exc:  # 403 and the like: the status is not ours to read
            out.failure = Refused(f"Mastodon refused the read: {exc}")
        if out.failure:
            return out
        out.requests += 1
        out.fetched.append(status_id)
        out.found[status_id] = {
            "likes": int(status.get("favourites_count") or 0),
            "reposts": int(status.get("reblogs_count") or 0),
            "replies": int(status.get("replies_count") or 0),
            "quotes": int(status.get("quotes_count") or 0),
        }
    return out
