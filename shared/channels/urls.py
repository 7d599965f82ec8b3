"""Where a published post can be seen: its page on its network."""

from __future__ import annotations

from shared.channels.base import Network, NetworkAccount, network_of


def post_url(account: NetworkAccount, network_id: str) -> str | None:
    """The web page of the post a network gave `network_id` (X: a tweet id; Bluesky:
    "at-uri|cid"; Mastodon: a status id on the account's instance)."""
    network = network_of(account)
    if network == Network.BLUESKY:
        from shared.channels.bluesky import web_url

        return web_url(network_id)
    if network == Network.MASTODON:
        if not account.service_url:
            return None
        user = (account.handle or "").lstrip("@").split("@")[0]
        return f"{account.service_url.rstrip('/')}/@{user}/{network_id}"
    return f"https://x.com/{(account.handle or 'i').lstrip('@')}/status/{network_id}"
