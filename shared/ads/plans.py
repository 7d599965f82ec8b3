"""The requests each publishing step sends, as plain data (no SDK imported here).

The Meta and Google adapters turn these into API calls; the sandbox adapter records
them as they are, so the local stack shows exactly what would be published.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.ads.platform import PublishContext, Refused
from shared.ads.targeting import check_targeting, meta_targeting

META_STEPS = ("campaign", "adset", "image", "creative", "ad")
NO_IMAGE = "none"  # the image step's id when the creative has no uploaded image
GOOGLE_STEPS = ("budget", "campaign", "geo", "ad_group", "keywords", "ad")
DEFAULT_CPC_MICROS = 1_000_000
GOOGLE_STATUS = {"active": "ENABLED", "paused": "PAUSED", "archived": "REMOVED"}
META_STATUS = {"active": "ACTIVE", "paused": "PAUSED", "archived": "ARCHIVED"}


def object_name(ctx: PublishContext, step: str) -> str:
    """Deterministic per campaign and step: what `find` looks up after an unknown outcome."""
    title = " ".join(str(ctx.campaign.get("name") or "Job ad").split())[:60]
    return f"{title} · {step} · herald:{ctx.campaign_id}"


def _need(ctx: PublishContext, step: str) -> str:
    try:
        return ctx.ids[step]
    except KeyError as exc:
        raise Refused(f"step {step!r} has no id yet") from exc


def _future(ctx: PublishContext, instant: datetime) -> bool:
    return ctx.now is None or instant > ctx.now + timedelta(minutes=1)


def _meta_time(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%S%z")


def meta_params(step: str, ctx: PublishContext) -> dict[str, Any]:
    c = ctx.campaign
    targeting = check_targeting(c["targeting"])
    name = object_name(ctx, step)
    if step == "campaign":
        return {
            "name": name,
            "objective": "OUTCOME_TRAFFIC",
            "buying_type": "AUCTION",
            # Created paused; the publisher activates it once every object exists.
            "status": "PAUSED",
            "special_ad_categories": ["EMPLOYMENT"],
            "special_ad_category_country": targeting["countries"],
            # Budget lives on the ad set (no campaign budget optimization).
            "is_adset_budget_sharing_enabled": False,
        }
    if step == "adset":
        params: dict[str, Any] = {
            "name": name,
            "campaign_id": _need(ctx, "campaign"),
            "daily_budget": c["daily_budget_minor"],
            "billing_event": "IMPRESSIONS",
            "optimization_goal": "LINK_CLICKS",
            "bid_strategy": "LOWEST_COST_WITHOUT_CAP",
            "targeting": meta_targeting(targeting),
            "status": "ACTIVE",
        }
        if _future(ctx, c["start_at"]):
            params["start_time"] = _meta_time(c["start_at"])
        if c.get("end_at"):
            params["end_time"] = _meta_time(c["end_at"])
        return params
    if step == "image":
        return {"name": name, "image_ref": c["creative"].get("image_ref")}
    if step == "creative":
        cr = c["creative"]
        link_data: dict[str, Any] = {
            "link": cr["link_url"],
            "message": cr["primary_text"],
            "name": cr["headline"],
            "description": cr["description"],
            "call_to_action": {"type": "APPLY_NOW", "value": {"link": cr["link_url"]}},
        }
        image = ctx.ids.get("image", NO_IMAGE)
        if image != NO_IMAGE:
            link_data["image_hash"] = image
        elif cr.get("image_url"):
            link_data["picture"] = cr["image_url"]
        page_id = (ctx.account or {}).get("page_id", "sandbox-page")
        return {"name": name, "object_story_spec": {"page_id": page_id, "link_data": link_data}}
    if step == "ad":
        return {
            "name": name,
            "adset_id": _need(ctx, "adset"),
            "creative": {"creative_id": _need(ctx, "creative")},
            "status": "ACTIVE",
        }
    raise ValueError(f"unknown Meta step {step!r}")


def google_country_target(country: str) -> str:
    """Google's country criterion id is 2000 + the ISO 3166-1 numeric code (US: 2840)."""
    import pycountry

    record = pycountry.countries.get(alpha_2=country)
    if record is None:
        raise Refused(f"unknown country code {country!r}")
    return f"geoTargetConstants/{2000 + int(record.numeric)}"


def _google_time(instant: datetime) -> str:
    # Google Ads reads this in the account's time zone; UTC keeps it no later than asked.
    return instant.strftime("%Y-%m-%d %H:%M:%S")


def google_plan(step: str, ctx: PublishContext) -> dict[str, Any]:
    c = ctx.campaign
    targeting = check_targeting(c["targeting"])
    name = object_name(ctx, step)
    if step == "budget":
        return {
            "name": name,
            "amount_micros": round(c["daily_budget"] * 1_000_000),
            "delivery_method": "STANDARD",
            "explicitly_shared": False,
        }
    if step == "campaign":
        plan: dict[str, Any] = {
            "name": name,
            "campaign_budget": _need(ctx, "budget"),
            "advertising_channel_type": "SEARCH",
            "status": "PAUSED",
            "bidding": "manual_cpc",
            "network": {"google_search": True, "search_network": True, "content_network": False},
        }
        if _future(ctx, c["start_at"]):
            # Google rejects a start in the past; without one the campaign starts at once.
            plan["start_date_time"] = _google_time(c["start_at"])
        if c.get("end_at"):
            plan["end_date_time"] = _google_time(c["end_at"])
        return plan
    if step == "geo":
        # Only location criteria: no age, gender, parental status, income or postal codes.
        cities = [f"geoTargetConstants/{x['google_geo_target']}" for x in targeting["cities"]
                  if x.get("google_geo_target")]  # fmt: skip
        targets = cities or [google_country_target(cc) for cc in targeting["countries"]]
        return {"campaign": _need(ctx, "campaign"), "geo_target_constants": targets}
    if step == "ad_group":
        return {
            "name": name,
            "campaign": _need(ctx, "campaign"),
            "type": "SEARCH_STANDARD",
            "status": "ENABLED",
            "cpc_bid_micros": DEFAULT_CPC_MICROS,
        }
    if step == "keywords":
        words = targeting["keywords"] or [c["creative"]["headline"].lower()[:80]]
        return {
            "ad_group": _need(ctx, "ad_group"),
            "keywords": [{"text": f"{w} jobs"[:80], "match_type": "PHRASE"} for w in words],
        }
    if step == "ad":
        cr = c["creative"]
        return {
            "ad_group": _need(ctx, "ad_group"),
            "status": "ENABLED",
            "final_urls": [cr["link_url"]],
            "headlines": cr["headlines"][:15],
            "descriptions": cr["descriptions"][:4],
        }
    raise ValueError(f"unknown Google Ads step {step!r}")
