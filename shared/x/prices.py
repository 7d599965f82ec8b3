"""X's prices as configuration, not code: they change.

`shared/x/prices.json` ships with every function; HERALD_X_PRICES (a JSON object) is
merged over it at startup, key by key, so a deployment can follow a price change
without a release (`{"tiers": {"pay_per_use": {"post_usd": 0.02}}}`). An account's own
`pricing` overrides (an enterprise deal) go over its tier's prices.
"""

from __future__ import annotations

import json
from dataclasses import fields
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.x.models import Pricing

if TYPE_CHECKING:
    from shared.settings import Settings

PRICES_FILE = Path(__file__).with_name("prices.json")
PRICE_FIELDS = frozenset(f.name for f in fields(Pricing)) - {"model"}


class PricesError(ValueError):
    """The price table (file or HERALD_X_PRICES) is not usable; the message says why."""


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(out.get(key), dict) else value
    return out


@lru_cache(maxsize=4)
def table(override: str | None = None) -> dict[str, Any]:
    """The price table: the file, with `override` (HERALD_X_PRICES) merged over it."""
    data: dict[str, Any] = json.loads(PRICES_FILE.read_text())
    if override:
        try:
            extra = json.loads(override)
        except ValueError as exc:
            raise PricesError(f"HERALD_X_PRICES is not JSON: {exc}") from exc
        if not isinstance(extra, dict):
            raise PricesError("HERALD_X_PRICES must be a JSON object")
        data = _merge(data, extra)
    for tier, prices in data["tiers"].items():
        for key, value in prices.items():
            if key == "model":
                continue
            if key not in PRICE_FIELDS:
                raise PricesError(f"unknown price {key!r} for tier {tier!r}")
            if not isinstance(value, int | float) or value < 0:
                raise PricesError(f"price {tier}.{key} must be a number ≥ 0, got {value!r}")
    return data


def tiers(settings: Settings) -> dict[str, dict[str, Any]]:
    tiers_: dict[str, dict[str, Any]] = table(settings.x_prices)["tiers"]
    return tiers_


def tier_pricing(settings: Settings, tier: str) -> Pricing:
    """The configured prices of a tier (pay-per-use's for a tier the table lacks)."""
    known = tiers(settings)
    raw = known.get(tier) or known["pay_per_use"]
    return Pricing(**{k: v for k, v in raw.items() if k in PRICE_FIELDS | {"model"}})


def summary(settings: Settings) -> dict[str, Any]:
    """What the API shows: when the prices took effect, where they come from, the tiers."""
    data = table(settings.x_prices)
    keys = ("effective", "source", "currency")
    return {**{k: data.get(k) for k in keys}, "tiers": data["tiers"]}
