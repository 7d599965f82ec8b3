"""The channel of an account: its network's client, wired to the account's secrets and
sessions, or the sandbox recorder.

The clients themselves (shared.channels.bluesky, shared.channels.mastodon, shared.x.client)
know nothing of accounts: this module hands each what it needs (a token, a service URL, a
session provider). Light imports only: each network's SDK is imported by its own module
when an account of that network is used (atproto for Bluesky, Mastodon.py for Mastodon,
tweepy for X).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from shared.channels.base import Network, network_of
from shared.channels.outcomes import AccountProblem, cannot_sign
from shared.lineage import PROCESS
from shared.x.models import AccountKind

if TYPE_CHECKING:
    from shared.channels.base import Channel
    from shared.channels.bluesky import BlueskyChannel
    from shared.channels.mastodon import MastodonChannel
    from shared.lineage import Held, ProcessCache
    from shared.runtime import Runtime
    from shared.x.models import XAccount


def make_channel(runtime: Runtime, account: XAccount, **client_options: Any) -> Channel:
    """The account's channel. `client_options` reach the network's client (tests hand
    the Bluesky client an httpx transport)."""
    from shared.errors import HeraldError
    from shared.secrets import SecretNotFound

    if account.kind == AccountKind.SANDBOX:
        from shared.x.sandbox import SandboxX

        if not runtime.settings.sandbox:
            raise AccountProblem("sandbox accounts cannot post: HERALD_SANDBOX is off", 0, "")
        return SandboxX(runtime, account)
    network = network_of(account)
    try:
        if network == Network.BLUESKY:
            return bluesky_channel(runtime, account, **client_options)
        if network == Network.MASTODON:
            return mastodon_channel(runtime, account, **client_options)
        from shared.x.auth import user_api

        return user_api(runtime, account)
    except (HeraldError, SecretNotFound) as exc:
        raise cannot_sign(account.handle, exc) from exc


def bluesky_channel(
    runtime: Runtime,
    account: XAccount,
    transport: Any = None,
    process: ProcessCache | None = None,
) -> BlueskyChannel:
    """The account's channel: a client kept per process (its connections), the session
    from the account's lineage (shared.x.bluesky_sessions). `process`: the cache of a
    simulated process (tests)."""
    from shared.channels.bluesky import CLIENTS, BlueskyChannel, PooledClient
    from shared.channels.bluesky_xrpc import new_client
    from shared.x import bluesky_sessions as sessions

    process = process or PROCESS
    key = (CLIENTS, runtime.settings.project_id, account.id, id(transport))
    with process.lock(key):
        pooled: PooledClient | None = process.get(key)
        if pooled is None:
            pooled = PooledClient(new_client(account.service_url, transport))
            process.put(key, pooled)

    def session(past: int | None) -> Held:
        if past is None:
            return sessions.current(runtime, account, transport, process)
        return sessions.renew_past(runtime, account, past, transport, process)

    channel = BlueskyChannel(pooled, session, account.x_user_id or "", now=runtime.clock.now)
    channel.use_session()  # a cold account's session is opened (once) before the post
    return channel


def forget_bluesky(account_id: str | None = None) -> None:
    """Drop this process's Bluesky clients and sessions (a reconnected or disconnected
    account; tests)."""
    from shared.channels.bluesky import CLIENTS
    from shared.x.bluesky_sessions import LINEAGES

    def which(key: Any) -> bool:
        mine = isinstance(key, tuple) and key[0] in (CLIENTS, LINEAGES)
        return mine and (account_id is None or account_id in key)

    PROCESS.drop_where(which)


def mastodon_token(runtime: Runtime, account: XAccount) -> str:
    from shared.errors import ProviderError

    if not account.secret_ref:
        raise ProviderError(f"Mastodon account @{account.handle} has no token; reconnect it")
    return str(json.loads(runtime.secrets.get(account.secret_ref))["access_token"])


def mastodon_client(runtime: Runtime, account: XAccount, **options: Any) -> Any:
    """The account's Mastodon.py client on its instance (ProviderError: it cannot be
    signed for: no instance, no token)."""
    from shared.channels.mastodon import client
    from shared.errors import ProviderError

    if not account.service_url:
        raise ProviderError(f"Mastodon account @{account.handle} names no instance; reconnect it")
    version = account.extra.get("instance_version")
    return client(account.service_url, mastodon_token(runtime, account), version=version, **options)


def mastodon_channel(runtime: Runtime, account: XAccount, **options: Any) -> MastodonChannel:
    from shared.channels.mastodon import MastodonChannel

    return MastodonChannel(
        mastodon_client(runtime, account, **options),
        now=runtime.clock.now,
        account_id=account.x_user_id,
    )
