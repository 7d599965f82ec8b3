"""Email deliverability: DKIM keys, the bounce mailbox, providers' webhooks, the
soft-bounce limit, the warm-up plan, the sending domain's pre-flight and the
reputation guard's figures.

Thin: every operation is shared.email.deliverability, .preflight or .reputation.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.api.context import Ctx
from shared.api.models import OBJECT, Body
from shared.api.router import router
from shared.tenancy import Role

BASE = "/workspaces/{ws}/email/deliverability"


def _deliverability() -> Any:
    from shared.email import deliverability

    return deliverability


class DkimIn(Body):
    domain: str | None = Field(None, max_length=253, description="default: the From domain")
    selector: str | None = Field(None, max_length=63, description="default: herald<YYYYMM>")
    enabled: bool = True


class DkimEnabledIn(Body):
    enabled: bool


class MailboxIn(Body):
    host: str = Field(min_length=1, max_length=254)
    port: int | None = Field(None, ge=1, le=65535)
    security: Literal["ssl", "starttls", "none"] = "ssl"
    username: str = Field(min_length=1, max_length=254)
    password: str | None = Field(
        None, max_length=1000, description="stored in the secrets store; omit to keep"
    )
    address: str = Field(
        max_length=254, description="the bounce address; VERP adds +<token> to its local part"
    )
    folder: str | None = Field(None, max_length=254)
    enabled: bool = True


class WebhookIn(Body):
    provider: Literal["ses", "sendgrid", "mailgun", "postmark"]
    topic_arns: list[str] | None = Field(None, max_length=20, description="ses: SNS topics")
    key: str | None = Field(
        None, max_length=4000, description="sendgrid: verification key; mailgun: signing key"
    )
    username: str | None = Field(None, max_length=100, description="postmark: basic auth")
    password: str | None = Field(None, max_length=200, description="postmark: basic auth")


class PolicyIn(Body):
    soft_bounce_limit: int = Field(ge=1, le=20)


class WarmupIn(Body):
    curve: list[int] | None = Field(None, max_length=120, description="daily volumes")
    start: str | None = Field(None, max_length=10, description="YYYY-MM-DD; default today")
    enabled: bool = True


@router.get(
    BASE,
    summary="DKIM, bounce mailbox, webhooks, soft-bounce limit, warm-up, pace and reputation",
    tag="email",
    response=OBJECT,
)
def get_deliverability(ctx: Ctx) -> Any:
    from shared.email import reputation

    view = _deliverability().get_deliverability(ctx.runtime, ctx.ws)
    return {**view, "reputation": reputation.report(ctx.runtime, ctx.ws)}


@router.post(
    f"{BASE}/dkim",
    summary="Generate a DKIM key pair (private key to the secrets store); shows the DNS record",
    tag="email",
    role=Role.OWNER,
    body=DkimIn,
    response=OBJECT,
)
def generate_dkim(ctx: Ctx) -> Any:
    body = ctx.body.model_dump(exclude_none=True)
    return _deliverability().generate_dkim(ctx.runtime, ctx.ws, body)


@router.put(
    f"{BASE}/dkim",
    summary="Turn DKIM signing on or off",
    tag="email",
    role=Role.OWNER,
    body=DkimEnabledIn,
    response=OBJECT,
)
def put_dkim(ctx: Ctx) -> Any:
    return _deliverability().set_dkim_enabled(ctx.runtime, ctx.ws, ctx.body.enabled)


@router.put(
    f"{BASE}/mailbox",
    summary="The bounce mailbox read over IMAP (its password goes to the secrets store)",
    tag="email",
    role=Role.OWNER,
    body=MailboxIn,
    response=OBJECT,
)
def put_mailbox(ctx: Ctx) -> Any:
    body = ctx.body.model_dump(exclude_none=True)
    return _deliverability().put_mailbox(ctx.runtime, ctx.ws, body)


@router.put(
    f"{BASE}/webhooks",
    summary="What verifies a provider's bounce and complaint webhook",
    tag="email",
    role=Role.OWNER,
    body=WebhookIn,
    response=OBJECT,
)
def put_webhook(ctx: Ctx) -> Any:
    body = ctx.body.model_dump(exclude_none=True)
    provider = body.pop("provider")
    return _deliverability().put_webhook(ctx.runtime, ctx.ws, provider, body)


@router.put(
    f"{BASE}/policy",
    summary="Soft bounces in a row that suppress an address",
    tag="email",
    role=Role.OWNER,
    body=PolicyIn,
    response=OBJECT,
)
def put_policy(ctx: Ctx) -> Any:
    return _deliverability().put_policy(ctx.runtime, ctx.ws, ctx.body.model_dump())


@router.put(
    f"{BASE}/warmup",
    summary="The sending domain's warm-up plan (daily volumes); enabled false ends it",
    tag="email",
    role=Role.OWNER,
    body=WarmupIn,
    response=OBJECT,
)
def put_warmup(ctx: Ctx) -> Any:
    return _deliverability().put_warmup(ctx.runtime, ctx.ws, ctx.body.model_dump())


@router.post(
    f"{BASE}/preflight",
    summary="Check the sending domain's SPF, DKIM and DMARC records, with advice",
    tag="email",
    response=OBJECT,
)
def preflight(ctx: Ctx) -> Any:
    from shared.email import preflight

    return preflight.run(ctx.runtime, ctx.ws)
