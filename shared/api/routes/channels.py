"""Bluesky and Mastodon accounts: connect (app password; OAuth with any instance).

The accounts then appear beside X's under /workspaces/{ws}/x/accounts (with `network`),
where they are listed, changed, disconnected; sandbox accounts of any network are made
there too (`network` in the body).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shared.api.context import Ctx
from shared.api.models import Body
from shared.api.router import router
from shared.api.routes.x_accounts import AccountOut, _on_admin_page
from shared.tenancy import Role


class BlueskyConnectIn(Body):
    identifier: str = Field(min_length=1, max_length=253, description="handle, e-mail or DID")
    app_password: str = Field(
        min_length=1, max_length=100, description="an app password made in Bluesky's settings"
    )
    service_url: str | None = Field(
        None, max_length=200, description="the account's PDS (default https://bsky.social)"
    )


class MastodonBeginIn(Body):
    instance_url: str = Field(min_length=8, max_length=200, description="https://your.instance")
    callback_url: str = Field(description="the admin page URL the instance sends the user back to")


class MastodonBeginOut(BaseModel):
    authorization_url: str
    state: str


class MastodonCompleteIn(Body):
    state: str = Field(min_length=1, max_length=100)
    code: str = Field(min_length=1, max_length=500)


@router.post(
    "/workspaces/{ws}/bluesky/accounts",
    summary="Connect a Bluesky account with an app password",
    tag="x",
    role=Role.OWNER,
    body=BlueskyConnectIn,
    response=AccountOut,
    status=201,
)
def connect_bluesky(ctx: Ctx) -> Any:
    from shared.x.connect import connect_bluesky as connect

    body: BlueskyConnectIn = ctx.body
    return connect(ctx.runtime, ctx.ws, body.identifier, body.app_password, body.service_url)


@router.post(
    "/workspaces/{ws}/mastodon/oauth/begin",
    summary="Connect a Mastodon account, step 1: the instance's authorization URL",
    tag="x",
    role=Role.OWNER,
    body=MastodonBeginIn,
    response=MastodonBeginOut,
    description="Send the user to `authorization_url`; the instance sends them back to "
    "`callback_url` with `code` and `state`, which go to .../mastodon/oauth/complete.",
)
def mastodon_begin(ctx: Ctx) -> Any:
    from shared.x.connect import begin_mastodon

    body: MastodonBeginIn = ctx.body
    _on_admin_page(ctx, body.callback_url)
    return begin_mastodon(ctx.runtime, ctx.ws, body.instance_url, body.callback_url)


@router.post(
    "/workspaces/{ws}/mastodon/oauth/complete",
    summary="Connect a Mastodon account, step 2: exchange the code; creates the account",
    tag="x",
    role=Role.OWNER,
    body=MastodonCompleteIn,
    response=AccountOut,
    status=201,
)
def mastodon_complete(ctx: Ctx) -> Any:
    from shared.x.connect import complete_mastodon

    body: MastodonCompleteIn = ctx.body
    return complete_mastodon(ctx.runtime, ctx.ws, body.state, body.code)
