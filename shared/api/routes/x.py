"""X accounts, campaigns, posts, templates, series, posting plans and media.

Thin: every operation is shared.x.service (or shared.media); this module declares
the routes, their roles and their shapes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import AwareDatetime, BaseModel, Field

from shared.api.context import Ctx, Reply
from shared.api.lists import after_key, doc_out, list_page, service_page
from shared.api.models import (
    OBJECT,
    Body,
    JsonObject,
    Name,
    Open,
    PageQuery,
    ShortValue,
    SmallObject,
    Word,
)
from shared.api.router import Upload, router
from shared.errors import ValidationError
from shared.tenancy import Role

router.object_param("account_id", "x_accounts", "X account")
router.object_param("campaign_id", "campaigns", "campaign")
router.object_param("post_id", "posts", "post")
router.object_param("template_id", "post_templates", "template")
router.object_param("series_id", "post_series", "series")
router.object_param("plan_id", "posting_plans", "posting plan")
router.object_param("media_id", "media", "image")


# Characters of one post (X's standard limit is 280 weighted; Herald stores up to this)
# and parts of a thread: bounds that keep a post's document far below 1 MiB.
MAX_POST = 4000
MAX_PARTS = 25
PostText = Annotated[str, Field(max_length=MAX_POST)]


def _svc() -> Any:
    from shared.x import service

    return service


def _changes(body: BaseModel) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True)


# -- models -----------------------------------------------------------------------------


class AccountOut(Open):
    id: str
    kind: str = Field(description="x | sandbox")
    handle: str
    display_name: str | None = None
    tier: str
    limits: dict[str, int]
    pricing: dict[str, Any]
    status: str = Field(description="pending | active | revoked | suspended | disconnected")
    status_reason: str | None = None
    sandbox: bool


class AccountPatch(Body):
    tier: str | None = Field(None, description="free | basic | pro | pay_per_use | enterprise")
    limits: dict[str, int] | None = Field(None, max_length=20)
    pricing: JsonObject | None = None
    display_name: str | None = Field(None, max_length=100)


class SandboxIn(Body):
    handle: str = Field("herald_sandbox", min_length=1, max_length=50)
    tier: str = "sandbox"


class OAuthBeginIn(Body):
    callback_url: str = Field(description="the admin page URL X sends the user back to")
    tier: str = "pay_per_use"


class OAuthBeginOut(BaseModel):
    authorization_url: str
    oauth_token: str


class OAuthCompleteIn(Body):
    oauth_token: str = Field(min_length=1)
    oauth_verifier: str = Field(min_length=1)


class CampaignIn(Body):
    references: ClassVar[dict[str, str]] = {"account_id": "account_id"}
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


class PostIn(Body):
    references: ClassVar[dict[str, str]] = {
        "account_id": "account_id",
        "campaign_id": "campaign_id",
    }
    account_id: str
    text: str = Field(min_length=1, max_length=MAX_POST)
    parts: list[PostText] | None = Field(
        None, max_length=MAX_PARTS, description="thread: the whole thread or its rest"
    )
    media: list[str] | None = Field(
        None, max_length=4, description="media ids from POST .../media (max 4)"
    )
    campaign_id: str | None = None
    due_at: AwareDatetime | None = None
    timezone: str = Field("UTC", max_length=64, description="the author's IANA zone")


class PostPatch(Body):
    references: ClassVar[dict[str, str]] = {
        "account_id": "account_id",
        "campaign_id": "campaign_id",
    }
    text: str | None = Field(None, min_length=1, max_length=MAX_POST)
    parts: list[PostText] | None = Field(None, max_length=MAX_PARTS)
    media: list[str] | None = Field(None, max_length=4)
    campaign_id: str | None = None
    timezone: str | None = Field(None, max_length=64)
    account_id: str | None = None


class PostOut(Open):
    id: str
    account_id: str
    campaign_id: str | None = None
    text: str
    parts: list[str]
    media: list[str]
    due_at: datetime | None = None
    timezone: str
    status: str = Field(
        description="draft | approved | scheduled | queued | publishing | published | "
        "failed | unconfirmed | cancelled"
    )
    attempts: int = 0
    last_error: dict[str, Any] | None = Field(None, description="{reason, code, at}")
    x_ids: list[str] = Field(default_factory=list, description="X id of every part")
    published_at: datetime | None = None
    estimated_cost_usd: float = 0.0
    sandbox: bool = False


class PostQuery(PageQuery):
    status: str | None = None
    campaign_id: str | None = None
    account_id: str | None = None


class CalendarQuery(PageQuery):
    start: AwareDatetime = Field(description="range start (inclusive)")
    end: AwareDatetime = Field(description="range end (exclusive)")
    campaign_id: str | None = None
    account_id: str | None = None
    limit: int = Field(200, ge=1, le=200)


class ScheduleIn(Body):
    due_at: AwareDatetime | None = Field(None, description="default: the post's own due_at")
    timezone: str | None = Field(None, max_length=64)


class RescheduleIn(Body):
    due_at: AwareDatetime
    timezone: str | None = Field(None, max_length=64)


class ValidationOut(BaseModel):
    ok: bool
    problems: list[dict[str, Any]]
    weighted_lengths: list[int]
    limit: int
    cost: dict[str, Any]


class EstimateIn(Body):
    references: ClassVar[dict[str, str]] = {"account_id": "account_id"}
    account_id: str
    text: str = Field(max_length=MAX_POST)
    parts: list[PostText] | None = Field(None, max_length=MAX_PARTS)
    media_count: int = Field(0, ge=0, le=4)


class TemplateIn(Body):
    name: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=MAX_POST)


class TemplatePatch(Body):
    name: str | None = Field(None, min_length=1, max_length=200)
    text: str | None = Field(None, min_length=1, max_length=MAX_POST)


class TemplateOut(Open):
    id: str
    name: str
    text: str
    placeholders: list[str]


class RenderIn(Body):
    values: dict[Name, ShortValue] = Field(max_length=50)


class SeriesIn(Body):
    references: ClassVar[dict[str, str]] = {
        "account_id": "account_id",
        "campaign_id": "campaign_id",
    }
    name: str = Field(min_length=1, max_length=200)
    account_id: str
    texts: list[PostText] = Field(min_length=1, max_length=25)
    start_at: AwareDatetime
    every: str = Field("daily", description="hours | daily | weekly")
    every_hours: int = Field(24, ge=1, le=168)
    end_at: AwareDatetime | None = None
    kind: str = Field("recurring", description="recurring | evergreen")
    campaign_id: str | None = None
    timezone: str = Field("UTC", max_length=64)


class MaterializeIn(Body):
    until: AwareDatetime | None = Field(None, description="default: 24 hours ahead")


class PlanIn(Body):
    references: ClassVar[dict[str, str]] = {"account_id": "account_id"}
    account_id: str
    posts_per_day: int = Field(ge=1, le=100)
    active_from: str = Field("09:00", description="local time in the campaign's zone")
    active_to: str = "18:00"


class MediaOut(BaseModel):
    id: str = Field(description="what posts name in `media`")
    content_type: str = Field(description="of the stored, re-encoded image")
    bytes: int
    width: int | None = None
    height: int | None = None
    source: str | None = Field(None, description="upload | generated")
    created_at: datetime | None = None


# -- X accounts -------------------------------------------------------------------------


@router.get(
    "/workspaces/{ws}/x/accounts",
    summary="Connected X accounts (and sandbox accounts)",
    tag="x",
    response=AccountOut,
    paged=True,
)
def list_x_accounts(ctx: Ctx) -> Any:
    q = ctx.query
    return service_page(_svc().list_accounts(ctx.runtime, ctx.ws, q.limit, after_key(ctx)))


@router.get(
    "/workspaces/{ws}/x/accounts/{account_id}", summary="An X account", tag="x", response=AccountOut
)
def get_x_account(ctx: Ctx) -> Any:
    return _svc().get_account(ctx.runtime, ctx.ws, ctx.params["account_id"])


@router.patch(
    "/workspaces/{ws}/x/accounts/{account_id}",
    summary="Set an X account's API tier, limits, pricing or display name",
    tag="x",
    role=Role.OWNER,
    body=AccountPatch,
    response=AccountOut,
)
def update_x_account(ctx: Ctx) -> Any:
    return _svc().update_account(ctx.runtime, ctx.ws, ctx.params["account_id"], _changes(ctx.body))


@router.delete(
    "/workspaces/{ws}/x/accounts/{account_id}",
    summary="Disconnect an X account (its tokens are deleted; history keeps its handle)",
    tag="x",
    role=Role.OWNER,
    status=204,
)
def disconnect_x_account(ctx: Ctx) -> Any:
    _svc().delete_account(ctx.runtime, ctx.ws, ctx.params["account_id"])


@router.post(
    "/workspaces/{ws}/x/accounts/sandbox",
    summary="Add a sandbox account: records what would be posted (local stack only)",
    tag="x",
    role=Role.OWNER,
    body=SandboxIn,
    response=AccountOut,
    status=201,
)
def create_sandbox_x_account(ctx: Ctx) -> Any:
    body: SandboxIn = ctx.body
    return _svc().create_sandbox_account(ctx.runtime, ctx.ws, handle=body.handle, tier=body.tier)


@router.post(
    "/workspaces/{ws}/x/oauth/begin",
    summary="Connect an X account, step 1: get the X authorization URL",
    tag="x",
    role=Role.OWNER,
    body=OAuthBeginIn,
    response=OAuthBeginOut,
    description="Send the user to `authorization_url`; X sends them back to `callback_url` "
    "with `oauth_token` and `oauth_verifier`, which go to .../x/oauth/complete.",
)
def x_oauth_begin(ctx: Ctx) -> Any:
    body: OAuthBeginIn = ctx.body
    origin = ctx.runtime.settings.admin_origin
    if not (body.callback_url == origin or body.callback_url.startswith(origin + "/")):
        raise ValidationError(
            f"callback_url must be on the admin page ({origin})",
            details=[{"field": "callback_url", "message": f"must start with {origin}"}],
        )
    return _svc().begin_connection(ctx.runtime, ctx.ws, body.callback_url, body.tier)


@router.post(
    "/workspaces/{ws}/x/oauth/complete",
    summary="Connect an X account, step 2: exchange the verifier; creates the account",
    tag="x",
    role=Role.OWNER,
    body=OAuthCompleteIn,
    response=AccountOut,
    status=201,
)
def x_oauth_complete(ctx: Ctx) -> Any:
    body: OAuthCompleteIn = ctx.body
    account = _svc().complete_connection(ctx.runtime, ctx.ws, body.oauth_token, body.oauth_verifier)
    account.pop("secret_ref", None)
    return account


# -- campaigns --------------------------------------------------------------------------


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
    return _svc().create_campaign(ctx.runtime, ctx.ws, **_changes(ctx.body))


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
    return _svc().update_campaign(
        ctx.runtime, ctx.ws, ctx.params["campaign_id"], _changes(ctx.body)
    )


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


# -- posts ------------------------------------------------------------------------------


@router.get(
    "/workspaces/{ws}/posts",
    summary="Posts by due instant (history: status=published or failed)",
    tag="posts",
    query=PostQuery,
    response=PostOut,
    paged=True,
)
def list_posts(ctx: Ctx) -> Any:
    q: PostQuery = ctx.query
    return service_page(
        _svc().list_posts(
            ctx.runtime,
            ctx.ws,
            status=q.status,
            campaign_id=q.campaign_id,
            account_id=q.account_id,
            limit=q.limit,
            after=after_key(ctx),
        )
    )


@router.get(
    "/workspaces/{ws}/calendar",
    summary="Posts due in [start, end), for the week and month calendar",
    tag="posts",
    query=CalendarQuery,
    response=PostOut,
    paged=True,
)
def calendar(ctx: Ctx) -> Any:
    q: CalendarQuery = ctx.query
    if q.end <= q.start:
        raise ValidationError("end must be after start", [{"field": "end", "message": "≤ start"}])
    return service_page(
        _svc().list_posts(
            ctx.runtime,
            ctx.ws,
            campaign_id=q.campaign_id,
            account_id=q.account_id,
            start=q.start,
            end=q.end,
            limit=q.limit,
            after=after_key(ctx),
        )
    )


@router.post(
    "/workspaces/{ws}/posts",
    summary="Create a draft post or thread",
    tag="posts",
    role=Role.EDITOR,
    body=PostIn,
    response=PostOut,
    status=201,
)
def create_post(ctx: Ctx) -> Any:
    return _svc().create_post(ctx.runtime, ctx.ws, **_changes(ctx.body))


@router.post(
    "/workspaces/{ws}/posts/estimate",
    summary="Estimated X cost of a post before it exists",
    tag="posts",
    body=EstimateIn,
    response=OBJECT,
)
def estimate_post_cost(ctx: Ctx) -> Any:
    body: EstimateIn = ctx.body
    return _svc().estimate_cost(ctx.runtime, ctx.ws, **body.model_dump())


@router.get("/workspaces/{ws}/posts/{post_id}", summary="A post", tag="posts", response=PostOut)
def get_post(ctx: Ctx) -> Any:
    return _svc().get_post(ctx.runtime, ctx.ws, ctx.params["post_id"])


@router.patch(
    "/workspaces/{ws}/posts/{post_id}",
    summary="Edit a post's text, thread, images, campaign or account",
    tag="posts",
    role=Role.EDITOR,
    body=PostPatch,
    response=PostOut,
)
def update_post(ctx: Ctx) -> Any:
    return _svc().update_post(ctx.runtime, ctx.ws, ctx.params["post_id"], _changes(ctx.body))


@router.delete(
    "/workspaces/{ws}/posts/{post_id}",
    summary="Delete a post that is not live",
    tag="posts",
    role=Role.EDITOR,
    status=204,
)
def delete_post(ctx: Ctx) -> Any:
    _svc().delete_post(ctx.runtime, ctx.ws, ctx.params["post_id"])


@router.post(
    "/workspaces/{ws}/posts/{post_id}/validate",
    summary="What would stop this post (length, images, duplicates, account) and its cost",
    tag="posts",
    response=ValidationOut,
)
def validate_post(ctx: Ctx) -> Any:
    return _svc().validate_post(ctx.runtime, ctx.ws, ctx.params["post_id"])


@router.post(
    "/workspaces/{ws}/posts/{post_id}/approve",
    summary="Approve a draft",
    tag="posts",
    role=Role.EDITOR,
    response=PostOut,
)
def approve_post(ctx: Ctx) -> Any:
    return _svc().approve_post(ctx.runtime, ctx.ws, ctx.params["post_id"])


@router.post(
    "/workspaces/{ws}/posts/{post_id}/schedule",
    summary="Validate and schedule a post for its due instant",
    tag="posts",
    role=Role.EDITOR,
    body=ScheduleIn,
    response=PostOut,
)
def schedule_post(ctx: Ctx) -> Any:
    body: ScheduleIn = ctx.body
    return _svc().schedule_post(
        ctx.runtime, ctx.ws, ctx.params["post_id"], body.due_at, body.timezone
    )


@router.post(
    "/workspaces/{ws}/posts/{post_id}/reschedule",
    summary="Move a scheduled post (calendar drag)",
    tag="posts",
    role=Role.EDITOR,
    body=RescheduleIn,
    response=PostOut,
)
def reschedule_post(ctx: Ctx) -> Any:
    body: RescheduleIn = ctx.body
    return _svc().reschedule_post(
        ctx.runtime, ctx.ws, ctx.params["post_id"], body.due_at, body.timezone
    )


@router.post(
    "/workspaces/{ws}/posts/{post_id}/cancel",
    summary="Cancel a post that has not gone out",
    tag="posts",
    role=Role.EDITOR,
    response=PostOut,
)
def cancel_post(ctx: Ctx) -> Any:
    return _svc().cancel_post(ctx.runtime, ctx.ws, ctx.params["post_id"])


# -- templates --------------------------------------------------------------------------


@router.get(
    "/workspaces/{ws}/templates",
    summary="Post templates",
    tag="templates",
    response=TemplateOut,
    paged=True,
)
def list_templates(ctx: Ctx) -> Any:
    q = ctx.query
    return service_page(_svc().list_templates(ctx.runtime, ctx.ws, q.limit, after_key(ctx)))


@router.post(
    "/workspaces/{ws}/templates",
    summary="Create a template with {placeholders}",
    tag="templates",
    role=Role.EDITOR,
    body=TemplateIn,
    response=TemplateOut,
    status=201,
)
def create_template(ctx: Ctx) -> Any:
    body: TemplateIn = ctx.body
    return _svc().create_template(ctx.runtime, ctx.ws, name=body.name, text=body.text)


@router.get(
    "/workspaces/{ws}/templates/{template_id}",
    summary="A template",
    tag="templates",
    response=TemplateOut,
)
def get_template(ctx: Ctx) -> Any:
    return _svc().get_template(ctx.runtime, ctx.ws, ctx.params["template_id"])


@router.patch(
    "/workspaces/{ws}/templates/{template_id}",
    summary="Change a template",
    tag="templates",
    role=Role.EDITOR,
    body=TemplatePatch,
    response=TemplateOut,
)
def update_template(ctx: Ctx) -> Any:
    return _svc().update_template(
        ctx.runtime, ctx.ws, ctx.params["template_id"], _changes(ctx.body)
    )


@router.delete(
    "/workspaces/{ws}/templates/{template_id}",
    summary="Delete a template",
    tag="templates",
    role=Role.EDITOR,
    status=204,
)
def delete_template(ctx: Ctx) -> Any:
    _svc().delete_template(ctx.runtime, ctx.ws, ctx.params["template_id"])


@router.post(
    "/workspaces/{ws}/templates/{template_id}/render",
    summary="Fill a template's placeholders (the composer's 'use template')",
    tag="templates",
    body=RenderIn,
    response=OBJECT,
)
def render_template(ctx: Ctx) -> Any:
    body: RenderIn = ctx.body
    return _svc().render_template(ctx.runtime, ctx.ws, ctx.params["template_id"], body.values)


# -- series -----------------------------------------------------------------------------


@router.get(
    "/workspaces/{ws}/series",
    summary="Recurring and evergreen series",
    tag="posts",
    response=OBJECT,
    paged=True,
)
def list_series(ctx: Ctx) -> Any:
    q = ctx.query
    return service_page(_svc().list_series(ctx.runtime, ctx.ws, q.limit, after_key(ctx)))


@router.post(
    "/workspaces/{ws}/series",
    summary="Create a recurring or evergreen series",
    tag="posts",
    role=Role.EDITOR,
    body=SeriesIn,
    response=OBJECT,
    status=201,
)
def create_series(ctx: Ctx) -> Any:
    return _svc().create_series(ctx.runtime, ctx.ws, **_changes(ctx.body))


@router.get("/workspaces/{ws}/series/{series_id}", summary="A series", tag="posts", response=OBJECT)
def get_series(ctx: Ctx) -> Any:
    return _svc().get_series(ctx.runtime, ctx.ws, ctx.params["series_id"])


@router.delete(
    "/workspaces/{ws}/series/{series_id}",
    summary="Stop a series (posts already scheduled stay)",
    tag="posts",
    role=Role.EDITOR,
    status=204,
)
def stop_series(ctx: Ctx) -> Any:
    _svc().delete_series(ctx.runtime, ctx.ws, ctx.params["series_id"])


@router.post(
    "/workspaces/{ws}/series/{series_id}/materialize",
    summary="Create and schedule the series' posts due before `until`",
    tag="posts",
    role=Role.EDITOR,
    body=MaterializeIn,
    response={"type": "array", "items": {"type": "object"}},
)
def materialize_series(ctx: Ctx) -> Any:
    body: MaterializeIn = ctx.body
    return _svc().materialize_series(ctx.runtime, ctx.ws, ctx.params["series_id"], body.until)


# -- media ------------------------------------------------------------------------------


@router.post(
    "/workspaces/{ws}/media",
    summary="Upload an image (JPEG, PNG, GIF, WebP; at most 5 MB) for a post",
    tag="media",
    role=Role.EDITOR,
    body=Upload("the image", max_bytes=6 * 1024 * 1024),
    response=MediaOut,
    status=201,
    description="The bytes are decoded and re-encoded without their metadata (EXIF, GPS, "
    "comments); anything that does not decode as one of these formats is refused, "
    "whatever its declared type. Posts refer to the image by the `id` answered.",
)
def upload_media(ctx: Ctx) -> Any:
    from shared import media

    _, data = ctx.upload()
    return Reply(media.public(media.put(ctx.runtime, ctx.ws, data)), 201)


@router.get(
    "/workspaces/{ws}/media",
    summary="The media library: the workspace's uploaded and generated images, newest first",
    tag="media",
    response=MediaOut,
    paged=True,
)
def list_media(ctx: Ctx) -> Any:
    from shared import media
    from shared.queries import x as q

    return list_page(ctx, q.MEDIA, serialize=lambda snap: media.public(doc_out(snap)))


@router.get(
    "/workspaces/{ws}/media/{media_id}",
    summary="An image's type, size and source",
    tag="media",
    response=MediaOut,
)
def get_media(ctx: Ctx) -> Any:
    from shared import media

    return media.public(ctx.obj("media_id"))


@router.get(
    "/workspaces/{ws}/media/{media_id}/content",
    summary="The bytes of an uploaded or generated image (for previews)",
    tag="media",
    produces="image/*",
)
def media_content(ctx: Ctx) -> Any:
    from flask import Response

    from shared import media

    data, ctype = media.read(ctx.runtime, ctx.ws, ctx.params["media_id"])
    return Response(
        data,
        mimetype=ctype,
        headers={
            "Cache-Control": "private, max-age=86400",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Content-Disposition": "inline",
        },
    )
