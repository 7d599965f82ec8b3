"""Providers' bounce and complaint webhooks, into the public `track` function.

`POST /hooks/<provider>/<workspace_id>`. Each call's signature is checked before its
body is read as events; a forged or unsigned call gets 401 and changes nothing:
- `ses`: Amazon SES notifications through SNS. SNS signs each message with a key whose
  certificate it serves from `https://sns.<region>.amazonaws.com/...pem`; the URL's host
  is checked, the certificate fetched over TLS (and kept), the signature (v1 SHA1, v2
  SHA256, RSA PKCS#1 v1.5) verified over the fields SNS names, and the topic must be
  one the workspace configured. A subscription confirmation is confirmed by fetching
  its SubscribeURL (same host rule).
- `sendgrid`: the Signed Event Webhook: ECDSA P-256 / SHA-256 over timestamp + body,
  with the verification key the workspace pasted from SendGrid.
- `mailgun`: HMAC-SHA256 of timestamp + token with the workspace's webhook signing key;
  a timestamp more than 15 minutes away is refused (a replayed call).
- `postmark`: HTTP basic auth in the URL Postmark calls (Postmark signs nothing).
Events become Reports (shared.email.reports) named by the feedback token the message
carried (shared.email.verp) and are applied by shared.email.feedback, once each.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.email import deliverability
from shared.email.feedback import apply
from shared.email.reports import Kind, Report
from shared.email.verp import Tokens
from shared.log import get_logger

if TYPE_CHECKING:
    from collections.abc import Mapping

    from shared.runtime import Runtime

log = get_logger("email.webhooks")

MAX_BODY = 4 * 1024 * 1024
MAILGUN_SKEW_S = 15 * 60
SENDGRID_SKEW_S = 15 * 60
_SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
_SNS_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_SNS_FIELDS["UnsubscribeConfirmation"] = _SNS_FIELDS["SubscriptionConfirmation"]
_CERTS: dict[str, Any] = {}
_CERTS_LOCK = threading.Lock()


@dataclass(frozen=True)
class HookReply:
    status: int
    body: dict[str, Any]


class Refused(Exception):
    """The call is not the provider's (401), or its body is not what it sends (400)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def receive(
    runtime: Runtime,
    provider: str,
    workspace_id: str,
    headers: Mapping[str, str],
    body: bytes,
) -> HookReply:
    if provider not in deliverability.PROVIDERS:
        return HookReply(404, {"error": "not_found"})
    hook = (deliverability.load(runtime, workspace_id).get("webhooks") or {}).get(provider)
    if not hook:
        return HookReply(404, {"error": "not_found", "message": "no webhook configured"})
    if len(body) > MAX_BODY:
        return HookReply(413, {"error": "too_large"})
    try:
        reports = _VERIFY[provider](runtime, hook, headers, body)
    except Refused as exc:
        log.warning(
            "webhook refused", provider=provider, workspace_id=workspace_id, reason=str(exc)
        )
        return HookReply(exc.status, {"error": "refused", "message": str(exc)})
    done: dict[str, int] = {}
    for report in reports:
        outcome = apply(runtime, report, workspace_id)
        done[outcome] = done.get(outcome, 0) + 1
    log.info("webhook applied", provider=provider, workspace_id=workspace_id, **done)
    return HookReply(200, {"ok": True, **done})


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Refused(400, "the body is not JSON") from exc


def _tokens(runtime: Runtime) -> Tokens:
    return Tokens(runtime.secrets.app_secret("track-hmac-key"))


def _text(value: Any, limit: int = 300) -> str:
    return " ".join(str(value or "").split())[:limit]


# -- Amazon SES through SNS --------------------------------------------------------------


def _sns_cert(url: str) -> Any:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme != "https" or not _SNS_HOST.match(parts.hostname or ""):
        raise Refused(401, "SigningCertURL is not an SNS address")
    if not parts.path.endswith(".pem"):
        raise Refused(401, "SigningCertURL is not a certificate")
    with _CERTS_LOCK:
        cert = _CERTS.get(url)
    if cert is not None:
        return cert
    import requests
    from cryptography import x509

    try:
        answer = requests.get(url, timeout=10)
        answer.raise_for_status()
        cert = x509.load_pem_x509_certificate(answer.content)
    except (requests.RequestException, ValueError) as exc:
        # SNS retries a delivery that fails: a 503 lets it come back.
        raise Refused(503, f"the signing certificate could not be fetched: {exc}") from exc
    with _CERTS_LOCK:
        _CERTS[url] = cert
    return cert


def sns_string_to_sign(msg: dict[str, Any]) -> bytes:
    fields = _SNS_FIELDS.get(str(msg.get("Type")))
    if fields is None:
        raise Refused(400, "unknown SNS message type")
    text = "".join(f"{k}\n{msg[k]}\n" for k in fields if msg.get(k) is not None)
    return text.encode()


