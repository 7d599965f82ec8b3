"""One post for several channels (X, Bluesky, Mastodon): validate, create, schedule,
cancel and read a group, all channels at once (shared.x.groups)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.api.context import Ctx
from shared.api.models import Body, SmallObject
from shared.api.router import router
from shared.api.routes.posts import MAX_PARTS, MAX_POST, AltText, PostOut, PostText, ScheduleIn
from shared.tenancy import Role

router.plain_param("group_id", "a post group's id (its posts share it as group_id)")
MAX_CHANNELS = 10
CHANNEL_MAX_BYTES = 32 * 1024


def _svc() -> Any:
    from shared.x import service

    return service


class ChannelIn(Body):
    """A channel and its variant; the variant's JSON is bounded as a whole, so ten of
    them and the shared text stay far below a Firestore document (each channel's post
    holds the shared fields and only its own variant)."""

    model_config = ConfigDict(json_schema_extra={"x-max-bytes": CHANNEL_MAX_BYTES})
    account_id: str = Field(max_length=64, description="an account of any network")
    text: str | None = Field(
        None, min_length=1, max_length=MAX_POST, description="this network's variant"
    )
    parts: list[PostText] | None = Field(
        None, max_length=MAX_PARTS, description="the variant's thread (with `text`)"
    )
    options: SmallObject | None = Field(
        None,
        description="Mastodon {visibility, spoiler_text, sensitive, language}; Bluesky {langs}",
    )

    @model_validator(mode="after")
    def _bounded(self) -> ChannelIn:
        size = len(self.model_dump_json().encode())
        if size > CHANNEL_MAX_BYTES:
            raise ValueError(f"a channel's variant is {size} bytes as JSON; at most 32 KiB")
        return self


class GroupIn(Body):
    references: ClassVar[dict[str, str]] = {"campaign_id": "campaign_id"}
    channels: list[ChannelIn] = Field(min_length=1, max_length=MAX_CHANNELS)
    text: str | None = Field(
        None, max_length=MAX_POST, description="the text of every channel without a variant"
    )
    parts: list[PostText] | None = Field(None, max_length=MAX_PARTS)
    media: list[str] | None = Field(None, max_length=4, description="media ids (max 4)")
    media_alt: list[AltText] | None = Field(None, max_length=4)
    link_in_reply: bool = False
    campaign_id: str | None = None
    due_at: AwareDatetime | None = None
    timezone: str = Field("UTC", max_length=64)
    schedule: bool = Field(False, description="schedule every channel's post for due_at now")
    confirm_over_budget: bool = False


class ChannelCheck(BaseModel):
    account_id: str
    handle: str
    network: str = Field(description="x | bluesky | mastodon")
    label: str
    ok: bool
    problems: list[dict[str, Any]]
    counter: dict[str, Any] | None = Field(
        None, description="{network, label, unit, limit, lengths, max_media}"
    )


class GroupCheckOut(BaseModel):
    ok: bool
    channels: list[ChannelCheck]


class ChannelResult(BaseModel):
    network: str
    label: str
    handle: str | None = None
    status: str
    published_at: datetime | None = None
    ids: list[str] = Field(description="the network's id of every part")
    url: str | None = Field(None, description="the post's page on its network")
    error: str | None = Field(None, description="why it failed or is retried")


class GroupPost(PostOut):
    result: ChannelResult


class GroupOut(BaseModel):
    group_id: str
    status: str = Field(description="the posts' common status, or mixed")
    due_at: datetime | None = None
    posts: list[GroupPost]
    not_cancelled: list[dict[str, Any]] | None = Field(
        None, description="cancel: the networks already out, {id, network, reason}"
    )


@router.post(
    "/workspaces/{ws}/post-groups/validate",
    summary="Check a post for several channels, each with its network's rules",
    tag="posts",
    body=GroupIn,
    response=GroupCheckOut,
    description="Nothing is saved. Each channel's counter gives its length and limit as "
    "its network counts them (X weighted, Bluesky graphemes, the Mastodon instance's "
    "limit) and what it would refuse.",
)
def validate_group(ctx: Ctx) -> Any:
    return _svc().validate_group(ctx.runtime, ctx.ws, **ctx.body.given())


@router.post(
    "/workspaces/{ws}/post-groups",
    summary="One post to several channels: a post per channel, all or none",
    tag="posts",
    role=Role.EDITOR,
    body=GroupIn,
    response=GroupOut,
    status=201,
    description="If any channel would refuse the post, nothing is saved and the 400's "
    "`details.channels` lists every channel's problems. With `schedule` the posts are "
    "scheduled for `due_at` in the same write.",
)
def create_group(ctx: Ctx) -> Any:
    return _svc().create_group(ctx.runtime, ctx.ws, **ctx.body.given())


@router.get(
    "/workspaces/{ws}/post-groups/{group_id}",
    summary="A group's posts, each with its network's result",
    tag="posts",
    response=GroupOut,
)
def get_group(ctx: Ctx) -> Any:
    return _svc().get_group(ctx.runtime, ctx.ws, ctx.params["group_id"])


@router.post(
    "/workspaces/{ws}/post-groups/{group_id}/schedule",
    summary="Validate and schedule every channel's post (all or none)",
    tag="posts",
    role=Role.EDITOR,
    body=ScheduleIn,
    response=GroupOut,
)
def schedule_group(ctx: Ctx) -> Any:
    body: ScheduleIn = ctx.body
    return _svc().schedule_group(
        ctx.runtime,
        ctx.ws,
        ctx.params["group_id"],
        body.due_at,
        body.timezone,
        confirm_over_budget=body.confirm_over_budget,
    )


@router.post(
    "/workspaces/{ws}/post-groups/{group_id}/cancel",
    summary="Cancel every channel's post that has not gone out",
    tag="posts",
    role=Role.EDITOR,
    response=GroupOut,
)
def cancel_group(ctx: Ctx) -> Any:
    return _svc().cancel_group(ctx.runtime, ctx.ws, ctx.params["group_id"])
