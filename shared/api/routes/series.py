"""Recurring and evergreen series of posts (X, Bluesky, Mastodon; one or several channels)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import AwareDatetime, Field

from shared.api.context import Ctx
from shared.api.lists import after_key, service_page
from shared.api.models import OBJECT, Body
from shared.api.router import router
from shared.api.routes.posts import PostText
from shared.tenancy import Role

router.object_param("series_id", "post_series", "series")


def _svc() -> Any:
    from shared.x import service

    return service


# -- models ---------------------------------------------------------------------------


class SeriesIn(Body):
    references: ClassVar[dict[str, str]] = {
        "account_id": "account_id",
        "campaign_id": "campaign_id",
        "channels": "account_id",
    }
    name: str = Field(min_length=1, max_length=200)
    account_id: str
    channels: list[str] | None = Field(
        None,
        max_length=9,
        description="other accounts (any network) each occurrence also goes to, as a post "
        "group; every text must fit every channel's network",
    )
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


# -- routes ---------------------------------------------------------------------------


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
    return _svc().create_series(ctx.runtime, ctx.ws, **ctx.body.given())


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
