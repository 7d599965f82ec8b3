"""X posts and threads: authoring, validation, cost, the calendar and status changes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import AwareDatetime, BaseModel, Field

from shared.api.context import Ctx
from shared.api.lists import after_key, service_page
from shared.api.models import OBJECT, Body, Open, PageQuery
from shared.api.router import router
from shared.errors import ValidationError
from shared.tenancy import Role

router.object_param("post_id", "posts", "post")

# Characters of one post (X's standard limit is 280 weighted; Herald stores up to this)
# and parts of a thread: bounds that keep a post's document far below 1 MiB.
MAX_POST = 4000
MAX_PARTS = 25
PostText = Annotated[str, Field(max_length=MAX_POST)]
AltText = Annotated[str, Field(max_length=1000)]
_REFERENCES: dict[str, str] = {"account_id": "account_id", "campaign_id": "campaign_id"}


def _svc() -> Any:
    from shared.x import service

    return service


# -- models ---------------------------------------------------------------------------


class PostIn(Body):
    references: ClassVar[dict[str, str]] = _REFERENCES
    account_id: str
    text: str = Field(min_length=1, max_length=MAX_POST)
    parts: list[PostText] | None = Field(
        None, max_length=MAX_PARTS, description="thread: the whole thread or its rest"
    )
    media: list[str] | None = Field(
        None, max_length=4, description="media ids from POST .../media (max 4)"
    )
    media_alt: list[AltText] | None = Field(
        None, max_length=4, description="alt text of each media item"
    )
    link_in_reply: bool = Field(False, description="the main post's links go in a reply")
    campaign_id: str | None = None
    due_at: AwareDatetime | None = None
    timezone: str = Field("UTC", max_length=64, description="the author's IANA zone")


class PostPatch(Body):
    references: ClassVar[dict[str, str]] = _REFERENCES
    text: str | None = Field(None, min_length=1, max_length=MAX_POST)
    parts: list[PostText] | None = Field(None, max_length=MAX_PARTS)
    media: list[str] | None = Field(None, max_length=4)
    media_alt: list[AltText] | None = Field(None, max_length=4)
    link_in_reply: bool | None = None
    campaign_id: str | None = None
    timezone: str | None = Field(None, max_length=64)
    account_id: str | None = None


class PostOut(Open):
    id: str
    account_id: str
    network: str = Field("x", description="x | bluesky | mastodon: the account's network")
    group_id: str | None = Field(None, description="the post group it was written in")
    options: dict[str, Any] = Field(default_factory=dict, description="network options")
    campaign_id: str | None = None
    text: str
    parts: list[str]
    media: list[str]
    media_alt: list[str] = Field(default_factory=list)
    link_in_reply: bool = False
    due_at: datetime | None = None
    timezone: str
    status: str = Field(
        description="draft | approved | scheduled | queued | publishing | published | "
        "failed | unconfirmed | held | cancelled"
    )
    attempts: int = Field(0, description="create requests X received for this post")
    retries: int = Field(0, description="failed tries spent against the retry budget")
    last_error: dict[str, Any] | None = Field(None, description="{reason, code, at}")
    x_ids: list[str] = Field(default_factory=list, description="the network's id of every part")
    published_at: datetime | None = None
    estimated_cost_usd: float = 0.0
    x_cost_usd: float = Field(0.0, description="counted: what X bills for the calls made")
    spend_month: str | None = Field(None, description="UTC month (YYYY-MM) of that spend")
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
    confirm_over_budget: bool = Field(
        False, description="schedule even past a monthly budget that asks for confirmation"
    )


class RescheduleIn(Body):
    due_at: AwareDatetime
    timezone: str | None = Field(None, max_length=64)
    confirm_over_budget: bool = False


class ValidationOut(BaseModel):
    ok: bool
    problems: list[dict[str, Any]]
    warnings: list[dict[str, Any]] = Field(default_factory=list)
    outgoing: list[str] = Field(default_factory=list, description="the parts as sent")
    weighted_lengths: list[int] = Field(description="each part as the network counts it")
    limit: int
    network: dict[str, Any] = Field(
        default_factory=dict, description="{network, label, unit, limit, lengths, max_media}"
    )
    cost: dict[str, Any]


class EstimateIn(Body):
    references: ClassVar[dict[str, str]] = {"account_id": "account_id"}
    account_id: str
    text: str = Field(max_length=MAX_POST)
    parts: list[PostText] | None = Field(None, max_length=MAX_PARTS)
    media_count: int = Field(0, ge=0, le=4)
    link_in_reply: bool = False


# -- routes ---------------------------------------------------------------------------


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
    return _svc().create_post(ctx.runtime, ctx.ws, **ctx.body.given())


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
    return _svc().update_post(ctx.runtime, ctx.ws, ctx.params["post_id"], ctx.body.given())


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
        ctx.runtime,
        ctx.ws,
        ctx.params["post_id"],
        body.due_at,
        body.timezone,
        confirm_over_budget=body.confirm_over_budget,
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
        ctx.runtime,
        ctx.ws,
        ctx.params["post_id"],
        body.due_at,
        body.timezone,
        confirm_over_budget=body.confirm_over_budget,
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


router.actions(
    "/workspaces/{ws}/posts/{post_id}",
    "post_id",
    "held_post",
    _svc,
    {
        "post-rest-separately": (
            "post_rest_separately",
            "A held thread: post the parts X refused as replies as separate posts",
        ),
        "drop-rest": ("drop_rest", "A held thread: post nothing more (it ends failed)"),
    },
    tag="posts",
    role=Role.EDITOR,
    response=PostOut,
)
