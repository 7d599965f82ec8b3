"""Estimated X API cost of a post under the account's pricing."""

from __future__ import annotations

from typing import Any

from shared.text import has_url
from shared.x.models import Pricing


def pricing_of(account: dict[str, Any] | Any) -> Pricing:
    raw = account.get("pricing") if isinstance(account, dict) else account.pricing
    known = Pricing.__dataclass_fields__
    return Pricing(**{k: v for k, v in (raw or {}).items() if k in known})


def estimate(pricing: Pricing, parts: list[str], media_count: int = 0) -> dict[str, Any]:
    """Per-part cost: pay-per-use bills a post carrying a URL at the higher rate."""
    per_part = [pricing.post_with_url_usd if has_url(p) else pricing.post_usd for p in parts]
    total = sum(per_part) + media_count * pricing.media_upload_usd
    return {
        "model": pricing.model,
        "per_part_usd": [round(c, 6) for c in per_part],
        "media_usd": round(media_count * pricing.media_upload_usd, 6),
        "total_usd": round(total, 6),
        "parts_with_url": sum(1 for p in parts if has_url(p)),
        "monthly_usd": pricing.monthly_usd,
    }
