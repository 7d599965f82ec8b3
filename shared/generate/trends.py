"""Trending hashtags per region from X, cached in Firestore, offered to generation.

X API v2 `GET /2/trends/by/woeid/{woeid}` (`data: [{trend_name, tweet_count}]`),
called with the account's own OAuth 1.0a tokens through tweepy. Tiers that do not
include the endpoint (free, basic) and sandbox accounts are skipped without a request.
Nothing here raises: absent trends are not an error, the outcome and its reason are
stored on the cache document (`x_trends/{account_id}`) and logged.

Cache document fields: workspace_id, account_id, woeid, region, status (ok | skipped |
error), reason, trends [{name, tweet_count}], fetched_at.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shared.log import get_logger

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("generate.trends")

TRENDS = "x_trends"
FRESH_FOR = timedelta(hours=1)
RETRY_AFTER_ERROR = timedelta(minutes=15)
MAX_TRENDS = 20
# X API tiers whose plans include the trends endpoints (free: posting only; basic: not
# in its endpoint table). An account may override with `trends_enabled`.
TRENDS_TIERS = frozenset({"pro", "pay_per_use", "enterprise"})
# Yahoo! WOEIDs X uses for countries; 1 = worldwide.
WOEIDS = {
    "WORLD": 1,
    "US": 23424977,
    "GB": 23424975,
    "JP": 23424856,
    "FR": 23424819,
    "DE": 23424829,
    "ES": 23424950,
    "IT": 23424853,
    "CA": 23424775,
    "BR": 23424768,
    "MX": 23424900,
    "IN": 23424848,
    "AU": 23424748,
    "NL": 23424909,
}


def woeid_for(region: str | None, explicit: Any = None) -> int | None:
    if isinstance(explicit, int) and explicit > 0:
        return explicit
    if not region:
        return WOEIDS["WORLD"]
    return WOEIDS.get(region.strip().upper())


def skip_reason(account: dict[str, Any]) -> str | None:
    """Why trends cannot be fetched for this account, or None when they can."""
    if account.get("sandbox") or account.get("kind") == "sandbox":
        return "sandbox account: no X API access"
    if account.get("status", "active") != "active":
        return f"account is {account.get('status')}"
    override = account.get("trends_enabled")
    if override is False:
        return "trends turned off for this account"
    if override is not True and account.get("tier") not in TRENDS_TIERS:
        return f"the account's X API tier ({account.get('tier')}) does not include trends"
    return None


def fetch(runtime: Runtime, account: dict[str, Any], woeid: int) -> list[dict[str, Any]]:
    """One request to X; raises tweepy / ProviderError exceptions."""
    from shared.x import store
    from shared.x.auth import user_client
    from shared.x.models import XAccount

    # The full record: the public account dict the service returns has no secret_ref.
    record = store.load(runtime, XAccount, account["workspace_id"], account["id"], "X account")
    client, user_auth = user_client(runtime, record)
    response = client.request(
        "GET",
        f"/2/trends/by/woeid/{woeid}",
        params={"max_trends": MAX_TRENDS},
        user_auth=user_auth,
    )
    items = response.json().get("data") or []
    return [
        {"name": str(t["trend_name"]), "tweet_count": t.get("tweet_count")}
        for t in items
        if isinstance(t, dict) and t.get("trend_name")
    ][:MAX_TRENDS]


def trends_for(
    runtime: Runtime, account: dict[str, Any] | None, region: str | None = None
) -> list[str]:
    """Trend names for generation: cached if fresh, fetched if allowed, else []."""
    if not account or not account.get("id"):
        return []
    db, now = runtime.db, runtime.clock.now()
    ref = db.collection(TRENDS).document(account["id"])
    snap = ref.get()
    cached = snap.to_dict() if snap.exists else None
    woeid = woeid_for(region or account.get("region"), account.get("trends_woeid"))
    base = {
        "workspace_id": account.get("workspace_id"),
        "account_id": account["id"],
        "woeid": woeid,
        "region": region or account.get("region"),
    }
    if cached and cached.get("woeid") == woeid and cached.get("fetched_at"):
        age = now - cached["fetched_at"]
        if cached.get("status") == "ok" and age < FRESH_FOR:
            return [t["name"] for t in cached.get("trends") or []]
        if cached.get("status") == "error" and age < RETRY_AFTER_ERROR:
            return []
    reason = skip_reason(account) or (None if woeid else f"no WOEID known for region {region!r}")
    if reason:
        if not cached or cached.get("reason") != reason:
            ref.set(
                {**base, "status": "skipped", "reason": reason, "trends": [], "fetched_at": now}
            )
        return []
    try:
        items = fetch(runtime, account, int(woeid or 1))
    except Exception as exc:  # recorded and logged: trends are optional context
        reason = f"{type(exc).__name__}: {exc}"[:500]
        log.warning("trends fetch failed", account_id=account["id"], woeid=woeid, reason=reason)
        ref.set({**base, "status": "error", "reason": reason, "trends": [], "fetched_at": now})
        return []
    ref.set({**base, "status": "ok", "reason": None, "trends": items, "fetched_at": now})
    return [t["name"] for t in items]
