"""The feedback token every message carries, and the per-message return path (VERP).

A bounce or complaint arrives minutes or days after the SMTP answer, by mail or by a
provider's webhook. To know which recipient of which batch it is about, each message
carries a token naming its batch and its index there, with a MAC (app secret
`track-hmac-key`, its own derivation) so a forged report cannot name a recipient:
- in its return path (VERP): `bounces+<token>@bounce.example`, so a DSN (RFC 3464)
  comes back to an address that says whose it is;
- in its Message-ID: `<token.random@from-domain>`, which DSNs and abuse reports
  (ARF, RFC 5965) quote with the original headers, and SES reports as messageId;
- in the one header the provider sent through passes back in its events, when the
  SMTP host is a known one (SendGrid's X-SMTPAPI unique_args, Mailgun's
  X-Mailgun-Variables, Postmark's X-PM-Metadata-*, SES's X-SES-MESSAGE-TAGS).

The token is base32 (lower case: local parts may be folded to lower case on the way)
of: a flag and the campaign id in 10 bytes (ids are 20 hex digits), the rest of the
batch id, the index (2 bytes) and a 5-byte MAC. 41-47 characters for the usual
batch ids, so `bounces+<token>` stays within SMTP's 64-octet local part.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

MAC_BYTES = 5
_HEX_CID = re.compile(r"^([0-9a-f]{20})__(.{1,40})$")
TOKEN = re.compile(r"(?<![a-z2-7])[a-z2-7]{30,90}(?![a-z2-7])")


@dataclass(frozen=True)
class Ref:
    """A message's place: its batch and its index among the batch's recipients."""

    batch_id: str
    index: int

    @property
    def campaign_id(self) -> str:
        return self.batch_id.split("__", 1)[0]


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=").lower()


def _unb32(text: str) -> bytes:
    return base64.b32decode(text.upper() + "=" * (-len(text) % 8))


class Tokens:
    def __init__(self, key: str) -> None:
        self._key = hashlib.sha256(b"herald-feedback:" + key.encode()).digest()

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:MAC_BYTES]

    def encode(self, ref: Ref) -> str:
        match = _HEX_CID.match(ref.batch_id)
        if match:
            rest = match.group(2).encode()
            body = b"\x00" + bytes.fromhex(match.group(1)) + bytes([len(rest)]) + rest
        else:
            whole = ref.batch_id.encode()[:255]
            body = b"\x01" + bytes([len(whole)]) + whole
        body += ref.index.to_bytes(2, "big")
        return _b32(body + self._mac(body))

    def decode(self, text: str) -> Ref | None:
        try:
            raw = _unb32(text.lower())
        except (ValueError, TypeError):
            return None
        if len(raw) < 4 + MAC_BYTES:
            return None
        body, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            if body[0] == 0:
                cid, n = body[1:11].hex(), body[11]
                rest = body[12 : 12 + n].decode()
                if len(body) != 12 + n + 2:
                    return None
                batch_id = f"{cid}__{rest}"
            elif body[0] == 1:
                n = body[1]
                batch_id = body[2 : 2 + n].decode()
                if len(body) != 2 + n + 2:
                    return None
            else:
                return None
        except (IndexError, UnicodeDecodeError):
            return None
        return Ref(batch_id, int.from_bytes(body[-2:], "big"))

    def find(self, *texts: str | None) -> Ref | None:
        """The first valid token in any of these texts (addresses, Message-IDs, ...)."""
        for text in texts:
            for candidate in TOKEN.findall((text or "").lower()):
                ref = self.decode(candidate)
                if ref is not None:
                    return ref
        return None


def return_path(mailbox_address: str, token: str) -> str:
    """`local+token@domain` for the bounce mailbox `local@domain`."""
    local, _, domain = mailbox_address.rpartition("@")
    return f"{local}+{token}@{domain}"


def provider_headers(smtp_host: str, token: str) -> list[str]:
    """The header a known provider passes back in its webhook events."""
    host = smtp_host.lower()
    if host.endswith("sendgrid.net"):
        args = json.dumps({"unique_args": {"herald": token}}, separators=(",", ":"))
        return [f"X-SMTPAPI: {args}"]
    if host.endswith("mailgun.org"):
        return ["X-Mailgun-Variables: " + json.dumps({"herald": token}, separators=(",", ":"))]
    if host.endswith("postmarkapp.com"):
        return [f"X-PM-Metadata-herald: {token}"]
    if host.endswith("amazonaws.com"):
        return [f"X-SES-MESSAGE-TAGS: herald={token}"]
    return []
