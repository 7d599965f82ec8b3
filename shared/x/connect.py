"""Connecting Bluesky and Mastodon accounts.

- Bluesky: an app password (Settings → App passwords on Bluesky), checked by opening a
  session on the account's PDS, which becomes the first version of the account's session
  lineage (shared.x.bluesky_sessions); the password is kept in the secrets store,
  the document keeps the DID, the handle and the PDS. Connecting the same DID again
  reconnects that account (a new app password, a new lineage).
- Mastodon: OAuth (authorization code) with any instance. Herald registers itself on
  the instance once (its client id and secret kept in the secrets store, per instance),
  the person approves on the instance, the code becomes a token kept in the secrets
  store. The instance's own character limit, URL weight and version are read from its
  configuration and kept on the account (validation counts with them). Connecting an
  account the workspace already has (the same account of the same instance) reconnects it.
Accounts live in `x_accounts` with `network` set (shared.x.models).
"""

from __future__ import annotations

import hashlib
import json
import secrets as pysecrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from shared.channels.outcomes import AccountProblem, Rejected
from shared.errors import ProviderError, ValidationError
from shared.log import get_logger
from shared.secrets import user_secret_name
from shared.x import store
from shared.x.accounts import OAUTH_REQUEST_TTL, consume_oauth_request, limits_for, public
from shared.x.flags import reactivate
from shared.x.models import OAUTH_REQUESTS, AccountKind, AccountStatus, XAccount

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("x.connect")
APP_NAME = "Herald"


def _https_base(url: str, what: str) -> str:
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("https", "http") or not parsed.netloc:
        raise ValidationError(f"{what} must be a URL like https://host", {"field": what})
    return f"{parsed.scheme}://{parsed.netloc}"


def connect_bluesky(
    runtime: Runtime,
    workspace_id: str,
    identifier: str,
    app_password: str,
    service_url: str | None = None,
    transport: Any = None,
) -> dict[str, Any]:
    """Check the app password by opening a session, which begins the account's session
    lineage (its first post needs no createSession). Connecting an account the workspace
    already has (the same DID) reconnects it: the new app password, active again, a new
    lineage."""
    from atproto_core.exceptions import AtProtocolError

    from shared.channels.bluesky_xrpc import DEFAULT_SERVICE, error_message, map_error, new_client
    from shared.x import bluesky_sessions

    service = _https_base(service_url, "service_url") if service_url else DEFAULT_SERVICE
    client = new_client(service, transport)
    try:
        client.login(identifier.strip().lstrip("@"), app_password, fetch_bsky_profile=False)
    except AtProtocolError as exc:
        mapped = map_error(exc, creating=False)
        if mapped.code is None:  # nothing answered at that address: the address is wrong
            raise ValidationError(
                f"{mapped.reason}; check the account's PDS address ({service})",
                {"field": "service_url"},
            ) from exc
        if isinstance(mapped, AccountProblem) and mapped.account_status == "revoked":
            # What the person typed is wrong (the PDS answered): bad input, not an outage.
            raise ValidationError(
                f"{service} refused this handle and app password ({error_message(exc)}); "
                "check both: the password is an app password made in Bluesky's settings",
                {"field": "app_password"},
            ) from exc
        raise ProviderError(
            f"{service} did not open a session: {error_message(exc)}"
            if isinstance(mapped, Rejected)  # its reason speaks of a post
            else mapped.reason
        ) from exc
    session = client._session  # the SDK's session: the DID and handle it is for
    now = runtime.clock.now()
    account = _account_of(runtime, workspace_id, AccountKind.BLUESKY, session.did)
    new = account is None
    if account is None:
        account = XAccount(
            id=store.new_id(),
            workspace_id=workspace_id,
            kind=AccountKind.BLUESKY.value,
            network="bluesky",
            handle=session.handle,
            x_user_id=session.did,
            display_name=session.handle,
            service_url=service,
            tier="bluesky",
            limits=limits_for("bluesky", None),
            auth="app_password",
            status=AccountStatus.ACTIVE.value,
            created_at=now,
            updated_at=now,
        )
    account.secret_ref = runtime.secrets.put(
        user_secret_name(workspace_id, "bluesky-app-password", account.id),
        json.dumps({"identifier": session.did, "app_password": app_password}),
    )
    account.service_url = service
    bluesky_sessions.start(runtime, account, session)  # before the account is active again
    if new:
        store.insert(runtime, account)
    else:
        changes = {"handle": session.handle, "service_url": service}
        reactivate(runtime, account, changes | {"secret_ref": account.secret_ref})
    log.info(
        "bluesky account connected",
        workspace_id=workspace_id,
        account_id=account.id,
        reconnected=not new,
    )
    return public(runtime, account.to_dict())


def _account_of(
    runtime: Runtime, workspace_id: str, kind: AccountKind, user_id: str, host: str | None = None
) -> XAccount | None:
    """The workspace's account of this kind and network user (a Bluesky DID; a Mastodon
    account id, which is the instance's own, so `host` says which instance), sandboxes
    aside."""
    from shared.queries import build
    from shared.queries.x import ACCOUNT_OF_X_USER

    found = build(runtime.db, ACCOUNT_OF_X_USER, workspace_id=workspace_id, x_user_id=user_id)
    for snap in found.limit(10).get():
        account = XAccount.from_doc(snap.id, snap.to_dict())
        if account.kind == kind and (
            host is None or urlparse(account.service_url or "").netloc == host
        ):
            return account
    return None


