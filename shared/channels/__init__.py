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
- `bluesky_xrpc`: the atproto client Herald uses and its errors as outcomes.
- `urls`: a post's link on its network.

Nothing here imports shared.x (tests/infra/test_import_graph.py): the channel of an
account (shared.x.registry), connecting accounts (shared.x.connect) and Bluesky session
lineages (shared.x.bluesky_sessions) need the account store and live there.
"""
