"""HMAC-signed tracking tokens: `<payload>.<mac>`, both base64url without padding.

The payload names workspace, campaign, recipient, kind (o = open, c = click,
u = unsubscribe) and, for clicks, the link's index in the campaign's link list, so
the redirect target always comes from the campaign, never from the URL.
Key: app secret "track-hmac-key".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

KINDS = ("o", "c", "u")


@dataclass(frozen=True)
class Token:
    workspace_id: str
    campaign_id: str
    recipient_id: str
    kind: str
    link: int = -1


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, key: str) -> None:
        self._key = key.encode()

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest()[:18])

    def sign(self, token: Token) -> str:
        fields: list[object] = [
            token.workspace_id,
            token.campaign_id,
            token.recipient_id,
            token.kind,
        ]
        if token.kind == "c":
            fields.append(token.link)
        payload = _b64(json.dumps(fields, separators=(",", ":")).encode())
        return f"{payload}.{self._mac(payload)}"

    def verify(self, text: str) -> Token | None:
        """The token if its MAC is right and its shape valid; None otherwise."""
        if len(text) > 600 or text.count(".") != 1:
            return None
        payload, mac = text.split(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            fields = json.loads(_unb64(payload))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(fields, list) or len(fields) not in (4, 5):
            return None
        if not all(isinstance(f, str) and f and "/" not in f for f in fields[:4]):
            return None
        kind = fields[3]
        if kind not in KINDS or (kind == "c") != (len(fields) == 5):
            return None
        link = fields[4] if kind == "c" else -1
        if not isinstance(link, int) or isinstance(link, bool):
            return None
        return Token(fields[0], fields[1], fields[2], kind, link)