def _app_credentials(runtime: Runtime, instance: str, redirect_uri: str) -> tuple[str, str]:
    """Herald's client id and secret on the instance, registered once per instance and
    callback (POST /api/v1/apps)."""
    from mastodon import Mastodon, MastodonError

    from shared.channels.mastodon import SCOPES
    from shared.secrets import SecretNotFound

    digest = hashlib.sha256(f"{instance} {redirect_uri}".encode()).hexdigest()[:32]
    name = f"mastodon-app-{digest}"
    try:
        data = json.loads(runtime.secrets.get(name))
        return str(data["client_id"]), str(data["client_secret"])
    except SecretNotFound:
        pass
    try:
        client_id, client_secret = Mastodon.create_app(
            APP_NAME, scopes=SCOPES, redirect_uris=redirect_uri, api_base_url=instance
        )
    except MastodonError as exc:
        raise ProviderError(f"{instance} refused to register Herald: {exc}") from exc
    runtime.secrets.put(name, json.dumps({"client_id": client_id, "client_secret": client_secret}))
    return client_id, client_secret


def begin_mastodon(
    runtime: Runtime, workspace_id: str, instance_url: str, callback_url: str
) -> dict[str, Any]:
    """Step 1: the instance's authorization URL; it sends the person back to
    `callback_url` with `code` and `state`."""
    from shared.channels.mastodon import SCOPES, client

    instance = _https_base(instance_url, "instance_url")
    if runtime.settings.is_production and not instance.startswith("https://"):
        raise ValidationError("the instance must be reached over https", {"field": "instance_url"})
    client_id, client_secret = _app_credentials(runtime, instance, callback_url)
    state = pysecrets.token_urlsafe(24)
    url = client(instance, client_id=client_id, client_secret=client_secret).auth_request_url(
        redirect_uris=callback_url, scopes=SCOPES, state=state, skip_server_info=True
    )
    now = runtime.clock.now()
    runtime.db.collection(OAUTH_REQUESTS).document(state).set(
        {
            "workspace_id": workspace_id,
            "kind": "mastodon",
            "instance": instance,
            "callback_url": callback_url,
            "created_at": now,
            "expires_at": now + OAUTH_REQUEST_TTL,
        }
    )
    return {"authorization_url": url, "state": state}


def complete_mastodon(runtime: Runtime, workspace_id: str, state: str, code: str) -> dict[str, Any]:
    """Step 2: the code becomes a token; the instance's limits are read; the account is
    made, or, when the workspace already has this account of this instance, reconnected
    (the new token, active again). The state is spent before the code is traded, so two
    completions of one authorization make one account."""
    from mastodon import MastodonError

    from shared.channels.mastodon import SCOPES, client

    pending = consume_oauth_request(runtime, workspace_id, state, "mastodon", "Mastodon")
    now = runtime.clock.now()
    instance, callback = pending["instance"], pending["callback_url"]
    client_id, client_secret = _app_credentials(runtime, instance, callback)
    api = client(instance, client_id=client_id, client_secret=client_secret)
    try:
        token = api.log_in(code=code, redirect_uri=callback, scopes=SCOPES)
        me = api.account_verify_credentials()
        config = api.instance()
    except MastodonError as exc:
        raise ProviderError(f"{instance} did not complete the connection: {exc}") from exc
    statuses = (config.get("configuration") or {}).get("statuses") or {}
    limits = limits_for(
        "mastodon",
        {
            "weighted_length": int(statuses.get("max_characters") or 500),
            "url_length": int(statuses.get("characters_reserved_per_url") or 23),
        },
    )
    host = urlparse(instance).netloc
    fields: dict[str, Any] = {
        "handle": f"{me['acct']}@{host}",
        "display_name": me.get("display_name") or me["acct"],
        "service_url": instance,
        "limits": limits,
        "extra": {"instance_version": str(config.get("version") or "")},
    }
    account = _account_of(runtime, workspace_id, AccountKind.MASTODON, str(me["id"]), host)
    new = account is None
    if account is None:
        account = XAccount(
            id=store.new_id(),
            workspace_id=workspace_id,
            kind=AccountKind.MASTODON.value,
            network="mastodon",
            x_user_id=str(me["id"]),
            tier="mastodon",
            auth="oauth2",
            status=AccountStatus.ACTIVE.value,
            created_at=now,
            updated_at=now,
            **fields,
        )
    account.secret_ref = runtime.secrets.put(
        user_secret_name(workspace_id, "mastodon-token", account.id),
        json.dumps({"access_token": token}),
    )
    if new:
        store.insert(runtime, account)
    else:
        reactivate(runtime, account, fields | {"secret_ref": account.secret_ref})
    log.info(
        "mastodon account connected",
        workspace_id=workspace_id,
        account_id=account.id,
        reconnected=not new,
    )
    return public(runtime, account.to_dict())
