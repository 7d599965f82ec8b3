"""Bounce and complaint reports read from mail: DSNs (RFC 3464) and ARF (RFC 5965).

Parsed with the standard library's `email` package. A report names the message it is
about by the feedback token (shared.email.verp) found in, in order: the address it was
sent back to (the VERP return path), the returned headers' Message-ID and return path,
the whole returned header block.

- A DSN (`multipart/report; report-type=delivery-status`) gives one Report per
  recipient block with `Action: failed`: Status 5.x.x is a hard bounce, 4.x.x a soft
  one (the server gave up after retrying); `delayed` (still trying) and `delivered`
  are not bounces.
- An ARF report (`report-type=feedback-report`) with Feedback-Type `abuse` or `fraud`
  is a complaint (the recipient pressed "this is spam"); `not-spam` and others are not.
A message that is neither gives no Report (the mailbox keeps it, flagged, for a person).
"""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, message_from_string, policy
from email.message import Message
from typing import Literal

from shared.email.verp import Ref, Tokens

Kind = Literal["hard", "soft", "complaint", "delivered"]
COMPLAINT_TYPES = frozenset({"abuse", "fraud"})


@dataclass(frozen=True)
class Report:
    kind: Kind
    ref: Ref | None
    recipient: str | None  # the address as the report gives it
    status: str  # e.g. "5.1.1", a provider's bounce type, "abuse"
    detail: str  # diagnostic text, for the recipient's outcome
    source: str  # dsn | arf | ses | sendgrid | mailgun | postmark
    key: str  # what makes two deliveries of the same report the same


def _address(field: str | None) -> str | None:
    """`rfc822; a@b` -> `a@b`."""
    if not field:
        return None
    value = field.split(";", 1)[-1].strip().strip("<>").strip()
    return value or None


def _returned_headers(msg: Message) -> Message | None:
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                inner = payload[0]
                return inner if isinstance(inner, Message) else None
        if ctype == "text/rfc822-headers":
            text = part.get_payload(decode=True) or b""
            return message_from_bytes(bytes(text), policy=policy.default)
    return None


def _blocks(msg: Message, ctype: str) -> list[Message]:
    """The field blocks of a message/delivery-status or message/feedback-report part."""
    for part in msg.walk():
        if part.get_content_type() != ctype:
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            return [b for b in payload if isinstance(b, Message)]
        if isinstance(payload, str):
            return [message_from_string(chunk) for chunk in payload.strip().split("\n\n")]
    return []


def _ref(tokens: Tokens, msg: Message, original: Message | None, *extra: str | None) -> Ref | None:
    texts: list[str | None] = [str(msg.get("To") or ""), str(msg.get("Delivered-To") or "")]
    texts += list(extra)
    if original is not None:
        texts += [
            str(original.get("Message-ID") or ""),
            str(original.get("Return-Path") or ""),
            str(original.get("X-Herald-Feedback") or ""),
            "\n".join(f"{k}: {v}" for k, v in original.items()),
        ]
    return tokens.find(*texts)


def parse(raw: bytes, tokens: Tokens) -> list[Report]:
    msg = message_from_bytes(raw, policy=policy.default)
    if msg.get_content_type() != "multipart/report":
        return []
    report_type = str(msg.get_param("report-type") or "").lower()
    original = _returned_headers(msg)
    key = str(msg.get("Message-ID") or "").strip()
    if report_type == "delivery-status":
        return _dsn(msg, original, tokens, key)
    if report_type == "feedback-report":
        return _arf(msg, original, tokens, key)
    return []


def _dsn(msg: Message, original: Message | None, tokens: Tokens, key: str) -> list[Report]:
    blocks = _blocks(msg, "message/delivery-status")
    out: list[Report] = []
    envelope_id = str(blocks[0].get("Original-Envelope-Id") or "") if blocks else ""
    for block in blocks[1:]:
        action = str(block.get("Action") or "").strip().lower()
        status = str(block.get("Status") or "").strip()
        recipient = _address(block.get("Final-Recipient")) or _address(
            block.get("Original-Recipient")
        )
        if action == "failed":
            kind: Kind = "hard" if status.startswith("5") else "soft"
        elif action in ("delivered", "relayed", "expanded"):
            kind = "delivered"
        else:
            continue  # delayed: the server still tries
        detail = " ".join(str(block.get("Diagnostic-Code") or status).split())[:300]
        ref = _ref(tokens, msg, original, envelope_id)
        out.append(Report(kind, ref, recipient, status, detail, "dsn", f"dsn:{key}:{recipient}"))
    return out


def _arf(msg: Message, original: Message | None, tokens: Tokens, key: str) -> list[Report]:
    blocks = _blocks(msg, "message/feedback-report")
    fields = blocks[0] if blocks else None
    if fields is None:
        return []
    feedback_type = str(fields.get("Feedback-Type") or "").strip().lower()
    if feedback_type not in COMPLAINT_TYPES:
        return []
    recipient = _address(fields.get("Original-Rcpt-To"))
    ref = _ref(tokens, msg, original, str(fields.get("Original-Mail-From") or ""))
    detail = f"{feedback_type} report from {fields.get('User-Agent') or 'a feedback loop'}"
    return [Report("complaint", ref, recipient, feedback_type, detail[:300], "arf", f"arf:{key}")]
