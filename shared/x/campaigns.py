"""Campaigns: what a set of posts is about, its brief and its estimated X cost.

A campaign posts to its account and, optionally, to other channels (`channels`: account
ids of any network); generation writes each draft for all of them as a post group."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.docsize import ensure_fits
from shared.errors import Conflict, ValidationError
from shared.queries import build, pages
from shared.queries import x as q
from shared.tenancy import check_timezone
from shared.x import store
from shared.x.accounts import usable_account
from shared.x.groups import MAX_CHANNELS
from shared.x.models import CAMPAIGNS, AccountStatus, Campaign, CampaignStatus, PostStatus

if TYPE_CHECKING:
    from shared.runtime import Runtime

_CAMPAIGN_FIELDS = {
    "name",
    "description",
    "keywords",
    "hashtags",
    "target_audience",
    "start_at",
    "end_at",
    "timezone",
    "status",
    "topics",
    "tone",
    "language",
    "call_to_action",
    "links",
    "approval_required",
    "autopilot",
    "account_id",
    "channels",
}
_LIST_FIELDS = {"keywords", "hashtags", "topics", "links"}


def _campaign_values(values: dict[str, Any], partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in ("id", "workspace_id", "created_at", "updated_at", "estimated_cost_usd"):
            continue
        if key in ("start_at", "end_at"):
            out[key] = store.parse_instant(value, key) if value is not None else None
        elif key == "timezone":
            out[key] = check_timezone(str(value))
        elif key == "status":
            if value not in set(CampaignStatus):
                raise ValidationError(
                    f"unknown campaign status {value!r}", {"allowed": list(CampaignStatus)}
                )
            out[key] = str(value)
        elif key in _LIST_FIELDS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValidationError(f"{key} must be a list of strings")
            out[key] = [v.strip() for v in value if v.strip()]
        elif key == "channels":
            ids = [] if value is None else value
            if not isinstance(ids, list) or not all(isinstance(v, str) and v for v in ids):
                raise ValidationError("channels must be a list of account ids")
            out[key] = list(dict.fromkeys(ids))
        elif key == "name":
            name = str(value).strip()
            if not name or len(name) > 200:
                raise ValidationError("campaign name must be 1-200 characters")
            out[key] = name
        else:
            # Open document: fields other teams add (tone, autopilot, ...) pass through.
            out[key] = value
    if not partial and "name" not in out:
        raise ValidationError("campaign name is required")
    start, end = out.get("start_at"), out.get("end_at")
    if start and end and end <= start:
        raise ValidationError("the campaign must end after it starts")
    return out


def _check_channels(
    runtime: Runtime,
    workspace_id: str,
    account_id: str | None,
    channels: list[str],
    before: list[str],
) -> list[str]:
    """The campaign's other channels: accounts of the workspace, not its own account,
    at most MAX_CHANNELS with it. A newly added one must be connected; one already
    there that was disconnected since stays (generation skips it and says why), so an
    unrelated edit of the campaign still saves."""
    chosen = [c for c in channels if c != account_id]
    if len(chosen) + 1 > MAX_CHANNELS:
        raise ValidationError(
            f"a campaign posts to at most {MAX_CHANNELS} channels, its account included",
            {"field": "channels"},
        )
    for other in chosen:
        account = usable_account(runtime, workspace_id, other)
        if other not in before and account.status != AccountStatus.ACTIVE:
            raise ValidationError(
                f"@{account.handle} is {account.status}: reconnect it in Settings first",
                {"field": "channels", "account_id": other},
            )
    return chosen


def create_campaign(runtime: Runtime, workspace_id: str, **values: Any) -> dict[str, Any]:
    now = runtime.clock.now()
    campaign = Campaign.from_doc(store.new_id(), _campaign_values(values, partial=False))
    campaign.workspace_id, campaign.created_at, campaign.updated_at = workspace_id, now, now
    if campaign.account_id:
        usable_account(runtime, workspace_id, campaign.account_id)
    campaign.channels = _check_channels(
        runtime, workspace_id, campaign.account_id, campaign.channels, []
    )
    store.insert(runtime, campaign)
    return campaign.to_dict()


def get_campaign(runtime: Runtime, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    return store.load(runtime, Campaign, workspace_id, campaign_id, "campaign").to_dict()


def list_campaigns(
    runtime: Runtime,
    workspace_id: str,
    limit: int = 50,
    after: str | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    return store.page(
        runtime,
        Campaign,
        q.CAMPAIGNS,
        workspace_id,
        limit=limit,
        after=after,
        equals={"status": status},
    )


def update_campaign(
    runtime: Runtime, workspace_id: str, campaign_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    current = store.load(runtime, Campaign, workspace_id, campaign_id, "campaign")
    update = _campaign_values(changes, partial=True)
    start = update.get("start_at", current.start_at)
    end = update.get("end_at", current.end_at)
    if start and end and end <= start:
        raise ValidationError("the campaign must end after it starts")
    if "channels" in update or "account_id" in update:
        update["channels"] = _check_channels(
            runtime,
            workspace_id,
            update.get("account_id", current.account_id),
            update.get("channels", current.channels),
            current.channels,
        )
    update["updated_at"] = runtime.clock.now()
    ensure_fits(f"{CAMPAIGNS}/{campaign_id}", {**current.to_doc(), **update}, "campaign")
    runtime.db.collection(CAMPAIGNS).document(campaign_id).update(update)
    return get_campaign(runtime, workspace_id, campaign_id)


def delete_campaign(runtime: Runtime, workspace_id: str, campaign_id: str) -> None:
    store.load(runtime, Campaign, workspace_id, campaign_id, "campaign")
    live = (
        build(
            runtime.db,
            q.CAMPAIGN_LIVE_POSTS,
            campaign_id=campaign_id,
            status=["scheduled", "queued", "publishing"],
        )
        .limit(1)
        .get()
    )
    if live:
        raise Conflict("the campaign has scheduled posts; cancel them first")
    runtime.db.collection(CAMPAIGNS).document(campaign_id).delete()


def campaign_cost(runtime: Runtime, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    """Sum of the estimated cost of the campaign's live and published posts."""
    store.load(runtime, Campaign, workspace_id, campaign_id, "campaign")
    totals: dict[str, float] = {}
    count = 0
    posts = pages(
        runtime.db,
        q.CAMPAIGN_POSTS,
        fields=("status", "estimated_cost_usd"),
        workspace_id=workspace_id,
        campaign_id=campaign_id,
    )
    for docs in posts:
        for snap in docs:
            status = snap.get("status")
            if status in (PostStatus.CANCELLED, PostStatus.FAILED):
                continue
            totals[status] = totals.get(status, 0.0) + float(snap.get("estimated_cost_usd") or 0)
            count += 1
    total = round(sum(totals.values()), 6)
    runtime.db.collection(CAMPAIGNS).document(campaign_id).update({"estimated_cost_usd": total})
    return {
        "campaign_id": campaign_id,
        "posts": count,
        "total_usd": total,
        "by_status_usd": {k: round(v, 6) for k, v in totals.items()},
    }
