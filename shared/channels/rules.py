"""Each network's rules for a post: its length as the network counts it, media, alt text.

- X: twitter-text v3 weighted length (URLs 23, CJK and emoji 2), the account's limit.
- Bluesky: 300 graphemes and 3,000 UTF-8 bytes per post (app.bsky.feed.post); up to 4
  images of at most 1,000,000 bytes each (app.bsky.embed.images), alt text on each.
- Mastodon: the instance's own limit (read from its configuration when the account is
  connected: 500 by default), counted in graphemes with every URL as
  `characters_reserved_per_url` (23) and a mention as its local part only; up to 4
  media, descriptions up to 1,500 characters.
The composer shows one counter per network from `describe` (the API's validate answer).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.channels.base import LABELS, AccountLike, Network, network_of

# The URL and mention shapes Mastodon's own counter replaces (app/lib/text_formatter).
_MASTODON_URL = re.compile(r"https?://[^\s<>\"]+", re.I)
_MASTODON_MENTION = re.compile(r"(?<![\w/])@(\w+(?:[.-]\w+)*)@[\w.-]+\w", re.I)
BLUESKY_MAX_BYTES = 3000
BLUESKY_IMAGE_MAX_BYTES = 1_000_000
MASTODON_MAX_ALT = 1500
X_MAX_ALT = 1000


@dataclass(frozen=True)
class Rules:
    network: Network
    limit: int
    max_media: int = 4
    max_alt: int = X_MAX_ALT
    unit: str = "characters"
    media_types: tuple[str, ...] = ("image/", "video/")

    @property
    def label(self) -> str:
        return LABELS[self.network]


def graphemes(text: str) -> int:
    """User-perceived characters (extended grapheme clusters, UAX #29)."""
    import regex

    return len(regex.findall(r"\X", text))


def mastodon_length(text: str, url_length: int = 23) -> int:
    """Mastodon's count: every URL weighs `url_length`, a remote mention only its
    `@user` part, the rest grapheme by grapheme."""
    counted = _MASTODON_URL.sub("x" * url_length, text)
    counted = _MASTODON_MENTION.sub(lambda m: "@" + m.group(1), counted)
    return graphemes(counted)


def rules_for(account: AccountLike) -> Rules:
    network = network_of(account)
    limits = (account.get("limits") if isinstance(account, Mapping) else account.limits) or {}
    if network == Network.BLUESKY:
        return Rules(network, 300, max_alt=2000, unit="graphemes", media_types=("image/",))
    if network == Network.MASTODON:
        return Rules(network, int(limits.get("weighted_length") or 500), max_alt=MASTODON_MAX_ALT)
    return Rules(network, int(limits.get("weighted_length") or 280))


def length(account: AccountLike, text: str) -> int:
    """The text's length as the account's network counts it."""
    from shared.text import weighted_length

    network = network_of(account)
    if network == Network.BLUESKY:
        return graphemes(text)
    if network == Network.MASTODON:
        limits = (account.get("limits") if isinstance(account, Mapping) else account.limits) or {}
        return mastodon_length(text, int(limits.get("url_length") or 23))
    return weighted_length(text)


def text_problem(account: AccountLike, text: str) -> str | None:
    """A message for a person if the network would refuse this text, else None."""
    from shared.text import validate_tweet

    rules = rules_for(account)
    if rules.network == Network.X:
        return validate_tweet(text, rules.limit)
    if not text or not text.strip():
        return "the post is empty"
    counted = length(account, text)
    if counted > rules.limit:
        return (
            f"the post is {counted} {rules.unit} as {rules.label} counts them; "
            f"the limit is {rules.limit}"
        )
    if rules.network == Network.BLUESKY and len(text.encode()) > BLUESKY_MAX_BYTES:
        return f"the post is over Bluesky's {BLUESKY_MAX_BYTES} bytes"
    return None


def media_problems(account: AccountLike, content_types: list[str]) -> list[dict[str, Any]]:
    """What the network would refuse in a post's media (Bluesky takes images only)."""
    rules = rules_for(account)
    kinds = " and ".join(t.rstrip("/") + "s" for t in rules.media_types)
    return [
        {
            "field": f"media[{i}]",
            "message": f"{rules.label} takes {kinds} only, not {content_type or 'this file'}",
        }
        for i, content_type in enumerate(content_types)
        if not content_type.startswith(rules.media_types)
    ]


def options_problem(account: AccountLike, options: dict[str, Any]) -> str | None:
    """Network options a post may carry (Mastodon visibility and content warning)."""
    network = network_of(account)
    allowed: dict[Network, set[str]] = {
        Network.X: set(),
        Network.BLUESKY: {"langs"},
        Network.MASTODON: {"visibility", "spoiler_text", "sensitive", "language"},
    }
    unknown = set(options) - allowed[network]
    if unknown:
        return f"{LABELS[network]} posts take no option {sorted(unknown)}"
    visibility = options.get("visibility")
    if visibility is not None and visibility not in ("public", "unlisted", "private", "direct"):
        return "visibility must be public, unlisted, private or direct"
    spoiler = options.get("spoiler_text")
    if spoiler is not None and (not isinstance(spoiler, str) or len(spoiler) > 500):
        return "the content warning must be text of at most 500 characters"
    langs = options.get("langs")
    if langs is not None and (
        not isinstance(langs, list) or len(langs) > 3 or not all(isinstance(x, str) for x in langs)
    ):
        return "langs must be a list of at most 3 language codes"
    return None


def describe(account: AccountLike, parts: list[str]) -> dict[str, Any]:
    """The composer's counter for one network: each part's length and the limit."""
    rules = rules_for(account)
    return {
        "network": rules.network.value,
        "label": rules.label,
        "unit": rules.unit,
        "limit": rules.limit,
        "lengths": [length(account, p) for p in parts],
        "max_media": rules.max_media,
    }
