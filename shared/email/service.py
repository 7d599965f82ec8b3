"""The email domain operations the API exposes, each `(runtime, workspace_id, ...)`.

They return plain JSON-able dicts and raise shared.errors (ValidationError, NotFound,
Conflict, ProviderError). Authorization (who may call what) is the API's job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.email.campaigns import (
    campaign_progress,
    cancel_campaign,
    create_campaign,
    create_template,
    delete_campaign,
    delete_template,
    get_campaign,
    get_template,
    list_campaigns,
    list_outcomes,
    list_templates,
    pause_campaign,
    resume_campaign,
    schedule_campaign,
    unschedule_campaign,
    update_campaign,
    update_template,
)
from shared.email.contacts import (
    create_contact_list,
    get_contact,
    get_contact_list,
    list_contact_lists,
    list_contacts,
    remove_from_list,
    update_contact,
)
from shared.email.import_chunks import get_import
from shared.email.imports import import_contacts
from shared.email.model import CAMPAIGNS, valid_email
from shared.email.resend import resend_failed
from shared.email.smtp_settings import get_smtp_settings, presets, put_smtp_settings, sender_for
from shared.errors import HeraldError, NotFound, ProviderError, ValidationError
from shared.tenancy import scoped_get

if TYPE_CHECKING:
    from shared.runtime import Runtime

__all__ = [
    "campaign_progress",
    "cancel_campaign",
    "create_campaign",
    "create_contact_list",
    "create_template",
    "delete_campaign",
    "delete_template",
    "get_campaign",
    "get_contact",
    "get_contact_list",
    "get_import",
    "get_smtp_settings",
    "get_template",
    "import_contacts",
    "list_campaigns",
    "list_contact_lists",
    "list_contacts",
    "list_outcomes",
    "list_templates",
    "pause_campaign",
    "put_smtp_settings",
    "remove_from_list",
    "resend_failed",
    "resume_campaign",
    "schedule_campaign",
    "send_test_campaign",
    "send_test_email",
    "smtp_presets",
    "unschedule_campaign",
    "update_campaign",
    "update_contact",
    "update_template",
]


def smtp_presets(runtime: Runtime, workspace_id: str) -> list[dict[str, Any]]:
    return presets(runtime)


def _deliver(runtime: Runtime, workspace_id: str, to: str, message: Any) -> dict[str, Any]:
    import smtplib

    from shared.email import smtp

    if not isinstance(to, str) or not valid_email(to.strip()):
        raise ValidationError("enter a valid address to send the test to", {"field": "to"})
    sender = sender_for(runtime, workspace_id)
    conn = smtp.connect(sender.smtp)
    try:
        raw = message if isinstance(message, bytes) else message.as_bytes()
        refused = conn.sendmail(sender.from_address, [to.strip()], raw)
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        raise ProviderError(
            f"the SMTP server refused {to}: {code} {smtp.reply_text(text)}",
            {"reason": "recipient", "smtp_code": code},
        ) from exc
    except smtplib.SMTPSenderRefused as exc:
        raise ProviderError(
            f"the SMTP server refused the sender {sender.from_address}: "
            f"{exc.smtp_code} {smtp.reply_text(exc.smtp_error)}; check the from address "
            "is allowed for this account",
            {"reason": "sender", "smtp_code": exc.smtp_code},
        ) from exc
    except smtplib.SMTPResponseException as exc:
        raise ProviderError(
            f"the SMTP server did not accept the message: {exc.smtp_code} "
            f"{smtp.reply_text(exc.smtp_error)}",
            {"reason": "smtp", "smtp_code": exc.smtp_code},
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise ProviderError(f"sending failed: {exc}", {"reason": "disconnected"}) from exc
    finally:
        smtp.close(conn)
    return {
        "sent": not refused,
        "to": to.strip(),
        "sandbox": sender.sandbox,
    }


def send_test_email(runtime: Runtime, workspace_id: str, to: str) -> dict[str, Any]:
    """Connect, log in and send a short message with the workspace's settings."""
    from email.message import EmailMessage
    from email.policy import SMTP
    from email.utils import format_datetime, make_msgid

    sender = sender_for(runtime, workspace_id)
    msg = EmailMessage(policy=SMTP)
    from email.headerregistry import Address

    msg["From"] = Address(display_name=sender.from_name, addr_spec=sender.from_address)
    msg["To"] = to.strip() if isinstance(to, str) and valid_email(to.strip()) else "invalid"
    msg["Subject"] = "Herald SMTP test"
    msg["Date"] = format_datetime(runtime.clock.now())
    msg["Message-ID"] = make_msgid(domain=sender.from_address.rpartition("@")[2])
    msg.set_content(
        f"Your SMTP settings work: this message went through {sender.smtp.host}:"
        f"{sender.smtp.port} ({sender.smtp.security}).\n"
    )
    return _deliver(runtime, workspace_id, to, msg)


def send_test_campaign(
    runtime: Runtime, workspace_id: str, campaign_id: str, to: str, sample: dict[str, Any] | None
) -> dict[str, Any]:
    """The campaign rendered for `sample` variables, subject prefixed with [TEST]."""
    from shared.email.compose import Composer

    campaign = scoped_get(runtime.db, CAMPAIGNS, workspace_id, campaign_id)
    if campaign is None:
        raise NotFound("no such campaign")
    sample = dict(sample or {})
    recipient: dict[str, Any] = {
        "id": "test",
        "email": to.strip() if isinstance(to, str) else "",
        "first_name": str(sample.pop("first_name", "")),
        "last_name": str(sample.pop("last_name", "")),
        "fields": {str(k): v for k, v in sample.items()},
    }
    if not valid_email(str(recipient["email"])):
        raise ValidationError("enter a valid address to send the test to", {"field": "to"})
    campaign = {**campaign, "version": f"test-{campaign.get('version')}"}
    sender = sender_for(runtime, workspace_id)
    try:
        message = Composer(runtime, workspace_id, campaign, sender, "[TEST] ").message(recipient)
    except HeraldError:
        raise
    except Exception as exc:
        # A template that cannot render for these values (an attribute of a plain value,
        # something the sandbox refuses, a value no header can carry): the author's to fix.
        raise ValidationError(
            f"the campaign cannot be rendered for this sample: {exc}"[:400],
            {"reason": "render", "error_type": type(exc).__name__},
        ) from exc
    return _deliver(runtime, workspace_id, to, message)
