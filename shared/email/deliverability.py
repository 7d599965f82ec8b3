"""A workspace's deliverability settings: `email_deliverability/{workspace_id}`.

One document per workspace, beside the SMTP settings (which `put_smtp_settings`
replaces whole, so these live apart):
- `dkim`: domain, selector, key_ref (the private key, in the secrets store as
  `ws-<ws>-dkim-key-<selector>`), public_key (base64 DER, for the DNS record), enabled.
- `mailbox`: the bounce mailbox read over IMAP: host, port, security, username,
  password_ref (`ws-<ws>-bounce-mailbox-default`), address (the return path: VERP adds
  `+<token>` to its local part), folder, enabled.
- `webhooks`: per provider, what verifies its signature: `ses` topic ARNs (SNS messages
  are signed by AWS; the topic says they are this workspace's), `sendgrid` key_ref
  (its verification public key), `mailgun` key_ref (its HTTP webhook signing key),
  `postmark` username and password_ref (basic auth in the URL Postmark calls).
- `soft_bounce_limit`: soft bounces in a row that suppress an address (default 3).
- `warmup`: the sending domain's warm-up plan (shared.email.warmup).
- `guard`: the reputation guard's state (shared.email.reputation).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING, Any

from shared.email import warmup
from shared.email.model import DELIVERABILITY, SETTINGS, valid_email
from shared.errors import ValidationError
from shared.secrets import user_secret_name

if TYPE_CHECKING:
    from shared.runtime import Runtime

PROVIDERS = ("ses", "sendgrid", "mailgun", "postmark")
DEFAULT_SOFT_BOUNCE_LIMIT = 3
_SELECTOR = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_TOPIC_ARN = re.compile(r"^arn:aws(-[a-z]+)?:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")


def load(runtime: Runtime, workspace_id: str) -> dict[str, Any]:
    snap = runtime.db.collection(DELIVERABILITY).document(workspace_id).get()
    return snap.to_dict() if snap.exists else {}


def smtp_settings(runtime: Runtime, workspace_id: str) -> dict[str, Any]:
    snap = runtime.db.collection(SETTINGS).document(workspace_id).get()
    return snap.to_dict() if snap.exists else {}


def save(runtime: Runtime, workspace_id: str, field: str, value: Any) -> None:
    """Replace one part (a map replaced whole, not merged key by key). The mailbox's
    `enabled` is also kept top level: the dispatcher queries it."""
    doc: dict[str, Any] = {"workspace_id": workspace_id, field: value}
    if field == "mailbox":
        doc["mailbox_enabled"] = bool(value and value.get("enabled"))
    doc["updated_at"] = runtime.clock.now()
    runtime.db.collection(DELIVERABILITY).document(workspace_id).set(doc, merge=list(doc))


def hook_url(runtime: Runtime, workspace_id: str, provider: str) -> str:
    return f"{runtime.settings.track_base_url}/hooks/{provider}/{workspace_id}"


def soft_bounce_limit(doc: dict[str, Any]) -> int:
    return int(doc.get("soft_bounce_limit") or DEFAULT_SOFT_BOUNCE_LIMIT)


# -- the page's view -----------------------------------------------------------------------


def get_deliverability(runtime: Runtime, workspace_id: str) -> dict[str, Any]:
    from shared.email import pace
    from shared.email.model import PACE
    from shared.email.quota import Limits
    from shared.email.signing import dns_record

    doc = load(runtime, workspace_id)
    smtp = smtp_settings(runtime, workspace_id)
    dkim = doc.get("dkim") or None
    mailbox = doc.get("mailbox") or None
    hooks = doc.get("webhooks") or {}
    pace_snap = runtime.db.collection(PACE).document(workspace_id).get()
    limits = Limits.of(smtp)
    postmark = hooks.get("postmark") or {}
    return {
        "from_domain": warmup.from_domain(smtp),
        "dkim": None
        if dkim is None
        else {
            "domain": dkim["domain"],
            "selector": dkim["selector"],
            "enabled": bool(dkim.get("enabled")),
            "created_at": _iso(dkim.get("created_at")),
            "dns": dns_record(dkim["domain"], dkim["selector"], dkim["public_key"]),
        },
        "mailbox": None
        if mailbox is None
        else {
            **{k: v for k, v in mailbox.items() if k != "password_ref"},
            "password_set": bool(mailbox.get("password_ref")),
            "last_polled_at": _iso(mailbox.get("last_polled_at")),
        },
        "webhooks": {
            provider: {
                "url": hook_url(runtime, workspace_id, provider),
                "configured": _hook_configured(provider, hooks.get(provider) or {}),
                **(
                    {"topic_arns": (hooks.get("ses") or {}).get("topic_arns") or []}
                    if provider == "ses"
                    else {}
                ),
                **({"username": postmark.get("username")} if provider == "postmark" else {}),
            }
            for provider in PROVIDERS
        },
        "soft_bounce_limit": soft_bounce_limit(doc),
        "daily_quota": limits.daily,
        "per_minute_rate": limits.per_minute,
        "warmup": warmup.describe(doc.get("warmup"), runtime.clock.now()),
        "pace": pace.describe(pace_snap.to_dict() if pace_snap.exists else None, limits.per_minute),
    }


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _hook_configured(provider: str, hook: dict[str, Any]) -> bool:
    if provider == "ses":
        return bool(hook.get("topic_arns"))
    if provider == "postmark":
        return bool(hook.get("username") and hook.get("password_ref"))
    return bool(hook.get("key_ref"))


# -- changes ---------------------------------------------------------------------------------


def _text(body: dict[str, Any], key: str, *, required: bool = False, limit: int = 254) -> str:
    value = body.get(key)
    value = "" if value is None else value
    if not isinstance(value, str) or len(value) > limit or "\r" in value or "\n" in value:
        message = f"{key} must be one line of at most {limit} characters"
        raise ValidationError(message, {"field": key})
    value = value.strip()
    if required and not value:
        raise ValidationError(f"{key} is required", {"field": key})
    return value


def put_mailbox(runtime: Runtime, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """The bounce mailbox (IMAP); its password goes to the secrets store."""
    from shared.email.smtp import SECURITY_MODES

    previous = load(runtime, workspace_id).get("mailbox") or {}
    security = body.get("security", "ssl")
    if security not in SECURITY_MODES:
        raise ValidationError("security must be ssl, starttls or none", {"field": "security"})
    port = body.get("port", 993 if security == "ssl" else 143)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValidationError("port must be a number between 1 and 65535", {"field": "port"})
    address = _text(body, "address", required=True)
    if not valid_email(address) or "+" in address.partition("@")[0]:
        raise ValidationError(
            "address must be a plain mailbox address (VERP adds +token to it)", {"field": "address"}
        )
    password_ref = previous.get("password_ref")
    password = body.get("password")
    if password is not None:
        if not isinstance(password, str) or len(password) > 1000:
            raise ValidationError("password must be text", {"field": "password"})
        name = user_secret_name(workspace_id, "bounce-mailbox", "default")
        password_ref = runtime.secrets.put(name, password) if password else None
    mailbox = {
        "host": _text(body, "host", required=True),
        "port": port,
        "security": security,
        "username": _text(body, "username", required=True),
        "password_ref": password_ref,
        "address": address,
        "folder": _text(body, "folder") or "INBOX",
        "enabled": bool(body.get("enabled", True)),
        "last_polled_at": previous.get("last_polled_at"),
    }
    save(runtime, workspace_id, "mailbox", mailbox)
    return get_deliverability(runtime, workspace_id)


def put_webhook(
    runtime: Runtime, workspace_id: str, provider: str, body: dict[str, Any]
) -> dict[str, Any]:
    """What verifies a provider's webhook calls (secrets to the secrets store)."""
    if provider not in PROVIDERS:
        raise ValidationError(f"provider must be one of {', '.join(PROVIDERS)}")
    hooks = dict(load(runtime, workspace_id).get("webhooks") or {})
    current = dict(hooks.get(provider) or {})
    if provider == "ses":
        arns = body.get("topic_arns") or []
        if not isinstance(arns, list) or not all(
            isinstance(a, str) and _TOPIC_ARN.match(a) for a in arns
        ):
            raise ValidationError(
                "topic_arns must list SNS topic ARNs (arn:aws:sns:<region>:<account>:<topic>)",
                {"field": "topic_arns"},
            )
        current = {"topic_arns": arns}
    elif provider == "postmark":
        current["username"] = _text(body, "username", required=True, limit=100)
        password = body.get("password")
        if not isinstance(password, str) or len(password) < 12:
            raise ValidationError("password must be at least 12 characters", {"field": "password"})
        name = user_secret_name(workspace_id, "postmark-hook", "default")
        current["password_ref"] = runtime.secrets.put(name, password)
    else:
        key = body.get("key")
        if not isinstance(key, str) or not key.strip() or len(key) > 4000:
            raise ValidationError(
                "key is required: "
                + (
                    "SendGrid's verification key (Mail Settings, Signed Event Webhook)"
                    if provider == "sendgrid"
                    else "Mailgun's HTTP webhook signing key"
                ),
                {"field": "key"},
            )
        if provider == "sendgrid":
            sendgrid_public_key(key)  # refuses a key that does not parse
        name = user_secret_name(workspace_id, f"{provider}-hook", "default")
        current = {"key_ref": runtime.secrets.put(name, key.strip())}
    hooks[provider] = current
    save(runtime, workspace_id, "webhooks", hooks)
    return get_deliverability(runtime, workspace_id)


