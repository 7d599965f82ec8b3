"""X accounts: three-legged OAuth 1.0a with tweepy, sandbox accounts, CRUD.

The app's consumer key and secret are app secrets (`x-consumer-key`,
`x-consumer-secret`: env HERALD_SECRET_X_CONSUMER_KEY / _SECRET locally, Secret
Manager in production). A user's access token pair is stored as one JSON secret;
Firestore keeps only its `secret_ref`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shared.errors import Conflict, NotFound, ProviderError, ValidationError
from shared.log import get_logger
from shared.secrets import SecretNotFound, user_secret_name
from shared.x import cache, store
from shared.x.models import (
    OAUTH_REQUESTS,
    TIERS,
    X_ACCOUNTS,
    AccountKind,
    AccountStatus,
    Limits,
    XAccount,
)
from shared.x.prices import PRICE_FIELDS

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("x.accounts")
OAUTH_REQUEST_TTL = timedelta(minutes=30)


def consume_oauth_request(
    runtime: Runtime, workspace_id: str, key: str, kind: str, label: str
) -> dict[str, Any]:
    """The pending authorization `key` (the state, or OAuth 1.0a's request token) of this
    kind, deleted in the same transaction, so one authorization completes once however
    many requests bring it back. Unknown, spent or another workspace's: NotFound;
    expired: Conflict (its secret deleted)."""
    from shared.firestore import is_doc_id

    field = "oauth_token" if kind == "oauth1" else "state"
    if not key or not is_doc_id(key):
        raise ValidationError(f"{field} is not one Herald handed out", {"field": field})
    ref = runtime.db.collection(OAUTH_REQUESTS).document(key)

    def decide(transaction: Any) -> dict[str, Any]:
        snap = ref.get(transaction=transaction)
        pending = snap.to_dict() if snap.exists else None
        if (
            not pending
            or pending.get("workspace_id") != workspace_id
            or pending.get("kind", "oauth1") != kind
        ):
            raise NotFound(
                f"this {label} authorization is unknown or was already used; start again"
            )
        transaction.delete(ref)
        return pending

    pending: dict[str, Any] = store.transact(runtime, decide)
    if pending["expires_at"] < runtime.clock.now():
        if pending.get("secret_ref"):
            runtime.secrets.delete(pending["secret_ref"])
        raise Conflict(f"this {label} authorization expired; start again")
    return pending


def consumer_credentials(runtime: Runtime) -> tuple[str, str]:
    try:
        return (
            runtime.secrets.app_secret("x-consumer-key"),
            runtime.secrets.app_secret("x-consumer-secret"),
        )
    except SecretNotFound as exc:
        raise ProviderError(
            "the X app is not configured: set the x-consumer-key and x-consumer-secret "
            "app secrets (HERALD_SECRET_X_CONSUMER_KEY / _SECRET locally)"
        ) from exc


def account_tokens(runtime: Runtime, account: XAccount) -> tuple[str, str]:
    if not account.secret_ref:
        raise ProviderError(f"account @{account.handle} has no stored tokens; reconnect it")
    data = json.loads(runtime.secrets.get(account.secret_ref))
    return data["access_token"], data["access_token_secret"]


def check_tier(tier: str) -> str:
    if tier not in TIERS:
        raise ValidationError(f"unknown X API tier {tier!r}", {"tiers": sorted(TIERS)})
    return tier


def limits_for(tier: str, overrides: dict[str, Any] | None) -> dict[str, int]:
    limits = asdict(TIERS[tier])
    for key, value in (overrides or {}).items():
        if key not in limits:
            raise ValidationError(f"unknown limit {key!r}", {"limits": sorted(limits)})
        if not isinstance(value, int) or value < 1:
            raise ValidationError(f"limit {key} must be a positive integer")
        limits[key] = value
    return limits


def _pricing(tier: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The account's own price overrides (the tier's prices come from configuration);
    a null value drops an override."""
    known = sorted(PRICE_FIELDS | {"model"})
    pricing: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if key not in known:
            raise ValidationError(f"unknown pricing field {key!r}", {"pricing": known})
        if value is None:
            continue
        if key == "model" and value not in ("pay_per_use", "subscription", "free"):
            raise ValidationError("pricing model must be pay_per_use, subscription or free")
        if key != "model" and (not isinstance(value, int | float) or value < 0):
            raise ValidationError(f"price {key} must be a number ≥ 0")
        pricing[key] = value
    return pricing


def begin_connection(
    runtime: Runtime, workspace_id: str, callback_url: str, tier: str = "pay_per_use"
) -> dict[str, Any]:
    """Step 1: a request token and the URL where the user authorizes Herald on X."""
    import tweepy

    check_tier(tier)
    key, secret = consumer_credentials(runtime)
    handler = tweepy.OAuth1UserHandler(key, secret, callback=callback_url)
    try:
        url = handler.get_authorization_url()
    except tweepy.TweepyException as exc:
        raise ProviderError(f"X refused to start the connection: {exc}") from exc
    token = handler.request_token["oauth_token"]
    ref = runtime.secrets.put(
        user_secret_name(workspace_id, "x-request", store.new_id()),
        handler.request_token["oauth_token_secret"],
    )
    now = runtime.clock.now()
    runtime.db.collection(OAUTH_REQUESTS).document(token).set(
        {
            "workspace_id": workspace_id,
            "kind": "oauth1",
            "secret_ref": ref,
            "tier": tier,
            "created_at": now,
            "expires_at": now + OAUTH_REQUEST_TTL,
        }
    )
    return {"authorization_url": url, "oauth_token": token}


def complete_connection(
    runtime: Runtime, workspace_id: str, oauth_token: str, oauth_verifier: str
) -> dict[str, Any]:
    """Step 2: exchange the verifier for the user's tokens; creates the account."""
    import tweepy

    pending = consume_oauth_request(runtime, workspace_id, oauth_token, "oauth1", "X")
    now = runtime.clock.now()
    key, secret = consumer_credentials(runtime)
    handler = tweepy.OAuth1UserHandler(key, secret)
    handler.request_token = {
        "oauth_token": oauth_token,
        "oauth_token_secret": runtime.secrets.get(pending["secret_ref"]),
    }
    runtime.secrets.delete(pending["secret_ref"])  # spent with the request, whatever X says
    try:
        access_token, access_secret = handler.get_access_token(oauth_verifier)
        me = tweepy.Client(
            consumer_key=key,
            consumer_secret=secret,
            access_token=access_token,
            access_token_secret=access_secret,
        ).get_me(user_auth=True)
    except tweepy.TweepyException as exc:
        raise ProviderError(f"X did not complete the connection: {exc}") from exc
    account = XAccount(
        id=store.new_id(),
        workspace_id=workspace_id,
        kind=AccountKind.X.value,
        handle=me.data.username,
        x_user_id=str(me.data.id),
        display_name=me.data.name,
        tier=pending["tier"],
        limits=limits_for(pending["tier"], None),
        pricing=_pricing(pending["tier"], None),
        status=AccountStatus.ACTIVE.value,
        created_at=now,
        updated_at=now,
    )
    account.secret_ref = runtime.secrets.put(
        user_secret_name(workspace_id, "x-token", account.id),
        json.dumps({"access_token": access_token, "access_token_secret": access_secret}),
    )
    store.insert(runtime, account)
    log.info("x account connected", workspace_id=workspace_id, account_id=account.id)
    return public(runtime, account.to_dict())


def create_sandbox_account(
    runtime: Runtime,
    workspace_id: str,
    handle: str = "herald_sandbox",
    tier: str = "sandbox",
    limits: dict[str, Any] | None = None,
    pricing: dict[str, Any] | None = None,
    network: str = "x",
) -> dict[str, Any]:
    """An account that records what would be posted (collection sandbox_posts), on
    `network`'s rules (x, bluesky, mastodon)."""
    if not runtime.settings.sandbox:
        raise ValidationError("sandbox accounts are only available when HERALD_SANDBOX is on")
    if network not in ("x", "bluesky", "mastodon"):
        raise ValidationError("network must be x, bluesky or mastodon", {"field": "network"})
    now = runtime.clock.now()
    if network != "x" and tier == "sandbox":
        tier = network  # the network's own limits (Bluesky's 300 graphemes, Mastodon's 500)
    tier = check_tier(tier)
    account = XAccount(
        id=store.new_id(),
        workspace_id=workspace_id,
        kind=AccountKind.SANDBOX.value,
        handle=handle.lstrip("@") or "herald_sandbox",
        x_user_id=f"sandbox-{store.new_id()[:8]}",
        network=network,
        display_name=f"Sandbox @{handle.lstrip('@')}",
        tier=tier,
        limits=limits_for(tier, limits),
        pricing=_pricing(tier, pricing),
        sandbox=True,
        created_at=now,
        updated_at=now,
    )
    store.insert(runtime, account)
    return public(runtime, account.to_dict())


def public(runtime: Runtime, data: dict[str, Any]) -> dict[str, Any]:
    """What the API shows of an account: its effective prices, its own overrides, no
    secret references."""
    from shared.x.cost import pricing_of

    out = {k: v for k, v in data.items() if k != "secret_ref"}
    out["pricing_overrides"] = data.get("pricing") or {}
    out["pricing"] = asdict(pricing_of(runtime.settings, data))
    return out


def get_account(runtime: Runtime, workspace_id: str, account_id: str) -> dict[str, Any]:
    account = store.load(runtime, XAccount, workspace_id, account_id, "X account")
    return public(runtime, account.to_dict())


def list_accounts(
    runtime: Runtime, workspace_id: str, limit: int = 50, after: str | None = None
) -> dict[str, Any]:
    from shared.queries.x import ACCOUNTS

    result = store.page(runtime, XAccount, ACCOUNTS, workspace_id, limit=limit, after=after)
    result["items"] = [public(runtime, item) for item in result["items"]]
    return result


def update_account(
    runtime: Runtime, workspace_id: str, account_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Tier, limits, pricing, display name; a flagged account is reactivated by reconnecting."""
    account = store.load(runtime, XAccount, workspace_id, account_id, "X account")
    allowed = {"tier", "limits", "pricing", "display_name"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(f"cannot change {sorted(unknown)}", {"allowed": sorted(allowed)})
    update: dict[str, Any] = {"updated_at": runtime.clock.now()}
    tier = check_tier(changes.get("tier", account.tier))
    if "tier" in changes or "limits" in changes:
        update["tier"] = tier
        base = account.limits if "tier" not in changes else None
        update["limits"] = limits_for(tier, {**(base or {}), **(changes.get("limits") or {})})
    if "tier" in changes or "pricing" in changes:
        base = account.pricing if "tier" not in changes else None
        update["pricing"] = _pricing(tier, {**(base or {}), **(changes.get("pricing") or {})})
    if "display_name" in changes:
        update["display_name"] = str(changes["display_name"])[:100]
    runtime.db.collection(X_ACCOUNTS).document(account_id).update(update)
    cache.invalidate(runtime, account_id)
    return get_account(runtime, workspace_id, account_id)


def delete_account(runtime: Runtime, workspace_id: str, account_id: str) -> None:
    """Disconnect: the credentials are deleted (the app password or tokens, and every
    version of the account's token or session lineage); the document stays so history
    keeps its handle."""
    from shared.x import tokens

    account = store.load(runtime, XAccount, workspace_id, account_id, "X account")
    if account.secret_ref:
        runtime.secrets.delete(account.secret_ref)
    if account.kind == AccountKind.BLUESKY:
        from shared.x import bluesky_sessions

        bluesky_sessions.discard(runtime, workspace_id, account_id)
    else:
        tokens.TOKENS.discard(runtime, workspace_id, account_id)
    runtime.db.collection(X_ACCOUNTS).document(account_id).update(
        {
            "status": AccountStatus.DISCONNECTED.value,
            "status_reason": "disconnected by a user",
            "secret_ref": None,
            "updated_at": runtime.clock.now(),
        }
    )
    cache.invalidate(runtime, account_id)


def usable_account(runtime: Runtime, workspace_id: str, account_id: str) -> XAccount:
    """The workspace's account for authoring and scheduling (cached: a burst of posts for
    one account reads it once); a sandbox account only while the sandbox is on."""
    from shared.firestore import is_doc_id

    account = cache.account(runtime, account_id) if is_doc_id(account_id) else None
    if account is None or account.workspace_id != workspace_id:
        raise NotFound(f"X account {account_id[:64]!r} not found")
    if account.kind == AccountKind.SANDBOX and not runtime.settings.sandbox:
        raise ValidationError("sandbox accounts cannot post here: HERALD_SANDBOX is off")
    return account


def limits_of(account: XAccount) -> Limits:
    known = Limits.__dataclass_fields__
    return Limits(**{k: v for k, v in account.limits.items() if k in known})
