"""Per-workspace SMTP settings: stored in `email_settings/{workspace_id}`, password in the
secrets store (only its ref in Firestore), with presets for common providers.

In the local stack (settings.sandbox on) a workspace without settings is offered the
SMTP sink at HERALD_LOCAL_SMTP as a clearly labelled sandbox preset; production never
offers or accepts it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from email.headerregistry import Address
from typing import TYPE_CHECKING, Any

from shared.email.destinations import DestinationPolicy
from shared.email.model import SETTINGS, valid_email
from shared.email.smtp import SECURITY_MODES, SmtpConfig
from shared.errors import NotFound, ValidationError
from shared.secrets import user_secret_name

if TYPE_CHECKING:
    from shared.runtime import Runtime

LOCAL_SINK_PRESET = "local-sink"

PRESETS: list[dict[str, Any]] = [
    {
        "id": "gmail",
        "label": "Gmail (app password)",
        "host": "smtp.gmail.com",
        "port": 465,
        "security": "ssl",
        "daily_quota": 500,
        "per_minute_rate": 20,
    },
    {
        "id": "google-workspace",
        "label": "Google Workspace",
        "host": "smtp.gmail.com",
        "port": 465,
        "security": "ssl",
        "daily_quota": 2000,
        "per_minute_rate": 60,
    },
    {
        "id": "ses",
        "label": "Amazon SES (eu-west-1)",
        "host": "email-smtp.eu-west-1.amazonaws.com",
        "port": 587,
        "security": "starttls",
        "daily_quota": 50000,
        "per_minute_rate": 600,
    },
    {
        "id": "sendgrid",
        "label": "SendGrid",
        "host": "smtp.sendgrid.net",
        "port": 587,
        "security": "starttls",
        "username": "apikey",
        "daily_quota": 100,
        "per_minute_rate": 100,
    },
    {
        "id": "hostinger",
        "label": "Hostinger",
        "host": "smtp.hostinger.com",
        "port": 465,
        "security": "ssl",
        "daily_quota": 3000,
        "per_minute_rate": 60,
    },
]

DEFAULT_DAILY_QUOTA = 2000
DEFAULT_PER_MINUTE = 60


@dataclass(frozen=True)
class Sender:
    """What the worker needs to send: a connection config and the From identity."""

    smtp: SmtpConfig
    from_name: str
    from_address: str
    reply_to: str | None
    daily_quota: int
    per_minute_rate: int
    sandbox: bool
    # The sender's physical postal address, printed in every message's footer (CAN-SPAM).
    postal_address: str = ""


def local_sink(runtime: Runtime) -> dict[str, Any] | None:
    """The local SMTP sink preset, only in sandbox (never production) and when configured."""
    s = runtime.settings
    addr = os.environ.get("HERALD_LOCAL_SMTP", "")
    if not s.sandbox or s.is_production or ":" not in addr:
        return None
    host, _, port = addr.rpartition(":")
    return {
        "id": LOCAL_SINK_PRESET,
        "label": "Local SMTP sink (sandbox: nothing leaves this machine)",
        "host": host,
        "port": int(port),
        "security": "none",
        "username": "",
        "from_name": "Herald (local)",
        "from_address": "herald@localhost.localdomain",
        "reply_to": None,
        "daily_quota": 1_000_000,
        "per_minute_rate": 100_000,
        "sandbox": True,
    }


def presets(runtime: Runtime) -> list[dict[str, Any]]:
    sink = local_sink(runtime)
    return ([sink] if sink else []) + [dict(p, sandbox=False) for p in PRESETS]


def _stored(runtime: Runtime, workspace_id: str) -> dict[str, Any] | None:
    snap = runtime.db.collection(SETTINGS).document(workspace_id).get()
    return snap.to_dict() if snap.exists else None


def _public(data: dict[str, Any], configured: bool) -> dict[str, Any]:
    out = {k: v for k, v in data.items() if k not in ("password_ref", "workspace_id")}
    out["password_set"] = bool(data.get("password_ref"))
    out["configured"] = configured
    if "updated_at" in out and out["updated_at"] is not None:
        out["updated_at"] = out["updated_at"].isoformat()
    return out


def get_smtp_settings(runtime: Runtime, workspace_id: str) -> dict[str, Any]:
    data = _stored(runtime, workspace_id)
    if data is not None:
        return _public(data, configured=True)
    sink = local_sink(runtime)
    if sink is not None:
        return _public(
            {k: v for k, v in sink.items() if k not in ("id", "label")}
            | {"preset": LOCAL_SINK_PRESET, "label": sink["label"]},
            configured=False,
        )
    raise NotFound("no SMTP settings for this workspace yet", {"presets": presets(runtime)})


def _str(body: dict[str, Any], key: str, *, required: bool = False, limit: int = 254) -> str:
    value = body.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(f"{key} must be text", {"field": key})
    value = value.strip()
    if required and not value:
        raise ValidationError(f"{key} is required", {"field": key})
    if len(value) > limit or "\r" in value or "\n" in value:
        raise ValidationError(
            f"{key} must be one line of at most {limit} characters", {"field": key}
        )
    return value


def _address(body: dict[str, Any]) -> str:
    """The postal address: up to 6 lines, 300 characters; kept as typed, trimmed."""
    value = body.get("postal_address") or ""
    if not isinstance(value, str):
        raise ValidationError("postal_address must be text", {"field": "postal_address"})
    lines = [" ".join(line.split()) for line in value.replace("\r", "\n").split("\n")]
    text = "\n".join(line for line in lines if line)
    if len(text) > 300 or text.count("\n") > 5:
        raise ValidationError(
            "postal_address must be at most 6 lines and 300 characters",
            {"field": "postal_address"},
        )
    return text


def require_postal_address(sender: Sender) -> None:
    """Refuse to send a campaign through a real server without the sender's postal
    address: CAN-SPAM requires it in every commercial message. The sandbox sink
    delivers to no one, so it sends without (the footer then leaves it out)."""
    from shared.errors import Conflict

    if not sender.postal_address and not sender.sandbox:
        raise Conflict(
            "set the sender's postal address (Email → SMTP settings) before sending: "
            "the law (CAN-SPAM) requires it in every campaign message",
            {"field": "postal_address", "where": "smtp"},
        )


def _positive(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"{key} must be a positive whole number", {"field": key})
    return value


def put_smtp_settings(runtime: Runtime, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Validate and store; a password in `body` goes to the secrets store, never Firestore."""
    host = _str(body, "host", required=True)
    security = body.get("security", "starttls")
    if security not in SECURITY_MODES:
        raise ValidationError(
            f"security must be one of {', '.join(SECURITY_MODES)}", {"field": "security"}
        )
    port = body.get("port")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValidationError("port must be a number between 1 and 65535", {"field": "port"})
    # Checked when saved too (and again at every connect: DNS may change its answer).
    DestinationPolicy.from_settings(runtime.settings).address_for(host, port)
    from_address = _str(body, "from_address", required=True)
    if not valid_email(from_address):
        raise ValidationError(
            "from_address is not a valid email address", {"field": "from_address"}
        )
    reply_to = _str(body, "reply_to") or None
    if reply_to and not valid_email(reply_to):
        raise ValidationError("reply_to is not a valid email address", {"field": "reply_to"})
    from_name = _str(body, "from_name", limit=120)
    try:
        Address(display_name=from_name, addr_spec=from_address)
    except (ValueError, IndexError) as exc:
        raise ValidationError(
            "from_name cannot be used in a From header", {"field": "from_name"}
        ) from exc
    sandbox = body.get("preset") == LOCAL_SINK_PRESET
    if sandbox and local_sink(runtime) is None:
        raise ValidationError("the local SMTP sink is only available in the local sandbox")
    previous = _stored(runtime, workspace_id) or {}
    password = body.get("password")
    password_ref = previous.get("password_ref")
    if password is not None:
        if not isinstance(password, str) or len(password) > 1000:
            raise ValidationError("password must be text", {"field": "password"})
        if password:
            password_ref = runtime.secrets.put(
                user_secret_name(workspace_id, "smtp-password", "default"), password
            )
        else:
            password_ref = None
    data = {
        "workspace_id": workspace_id,
        "preset": body.get("preset") if isinstance(body.get("preset"), str) else None,
        "host": host,
        "port": port,
        "security": security,
        "username": _str(body, "username"),
        "password_ref": password_ref,
        "from_name": from_name,
        "from_address": from_address,
        "reply_to": reply_to,
        "daily_quota": _positive(body, "daily_quota", DEFAULT_DAILY_QUOTA),
        "per_minute_rate": _positive(body, "per_minute_rate", DEFAULT_PER_MINUTE),
        "postal_address": _address(body),
        "sandbox": sandbox,
        "updated_at": runtime.clock.now(),
    }
    runtime.db.collection(SETTINGS).document(workspace_id).set(data)
    return _public(data, configured=True)