def _verify_sns(msg: dict[str, Any]) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    version = str(msg.get("SignatureVersion"))
    # SNS signature v1 is SHA1 (AWS still sends it unless the topic asks for v2).
    algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(version)  # noqa: S303
    if algorithm is None:
        raise Refused(401, "unknown SNS SignatureVersion")
    try:
        signature = base64.b64decode(str(msg.get("Signature") or ""), validate=True)
    except binascii.Error as exc:
        raise Refused(401, "the SNS signature is not base64") from exc
    key = _sns_cert(str(msg.get("SigningCertURL") or "")).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise Refused(401, "the SNS certificate's key is not RSA")
    try:
        key.verify(signature, sns_string_to_sign(msg), padding.PKCS1v15(), algorithm)
    except InvalidSignature as exc:
        raise Refused(401, "the SNS signature does not verify") from exc


def _ses(
    runtime: Runtime, hook: dict[str, Any], headers: Mapping[str, str], body: bytes
) -> list[Report]:
    msg = _json(body)
    if not isinstance(msg, dict):
        raise Refused(400, "the body is not an SNS message")
    _verify_sns(msg)
    if msg.get("TopicArn") not in (hook.get("topic_arns") or []):
        raise Refused(401, "the topic is not one this workspace configured")
    if msg["Type"] == "SubscriptionConfirmation":
        _confirm_subscription(str(msg.get("SubscribeURL") or ""))
        return []
    if msg["Type"] != "Notification":
        return []
    try:
        note = json.loads(str(msg.get("Message") or ""))
    except ValueError as exc:
        raise Refused(400, "the SES notification is not JSON") from exc
    return ses_reports(_tokens(runtime), note) if isinstance(note, dict) else []


def _confirm_subscription(url: str) -> None:
    from urllib.parse import urlsplit

    import requests

    parts = urlsplit(url)
    if parts.scheme != "https" or not _SNS_HOST.match(parts.hostname or ""):
        raise Refused(400, "SubscribeURL is not an SNS address")
    try:
        requests.get(url, timeout=10).raise_for_status()
    except requests.RequestException as exc:
        raise Refused(503, f"the subscription could not be confirmed: {exc}") from exc
    log.info("SNS subscription confirmed", url=url.split("?", 1)[0])


def ses_reports(tokens: Tokens, note: dict[str, Any]) -> list[Report]:
    kind = str(note.get("notificationType") or note.get("eventType") or "")
    mail = note.get("mail") or {}
    ref = tokens.find(json.dumps(mail.get("tags") or {}), json.dumps(mail))
    key = str(mail.get("messageId") or "")
    out: list[Report] = []
    if kind == "Bounce":
        bounce = note.get("bounce") or {}
        hard = bounce.get("bounceType") == "Permanent"
        for r in bounce.get("bouncedRecipients") or []:
            status = str(r.get("status") or bounce.get("bounceSubType") or "")
            detail = _text(r.get("diagnosticCode") or bounce.get("bounceSubType"))
            k: Kind = "hard" if hard else "soft"
            email = r.get("emailAddress")
            out.append(Report(k, ref, email, status, detail, "ses", f"ses:{key}:{email}"))
    elif kind == "Complaint":
        complaint = note.get("complaint") or {}
        ftype = str(complaint.get("complaintFeedbackType") or "abuse")
        if ftype == "not-spam":
            return []
        for r in complaint.get("complainedRecipients") or []:
            email = r.get("emailAddress")
            detail = f"{ftype} report via Amazon SES"
            out.append(Report("complaint", ref, email, ftype, detail, "ses", f"ses:{key}"))
    elif kind == "Delivery":
        for email in (note.get("delivery") or {}).get("recipients") or []:
            out.append(Report("delivered", ref, email, "2.0.0", "", "ses", f"ses:{key}"))
    return out


# -- SendGrid ------------------------------------------------------------------------------


def _sendgrid(
    runtime: Runtime, hook: dict[str, Any], headers: Mapping[str, str], body: bytes
) -> list[Report]:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    signature = headers.get("X-Twilio-Email-Event-Webhook-Signature") or ""
    timestamp = headers.get("X-Twilio-Email-Event-Webhook-Timestamp") or ""
    if not signature or not timestamp:
        raise Refused(401, "the call is not signed")
    _fresh(runtime, timestamp, SENDGRID_SKEW_S)
    key = deliverability.sendgrid_public_key(runtime.secrets.get(hook["key_ref"]))
    try:
        key.verify(
            base64.b64decode(signature, validate=True),
            timestamp.encode() + body,
            ec.ECDSA(hashes.SHA256()),
        )
    except (InvalidSignature, binascii.Error) as exc:
        raise Refused(401, "the signature does not verify") from exc
    events = _json(body)
    if not isinstance(events, list):
        raise Refused(400, "the body is not a list of events")
    tokens = _tokens(runtime)
    return [r for e in events if isinstance(e, dict) for r in sendgrid_reports(tokens, e)]


