"""SMTP settings, contacts and lists, email templates and email campaigns.

Thin: every operation is shared.email.service; this module declares routes and shapes.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import AwareDatetime, Field

from shared.api.context import Ctx
from shared.api.lists import after_key, service_page
from shared.api.models import ARRAY, OBJECT, Body, JsonObject, Name, Open, PageQuery, ShortValue
from shared.api.router import Upload, router
from shared.errors import NotFound, ValidationError
from shared.tenancy import Role

router.object_param("email_campaign_id", "email_campaigns", "email campaign")
router.object_param("list_id", "contact_lists", "contact list")
router.object_param("contact_id", "contacts", "contact")
router.object_param("email_template_id", "email_templates", "email template")
router.object_param("import_id", "contact_imports", "contact import")


def _svc() -> Any:
    from shared.email import service

    return service


# -- models -----------------------------------------------------------------------------


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


class ListIn(Body):
    name: str = Field(min_length=1, max_length=120)


class ContactsQuery(PageQuery):
    list_id: str | None = None
    q: str | None = Field(None, max_length=254, description="the address starts with this")


class ContactPatch(Body):
    first_name: str | None = Field(None, max_length=120)
    last_name: str | None = Field(None, max_length=120)
    timezone: str | None = Field(None, description="IANA zone; empty to clear")
    fields: dict[Name, ShortValue | int | float] | None = Field(
        None, max_length=50, description="custom fields to set (merged with the contact's others)"
    )
    status: str | None = Field(
        None,
        description="subscribed | unsubscribed: a manual unsubscribe, or its undoing (a "
        "recipient's own unsubscribe or a hard bounce cannot be undone here)",
    )
    email: str | None = Field(None, description="cannot change; given only to be checked")


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


# -- SMTP -------------------------------------------------------------------------------


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
    return _svc().put_smtp_settings(ctx.runtime, ctx.ws, ctx.body.model_dump(exclude_unset=True))


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


# -- contacts ---------------------------------------------------------------------------


@router.get(
    "/workspaces/{ws}/lists",
    summary="Contact lists with their contact counts",
    tag="contacts",
    response=ARRAY,
)
def list_contact_lists(ctx: Ctx) -> Any:
    from shared.email.contact_admin import lists_with_counts

    return lists_with_counts(ctx.runtime, ctx.ws)


@router.post(
    "/workspaces/{ws}/lists",
    summary="Create a contact list",
    tag="contacts",
    role=Role.EDITOR,
    body=ListIn,
    response=OBJECT,
    status=201,
)
def create_contact_list(ctx: Ctx) -> Any:
    return _svc().create_contact_list(ctx.runtime, ctx.ws, ctx.body.name)


@router.get(
    "/workspaces/{ws}/lists/{list_id}",
    summary="A contact list with its contact count",
    tag="contacts",
    response=OBJECT,
)
def get_contact_list(ctx: Ctx) -> Any:
    return _svc().get_contact_list(ctx.runtime, ctx.ws, ctx.params["list_id"])


@router.post(
    "/workspaces/{ws}/lists/{list_id}/import",
    summary="Import contacts from CSV or XLSX into a list; answers the validation report",
    tag="contacts",
    role=Role.EDITOR,
    body=Upload(
        "a .csv or .xlsx file with a header row",
        fields={
            "mapping": 'JSON: {"email": "<column>", "first_name": ..., "last_name": ..., '
            '"timezone": ..., "fields": {"<name>": "<column>"}}; default {"email": "email"}'
        },
        max_bytes=40 * 1024 * 1024,
    ),
    response=OBJECT,
    description="The whole file is checked first; a malformed file is refused with nothing "
    "written. The report lists rejected rows (row, reason: invalid address, duplicate, "
    "suppressed). Up to 2,000 accepted rows are written before the answer (`status: done`); "
    "a larger file is written in the background (`status: importing`; follow it with "
    "GET /workspaces/{ws}/imports/{import_id}).",
)
def import_contacts(ctx: Ctx) -> Any:
    name, data = ctx.upload()
    return _svc().import_contacts(
        ctx.runtime, ctx.ws, data, name, _mapping(ctx.form("mapping")), ctx.params["list_id"]
    )


@router.get(
    "/workspaces/{ws}/imports/{import_id}",
    summary="A contact import: its validation report and progress (chunks, contacts written)",
    tag="contacts",
    response=OBJECT,
)
def get_import(ctx: Ctx) -> Any:
    return _svc().get_import(ctx.runtime, ctx.ws, ctx.params["import_id"])


def _mapping(raw: str | None) -> dict[str, Any]:
    if raw is None:
        return {"email": "email"}
    try:
        mapping = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # also too deep, or a 5,000-digit number
        raise ValidationError(
            f"mapping is not valid JSON: {exc}", [{"field": "mapping", "message": "not JSON"}]
        ) from exc
    if not isinstance(mapping, dict):
        raise ValidationError("mapping must be a JSON object", [{"field": "mapping"}])
    return mapping


@router.get(
    "/workspaces/{ws}/contacts",
    summary="Contacts by address (of one list, or whose address starts with q), with "
    "each one's subscription status",
    tag="contacts",
    query=ContactsQuery,
    response=OBJECT,
    paged=True,
    description="`status`: subscribed | unsubscribed | bounced | suppressed (from the "
    "suppression list); `list_ids`: the lists the contact is in.",
)
def list_contacts(ctx: Ctx) -> Any:
    from shared.email import contact_admin

    q: ContactsQuery = ctx.query
    if q.list_id:
        from shared.tenancy import scoped_get

        if scoped_get(ctx.db, "contact_lists", ctx.ws, q.list_id) is None:
            raise NotFound("contact list not found in this workspace")
    if q.q and not q.list_id:
        page = contact_admin.search_contacts(
            ctx.runtime, ctx.ws, q.q, after=after_key(ctx), limit=q.limit
        )
    else:
        page = _svc().list_contacts(
            ctx.runtime, ctx.ws, list_id=q.list_id, after=after_key(ctx), limit=q.limit
        )
    contact_admin.with_status(ctx.runtime, ctx.ws, page["items"])
    return service_page(page)


@router.get(
    "/workspaces/{ws}/contacts/{contact_id}",
    summary="A contact with its subscription status",
    tag="contacts",
    response=OBJECT,
)
def get_contact(ctx: Ctx) -> Any:
    from shared.email import contact_admin

    return contact_admin.get_contact(ctx.runtime, ctx.ws, ctx.params["contact_id"])


@router.patch(
    "/workspaces/{ws}/contacts/{contact_id}",
    summary="Edit a contact (names, timezone, fields) or its subscription status",
    tag="contacts",
    role=Role.EDITOR,
    body=ContactPatch,
    response=OBJECT,
    description="The lists' member entries change with it, so the next campaign uses the "
    "new values. The address is the contact's identity and cannot change.",
)
def update_contact(ctx: Ctx) -> Any:
    from shared.email import contact_admin

    return contact_admin.update_contact(
        ctx.runtime, ctx.ws, ctx.params["contact_id"], ctx.body.model_dump(exclude_unset=True)
    )


@router.delete(
    "/workspaces/{ws}/contacts/{contact_id}",
    summary="Delete a contact and its list memberships (a suppression of the address stays)",
    tag="contacts",
    role=Role.EDITOR,
    status=204,
)
def delete_contact(ctx: Ctx) -> Any:
    from shared.email import contact_admin

    contact_admin.delete_contact(ctx.runtime, ctx.ws, ctx.params["contact_id"])


@router.delete(
    "/workspaces/{ws}/lists/{list_id}/contacts/{contact_id}",
    summary="Take a contact out of a list (the contact stays, with its other lists)",
    tag="contacts",
    role=Role.EDITOR,
    status=204,
)
def remove_from_list(ctx: Ctx) -> Any:
    _svc().remove_from_list(ctx.runtime, ctx.ws, ctx.params["list_id"], ctx.params["contact_id"])


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
        ctx.body.model_dump(exclude_unset=True),
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
    return _svc().create_campaign(ctx.runtime, ctx.ws, ctx.body.model_dump(exclude_unset=True))


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
    return _svc().update_campaign(
        ctx.runtime, ctx.ws, _cid(ctx), ctx.body.model_dump(exclude_unset=True)
    )


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
