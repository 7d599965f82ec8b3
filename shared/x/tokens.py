"""OAuth 2.0 user tokens: one lineage per account, refreshed before they expire, by one
refresher at a time.

X rotates refresh tokens: each refresh returns a new one and the old one dies, so two
instances refreshing with the same token means one of them loses the account. The
account's tokens are a lineage (shared/lineage.py, which Bluesky's sessions use too):
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
Only an authorization begins a lineage (`start_lineage`: connect, reconnect).
Each process keeps the current access token until shortly before it expires, so a post
costs no lineage read in the common case.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from shared.channels.outcomes import AccountProblem, NotSent
from shared.http import CONNECT_TIMEOUT_S, READ_TIMEOUT_S
from shared.lineage import Busy, Lineages, Lost, ProcessCache, Refused, Renewed
from shared.log import get_logger
from shared.secrets import SecretNotFound
from shared.x.flags import AccountSource
from shared.x.models import AccountStatus, XAccount

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
# X's answers to a refresh token that is used, revoked or unknown.
LOST = frozenset({"invalid_grant", "invalid_request", "invalid_token"})
SCOPES = ("tweet.read", "tweet.write", "users.read", "offline.access", "media.write")

TOKENS = Lineages(LINEAGES, SECRET_KIND, margin=REFRESH_MARGIN, lease=LEASE)


class LineageLost(AccountProblem):
    """The account's refresh token no longer works: a person must reconnect it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, 401, AccountStatus.RECONNECT_NEEDED.value)


class _Tokens(AccountSource):
    """An X account's side of its lineage: renewed with the refresh token."""

    network: ClassVar[str] = "X"

    def renew(self, held: dict[str, Any] | None) -> Renewed:
        if not held or not held.get("refresh_token"):
            raise Refused(
                f"@{self.account.handle}'s refresh token is gone; reconnect the account",
                AccountStatus.RECONNECT_NEEDED.value,
            )
        now = self.runtime.clock.now()
        token = _ask_x(self.runtime, held["refresh_token"])
        return Renewed(_stored(token, now), _expires(token, now))

    def announce(self, refused: Refused) -> None:
        message, fields = self.flagged(refused)
        log.alert(ALERT_RECONNECT, message, **fields)


def secret_name(workspace_id: str, account_id: str, version: int) -> str:
    return TOKENS.secret_name(workspace_id, account_id, version)


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

    from shared.x.client import x_session

    if not runtime.settings.is_production and token_url(runtime).startswith("http://"):
        # A local stand-in of X (tests, the local stack): oauthlib refuses plain http
        # unless told; production is https only (Settings.check).
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
    client_id, _ = client_credentials(runtime)
    return x_session(OAuth2Session(client_id, **kwargs), runtime.settings.x_api_base)


def _basic_auth(runtime: Runtime) -> Any:
    from requests.auth import HTTPBasicAuth

    client_id, secret = client_credentials(runtime)
    return HTTPBasicAuth(client_id, secret) if secret else None


def start_lineage(
    runtime: Runtime, account: XAccount, token: dict[str, Any], previous_version: int = 0
) -> int:
    """A new lineage from a fresh authorization (connect, reconnect): version + 1."""
    now = runtime.clock.now()
    renewed = Renewed(_stored(token, now), _expires(token, now))
    return TOKENS.start(runtime, _Tokens(runtime, account), renewed, previous_version)


def lineage(runtime: Runtime, account_id: str) -> dict[str, Any] | None:
    return TOKENS.lineage(runtime, account_id)


def access_token(runtime: Runtime, account: XAccount, process: ProcessCache | None = None) -> str:
    """A valid access token for the account, refreshed first when it is about to expire.
    `process`: the process's cache (tests simulate several processes)."""
    try:
        held = TOKENS.current(runtime, _Tokens(runtime, account), process)
    except Lost as exc:
        raise LineageLost(
            exc.reason or f"@{account.handle} has no OAuth 2.0 tokens; reconnect it"
        ) from exc
    except Busy as exc:
        raise NotSent(f"the token refresh of @{account.handle} is taking too long") from exc
    return str(held.credentials["access_token"])


def forget(runtime: Runtime, account_id: str) -> None:
    TOKENS.forget(runtime, account_id)


def _ask_x(runtime: Runtime, refresh_token: str) -> dict[str, Any]:
    """One refresh request. Refused when X refuses the refresh token; NotSent when X
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
        raise Refused(
            f"X refused the account's refresh token ({exc.error}: {exc.description}); "
            "reconnect the account",
            AccountStatus.RECONNECT_NEEDED.value,
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