def sendgrid_reports(tokens: Tokens, event: dict[str, Any]) -> list[Report]:
    name = event.get("event")
    ref = tokens.find(str(event.get("herald") or ""), str(event.get("smtp-id") or ""))
    email = event.get("email")
    key = f"sendgrid:{event.get('sg_event_id')}"
    status = str(event.get("status") or "")
    detail = _text(event.get("reason") or event.get("response"))
    if name == "bounce":
        # type "blocked" is a refusal by the receiving server's policy: it may pass later.
        kind: Kind = "soft" if event.get("type") == "blocked" else "hard"
        return [Report(kind, ref, email, status, detail, "sendgrid", key)]
    if name == "spamreport":
        return [Report("complaint", ref, email, "abuse", "spam report", "sendgrid", key)]
    if name == "delivered":
        return [Report("delivered", ref, email, status, "", "sendgrid", key)]
    return []


def _fresh(runtime: Runtime, timestamp: str, skew: int) -> None:
    try:
        at = int(timestamp)
    except ValueError as exc:
        raise Refused(401, "the timestamp is not a number") from exc
    if abs(runtime.clock.now().timestamp() - at) > skew:
        raise Refused(401, "the timestamp is too far from now (a replayed call?)")


# -- Mailgun ---------------------------------------------------------------------------------


def mailgun_signature(key: str, timestamp: str, token: str) -> str:
    return hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def _mailgun(
    runtime: Runtime, hook: dict[str, Any], headers: Mapping[str, str], body: bytes
) -> list[Report]:
    payload = _json(body)
    sig = payload.get("signature") if isinstance(payload, dict) else None
    if not isinstance(sig, dict):
        raise Refused(401, "the call is not signed")
    timestamp, token = str(sig.get("timestamp") or ""), str(sig.get("token") or "")
    _fresh(runtime, timestamp, MAILGUN_SKEW_S)
    expected = mailgun_signature(runtime.secrets.get(hook["key_ref"]), timestamp, token)
    if not hmac.compare_digest(expected, str(sig.get("signature") or "")):
        raise Refused(401, "the signature does not verify")
    data = payload.get("event-data")
    if not isinstance(data, dict):
        raise Refused(400, "event-data is missing")
    return mailgun_reports(_tokens(runtime), data)


def mailgun_reports(tokens: Tokens, data: dict[str, Any]) -> list[Report]:
    variables = data.get("user-variables") or {}
    headers = (data.get("message") or {}).get("headers") or {}
    ref = tokens.find(json.dumps(variables), str(headers.get("message-id") or ""))
    email, key = data.get("recipient"), f"mailgun:{data.get('id')}"
    name = data.get("event")
    status = data.get("delivery-status") or {}
    if name == "failed":
        kind: Kind = "hard" if data.get("severity") == "permanent" else "soft"
        detail = _text(status.get("description") or status.get("message") or data.get("reason"))
        return [Report(kind, ref, email, str(status.get("code") or ""), detail, "mailgun", key)]
    if name == "complained":
        return [Report("complaint", ref, email, "abuse", "spam complaint", "mailgun", key)]
    if name == "delivered":
        return [Report("delivered", ref, email, str(status.get("code") or ""), "", "mailgun", key)]
    return []


# -- Postmark ------------------------------------------------------------------------------

POSTMARK_HARD = frozenset({"HardBounce", "BadEmailAddress", "ManuallyDeactivated"})
POSTMARK_SOFT = frozenset({"SoftBounce", "Transient", "DnsError", "Blocked", "SMTPApiError"})


def _postmark(
    runtime: Runtime, hook: dict[str, Any], headers: Mapping[str, str], body: bytes
) -> list[Report]:
    auth = headers.get("Authorization") or ""
    scheme, _, encoded = auth.partition(" ")
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        user, password = "", ""
    if scheme.lower() != "basic" or not encoded:
        raise Refused(401, "the call carries no basic auth")
    expected = runtime.secrets.get(hook["password_ref"])
    ok_user = hmac.compare_digest(user.encode(), str(hook.get("username") or "").encode())
    if not (hmac.compare_digest(password.encode(), expected.encode()) and ok_user):
        raise Refused(401, "wrong username or password")
    event = _json(body)
    if not isinstance(event, dict):
        raise Refused(400, "the body is not a Postmark event")
    return postmark_reports(_tokens(runtime), event)


def postmark_reports(tokens: Tokens, event: dict[str, Any]) -> list[Report]:
    ref = tokens.find(json.dumps(event.get("Metadata") or {}))
    email = event.get("Email") or event.get("Recipient")
    key = f"postmark:{event.get('RecordType')}:{event.get('ID') or event.get('MessageID')}"
    record, kind_name = event.get("RecordType"), str(event.get("Type") or "")
    if record == "Bounce":
        kind: Kind | None = (
            "hard" if kind_name in POSTMARK_HARD else "soft" if kind_name in POSTMARK_SOFT else None
        )
        if kind is None:
            return []  # auto-replies, challenge messages, opens: not bounces
        detail = _text(event.get("Details") or event.get("Description"))
        return [Report(kind, ref, email, kind_name, detail, "postmark", key)]
    if record == "SpamComplaint":
        return [Report("complaint", ref, email, "abuse", "spam complaint", "postmark", key)]
    if record == "Delivery":
        return [Report("delivered", ref, email, "2.0.0", "", "postmark", key)]
    return []


_VERIFY = {"ses": _ses, "sendgrid": _sendgrid, "mailgun": _mailgun, "postmark": _postmark}
