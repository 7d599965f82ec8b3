"""X through tweepy: create posts and read the account's own recent posts.

User context, with OAuth 1.0a (consumer pair + the account's token pair) or an OAuth 2.0
user token (shared.x.oauth2 keeps it fresh); tweepy sends the first as a signature and
the second as a bearer header. Media go through shared.x.media_upload on tweepy's own
session. Reads here are of the account's own posts, with its own token: owned reads,
the cheapest X bills.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared.channels.outcomes import Created, NotSent, Rejected, UnknownOutcome
from shared.http import request_left, timed_session
from shared.x.media_upload import MediaUploader
from shared.x.xapi import map_http, rate_info

API = "https://api.twitter.com"  # tweepy's host for /2/tweets
X_HOSTS = (API, "https://api.x.com")
RECENT_POSTS_MAX_PAGES = 10  # reconciliation reads at most 1,000 posts of the window


class _Bearer:
    """requests auth: an OAuth 2.0 user token as a bearer header."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


def x_session(session: Any, api_base: str | None) -> Any:
    """`session` with Herald's timeouts and X's hosts replaced by `api_base`."""
    return timed_session(session, api_base, X_HOSTS)


class TweepyX:
    """The account's real X API in user context."""

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
        """OAuth 1.0a: the app's consumer pair and the account's token pair."""
        import requests
        import tweepy
        from requests_oauthlib import OAuth1

        client = tweepy.Client(
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            access_token=access_token,
            access_token_secret=access_token_secret,
            return_type=requests.Response,
        )
        auth = OAuth1(consumer_key, consumer_secret, access_token, access_token_secret)
        self._setup(client, auth, True, x_user_id, sleep, api_base)

    @classmethod
    def with_user_token(
        cls,
        access_token: str,
        x_user_id: str | None,
        sleep: Callable[[float], None] = time.sleep,
        api_base: str | None = None,
    ) -> TweepyX:
        """OAuth 2.0 (Authorization Code with PKCE): the account's user access token."""
        import requests
        import tweepy

        self = cls.__new__(cls)
        client = tweepy.Client(bearer_token=access_token, return_type=requests.Response)
        self._setup(client, _Bearer(access_token), False, x_user_id, sleep, api_base)
        return self

    def _setup(
        self,
        client: Any,
        auth: Any,
        user_auth: bool,
        x_user_id: str | None,
        sleep: Callable[[float], None],
        api_base: str | None,
    ) -> None:
        x_session(client.session, api_base)
        self._client = client
        # tweepy: user_auth=True signs with OAuth 1.0a; False sends the bearer token,
        # which for an OAuth 2.0 user token is user context too.
        self._user_auth = user_auth
        self._user_id = x_user_id
        self._media = MediaUploader(client.session, auth, sleep)

    @property
    def client(self) -> Any:
        """The tweepy Client (timeouts and API base set), for other reads of the account."""
        return self._client

    @property
    def user_auth(self) -> bool:
        """What tweepy's `user_auth` must be for this client's calls."""
        return self._user_auth

    # -- media --------------------------------------------------------------------------

    def upload_media(
        self, data: bytes, content_type: str, alt_text: str = "", focus: Any = None
    ) -> str:
        """`focus` is Mastodon's (X crops by its own rules)."""
        return self._media.upload(data, content_type, alt_text)

    def resume_media(self, media_id: str, alt_text: str = "") -> str:
        return self._media.resume(media_id, alt_text)

    # -- posts ------------------------------------------------------------------------

    def create_post(
        self,
        text: str,
        reply_to: str | None,
        media_ids: list[str],
        idempotency_key: str,
        part: Any = None,
    ) -> Created:
        # X has no idempotency key: the part guard and reconciliation are its story.
        import requests
        import tweepy

        try:
            response = self._client.create_tweet(
                text=text,
                in_reply_to_tweet_id=reply_to,
                media_ids=media_ids or None,
                user_auth=self._user_auth,
            )
        except tweepy.HTTPException as exc:
            raise map_http(exc) from exc
        except requests.exceptions.RequestException as exc:
            if request_left(exc):
                raise UnknownOutcome(f"no answer from X after sending the post: {exc}") from exc
            raise NotSent(f"could not reach X: {exc}") from exc
        return Created(str(response.json()["data"]["id"]), rate_info(response.headers))

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
                    user_auth=self._user_auth,
                )
            except tweepy.HTTPException as exc:
                raise map_http(exc) from exc
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
