"""X accounts: list, change, disconnect, sandbox accounts and the OAuth connection."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field

from shared.api.context import Ctx
from shared.api.lists import after_key, service_page
from shared.api.models import Body, JsonObject, Open
from shared.api.router import router
from shared.errors import ValidationError
from shared.tenancy import Role

router.object_param("account_id", "x_accounts", "X account")


def _svc() -> Any:
    from shared.x import service

    return service


# -- models ---------------------------------------------------------------------------


class AccountOut(Open):
    id: str
    kind: str = Field(description="x | bluesky | mastodon | sandbox")
    network: str = Field("x", description="x | bluesky | mastodon")
    handle: str
    display_name: str | None = None
    tier: str
    limits: dict[str, int]
    pricing: dict[str, Any] = Field(
        description="effective prices: the tier's configured prices, the overrides on top"
    )
    pricing_overrides: dict[str, Any] = Field(
        default_factory=dict, description="this account's own prices (an enterprise deal)"
    )
    status: str = Field(
        description="pending | active | revoked | suspended | reconnect_needed | disconnected"
    )
    auth: str = Field("oauth1", description="oauth1 | oauth2")
    status_reason: str | None = None
    sandbox: bool


class AccountPatch(Body):
    tier: str | None = Field(None, description="free | basic | pro | pay_per_use | enterprise")
    limits: dict[str, int] | None = Field(None, max_length=20)
    pricing: JsonObject | None = Field(
        None, description="price overrides over the tier's; a null value drops one"
    )
    display_name: str | None = Field(None, max_length=100)


class SandboxIn(Body):
    handle: str = Field("herald_sandbox", min_length=1, max_length=50)
    tier: str = "sandbox"
    network: str = Field("x", description="x | bluesky | mastodon: whose rules it posts by")


class OAuthBeginIn(Body):
    callback_url: str = Field(description="the admin page URL X sends the user back to")
    tier: str = "pay_per_use"


class OAuthBeginOut(BaseModel):
    authorization_url: str
    oauth_token: str


class OAuth2BeginIn(Body):
    references: ClassVar[dict[str, str]] = {"account_id": "account_id"}
    callback_url: str = Field(description="the admin page URL X sends the user back to")
    tier: str = "pay_per_use"
    account_id: str | None = Field(None, description="reconnect this account")


class OAuth2BeginOut(BaseModel):
    authorization_url: str
    state: str


class OAuth2CompleteIn(Body):
    state: str = Field(min_length=1)
    code: str = Field(min_length=1)


class OAuthCompleteIn(Body):
    oauth_token: str = Field(min_length=1)
    oauth_verifier: str = Field(min_length=1)


# -- routes ---------------------------------------------------------------------------


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
    return _svc().update_account(ctx.runtime, ctx.ws, ctx.params["account_id"], ctx.body.given())


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
    return _svc().create_sandbox_account(
        ctx.runtime, ctx.ws, handle=body.handle, tier=body.tier, network=body.network
    )


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
    _on_admin_page(ctx, body.callback_url)
    return _svc().begin_connection(ctx.runtime, ctx.ws, body.callback_url, body.tier)


def _on_admin_page(ctx: Ctx, callback_url: str) -> None:
    origin = ctx.runtime.settings.admin_origin
    if not (callback_url == origin or callback_url.startswith(origin + "/")):
        raise ValidationError(
            f"callback_url must be on the admin page ({origin})",
            details=[{"field": "callback_url", "message": f"must start with {origin}"}],
        )


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


@router.post(
    "/workspaces/{ws}/x/oauth2/begin",
    summary="Connect (or reconnect) an X account with OAuth 2.0 and PKCE, step 1",
    tag="x",
    role=Role.OWNER,
    body=OAuth2BeginIn,
    response=OAuth2BeginOut,
    description="Send the user to `authorization_url`; X sends them back to `callback_url` "
    "with `code` and `state`, which go to .../x/oauth2/complete. With `account_id`, the "
    "account is reconnected (a lost token lineage) instead of a new one created.",
)
def x_oauth2_begin(ctx: Ctx) -> Any:
    body: OAuth2BeginIn = ctx.body
    _on_admin_page(ctx, body.callback_url)
    return _svc().begin_oauth2(
        ctx.runtime, ctx.ws, body.callback_url, body.tier, account_id=body.account_id
    )


@router.post(
    "/workspaces/{ws}/x/oauth2/complete",
    summary="Connect an X account with OAuth 2.0, step 2: exchange the code",
    tag="x",
    role=Role.OWNER,
    body=OAuth2CompleteIn,
    response=AccountOut,
    status=201,
)
def x_oauth2_complete(ctx: Ctx) -> Any:
    body: OAuth2CompleteIn = ctx.body
    return _svc().complete_oauth2(ctx.runtime, ctx.ws, body.state, body.code)
