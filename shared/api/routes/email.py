"""Email templates and email campaigns (SMTP settings: routes.smtp; contacts and lists:
routes.contacts).

Thin: every operation is shared.email.service; this module declares routes and shapes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import AwareDatetime, Field

from shared.api.context import Ctx
from shared.api.lists import after_key, service_page
from shared.api.models import ARRAY, OBJECT, Body, JsonObject, Name, Open, PageQuery, ShortValue
from shared.api.router import router
from shared.tenancy import Role

router.object_param("email_campaign_id", "email_campaigns", "email campaign")
router.object_param("email_template_id", "email_templates", "email template")


def _svc() -> Any:
    from shared.email import service

    return service


# An email's HTML and text parts (Gmail clips messages past ~102 KB): bounds that keep
# a template's or a campaign's document far below Firestore's 1 MiB.
MAX_HTML = 100_000
MAX_TEXT = 50_000


class EmailTemplateIn(Body):
    name: str = Field(min_length=1, max_length=200)
    subject: str = Field("", max_length=998)
    html: str = Field("", max_length=MAX_HTML)
    text: str = Field(
        "", max_length=MAX_TEXT, description="plain-text part; derived from the HTML when empty"
    )
    defaults: dict[Name, ShortValue | int | float] = Field(
        default_factory=dict,
        max_length=50,
        description="values of personalization variables when missing",
    )


class EmailTemplatePatch(Body):
    name: str | None = Field(None, min_length=1, max_length=200)
    subject: str | None = Field(None, max_length=998)
    html: str | None = Field(None, max_length=MAX_HTML)
    text: str | None = Field(None, max_length=MAX_TEXT)
    defaults: dict[Name, ShortValue | int | float] | None = Field(None, max_length=50)


class EmailCampaignIn(EmailTemplateIn):
    references: ClassVar[dict[str, str]] = {
        "list_id": "list_id",
        "template_id": "email_template_id",
    }
    list_id: str | None = None
    template_id: str | None = Field(None, description="copy subject and bodies from it")
    track_opens: bool = False
    track_clicks: bool = False


class EmailCampaignPatch(EmailTemplatePatch):
    references: ClassVar[dict[str, str]] = {"list_id": "list_id"}
    list_id: str | None = None
    track_opens: bool | None = None
    track_clicks: bool | None = None


class ProgressOut(Open):
    status: str
    total: int
    sent: int
    failed: int
    pending: int


class EmailCampaignOut(Open):
    id: str
    name: str
    status: str = Field(description="draft | scheduled | sending | paused | done | cancelled")
    progress: dict[str, int]


class ScheduleEmailIn(Body):
    at: AwareDatetime | str = Field(
        description="ISO 8601 instant; without an offset it is a wall-clock time in `timezone`"
    )
    timezone: str = Field("UTC", max_length=64)
    local_hour: int | None = Field(
        None, ge=0, le=23, description="send at this hour in each recipient's own zone"
    )


class TestCampaignIn(Body):
    to: str = Field(min_length=3, max_length=254)
    sample: JsonObject | None = Field(None, description="variables to render with")


class RecipientsQuery(PageQuery):
    status: str | None = Field(None, description="sent | failed | deferred | pending | ...")
    limit: int = Field(20, ge=1, le=100, description="batches per page")


# -- email templates --------------------------------------------------------------------


@router.get(
    "/workspaces/{ws}/email/templates",
    summary="Saved email templates",
    tag="email",
    response=ARRAY,
)
def list_email_templates(ctx: Ctx) -> Any:
    return _svc().list_templates(ctx.runtime, ctx.ws)


@router.post(
    "/workspaces/{ws}/email/templates",
    summary="Save an email template (subject, HTML, text, defaults)",
    tag="email",
    role=Role.EDITOR,
    body=EmailTemplateIn,
    response=OBJECT,
    status=201,
)
def create_email_template(ctx: Ctx) -> Any:
    return _svc().create_template(ctx.runtime, ctx.ws, ctx.body.model_dump())


@router.get(
    "/workspaces/{ws}/email/templates/{email_template_id}",
    summary="An email template",
    tag="email",
    response=OBJECT,
)
def get_email_template(ctx: Ctx) -> Any:
    return _svc().get_template(ctx.runtime, ctx.ws, ctx.params["email_template_id"])


@router.patch(
    "/workspaces/{ws}/email/templates/{email_template_id}",
    summary="Change an email template",
    tag="email",
    role=Role.EDITOR,
    body=EmailTemplatePatch,
    response=OBJECT,
)
def update_email_template(ctx: Ctx) -> Any:
    return _svc().update_template(
        ctx.runtime,
        ctx.ws,
        ctx.params["email_template_id"],
        ctx.body.given(),
    )


@router.delete(
    "/workspaces/{ws}/email/templates/{email_template_id}",
    summary="Delete an email template",
    tag="email",
    role=Role.EDITOR,
    status=204,
)
def delete_email_template(ctx: Ctx) -> Any:
    _svc().delete_template(ctx.runtime, ctx.ws, ctx.params["email_template_id"])


# -- email campaigns --------------------------------------------------------------------


def _cid(ctx: Ctx) -> str:
    return ctx.params["email_campaign_id"]


@router.get(
    "/workspaces/{ws}/email/campaigns",
    summary="Email campaigns with their progress",
    tag="email",
    response=EmailCampaignOut,
    paged=True,
)
def list_email_campaigns(ctx: Ctx) -> Any:
    q = ctx.query
    return service_page(
        _svc().list_campaigns(ctx.runtime, ctx.ws, after=after_key(ctx), limit=q.limit)
    )


@router.post(
    "/workspaces/{ws}/email/campaigns",
    summary="Create a draft email campaign",
    tag="email",
    role=Role.EDITOR,
    body=EmailCampaignIn,
    response=EmailCampaignOut,
    status=201,
)
def create_email_campaign(ctx: Ctx) -> Any:
    return _svc().create_campaign(ctx.runtime, ctx.ws, ctx.body.given())


@router.get(
    "/workspaces/{ws}/email/campaigns/{email_campaign_id}",
    summary="An email campaign with its progress",
    tag="email",
    response=EmailCampaignOut,
)
def get_email_campaign(ctx: Ctx) -> Any:
    return _svc().get_campaign(ctx.runtime, ctx.ws, _cid(ctx))


@router.patch(
    "/workspaces/{ws}/email/campaigns/{email_campaign_id}",
    summary="Change a draft email campaign",
    tag="email",
    role=Role.EDITOR,
    body=EmailCampaignPatch,
    response=EmailCampaignOut,
)
def update_email_campaign(ctx: Ctx) -> Any:
    return _svc().update_campaign(ctx.runtime, ctx.ws, _cid(ctx), ctx.body.given())


@router.delete(
    "/workspaces/{ws}/email/campaigns/{email_campaign_id}",
    summary="Delete a draft, cancelled or finished email campaign",
    tag="email",
    role=Role.EDITOR,
    status=204,
)
def delete_email_campaign(ctx: Ctx) -> Any:
    _svc().delete_campaign(ctx.runtime, ctx.ws, _cid(ctx))


@router.post(
    "/workspaces/{ws}/email/campaigns/{email_campaign_id}/schedule",
    summary="Schedule at an instant (or a local hour in each recipient's zone)",
    tag="email",
    role=Role.EDITOR,
    body=ScheduleEmailIn,
    response=EmailCampaignOut,
)
def schedule_email_campaign(ctx: Ctx) -> Any:
    body: ScheduleEmailIn = ctx.body
    return _svc().schedule_campaign(
        ctx.runtime, ctx.ws, _cid(ctx), body.at, body.timezone, body.local_hour
    )


router.actions(
    "/workspaces/{ws}/email/campaigns/{email_campaign_id}",
    "email_campaign_id",
    "email_campaign",
    _svc,
    {
        "unschedule": ("unschedule_campaign", "Back to draft before sending starts"),
        "pause": ("pause_campaign", "Pause sending (batches not yet sent wait)"),
        "resume": ("resume_campaign", "Resume a paused campaign"),
        "cancel": ("cancel_campaign", "Cancel: nothing more is sent"),
        "resend-failed": ("resend_failed", "Re-queue only the recipients that failed transiently"),
    },
    tag="email",
    role=Role.EDITOR,
    response=OBJECT,
)


@router.post(
    "/workspaces/{ws}/email/campaigns/{email_campaign_id}/test",
    summary="Send the campaign rendered for sample values to one address ([TEST] subject)",
    tag="email",
    role=Role.EDITOR,
    body=TestCampaignIn,
    response=OBJECT,
)
def test_email_campaign(ctx: Ctx) -> Any:
    body: TestCampaignIn = ctx.body
    return _svc().send_test_campaign(ctx.runtime, ctx.ws, _cid(ctx), body.to, body.sample)


@router.get(
    "/workspaces/{ws}/email/campaigns/{email_campaign_id}/progress",
    summary="Live progress: total, sent, failed, deferred, pending (poll every 2 s)",
    tag="email",
    response=ProgressOut,
)
def email_campaign_progress(ctx: Ctx) -> Any:
    return _svc().campaign_progress(ctx.runtime, ctx.ws, _cid(ctx))


@router.get(
    "/workspaces/{ws}/email/campaigns/{email_campaign_id}/recipients",
    summary="Each recipient's outcome (status, SMTP code and text), a page of batches at a time",
    tag="email",
    query=RecipientsQuery,
    response=OBJECT,
    paged=True,
)
def email_campaign_recipients(ctx: Ctx) -> Any:
    q: RecipientsQuery = ctx.query
    return service_page(
        _svc().list_outcomes(
            ctx.runtime, ctx.ws, _cid(ctx), status=q.status, after=after_key(ctx), limit=q.limit
        )
    )
