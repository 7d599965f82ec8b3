"""Ad platform credentials and ad campaigns (Meta, Google Ads) for job openings.

Thin: every operation is shared.ads.service (which validates the domain rules, e.g.
employment-ad targeting); this module declares routes and shapes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import AwareDatetime, Field

from shared.api.context import Ctx
from shared.api.lists import after_key, service_page
from shared.api.models import ARRAY, OBJECT, Body, JsonObject, Open, PageQuery
from shared.api.router import router
from shared.tenancy import Role

router.object_param("ad_campaign_id", "ad_campaigns", "ad campaign")
router.plain_param("platform", "ad platform: meta | google")

PLATFORMS = ("meta", "google")


def _ads() -> Any:
    from shared.ads import service

    return service


# -- models -----------------------------------------------------------------------------


class StatusQuery(PageQuery):
    status: str | None = None


class AdCredentialsIn(Body):
    external_ids: ClassVar[frozenset[str]] = frozenset(
        {"account_id", "page_id", "login_customer_id", "client_id"}
    )
    account_id: str = Field(description="Meta ad account id or Google Ads customer id")
    page_id: str | None = Field(None, description="Meta: the Facebook Page the ads run as")
    login_customer_id: str | None = Field(None, description="Google: manager account")
    access_token: str | None = Field(None, description="Meta")
    developer_token: str | None = Field(None, description="Google")
    client_id: str | None = Field(None, description="Google OAuth client")
    client_secret: str | None = Field(None, description="Google OAuth client")
    refresh_token: str | None = Field(None, description="Google")


class AdCampaignIn(Body):
    references: ClassVar[dict[str, str]] = {"opening_id": "opening_id", "segment_ids": "segment_id"}
    opening_id: str
    name: str | None = Field(None, max_length=120)
    segment_ids: list[str] = Field(default_factory=list, max_length=20)
    platforms: list[str] = Field(max_length=2, description="meta and/or google")
    daily_budget: float = Field(description="in major units of `currency`")
    currency: str | None = Field(None, description="ISO 4217; default the salary currency")
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    targeting: JsonObject | None = Field(
        None, description="employment rules: no age, gender or ZIP targeting"
    )
    creative: JsonObject | None = None


class AdCampaignPatch(Body):
    references: ClassVar[dict[str, str]] = {"opening_id": "opening_id", "segment_ids": "segment_id"}
    opening_id: str | None = None
    name: str | None = Field(None, max_length=120)
    segment_ids: list[str] | None = Field(None, max_length=20)
    platforms: list[str] | None = Field(None, max_length=2)
    daily_budget: float | None = None
    currency: str | None = None
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    targeting: JsonObject | None = None
    creative: JsonObject | None = None


class AdCampaignOut(Open):
    id: str
    name: str
    status: str = Field(
        description="draft | scheduled | publishing | active | paused | archived | failed"
    )
    desired_status: str
    platforms: list[str]


class TargetingIn(Body):
    targeting: JsonObject


# -- ad platform credentials ------------------------------------------------------------


def _platform(ctx: Ctx) -> str:
    platform = ctx.params["platform"]
    if platform not in PLATFORMS:
        from shared.errors import NotFound

        raise NotFound(f"no ad platform {platform!r}; use meta or google")
    return platform


@router.get(
    "/workspaces/{ws}/ads/accounts",
    summary="Which ad platforms are connected (never the credentials)",
    tag="ads",
    response=ARRAY,
)
def list_ad_accounts(ctx: Ctx) -> Any:
    return _ads().list_accounts(ctx.runtime, ctx.ws)


@router.put(
    "/workspaces/{ws}/ads/accounts/{platform}",
    summary="Set a platform's credentials (kept in the secrets store)",
    tag="ads",
    role=Role.OWNER,
    body=AdCredentialsIn,
    response=OBJECT,
)
def set_ad_credentials(ctx: Ctx) -> Any:
    return _ads().set_credentials(ctx.runtime, ctx.ws, _platform(ctx), ctx.body.given(json=True))


@router.delete(
    "/workspaces/{ws}/ads/accounts/{platform}",
    summary="Remove a platform's credentials",
    tag="ads",
    role=Role.OWNER,
    status=204,
)
def remove_ad_credentials(ctx: Ctx) -> Any:
    _ads().remove_credentials(ctx.runtime, ctx.ws, _platform(ctx))


# -- ad campaigns -----------------------------------------------------------------------


def _acid(ctx: Ctx) -> str:
    return ctx.params["ad_campaign_id"]


@router.post(
    "/workspaces/{ws}/ads/targeting/check",
    summary="Check targeting against the employment-ad rules before saving",
    tag="ads",
    body=TargetingIn,
    response=OBJECT,
)
def check_ad_targeting(ctx: Ctx) -> Any:
    return _ads().check_targeting(ctx.body.targeting)


@router.get(
    "/workspaces/{ws}/ads/campaigns",
    summary="Ad campaigns",
    tag="ads",
    query=StatusQuery,
    response=AdCampaignOut,
    paged=True,
)
def list_ad_campaigns(ctx: Ctx) -> Any:
    q: StatusQuery = ctx.query
    return service_page(
        _ads().list_campaigns(
            ctx.runtime, ctx.ws, status=q.status, after=after_key(ctx), limit=q.limit
        )
    )


@router.post(
    "/workspaces/{ws}/ads/campaigns",
    summary="Create a draft ad campaign for a job opening and segments",
    tag="ads",
    role=Role.EDITOR,
    body=AdCampaignIn,
    response=AdCampaignOut,
    status=201,
)
def create_ad_campaign(ctx: Ctx) -> Any:
    return _ads().create_campaign(ctx.runtime, ctx.ws, ctx.body.given(json=True))


@router.get(
    "/workspaces/{ws}/ads/campaigns/{ad_campaign_id}",
    summary="An ad campaign with each platform's publication state",
    tag="ads",
    response=AdCampaignOut,
)
def get_ad_campaign(ctx: Ctx) -> Any:
    return _ads().get_campaign(ctx.runtime, ctx.ws, _acid(ctx))


@router.patch(
    "/workspaces/{ws}/ads/campaigns/{ad_campaign_id}",
    summary="Change a draft or scheduled ad campaign",
    tag="ads",
    role=Role.EDITOR,
    body=AdCampaignPatch,
    response=AdCampaignOut,
)
def update_ad_campaign(ctx: Ctx) -> Any:
    return _ads().update_campaign(ctx.runtime, ctx.ws, _acid(ctx), ctx.body.given(json=True))


@router.delete(
    "/workspaces/{ws}/ads/campaigns/{ad_campaign_id}",
    summary="Delete a draft ad campaign",
    tag="ads",
    role=Role.EDITOR,
    status=204,
)
def delete_ad_campaign(ctx: Ctx) -> Any:
    _ads().delete_campaign(ctx.runtime, ctx.ws, _acid(ctx))


router.actions(
    "/workspaces/{ws}/ads/campaigns/{ad_campaign_id}",
    "ad_campaign_id",
    "ad_campaign",
    _ads,
    {
        "publish": ("publish_campaign", "Publish on every chosen platform (at start_at)"),
        "pause": ("pause_campaign", "Pause on every platform"),
        "resume": ("resume_campaign", "Resume on every platform"),
        "archive": ("archive_campaign", "Archive on every platform (final)"),
    },
    tag="ads",
    role=Role.EDITOR,
    response=AdCampaignOut,
)


@router.get(
    "/workspaces/{ws}/ads/campaigns/{ad_campaign_id}/performance",
    summary="Daily impressions, clicks, spend, CTR and CPC per platform, and totals",
    tag="ads",
    response=OBJECT,
)
def ad_campaign_performance(ctx: Ctx) -> Any:
    return _ads().performance(ctx.runtime, ctx.ws, _acid(ctx))
