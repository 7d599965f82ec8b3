"""SMTP settings: the server, its presets and a test message.

Thin: every operation is shared.email.service; this module declares routes and shapes.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.api.context import Ctx
from shared.api.models import ARRAY, OBJECT, Body, Open
from shared.api.router import router
from shared.errors import NotFound
from shared.tenancy import Role


def _svc() -> Any:
    from shared.email import service

    return service


class SmtpIn(Body):
    preset: str | None = Field(None, description="a preset id from .../smtp/presets")
    host: str = Field(min_length=1, max_length=254)
    port: int = Field(ge=1, le=65535)
    security: str = Field("starttls", description="ssl (implicit TLS) | starttls | none")
    username: str | None = Field(None, max_length=254)
    password: str | None = Field(
        None,
        max_length=1000,
        description="stored in the secrets store; omit to keep, empty string to clear",
    )
    from_name: str | None = Field(None, max_length=120)
    from_address: str = Field(max_length=254)
    reply_to: str | None = Field(None, max_length=254)
    daily_quota: int | None = Field(None, ge=1)
    per_minute_rate: int | None = Field(None, ge=1)
    postal_address: str | None = Field(
        None,
        max_length=300,
        description="the sender's postal address, printed in every message's footer "
        "(CAN-SPAM); required before a campaign goes through a real SMTP server",
    )


class SmtpOut(Open):
    configured: bool
    password_set: bool = False


class TestEmailIn(Body):
    to: str = Field(min_length=3, max_length=254)


@router.get(
    "/workspaces/{ws}/smtp",
    summary="The workspace's SMTP settings (never the password)",
    tag="email",
    response=SmtpOut,
)
def get_smtp(ctx: Ctx) -> Any:
    try:
        return _svc().get_smtp_settings(ctx.runtime, ctx.ws)
    except NotFound:
        # Not configured yet is a state the settings screen shows, not an error.
        return {"configured": False, "password_set": False}


@router.put(
    "/workspaces/{ws}/smtp",
    summary="Set the SMTP settings (password goes to the secrets store)",
    tag="email",
    role=Role.OWNER,
    body=SmtpIn,
    response=SmtpOut,
)
def put_smtp(ctx: Ctx) -> Any:
    return _svc().put_smtp_settings(ctx.runtime, ctx.ws, ctx.body.given())


@router.get(
    "/workspaces/{ws}/smtp/presets",
    summary="SMTP presets (Gmail, Workspace, SES, SendGrid, Hostinger; local sink in sandbox)",
    tag="email",
    response=ARRAY,
)
def smtp_presets(ctx: Ctx) -> Any:
    return _svc().smtp_presets(ctx.runtime, ctx.ws)


@router.post(
    "/workspaces/{ws}/smtp/test",
    summary="Send a test email with the saved settings; a clear error says what is wrong",
    tag="email",
    role=Role.OWNER,
    body=TestEmailIn,
    response=OBJECT,
)
def smtp_test(ctx: Ctx) -> Any:
    return _svc().send_test_email(ctx.runtime, ctx.ws, ctx.body.to)