def sender_for(runtime: Runtime, workspace_id: str, stored: dict[str, Any] | None = None) -> Sender:
    """The effective sender (stored settings, else the local sink in sandbox).

    `stored` is the settings document when the caller has read it already ({} when it
    does not exist); None reads it here.
    """
    data = _stored(runtime, workspace_id) if stored is None else (stored or None)
    if data is None:
        data = local_sink(runtime)
        if data is None:
            raise ValidationError("configure SMTP settings for this workspace before sending")
    if data.get("sandbox") and (not runtime.settings.sandbox or runtime.settings.is_production):
        raise ValidationError("these SMTP settings use the local sandbox sink, refused here")
    ref = data.get("password_ref")
    password = runtime.secrets.get(ref) if ref else None
    return Sender(
        smtp=SmtpConfig(
            host=data["host"],
            port=int(data["port"]),
            security=data["security"],
            username=data.get("username") or None,
            password=password,
            policy=DestinationPolicy.from_settings(runtime.settings),
        ),
        from_name=data.get("from_name") or "",
        from_address=data["from_address"],
        reply_to=data.get("reply_to"),
        daily_quota=int(data.get("daily_quota") or DEFAULT_DAILY_QUOTA),
        per_minute_rate=int(data.get("per_minute_rate") or DEFAULT_PER_MINUTE),
        sandbox=bool(data.get("sandbox")),
        postal_address=str(data.get("postal_address") or ""),
    )
