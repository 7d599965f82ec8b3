"""Connect an X account with OAuth 2.0 (Authorization Code with PKCE), as X recommends
for API v2, from the admin page; reconnect one whose token lineage was lost.

1. `begin_oauth2`: a PKCE verifier (kept in the secrets store), its S256 challenge and a
   random `state`; the pending authorization is `x_oauth_requests/{state}` (30 min TTL).
   The admin page sends the person to X's consent page.
2. `complete_oauth2`: X sends them back with `code` and `state`; the pending request is
   consumed in a transaction (a replayed callback finds nothing), the code exchanged for
   tokens with the verifier, the X user read with them (an owned read), and the
   account created, or the matching one reconnected, with a new token lineage
   (shared.x.tokens).
requests-oauthlib does the protocol (tweepy's OAuth2UserHandler is a thin subclass of
it with X's endpoints hard-coded and no refresh; Herald needs the endpoints
configurable and its own refresh, for the lineage).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.errors import Conflict, ProviderError
from shared.http import CONNECT_TIMEOUT_S, READ_TIMEOUT_S
from shared.log import get_logger
from shared.secrets import user_secret_name
from shared.x import store, tokens
from shared.x.accounts import (
    OAUTH_REQUEST_TTL,
    check_tier,
    consume_oauth_request,
    limits_for,
    public,
)
from shared.x.flags import reactivate
from shared.x.models import OAUTH_REQUESTS, AccountKind, AccountStatus, XAccount

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("x.oauth2")


def begin_oauth2(
    runtime: Runtime,
    workspace_id: str,
    callback_url: str,
    tier: str = "pay_per_use",
    account_id: str | None = None,
) -> dict[str, Any]:
    """The URL of X's consent page for a new account, or to reconnect `account_id`."""
    from oauthlib.oauth2 import WebApplicationClient

    check_tier(tier)
    if account_id:
        store.load(runtime, XAccount, workspace_id, account_id, "X account")
    client_id, _ = tokens.client_credentials(runtime)
    pkce = WebApplicationClient(client_id)
    verifier = pkce.create_code_verifier(128)
    session = tokens.oauth_session(runtime, redirect_uri=callback_url, scope=list(tokens.SCOPES))
    url, state = session.authorization_url(
        runtime.settings.x_authorize_url,
        code_challenge=pkce.create_code_challenge(verifier, "S256"),
        code_challenge_method="S256",
    )
    ref = runtime.secrets.put(user_secret_name(workspace_id, "x-pkce", store.new_id()), verifier)
    now = runtime.clock.now()
    runtime.db.collection(OAUTH_REQUESTS).document(state).set(
        {
            "workspace_id": workspace_id,
            "kind": "oauth2",
            "secret_ref": ref,
            "redirect_uri": callback_url,
            "tier": tier,
            "account_id": account_id,
            "created_at": now,
            "expires_at": now + OAUTH_REQUEST_TTL,
        }
    )
    return {"authorization_url": url, "state": state}


def complete_oauth2(runtime: Runtime, workspace_id: str, state: str, code: str) -> dict[str, Any]:
    """Exchange the code for tokens; create the account or reconnect it."""
    from oauthlib.oauth2.rfc6749.errors import OAuth2Error
    from requests.exceptions import RequestException

    pending = consume_oauth_request(runtime, workspace_id, state, "oauth2", "X")
    verifier = runtime.secrets.get(pending["secret_ref"])
    runtime.secrets.delete(pending["secret_ref"])
    session = tokens.oauth_session(runtime, redirect_uri=pending["redirect_uri"], state=state)
    try:
        token: dict[str, Any] = session.fetch_token(
            tokens.token_url(runtime),
            code=code,
            code_verifier=verifier,
            auth=tokens._basic_auth(runtime),
            include_client_id=True,
            timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
        )
        me = _me(runtime, token["access_token"])
    except (OAuth2Error, RequestException) as exc:
        raise ProviderError(f"X did not complete the connection: {exc}") from exc
    account = _account_for(runtime, workspace_id, pending, me)
    previous = tokens.lineage(runtime, account.id)
    tokens.start_lineage(runtime, account, token, int((previous or {}).get("version") or 0))
    log.info("x account connected (oauth2)", workspace_id=workspace_id, account_id=account.id)
    return public(runtime, account.to_dict())


def _me(runtime: Runtime, access_token: str) -> dict[str, Any]:
    import requests
    import tweepy

    from shared.x.client import x_session

    client = tweepy.Client(bearer_token=access_token, return_type=requests.Response)
    x_session(client.session, runtime.settings.x_api_base)
    try:
        response = client.get_me(user_auth=False)
    except tweepy.TweepyException as exc:
        raise ProviderError(f"X did not say who authorized Herald: {exc}") from exc
    data: dict[str, Any] = response.json()["data"]
    return data


def _account_for(
    runtime: Runtime, workspace_id: str, pending: dict[str, Any], me: dict[str, Any]
) -> XAccount:
    """The account these tokens belong to: the one being reconnected, the workspace's
    account of the same X user, or a new one."""
    from shared.queries import build
    from shared.queries.x import ACCOUNT_OF_X_USER

    now = runtime.clock.now()
    x_user_id = str(me["id"])
    account: XAccount | None = None
    if pending.get("account_id"):
        account = store.load(runtime, XAccount, workspace_id, pending["account_id"], "X account")
        if account.x_user_id and account.x_user_id != x_user_id:
            raise Conflict(
                f"X authorized @{me.get('username')}, not @{account.handle}: sign in to X as "
                f"@{account.handle} to reconnect it"
            )
    else:
        same = (
            build(runtime.db, ACCOUNT_OF_X_USER, workspace_id=workspace_id, x_user_id=x_user_id)
            .limit(1)
            .get()
        )
        if same:
            account = XAccount.from_doc(same[0].id, same[0].to_dict())
    if account is None:
        account = XAccount(
            id=store.new_id(),
            workspace_id=workspace_id,
            kind=AccountKind.X.value,
            auth="oauth2",
            handle=str(me.get("username") or ""),
            x_user_id=x_user_id,
            display_name=me.get("name"),
            tier=pending["tier"],
            limits=limits_for(pending["tier"], None),
            status=AccountStatus.ACTIVE.value,
            created_at=now,
            updated_at=now,
        )
        store.insert(runtime, account)
        return account
    if account.secret_ref:  # an OAuth 1.0a account moves to OAuth 2.0
        runtime.secrets.delete(account.secret_ref)
    changes = {
        "auth": "oauth2",
        "secret_ref": None,
        "handle": str(me.get("username") or account.handle),
        "display_name": me.get("name") or account.display_name,
        "x_user_id": x_user_id,
    }
    reactivate(runtime, account, changes)
    return account
