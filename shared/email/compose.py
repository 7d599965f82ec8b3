"""Per-recipient messages for one campaign: tokens, template variables, MIME bytes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shared.email.model import ascii_address
from shared.email.render import (
    ADDRESS_VAR,
    UNSUBSCRIBE_VAR,
    Envelope,
    MimeTemplate,
    Rendered,
    compile_campaign,
    context_for,
    render,
)
from shared.email.tokens import Signer, Token
from shared.email.verp import Ref, Tokens, provider_headers

if TYPE_CHECKING:
    from shared.email.signing import Signer as DkimSigner
    from shared.email.smtp_settings import Sender
    from shared.runtime import Runtime


def signer(runtime: Runtime) -> Signer:
    return Signer(runtime.secrets.app_secret("track-hmac-key"))


class Composer:
    """Built once per batch; `message()` is the only per-recipient work."""

    def __init__(
        self,
        runtime: Runtime,
        workspace_id: str,
        campaign: dict[str, Any],
        sender: Sender,
        subject_prefix: str = "",
        *,
        dkim: DkimSigner | None = None,
    ) -> None:
        self._runtime = runtime
        self._ws = workspace_id
        self._cid = str(campaign["id"])
        self.compiled = compile_campaign(campaign)
        self._signer = signer(runtime)
        self._base = runtime.settings.track_base_url
        envelope = Envelope(sender.from_name, sender.from_address, sender.reply_to)
        self._mime = MimeTemplate(envelope, {"X-Herald-Campaign": self._cid})
        self._prefix = subject_prefix
        self._mailto_to = sender.reply_to or sender.from_address
        self._address = sender.postal_address
        self._dkim = dkim
        self._smtp_host = sender.smtp.host
        self.tokens = Tokens(runtime.secrets.app_secret("track-hmac-key"))

    def _url(self, kind: str, rid: str, link: int = -1) -> str:
        token = self._signer.sign(Token(self._ws, self._cid, rid, kind, link))
        return f"{self._base}/{kind}/{token}"

    def feedback_token(self, ref: Ref | None) -> str | None:
        return self.tokens.encode(ref) if ref is not None else None

    def message(self, recipient: dict[str, Any], ref: Ref | None = None) -> bytes:
        """The recipient's message, ready for DATA (CRLF line ends, not dot-stuffed),
        carrying its feedback token (`ref`: its batch and index) and, when the
        workspace has a DKIM key, signed."""
        rid = str(recipient["id"])
        ctx = context_for(self.compiled, recipient)
        unsubscribe = self._url("u", rid)
        ctx[UNSUBSCRIBE_VAR] = unsubscribe
        ctx[ADDRESS_VAR] = self._address
        if self.compiled.track_opens:
            ctx["__open"] = self._url("o", rid)
        if self.compiled.track_clicks:
            ctx["__links"] = [self._url("c", rid, i) for i in range(len(self.compiled.links))]
        rendered = render(self.compiled, ctx)
        if self._prefix:
            rendered = Rendered(self._prefix + rendered.subject, rendered.text, rendered.html)
        name = " ".join(p for p in (recipient.get("first_name"), recipient.get("last_name")) if p)
        token = self.feedback_token(ref)
        raw = self._mime.build(
            ascii_address(recipient["email"]),
            name,
            rendered,
            now=self._runtime.clock.now(),
            unsubscribe_url=unsubscribe,
            unsubscribe_mailto=f"mailto:{self._mailto_to}?subject="
            + quote(f"unsubscribe {self._cid} {rid}"),
            feedback=token,
            headers=tuple(provider_headers(self._smtp_host, token)) if token else (),
        )
        return self._dkim.sign(raw) if self._dkim is not None else raw
