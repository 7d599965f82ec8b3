"""Post templates with {placeholders}."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.api.context import Ctx
from shared.api.lists import after_key, service_page
from shared.api.models import OBJECT, Body, Name, Open, ShortValue
from shared.api.router import router
from shared.api.routes.posts import MAX_POST
from shared.tenancy import Role

router.object_param("template_id", "post_templates", "template")


def _svc() -> Any:
    from shared.x import service

    return service


# -- models ---------------------------------------------------------------------------


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


# -- routes ---------------------------------------------------------------------------


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
    return _svc().update_template(ctx.runtime, ctx.ws, ctx.params["template_id"], ctx.body.given())


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
