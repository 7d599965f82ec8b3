"""Campaigns (their brief drives generation), their estimated X cost and posting plans."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, Field

from shared.api.context import Ctx
from shared.api.lists import after_key, service_page
from shared.api.models import OBJECT, Body, JsonObject, Open, PageQuery, SmallObject, Word
from shared.api.router import router
from shared.tenancy import Role

router.object_param("campaign_id", "campaigns", "campaign")
router.object_param("plan_id", "posting_plans", "posting plan")


def _svc() -> Any:
    from shared.x import service

    return service


# -- models ---------------------------------------------------------------------------


class CampaignIn(Body):
    references: ClassVar[dict[str, str]] = {"account_id": "account_id", "channels": "account_id"}
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    keywords: list[Word] | None = Field(None, max_length=50)
    hashtags: list[Word] | None = Field(None, max_length=50)
    target_audience: str | None = None
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    timezone: str | None = Field(None, max_length=64, description="IANA zone")
    status: str | None = Field(None, description="draft | active | paused | ended")
    account_id: str | None = None
    channels: list[str] | None = Field(
        None,
        max_length=9,
        description="other accounts (any network) the campaign's generated posts also go "
        "to: each draft fits every network's limit and is stored as a post group",
    )
    # Generation brief (shared.generate.brief).
    topics: list[Word | SmallObject] | None = Field(None, max_length=50)
    topic_priorities: dict[Word, int] | None = Field(None, max_length=50)
    tone: str | None = None
    language: str | None = None
    call_to_action: str | None = None
    links: list[str] | None = Field(None, max_length=20)
    hashtags_per_post: int | None = Field(None, ge=0, le=30)
    approval_required: bool | None = None
    autopilot: JsonObject | None = None
    image: JsonObject | None = None


class CampaignPatch(CampaignIn):
    name: str | None = Field(None, min_length=1, max_length=200)  # type: ignore[assignment]


class CampaignOut(Open):
    id: str
    name: str
    status: str
    timezone: str
    estimated_cost_usd: float = 0.0
    created_at: datetime | None = None


class CampaignQuery(PageQuery):
    status: str | None = None


class PlanIn(Body):
    references: ClassVar[dict[str, str]] = {"account_id": "account_id"}
    account_id: str
    posts_per_day: int = Field(ge=1, le=100)
    active_from: str = Field("09:00", description="local time in the campaign's zone")
    active_to: str = "18:00"


# -- routes ---------------------------------------------------------------------------


@router.get(
    "/workspaces/{ws}/campaigns",
    summary="Campaigns, oldest first",
    tag="campaigns",
    query=CampaignQuery,
    response=CampaignOut,
    paged=True,
)
def list_campaigns(ctx: Ctx) -> Any:
    q: CampaignQuery = ctx.query
    return service_page(
        _svc().list_campaigns(ctx.runtime, ctx.ws, q.limit, after_key(ctx), q.status)
    )


@router.post(
    "/workspaces/{ws}/campaigns",
    summary="Create a campaign (its brief drives generation)",
    tag="campaigns",
    role=Role.EDITOR,
    body=CampaignIn,
    response=CampaignOut,
    status=201,
)
def create_campaign(ctx: Ctx) -> Any:
    return _svc().create_campaign(ctx.runtime, ctx.ws, **ctx.body.given())


@router.get(
    "/workspaces/{ws}/campaigns/{campaign_id}",
    summary="A campaign",
    tag="campaigns",
    response=CampaignOut,
)
def get_campaign(ctx: Ctx) -> Any:
    return _svc().get_campaign(ctx.runtime, ctx.ws, ctx.params["campaign_id"])


@router.patch(
    "/workspaces/{ws}/campaigns/{campaign_id}",
    summary="Change a campaign",
    tag="campaigns",
    role=Role.EDITOR,
    body=CampaignPatch,
    response=CampaignOut,
)
def update_campaign(ctx: Ctx) -> Any:
    return _svc().update_campaign(ctx.runtime, ctx.ws, ctx.params["campaign_id"], ctx.body.given())


@router.delete(
    "/workspaces/{ws}/campaigns/{campaign_id}",
    summary="Delete a campaign without scheduled posts",
    tag="campaigns",
    role=Role.EDITOR,
    status=204,
)
def delete_campaign(ctx: Ctx) -> Any:
    _svc().delete_campaign(ctx.runtime, ctx.ws, ctx.params["campaign_id"])


@router.get(
    "/workspaces/{ws}/campaigns/{campaign_id}/cost",
    summary="Estimated X cost of the campaign's posts, by status",
    tag="campaigns",
    response=OBJECT,
)
def campaign_cost(ctx: Ctx) -> Any:
    return _svc().campaign_cost(ctx.runtime, ctx.ws, ctx.params["campaign_id"])


@router.post(
    "/workspaces/{ws}/campaigns/{campaign_id}/plans",
    summary="A posting plan: N posts a day over the campaign's active hours",
    tag="campaigns",
    role=Role.EDITOR,
    body=PlanIn,
    response=OBJECT,
    status=201,
)
def create_posting_plan(ctx: Ctx) -> Any:
    body: PlanIn = ctx.body
    return _svc().create_plan(
        ctx.runtime, ctx.ws, campaign_id=ctx.params["campaign_id"], **body.model_dump()
    )


@router.get(
    "/workspaces/{ws}/plans/{plan_id}",
    summary="A posting plan with its slots for the next 24 hours",
    tag="campaigns",
    response=OBJECT,
)
def get_posting_plan(ctx: Ctx) -> Any:
    return _svc().get_plan(ctx.runtime, ctx.ws, ctx.params["plan_id"])
