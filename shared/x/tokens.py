"""OAuth 2.0 user tokens: one lineage per account, refreshed before they expire, by one
refresher at a time.

X rotates refresh tokens: each refresh returns a new one and the old one dies, so two
instances refreshing with the same token means one of them loses the account. Here:
- `x_token_lineages/{account}` (Firestore) points at the current version `v` of the
  account's tokens, their expiry, and who holds the refresh lease (until when).
- The tokens of version `v` live in the secrets store under a name of their own,
  `ws-<workspace>-x-oauth2-<account>-v<v>` (shared/secrets.py), written once.
- A refresher takes the lease in a Firestore transaction (others wait and then use
  what it got), asks X with version v's refresh token, stores version v+1's secret, then
  moves the pointer to v+1 in a transaction that checks it still holds the lease and
  that the pointer is still at v. Exactly one refresher calls X per version.
- The secret is written before the pointer moves: if the refresher dies in between,
  the next lease holder finds version v+1's secret already there and adopts it rather
  than spending v's (dead) refresh token.
- X refusing the refresh token (invalid_grant, 400/401) means the lineage is lost: the
  account becomes "reconnect_needed" with the reason and one `x_account_reconnect_needed`
  alert; posts for it then fail with that reason, never silently.
Each process keeps the current access token until shortly before it expires, so a post
costs no lineage read in the common case.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.log import get_logger
from shared.secrets import SecretNotFound, user_secret_name
from shared.x import cache, store
from shared.x.models import X_ACCOUNTS, AccountStatus, XAccount
from shared.x.xapi import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, AccountProblem, NotSent

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("x.tokens")

LINEAGES = "x_token_lineages"
SECRET_KIND = "x-oauth2"  # noqa: S105 - a secret name part, not a secret
ALERT_RECONNECT = "x_account_reconnect_needed"
REFRESH_MARGIN = timedelta(minutes=5)  # refresh this long before the access token expires
# Longer than a refresh request can take (connect + read timeouts), so a live holder is
# done before anyone may take the lease over.
LEASE = timedelta(seconds=CONNECT_TIMEOUT_S + READ_TIMEOUT_S + 25)
WAIT_S = LEASE.total_seconds() + 10  # how long a caller waits for another's refresh
POLL_S = 0.1
# X's answers to a refresh token that is used, revoked or unknown.
LOST = frozenset({"invalid_grant", "invalid_request", "invalid_token"})
SCOPES = ("tweet.read", "tweet.write", "users.read", "offline.access", "media.write")


class LineageLost(AccountProblem):
    """The account's refresh token no longer works: a person must reconnect it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, 401, AccountStatus.RECONNECT_NEEDED.value)


@dataclass(frozen=True)
class Token:
    version: int
    access_token: str
    expires_at: datetime


_tokens: dict[tuple[str, str], Token] = {}
_lock = threading.Lock()


def secret_name(workspace_id: str, account_id: str, version: int) -> str:
    return user_secret_name(workspace_id, SECRET_KIND, f"{account_id}-v{version}")


def token_url(runtime: Runtime) -> str:
    return f"{runtime.settings.x_api_base or 'https://api.x.com'}/2/oauth2/token"


def client_credentials(runtime: Runtime) -> tuple[str, str | None]:
    """The app's OAuth 2.0 client id, and its secret when it is a confidential client."""
    from shared.errors import ProviderError

    try:
        client_id = runtime.secrets.app_secret("x-oauth2-client-id")
    except SecretNotFound as exc:
        raise ProviderError(
            "the X app's OAuth 2.0 client is not configured: set the x-oauth2-client-id app "
            "secret (HERALD_SECRET_X_OAUTH2_CLIENT_ID locally), and x-oauth2-client-secret "
            "for a confidential client"
        ) from exc
    return client_id, runtime.secrets.optional_app_secret("x-oauth2-client-secret")


def oauth_session(runtime: Runtime, **kwargs: Any) -> Any:
    """A requests-oauthlib session for X's endpoints (timeouts; HERALD_X_API_BASE)."""
    import os

    from requests_oauthlib import OAuth2Session

    from shared.x.client import timed_session

    if not runtime.settings.is_production and token_url(runtime).startswith("http://"):
        # A local stand-in of X (tests, the local stack): oauthlib refuses plain http
        # unless told; production is https only (Settings.check).
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
    client_id, _ = client_credentials(runtime)
    return timed_session(OAuth2Session(client_id, **kwargs), runtime.settings.x_api_base)


def _basic_auth(runtime: Runtime) -> Any:
    from requests.auth import HTTPBasicAuth

    client_id, secret = client_credentials(runtime)
    return HTTPBasicAuth(client_id, secret) if secret else None


