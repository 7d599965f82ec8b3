"""The channel of an account: its network's client, or the sandbox recorder.

Light imports only: each network's SDK is imported by its own module when an account of
that network is used (atproto for Bluesky, Mastodon.py for Mastodon, tweepy for X).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.channels.base import Network, network_of
from shared.channels.outcomes import AccountProblem, NotSent
from shared.x.models import AccountKind

if TYPE_CHECKING:
    from shared.channels.base import Channel
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
            from shared.channels.bluesky import bluesky_channel

            return bluesky_channel(runtime, account, **client_options)
        if network == Network.MASTODON:
            from shared.channels.mastodon import mastodon_channel

            return mastodon_channel(runtime, account, **client_options)
        from shared.x.auth import user_api

        return user_api(runtime, account)
    except (HeraldError, SecretNotFound) as exc:
        # Configuration a person must fix: retried with backoff, then failed with this.
        reason = exc.message if isinstance(exc, HeraldError) else str(exc)
        raise NotSent(f"cannot sign requests for @{account.handle}: {reason}") from exc