def sendgrid_public_key(key: str) -> Any:
    """The verification key SendGrid shows (base64 DER, or PEM); refused if it is not an
    EC public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    text = key.strip()
    try:
        if text.startswith("-----BEGIN"):
            loaded = serialization.load_pem_public_key(text.encode())
        else:
            loaded = serialization.load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise ValidationError(
            "key must be SendGrid's verification key (base64)", {"field": "key"}
        ) from exc
    if not isinstance(loaded, ec.EllipticCurvePublicKey):
        raise ValidationError("key must be an ECDSA public key", {"field": "key"})
    return loaded


def put_policy(runtime: Runtime, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
    limit = body.get("soft_bounce_limit", DEFAULT_SOFT_BOUNCE_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 20:
        raise ValidationError("soft_bounce_limit must be 1-20", {"field": "soft_bounce_limit"})
    save(runtime, workspace_id, "soft_bounce_limit", limit)
    return get_deliverability(runtime, workspace_id)


def put_warmup(runtime: Runtime, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """A warm-up plan for the domain the workspace sends from (or none: `curve` null)."""
    if body.get("curve") is None and body.get("enabled") is False:
        save(runtime, workspace_id, "warmup", None)
        return get_deliverability(runtime, workspace_id)
    domain = warmup.from_domain(smtp_settings(runtime, workspace_id))
    plan = warmup.new_plan(body, domain, runtime.clock.now().date())
    save(runtime, workspace_id, "warmup", plan)
    return get_deliverability(runtime, workspace_id)


def generate_dkim(runtime: Runtime, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """A new RSA 2048 key pair: the private key to the secrets store, the DNS record shown."""
    from shared.email.signing import new_key

    sending = warmup.from_domain(smtp_settings(runtime, workspace_id))
    domain = (_text(body, "domain") or sending).lower()
    if not domain or not valid_email(f"x@{domain}"):
        raise ValidationError("domain must be the domain you send from", {"field": "domain"})
    selector = (_text(body, "selector", limit=63) or f"herald{runtime.clock.now():%Y%m}").lower()
    if not _SELECTOR.match(selector):
        raise ValidationError(
            "selector must be letters, digits and hyphens (a DNS label)", {"field": "selector"}
        )
    private_pem, public_b64 = new_key()
    ref = runtime.secrets.put(user_secret_name(workspace_id, "dkim-key", selector), private_pem)
    dkim = {
        "domain": domain,
        "selector": selector,
        "key_ref": ref,
        "public_key": public_b64,
        "enabled": bool(body.get("enabled", True)),
        "created_at": runtime.clock.now(),
    }
    save(runtime, workspace_id, "dkim", dkim)
    return get_deliverability(runtime, workspace_id)


def set_dkim_enabled(runtime: Runtime, workspace_id: str, enabled: bool) -> dict[str, Any]:
    dkim = load(runtime, workspace_id).get("dkim")
    if not dkim:
        raise ValidationError("generate a DKIM key first")
    save(runtime, workspace_id, "dkim", {**dkim, "enabled": bool(enabled)})
    return get_deliverability(runtime, workspace_id)
