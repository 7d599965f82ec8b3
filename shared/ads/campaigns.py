"""Ad campaigns for a job opening and chosen segments, and their lifecycle.

`ad_campaigns/{id}`: workspace_id, opening_id, name, segment_ids, platforms (meta |
google), daily_budget (major units), daily_budget_minor, currency, start_at, end_at,
targeting (checked, see shared.ads.targeting), creative, status, desired_status,
error, created_at, updated_at, sort_key.

status: draft -> scheduled (start_at later than the dispatch window) -> publishing ->
active <-> paused; any -> archived; failed when a platform refused the campaign.
desired_status (active | paused | archived) is what the user asked for; the publish
worker applies it to every platform once the platform's objects exist, so a pause that
arrives mid-publish is not lost.

`ad_publications/{campaign_id}__{platform}` holds one platform's progress: status, the
external ids (ext_*), sandbox, error, next_attempt_at (see shared.ads.publish).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.ads.accounts import PLATFORMS
from shared.ads.creative import from_opening
from shared.ads.targeting import check_targeting
from shared.clock import utc
from shared.errors import Conflict, ValidationError
from shared.jobs.openings import OPENINGS
from shared.jobs.segments import SEGMENTS
from shared.jobs.store import checked_status, get_or_404, insert, page, public
from shared.log import get_logger
from shared.queries import jobs as q
from shared.tasks import TaskSpec, safe_task_id

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("ads")
CAMPAIGNS = "ad_campaigns"
PUBLICATIONS = "ad_publications"
STATUSES = ("draft", "scheduled", "publishing", "active", "paused", "archived", "failed")
EDITABLE = ("draft", "scheduled")
MIN_DAILY_BUDGET = 1.0
MAX_DAILY_BUDGET = 100_000.0
# Currencies without minor units (Meta budgets are in the account currency's minor unit).
ZERO_DECIMAL = {"JPY", "KRW", "CLP", "COP", "HUF", "ISK", "PYG", "TWD", "VND"}


def publication_id(campaign_id: str, platform: str) -> str:
    return f"{campaign_id}__{platform}"


def _instant(value: Any, field: str) -> datetime:
    if isinstance(value, datetime):
        instant = value
    else:
        try:
            instant = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValidationError(f"{field} must be an ISO 8601 instant", {"field": field}) from exc
    if instant.tzinfo is None:
        raise ValidationError(
            f"{field} needs a timezone (e.g. 2026-03-01T09:00:00Z)", {"field": field}
        )
    return utc(instant)


def minor_units(amount: float, currency: str) -> int:
    return round(amount) if currency in ZERO_DECIMAL else round(amount * 100)


def _segments(runtime: Runtime, workspace_id: str, ids: Any) -> list[dict[str, Any]]:
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValidationError("segment_ids must be a list of segment ids", {"field": "segment_ids"})
    return [
        get_or_404(runtime.db, SEGMENTS, workspace_id, i, "segment") for i in dict.fromkeys(ids)
    ]


def default_targeting(opening: dict[str, Any], segments: list[dict[str, Any]]) -> dict[str, Any]:
    """The opening's country and city (25-mile radius), keywords from the segments' skills."""
    loc = opening["location"]
    keywords: list[str] = []
    for seg in segments:
        keywords.extend(seg.get("keywords") or [])
    targeting: dict[str, Any] = {"countries": [loc["country"]], "keywords": keywords[:20]}
    if loc.get("city") and not loc.get("remote"):
        targeting["cities"] = [{"name": loc["city"], "radius_miles": 25}]
    return targeting


def _settings_fields(
    runtime: Runtime, workspace_id: str, body: dict[str, Any], current: dict[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    merged = {**current, **body}
    opening = get_or_404(
        runtime.db, OPENINGS, workspace_id, str(merged.get("opening_id") or ""), "job opening"
    )
    if opening["status"] in ("closed", "archived"):
        raise Conflict(f"the job opening is {opening['status']}; reopen it to advertise it")
    out["opening_id"] = opening["id"]
    segments = _segments(runtime, workspace_id, merged.get("segment_ids") or [])
    out["segment_ids"] = [s["id"] for s in segments]
    platforms = merged.get("platforms")
    if not isinstance(platforms, list) or not platforms or set(platforms) - set(PLATFORMS):
        raise ValidationError("platforms must list meta and/or google", {"field": "platforms"})
    out["platforms"] = sorted(set(platforms))
    budget = merged.get("daily_budget")
    if isinstance(budget, bool) or not isinstance(budget, int | float):
        raise ValidationError("daily_budget must be a number", {"field": "daily_budget"})
    if not MIN_DAILY_BUDGET <= budget <= MAX_DAILY_BUDGET:
        raise ValidationError(
            f"daily_budget must be between {MIN_DAILY_BUDGET:g} and {MAX_DAILY_BUDGET:g}",
            {"field": "daily_budget"},
        )
    currency = str(merged.get("currency") or opening.get("salary_currency") or "USD").upper()
    if len(currency) != 3 or not currency.isalpha():
        raise ValidationError("currency must be a three-letter ISO code", {"field": "currency"})
    out.update(
        daily_budget=float(budget),
        currency=currency,
        daily_budget_minor=minor_units(budget, currency),
    )
    now = runtime.clock.now()
    start = _instant(merged["start_at"], "start_at") if merged.get("start_at") else now
    end = _instant(merged["end_at"], "end_at") if merged.get("end_at") else None
    if end is not None and end <= start + timedelta(days=1):
        raise ValidationError("end_at must be at least a day after start_at", {"field": "end_at"})
    out.update(start_at=start, end_at=end)
    if "targeting" in body or "targeting" not in current:
        raw = body.get("targeting") or default_targeting(opening, segments)
        out["targeting"] = check_targeting(raw)
    if "creative" in body or "creative" not in current:
        creative = from_opening(opening, body.get("creative"))
        if creative.pop("generate_text", False):
            from shared.ads.creative import generate_text

            try:
                creative.update(generate_text(runtime, workspace_id, opening))
            except Exception as exc:  # optional: the template text stays, with the reason
                log.warning("ad text generation failed", exc_type=type(exc).__name__)
                creative["generation_error"] = f"{type(exc).__name__}: {exc}"[:300]
        if creative.pop("generate_image", False) and not creative.get("image_url"):
            from shared import media
            from shared.ads.creative import render_image

            png = render_image(opening)
            creative["image_ref"] = media.put(runtime, workspace_id, png, source="generated")["id"]
            generated = creative["source"].startswith("generated")
            creative["source"] = f"{creative['source']} + image" if generated else "generated image"
        out["creative"] = creative
    name = str(merged.get("name") or f"{opening['title']} - {opening['company']}").strip()
    out["name"] = name[:120]
    unknown = set(body) - {
        "opening_id", "segment_ids", "platforms", "daily_budget", "currency", "start_at",
        "end_at", "targeting", "creative", "name",
    }  # fmt: skip
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(sorted(unknown))}")
    return out


def create_campaign(runtime: Runtime, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
    fields = {
        **_settings_fields(runtime, workspace_id, body, {}),
        "status": "draft",
        "desired_status": "active",
        "publish_round": 0,
        "error": None,
    }
    return insert(runtime, CAMPAIGNS, workspace_id, fields)


def _campaign(runtime: Runtime, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    return get_or_404(runtime.db, CAMPAIGNS, workspace_id, campaign_id, "ad campaign")


def get_campaign(runtime: Runtime, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    doc = _campaign(runtime, workspace_id, campaign_id)
    pubs = {}
    for platform in doc["platforms"]:
        snap = (
            runtime.db.collection(PUBLICATIONS)
            .document(publication_id(campaign_id, platform))
            .get()
        )
        if snap.exists:
            pubs[platform] = public(snap.to_dict())
    return public({**doc, "publications": pubs})


def update_campaign(
    runtime: Runtime, workspace_id: str, campaign_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    doc = _campaign(runtime, workspace_id, campaign_id)
    if doc["status"] not in EDITABLE:
        raise Conflict(
            f"a {doc['status']} campaign cannot be edited; archive it and create a new one",
            {"status": doc["status"]},
        )
    changes = _settings_fields(runtime, workspace_id, body, doc)
    changes["updated_at"] = runtime.clock.now()
    runtime.db.collection(CAMPAIGNS).document(campaign_id).update(changes)
    return public({**doc, **changes})


def delete_campaign(runtime: Runtime, workspace_id: str, campaign_id: str) -> None:
    doc = _campaign(runtime, workspace_id, campaign_id)
    if doc["status"] != "draft":
        raise Conflict("only draft campaigns can be deleted; archive this one instead")
    runtime.db.collection(CAMPAIGNS).document(campaign_id).delete()


def list_campaigns(
    runtime: Runtime,
    workspace_id: str,
    *,
    status: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    status = checked_status(status, STATUSES)
    return page(runtime.db, q.AD_CAMPAIGNS, workspace_id, after=after, limit=limit, status=status)


def publish_task(
    workspace_id: str, campaign_id: str, platform: str, round_: int, at: datetime | None
) -> TaskSpec:
    return TaskSpec(
        kind="ads",
        target="publish_ads",
        payload={
            "action": "publish",
            "workspace_id": workspace_id,
            "campaign_id": campaign_id,
            "platform": platform,
        },
        schedule_time=at,
        task_id=safe_task_id("adpub", campaign_id, platform, str(round_)),
    )


def enqueue_publish(runtime: Runtime, doc: dict[str, Any], campaign_id: str) -> None:
    now = runtime.clock.now()
    at = doc["start_at"] if doc["start_at"] > now else None
    for platform in doc["platforms"]:
        runtime.enqueuer.enqueue(
            publish_task(
                doc["workspace_id"], campaign_id, platform, doc.get("publish_round", 0), at
            )
        )


def publish_campaign(runtime: Runtime, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    """Draft -> scheduled (dispatch enqueues it near start_at) or publishing (enqueued now)."""
    doc = _campaign(runtime, workspace_id, campaign_id)
    if doc["status"] != "draft":
        raise Conflict(f"the campaign is {doc['status']}, not a draft", {"status": doc["status"]})
    opening = get_or_404(runtime.db, OPENINGS, workspace_id, doc["opening_id"], "job opening")
    if opening["status"] != "open":
        raise Conflict(
            "set the job opening's status to open before publishing its ads",
            {"field": "status", "where": "opening", "opening_id": opening["id"]},
        )
    check_targeting(doc["targeting"])  # rules may have tightened since the draft was saved
    now = runtime.clock.now()
    horizon = now + timedelta(seconds=runtime.settings.dispatch_lookahead_s)
    changes: dict[str, Any] = {
        "desired_status": "active",
        "updated_at": now,
        "error": None,
        # A new round per publish: a campaign paused back to draft and published again
        # gets fresh task ids and dispatch claims.
        "publish_round": int(doc.get("publish_round", 0)) + 1,
    }
    if doc["start_at"] > horizon:
        changes["status"] = "scheduled"
        runtime.db.collection(CAMPAIGNS).document(campaign_id).update(changes)
    else:
        changes["status"] = "publishing"
        runtime.db.collection(CAMPAIGNS).document(campaign_id).update(changes)
        enqueue_publish(runtime, {**doc, **changes}, campaign_id)
    return public({**doc, **changes})


def _set_desired(
    runtime: Runtime,
    workspace_id: str,
    campaign_id: str,
    desired: str,
    allowed_from: tuple[str, ...],
) -> dict[str, Any]:
    doc = _campaign(runtime, workspace_id, campaign_id)
    if doc["status"] not in allowed_from:
        raise Conflict(
            f"cannot {'resume' if desired == 'active' else desired.rstrip('d')} a "
            f"{doc['status']} campaign",
            {"status": doc["status"]},
        )
    now = runtime.clock.now()
    changes: dict[str, Any] = {"desired_status": desired, "updated_at": now}
    if desired == "archived":
        changes["status"] = "archived"
    elif doc["status"] in ("active", "paused"):
        changes["status"] = desired
    elif doc["status"] == "scheduled" and desired == "paused":
        # Not published yet: pausing means "do not start"; resume reschedules it.
        changes["status"] = "draft"
    round_ = changes["status_round"] = int(doc.get("status_round", 0)) + 1
    runtime.db.collection(CAMPAIGNS).document(campaign_id).update(changes)
    for platform in doc["platforms"]:
        snap = (
            runtime.db.collection(PUBLICATIONS)
            .document(publication_id(campaign_id, platform))
            .get()
        )
        if not snap.exists:
            continue  # nothing on the platform yet; the publish worker applies desired_status
        runtime.enqueuer.enqueue(
            TaskSpec(
                kind="ads",
                target="publish_ads",
                payload={
                    "action": "set_status",
                    "workspace_id": workspace_id,
                    "campaign_id": campaign_id,
                    "platform": platform,
                },
                task_id=safe_task_id("adstatus", campaign_id, platform, str(round_)),
            )
        )
    return public({**doc, **changes})


def pause_campaign(runtime: Runtime, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    return _set_desired(
        runtime, workspace_id, campaign_id, "paused", ("publishing", "active", "scheduled")
    )


def resume_campaign(runtime: Runtime, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    return _set_desired(runtime, workspace_id, campaign_id, "active", ("paused", "publishing"))


def archive_campaign(runtime: Runtime, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    return _set_desired(
        runtime, workspace_id, campaign_id, "archived",
        ("draft", "scheduled", "publishing", "active", "paused", "failed"),
    )  # fmt: skip


INSIGHTS = "ad_insights"


def performance(runtime: Runtime, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    """Daily insights per platform and totals (written by the insights task)."""
    from shared.queries import build

    _campaign(runtime, workspace_id, campaign_id)
    spec = q.CAMPAIGN_INSIGHTS
    docs = build(runtime.db, spec, workspace_id=workspace_id, campaign_id=campaign_id).stream()
    days = sorted((public(d.to_dict()) for d in docs), key=lambda r: (r["date"], r["platform"]))
    totals = {"impressions": 0, "clicks": 0, "spend": 0.0}
    for row in days:
        totals["impressions"] += row.get("impressions", 0)
        totals["clicks"] += row.get("clicks", 0)
        totals["spend"] += row.get("spend", 0.0)
    totals["ctr"] = (
        round(totals["clicks"] / totals["impressions"], 6) if totals["impressions"] else 0.0
    )
    totals["cpc"] = round(totals["spend"] / totals["clicks"], 4) if totals["clicks"] else 0.0
    totals["spend"] = round(totals["spend"], 2)
    return {"campaign_id": campaign_id, "totals": totals, "days": days}