def start_lineage(
    runtime: Runtime, account: XAccount, token: dict[str, Any], previous_version: int = 0
) -> int:
    """A new lineage from a fresh authorization (connect, reconnect): version + 1."""
    version = previous_version + 1
    now = runtime.clock.now()
    ref = runtime.secrets.put(
        secret_name(account.workspace_id, account.id, version), json.dumps(_stored(token, now))
    )
    runtime.db.collection(LINEAGES).document(account.id).set(
        {
            "workspace_id": account.workspace_id,
            "account_id": account.id,
            "version": version,
            "secret_ref": ref,
            "access_expires_at": _expires(token, now),
            "lease_owner": None,
            "lease_until": None,
            "lost_at": None,
            "lost_reason": None,
            "refreshed_at": now,
        }
    )
    forget(runtime, account.id)
    return version


def lineage(runtime: Runtime, account_id: str) -> dict[str, Any] | None:
    snap = runtime.db.collection(LINEAGES).document(account_id).get()
    return snap.to_dict() if snap.exists else None


def access_token(runtime: Runtime, account: XAccount) -> str:
    """A valid access token for the account, refreshed first when it is about to expire."""
    key = (runtime.settings.project_id, account.id)
    now = runtime.clock.now()
    with _lock:
        held = _tokens.get(key)
    if held and held.expires_at - REFRESH_MARGIN > now:
        return held.access_token
    current = lineage(runtime, account.id)
    if current is None:
        raise LineageLost(f"@{account.handle} has no OAuth 2.0 tokens; reconnect it")
    if current.get("lost_at"):
        raise LineageLost(str(current.get("lost_reason") or "reconnect the account"))
    if current["access_expires_at"] - REFRESH_MARGIN > now:
        return _remember(runtime, account, current).access_token
    return refresh(runtime, account, seen_version=int(current["version"])).access_token


def _remember(runtime: Runtime, account: XAccount, current: dict[str, Any]) -> Token:
    data = json.loads(runtime.secrets.get(current["secret_ref"]))
    token = Token(int(current["version"]), data["access_token"], current["access_expires_at"])
    with _lock:
        _tokens[(runtime.settings.project_id, account.id)] = token
    return token


def forget(runtime: Runtime, account_id: str) -> None:
    with _lock:
        _tokens.pop((runtime.settings.project_id, account_id), None)


def refresh(runtime: Runtime, account: XAccount, seen_version: int) -> Token:
    """Refresh the lineage past `seen_version`, or wait for whoever is doing it."""
    owner = uuid.uuid4().hex
    deadline = time.monotonic() + WAIT_S
    while True:
        state, current = _take_lease(runtime, account, seen_version, owner)
        if state == "fresh":
            return _remember(runtime, account, current)
        if state == "mine":
            return _refresh_holding(runtime, account, current, owner)
        if time.monotonic() > deadline:
            raise NotSent(f"the token refresh of @{account.handle} is taking too long")
        time.sleep(POLL_S)


def _take_lease(
    runtime: Runtime, account: XAccount, seen_version: int, owner: str
) -> tuple[str, dict[str, Any]]:
    """("fresh", lineage) when someone refreshed already; ("mine", lineage) when this
    caller now holds the lease; ("busy", lineage) when another holder is at it."""
    ref = runtime.db.collection(LINEAGES).document(account.id)

    def decide(transaction: Any) -> tuple[str, dict[str, Any]]:
        now = runtime.clock.now()
        snap = ref.get(transaction=transaction)
        current = snap.to_dict() if snap.exists else None
        if current is None or current.get("lost_at"):
            reason = (current or {}).get("lost_reason") or "reconnect the account"
            raise LineageLost(str(reason))
        fresh = current["access_expires_at"] - REFRESH_MARGIN > now
        if int(current["version"]) > seen_version or fresh:
            return "fresh", current
        lease_until = current.get("lease_until")
        if current.get("lease_owner") and lease_until and lease_until > now:
            return "busy", current
        lease = {"lease_owner": owner, "lease_until": now + LEASE}
        transaction.update(ref, lease)
        return "mine", current | lease

    return store.transact(runtime, decide)


def _refresh_holding(
    runtime: Runtime, account: XAccount, current: dict[str, Any], owner: str
) -> Token:
    version = int(current["version"])
    now = runtime.clock.now()
    name = secret_name(account.workspace_id, account.id, version + 1)
    try:
        # A refresher that died after storing the next version's tokens, before moving
        # the pointer: that version is the live one (its refresh token rotated X's).
        stored = json.loads(runtime.secrets.get(name))
        log.warning("adopting refreshed tokens a dead refresher stored", account_id=account.id)
    except SecretNotFound:
        stored = None
    if stored is None:
        old = json.loads(runtime.secrets.get(current["secret_ref"]))
        try:
            token = _ask_x(runtime, old["refresh_token"])
        except LineageLost as exc:
            _lose(runtime, account, owner, exc.reason)
            raise
        except NotSent:
            _release(runtime, account.id, owner)
            raise
        stored = _stored(token, now)
        runtime.secrets.put(name, json.dumps(stored))
    expires = datetime.fromisoformat(stored["expires_at"])
    _commit(runtime, account, owner, version, name, expires)
    if version > 1:
        # Version v stays (other instances may still hold its access token); v-1 goes.
        runtime.secrets.delete(secret_name(account.workspace_id, account.id, version - 1))
    token_ = Token(version + 1, stored["access_token"], expires)
    with _lock:
        _tokens[(runtime.settings.project_id, account.id)] = token_
    log.info("x oauth2 tokens refreshed", account_id=account.id, version=version + 1)
    return token_


