"""What X bills: estimates before a post goes out, and the counted cost of the calls made.

Prices come from configuration (shared.x.prices) by the account's tier, with the
account's own overrides on top. A post is billed per create request that X accepted
(a URL in it costs far more on pay-per-use); reads per resource returned, owned reads
(the account's own posts, with its own user token) at the lower rate.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from shared.text import has_url
from shared.x.models import Pricing
from shared.x.prices import PRICE_FIELDS, tier_pricing

if TYPE_CHECKING:
    from shared.settings import Settings


def pricing_of(settings: Settings, account: dict[str, Any] | Any) -> Pricing:
    """The account's effective prices: its tier's configured prices, its overrides on top."""
    data = account if isinstance(account, dict) else {"tier": account.tier, **vars(account)}
    if (data.get("network") or "x") != "x":
        return Pricing(model="free")  # Bluesky's and Mastodon's APIs bill nothing
    base = tier_pricing(settings, str(data.get("tier") or "pay_per_use"))
    overrides = {
        k: v for k, v in (data.get("pricing") or {}).items() if k in PRICE_FIELDS | {"model"}
    }
    return replace(base, **overrides)


def post_cost(pricing: Pricing, text: str) -> float:
    """What one accepted create request of this text costs."""
    return pricing.post_with_url_usd if has_url(text) else pricing.post_usd


def read_cost(pricing: Pricing, resources: int, owned: bool = True) -> float:
    return resources * (pricing.owned_read_usd if owned else pricing.read_usd)


def estimate(pricing: Pricing, parts: list[str], media_count: int = 0) -> dict[str, Any]:
    """Per-part cost: pay-per-use bills a post carrying a URL at the higher rate."""
    per_part = [post_cost(pricing, p) for p in parts]
    total = sum(per_part) + media_count * pricing.media_upload_usd
    return {
        "model": pricing.model,
        "per_part_usd": [round(c, 6) for c in per_part],
        "media_usd": round(media_count * pricing.media_upload_usd, 6),
        "total_usd": round(total, 6),
        "parts_with_url": sum(1 for p in parts if has_url(p)),
        "monthly_usd": pricing.monthly_usd,
    }
