"""Reading X: public metrics through tweepy (OAuth 1.0a user context), and the sandbox's
synthetic stand-in.

`fetch_x` asks `GET /2/tweets` for 100 ids at a time and stops at the first page that
fails, returning what the earlier pages answered and why it stopped (RateLimited with
the reset instant, Transient, Refused). tweepy's `wait_on_rate_limit` is not used: a
429 without a reset header would recurse; the header is read here instead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.metrics.model import X_METRIC_FIELDS

if TYPE_CHECKING:
    from shared.runtime import Runtime

IDS_PER_REQUEST = 100  # GET /2/tweets accepts up to 100 ids
TWEET_FIELDS = ["public_metrics", "created_at"]
# X's read windows are 15 minutes: a 429 without a reset header waits one window.
DEFAULT_RESET = timedelta(minutes=15)
SYNTHETIC_SOURCE = "sandbox-synthetic"


class RateLimited(Exception):
    def __init__(self, reset_at: datetime) -> None:
        super().__init__(f"X read rate limit until {reset_at.isoformat()}")
        self.reset_at = reset_at


class Transient(Exception):
    """X did not answer usefully (5xx, connection); the pull is retried."""


class Refused(Exception):
    """X refused the credentials or the account (401/403); recorded, not retried now."""


def _reset_from(headers: Any, now: datetime) -> datetime:
    raw: Any = headers.get("x-rate-limit-reset") if headers is not None else None
    try:
        return datetime.fromtimestamp(int(raw), UTC) + timedelta(seconds=1)
    except (TypeError, ValueError):
        return now + DEFAULT_RESET


def x_client(runtime: Runtime, account_id: str, account: dict[str, Any]) -> Any:
    """A tweepy client in the account's user context (OAuth 1.0a, or its OAuth 2.0 user
    token: shared.x.auth), with `herald_user_auth` set for the calls it makes. Reading
    the account's own posts with its own token is an owned read, X's cheapest."""
    from shared.channels.outcomes import AccountProblem
    from shared.errors import ProviderError
    from shared.secrets import SecretNotFound
    from shared.x.auth import user_client
    from shared.x.models import XAccount

    try:
        client, user_auth = user_client(runtime, XAccount.from_doc(account_id, account))
    except (ProviderError, SecretNotFound, AccountProblem) as exc:
        raise Refused(getattr(exc, "message", None) or getattr(exc, "reason", str(exc))) from exc
    client.herald_user_auth = user_auth
    return client


@dataclass
class Fetch:
    """What the pages that went through returned, and why the others did not."""

    found: dict[str, dict[str, int]] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    fetched: list[str] = field(default_factory=list)  # ids of the pages answered
    requests: int = 0
    failure: RateLimited | Transient | Refused | None = None


def fetch_x(client: Any, x_ids: list[str], now: datetime) -> Fetch:
    """Public metrics of `x_ids`, 100 per request; stops at the first failing page."""
    import requests
    import tweepy

    out = Fetch()
    for i in range(0, len(x_ids), IDS_PER_REQUEST):
        chunk = x_ids[i : i + IDS_PER_REQUEST]
        try:
            response = client.get_tweets(
                ids=chunk,
                tweet_fields=TWEET_FIELDS,
                user_auth=getattr(client, "herald_user_auth", True),
            )
        except tweepy.TooManyRequests as exc:
            out.failure = RateLimited(_reset_from(exc.response.headers, now))
        except tweepy.TwitterServerError as exc:
            out.failure = Transient(f"X answered {exc.response.status_code}")
        except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
            out.failure = Refused(f"X refused the read ({exc.response.status_code}): {exc}")
        except requests.RequestException as exc:
            out.failure = Transient(f"X did not answer: {type(exc).__name__}")
        if out.failure:
            return out
        out.requests += 1
        out.fetched += chunk
        body = response.json()
        for tweet in body.get("data", []):
            pm = tweet.get("public_metrics", {})
            out.found[str(tweet["id"])] = {
                k: int(pm.get(v, 0) or 0) for k, v in X_METRIC_FIELDS.items()
            }
        for err in body.get("errors", []):
            # "Not Found Error" / "Authorization Error": deleted or protected post.
            if err.get("resource_type") == "tweet" and err.get("resource_id"):
                out.missing.add(str(err["resource_id"]))
        if response.headers.get("x-rate-limit-remaining") == "0" and i + len(chunk) < len(x_ids):
            # The window is spent: asking again would only earn a 429.
            out.failure = RateLimited(_reset_from(response.headers, now))
            return out
    return out


def synthetic_metrics(post_id: str, published_at: datetime, now: datetime) -> dict[str, int]:
    """Deterministic, plausible growth curves for sandbox accounts (never real data)."""
    seed = int(hashlib.sha256(post_id.encode()).hexdigest()[:8], 16)
    hours = max(0.0, (now - published_at).total_seconds() / 3600)
    reach = 200 + seed % 1800
    grown = reach * (1 - 0.5 ** (hours / 6))  # half of the remaining reach every 6 h
    impressions = int(grown)
    return {
        "impressions": impressions,
        "likes": impressions * (2 + seed % 5) // 100,
        "reposts": impressions * (seed % 3) // 200,
        "replies": impressions // 250,
        "quotes": impressions // 700,
        "bookmarks": impressions * (seed % 4) // 300,
    }
