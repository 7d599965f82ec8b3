"""The channel interface every network implements, and a post part's identity.

A channel is the account's client on its network. The worker (shared.x.worker) calls it
the same way for every network; what differs is how each makes a create exactly once:

- X has no idempotency key: the part guard (a claim per part and try) keeps duplicate
  deliveries from sending twice, and reconciliation reads the account's posts after a
  lost answer.
- Bluesky: Herald chooses the record key (a TID derived from the part) before the
  create, so a retry of the same part meets the existing record instead of a second one.
- Mastodon: an `Idempotency-Key` header (stable per part) on every create: the instance
  answers a repeat with the status it already made.
The part guard and reconciliation run for every network all the same: the networks'
own mechanisms are a second line, not the only one.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.channels.outcomes import Created


class Network(enum.StrEnum):
    X = "x"
    BLUESKY = "bluesky"
    MASTODON = "mastodon"


LABELS = {Network.X: "X", Network.BLUESKY: "Bluesky", Network.MASTODON: "Mastodon"}


class NetworkAccount(Protocol):
    """What network code reads of an account (shared.x.models.XAccount has it): channels
    take this, never the account store's own type."""

    @property
    def network(self) -> str: ...

    @property
    def handle(self) -> str: ...

    @property
    def service_url(self) -> str | None: ...

    @property
    def limits(self) -> Mapping[str, int]: ...


# An account as network code meets it: the record, or its document as a dict.
AccountLike = NetworkAccount | Mapping[str, Any]


def network_of(account: AccountLike) -> Network:
    """The account's network (a document written before channels existed is X)."""
    value = account.get("network") if isinstance(account, Mapping) else account.network
    try:
        return Network(value or Network.X)
    except ValueError:
        return Network.X


@dataclass(frozen=True)
class PartRef:
    """Which part of which post a create is for: what a network's idempotency key or
    record key is derived from. Stable across tries: a retry of the same part carries
    the same key, so the network itself refuses to make a second one."""

    post_id: str
    index: int
    try_n: int
    due_at: datetime | None = None
    # The thread's first part (its network id), for networks whose replies name the root.
    root: str | None = None
    # The post's network options (shared.channels.rules.options_problem).
    options: dict[str, Any] | None = None

    @property
    def stable_key(self) -> str:
        return f"herald-{self.post_id}-{self.index}"

    def digest(self) -> int:
        """64 bits of the post's identity (the same for all its parts)."""
        return int.from_bytes(hashlib.sha256(self.post_id.encode()).digest()[:8], "big")


class Channel(Protocol):
    """What the worker needs of a network: X, Bluesky, Mastodon and the sandbox."""

    def upload_media(
        self,
        data: bytes,
        content_type: str,
        alt_text: str = "",
        focus: Mapping[str, float] | None = None,
    ) -> str:
        """The media id, once the network has it (MediaProcessing if it is still busy).
        `focus` ({x, y} in -1..1): where to crop, for a network that crops (Mastodon);
        the others take it and ignore it, as a post group gives every channel the same."""
        ...

    def resume_media(self, media_id: str, alt_text: str = "") -> str: ...

    def create_post(
        self,
        text: str,
        reply_to: str | None,
        media_ids: list[str],
        idempotency_key: str,
        part: PartRef | None = None,
    ) -> Created: ...

    def recent_posts(self, since: datetime, until: datetime | None = None) -> list[dict[str, Any]]:
        """[{id, text, in_reply_to}] of the account's posts in [since, until], newest first."""
        ...