def _ask_x(runtime: Runtime, refresh_token: str) -> dict[str, Any]:
    """One refresh request. LineageLost when X refuses the refresh token; NotSent when X
    could not be asked (the token may then still be good: the lease is released)."""
    import requests
    from oauthlib.oauth2.rfc6749.errors import OAuth2Error

    session = oauth_session(runtime)
    client_id, _ = client_credentials(runtime)

    def server_trouble(response: Any) -> Any:
        if response.status_code >= 500:
            raise NotSent(f"X answered {response.status_code} to the token refresh")
        return response

    session.register_compliance_hook("refresh_token_response", server_trouble)
    try:
        token: dict[str, Any] = session.refresh_token(
            token_url(runtime),
            refresh_token=refresh_token,
            auth=_basic_auth(runtime),
            timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
            client_id=client_id,
        )
    except OAuth2Error as exc:
        if exc.error not in LOST:
            # The app's own client credentials, or X's trouble: the token may be fine.
            raise NotSent(f"X did not refresh the token: {exc.error}: {exc.description}") from exc
        raise LineageLost(
            f"X refused the account's refresh token ({exc.error}: {exc.description}); "
            "reconnect the account"
        ) from exc
    except (requests.exceptions.RequestException, ValueError) as exc:
        raise NotSent(f"could not reach X to refresh the token: {exc}") from exc
    if not token.get("access_token") or not token.get("refresh_token"):
        raise NotSent("X answered the refresh without the tokens")
    return token


def _stored(token: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "access_token": token["access_token"],
        "refresh_token": token.get("refresh_token"),
        "scope": token.get("scope"),
        "expires_at": _expires(token, now).isoformat(),
    }


def _expires(token: dict[str, Any], now: datetime) -> datetime:
    return now + timedelta(seconds=int(token.get("expires_in") or 7200))


def _commit(
    runtime: Runtime, account: XAccount, owner: str, version: int, name: str, expires: datetime
) -> None:
    ref = runtime.db.collection(LINEAGES).document(account.id)

    def decide(transaction: Any) -> None:
        current = ref.get(transaction=transaction).to_dict() or {}
        if current.get("version") != version or current.get("lease_owner") != owner:
            # Only a holder whose lease had run out gets here; whoever took it over
            # adopted the same secret. Nothing to move.
            return
        transaction.update(
            ref,
            {
                "version": version + 1,
                "secret_ref": name,
                "access_expires_at": expires,
                "lease_owner": None,
                "lease_until": None,
                "refreshed_at": runtime.clock.now(),
            },
        )

    store.transact(runtime, decide)


def _release(runtime: Runtime, account_id: str, owner: str) -> None:
    ref = runtime.db.collection(LINEAGES).document(account_id)

    def decide(transaction: Any) -> None:
        current = ref.get(transaction=transaction).to_dict() or {}
        if current.get("lease_owner") == owner:
            transaction.update(ref, {"lease_owner": None, "lease_until": None})

    store.transact(runtime, decide)


def _lose(runtime: Runtime, account: XAccount, owner: str, reason: str) -> None:
    """The lineage is gone: record it once, flag the account, raise one alert."""
    ref = runtime.db.collection(LINEAGES).document(account.id)
    account_ref = runtime.db.collection(X_ACCOUNTS).document(account.id)

    def decide(transaction: Any) -> bool:
        current = ref.get(transaction=transaction).to_dict() or {}
        if current.get("lease_owner") != owner or current.get("lost_at"):
            return False
        now = runtime.clock.now()
        transaction.update(
            ref, {"lost_at": now, "lost_reason": reason, "lease_owner": None, "lease_until": None}
        )
        transaction.update(
            account_ref,
            {
                "status": AccountStatus.RECONNECT_NEEDED.value,
                "status_reason": reason,
                "updated_at": now,
            },
        )
        return True

    if store.transact(runtime, decide):
        cache.invalidate(runtime, account.id)
        forget(runtime, account.id)
        log.alert(
            ALERT_RECONNECT,
            f"X account @{account.handle} needs reconnecting: {reason}",
            account_id=account.id,
            workspace_id=account.workspace_id,
            handle=account.handle,
        )
