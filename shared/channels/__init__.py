"""Channels: X, Bluesky and Mastodon behind one interface.

Every network implements `shared.channels.base.Channel`: upload media, create a post
(with its own idempotency story), read the account's recent posts (reconciliation), and
map its failures to Herald's outcomes (`outcomes`: NotSent, UnknownOutcome,
RateLimited, AccountProblem, Duplicate, Rejected). Everything around a publish is shared
and network-blind: the claim / unconfirmed / reconcile machinery and the rate governor
(shared.x.worker, outcomes, reconcile, governor), scheduling and dispatch.

- `base`: the interface, the networks, a part's identity (`PartRef`).
- `outcomes`: what a network call can end in, for every network.
- `rules`: each network's limits (length as the network counts it, media, alt text).
- `bluesky`, `mastodon`: the clients (atproto, Mastodon.py; imported lazily).
- `registry`: the channel of an account.
- `connect`: connecting accounts (Bluesky app password, Mastodon OAuth).
"""
