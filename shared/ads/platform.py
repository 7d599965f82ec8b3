"""What every ad platform adapter (Meta, Google Ads, sandbox) offers the publisher.

Publishing is a fixed list of steps per platform; each step creates one object and
returns its external id. The publisher stores every id as soon as it is known and on
a retry resumes at the first step without one. When an earlier attempt's outcome is
unknown (it died, or the call timed out), `find` looks the object up by its
deterministic name before anything is created again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class RateLimited(Exception):
    """The platform asked us to slow down; the work is deferred, not failed."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Refused(Exception):
    """The platform rejected the request for good (bad input, policy, permissions)."""


class Transient(Exception):
    """A failure worth retrying whose outcome may be unknown (timeout, 5xx, connection)."""


@dataclass
class PublishContext:
    campaign_id: str
    campaign: dict[str, Any]  # the ad_campaigns document
    account: dict[str, Any] | None  # the ad_accounts document (None in the sandbox)
    ids: dict[str, str] = field(default_factory=dict)  # step -> external id known so far
    now: datetime | None = None  # the publisher's clock; start times are only sent if later


class Adapter(Protocol):
    platform: str
    steps: tuple[str, ...]
    sandbox: bool

    def find(self, step: str, ctx: PublishContext) -> str | None:
        """The external id of this step's object if it already exists, else None."""
        ...

    def create(self, step: str, ctx: PublishContext) -> str:
        """Create this step's object; returns its external id."""
        ...

    def set_status(self, ctx: PublishContext, status: str) -> None:
        """Apply active | paused | archived to the platform's campaign."""
        ...

    def insights(self, ctx: PublishContext, since: str, until: str) -> list[dict[str, Any]]:
        """Daily rows {date, impressions, clicks, spend, ctr, cpc} for the campaign."""
        ...
