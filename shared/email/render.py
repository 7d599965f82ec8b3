"""Templates and messages: sandboxed Jinja2, text derived from HTML, tracked links, MIME.

A campaign is compiled once per batch (and cached per process by its version): the
tracked links are rewritten in the template source to per-recipient placeholders, the
open pixel is added, and the plain-text part is derived from the HTML source when the
campaign has none. Per recipient only `render()` and the MIME serialization run.
"""

from __future__ import annotations

import base64
import html as htmllib
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid
from html.parser import HTMLParser
from typing import Any

from shared.errors import ValidationError

_HREF = re.compile(r"""(href\s*=\s*)(["'])(https?://[^"'<>{}\s]+)\2""", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
_BLOCK = frozenset(
    {
        "p",
        "div",
        "br",
        "tr",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "ul",
        "ol",
        "blockquote",
        "section",
        "article",
        "header",
        "footer",
        "hr",
    }
)
_SPACES = re.compile(r"\s+")
MAX_TEMPLATE_CHARS = 200_000
# Template variables Herald fills in every message (besides the contact's own fields).
UNSUBSCRIBE_VAR = "unsubscribe_url"
ADDRESS_VAR = "postal_address"


class _TextExtractor(HTMLParser):
    """HTML to readable text: blocks become lines, links become "text (url)".

    html2text would do this but is GPL-3.0 (Herald is Apache-2.0); the rules needed
    for an email's text part are few.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._href: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self._skip += 1
        elif tag in _BLOCK:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")
        if tag == "a":
            self._href.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")
        if tag == "a" and self._href:
            href = self._href.pop()
            if href and not href.startswith(("mailto:", "#")):
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        # Whitespace collapses to one space but is kept at the edges: "thing.\n<a>Next"
        # must not become "thing.Next".
        if not self._skip:
            self.parts.append(_SPACES.sub(" ", data))


def html_to_text(source: str) -> str:
    parser = _TextExtractor()
    parser.feed(source)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def extract_links(source: str) -> list[str]:
    """Static http(s) links of an HTML template, in order, unescaped, each once."""
    seen: dict[str, None] = {}
    for match in _HREF.finditer(source):
        seen.setdefault(htmllib.unescape(match.group(3)), None)
    return list(seen)


_envs: dict[bool, Any] = {}
_env_lock = threading.Lock()


def environment(autoescape: bool) -> Any:
    """A shared SandboxedEnvironment: templates cannot reach Python internals."""
    with _env_lock:
        env = _envs.get(autoescape)
        if env is None:
            from jinja2.sandbox import SandboxedEnvironment

            env = SandboxedEnvironment(autoescape=autoescape, keep_trailing_newline=True)
            _envs[autoescape] = env
        return env


def check_template(source: str, what: str) -> None:
    """Raise ValidationError (with the line) if `source` is not a valid template."""
    from jinja2 import TemplateSyntaxError

    if len(source) > MAX_TEMPLATE_CHARS:
        raise ValidationError(f"{what} is longer than {MAX_TEMPLATE_CHARS} characters")
    try:
        environment(False).parse(source)
    except TemplateSyntaxError as exc:
        raise ValidationError(
            f"{what} has a template error on line {exc.lineno}: {exc.message}",
            {"field": what, "line": exc.lineno},
        ) from exc


@dataclass
class Compiled:
    subject: Any
    html: Any
    text: Any
    links: list[str]
    defaults: dict[str, Any]
    track_opens: bool
    track_clicks: bool


@dataclass
class _Cache:
    items: dict[tuple[str, str], Compiled] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_cache = _Cache()


def compile_campaign(campaign: dict[str, Any]) -> Compiled:
    """Compile subject/HTML/text once; cached per (campaign id, version)."""
    key = (str(campaign.get("id")), str(campaign.get("version", 0)))
    with _cache.lock:
        hit = _cache.items.get(key)
    if hit is not None:
        return hit
    html_source: str = campaign.get("html") or ""
    links: list[str] = list(campaign.get("links") or extract_links(html_source))
    text_source: str = campaign.get("text") or html_to_text(html_source)
    html_source, text_source = with_footer(html_source, text_source)
    track_clicks = bool(campaign.get("track_clicks"))
    track_opens = bool(campaign.get("track_opens"))
    if track_clicks and links:
        index = {url: i for i, url in enumerate(links)}

        def _rewrite(m: re.Match[str]) -> str:
            i = index.get(htmllib.unescape(m.group(3)))
            if i is None:
                return m.group(0)
            return f"{m.group(1)}{m.group(2)}{{{{ __links[{i}] }}}}{m.group(2)}"

        html_source = _HREF.sub(_rewrite, html_source)
        text_source = _rewrite_text_links(text_source, links)
    if track_opens:
        pixel = '<img src="{{ __open }}" width="1" height="1" alt="" style="display:none">'
        html_source, n = _BODY_END.subn(pixel + "</body>", html_source, count=1)
        if not n:
            html_source += pixel
    compiled = Compiled(
        subject=environment(False).from_string(campaign.get("subject") or ""),
        html=environment(True).from_string(html_source),
        text=environment(False).from_string(text_source),
        links=links,
        defaults=dict(campaign.get("defaults") or {}),
        track_opens=track_opens,
        track_clicks=track_clicks,
    )
    with _cache.lock:
        if len(_cache.items) > 64:
            _cache.items.clear()
        _cache.items[key] = compiled
    return compiled


def _uses(source: str, variable: str) -> bool:
    return re.search(r"\{\{[^}]*\b" + variable + r"\b", source) is not None


# The default footer: the sender's postal address (CAN-SPAM) and a visible unsubscribe
# link, each added unless the template places it itself with {{ postal_address }} or
# {{ unsubscribe_url }}. The address may span lines; the footer keeps it on one.
_HTML_ADDRESS = (
    '{% if postal_address %}<p style="margin:0 0 4px">'
    '{{ postal_address | replace("\\n", ", ") }}</p>{% endif %}'
)
_HTML_UNSUBSCRIBE = (
    '<p style="margin:0">No longer want these emails? '
    '<a href="{{ unsubscribe_url }}" style="color:#555">Unsubscribe</a></p>'
)
_TEXT_ADDRESS = '{% if postal_address %}{{ postal_address | replace("\\n", ", ") }}\n{% endif %}'
_TEXT_UNSUBSCRIBE = "Unsubscribe: {{ unsubscribe_url }}\n"


def with_footer(html_source: str, text_source: str) -> tuple[str, str]:
    """The HTML and text sources with the parts of the default footer they lack."""
    html_parts = [
        part
        for var, part in ((ADDRESS_VAR, _HTML_ADDRESS), (UNSUBSCRIBE_VAR, _HTML_UNSUBSCRIBE))
        if not _uses(html_source, var)
    ]
    if html_parts:
        footer = (
            '<div style="margin-top:24px;padding-top:12px;border-top:1px solid #ddd;'
            'font:12px/1.5 Arial,sans-serif;color:#555">' + "".join(html_parts) + "</div>"
        )
        html_source, n = _BODY_END.subn(footer + "</body>", html_source, count=1)
        if not n:
            html_source += footer
    text_parts = [
        part
        for var, part in ((ADDRESS_VAR, _TEXT_ADDRESS), (UNSUBSCRIBE_VAR, _TEXT_UNSUBSCRIBE))
        if not _uses(text_source, var)
    ]
    if text_parts:
        text_source = text_source.rstrip("\n") + "\n\n-- \n" + "".join(text_parts)
    return html_source, text_source


def _rewrite_text_links(text: str, links: list[str]) -> str:
    # Longest first so a URL that prefixes another is not replaced inside it.
    for i in sorted(range(len(links)), key=lambda j: -len(links[j])):
        text = text.replace(f"({links[i]})", f"({{{{ __links[{i}] }}}})")
    return text


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def context_for(compiled: Compiled, recipient: dict[str, Any]) -> dict[str, Any]:
    """Template variables: campaign defaults, overridden by the recipient's non-empty values."""
    ctx = dict(compiled.defaults)
    fields = recipient.get("fields") or {}
    for key, value in {
        **fields,
        "email": recipient.get("email"),
        "first_name": recipient.get("first_name"),
        "last_name": recipient.get("last_name"),
    }.items():
        if value not in (None, ""):
            ctx[key] = value
    return ctx


def render(compiled: Compiled, ctx: dict[str, Any]) -> Rendered:
    subject = " ".join(compiled.subject.render(ctx).split())
    return Rendered(subject=subject, text=compiled.text.render(ctx), html=compiled.html.render(ctx))


@dataclass(frozen=True)
class Envelope:
    from_name: str
    from_address: str
    reply_to: str | None


def _to_field(name: str, address: str) -> str:
    """formataddr, which refuses a non-ASCII address: such an address goes in as UTF-8
    (RFC 6532), its display name RFC 2047-encoded as formataddr would."""
    if address.isascii():
        return formataddr((name, address), charset="utf-8")
    shown = formataddr((name, "a@b"), charset="utf-8")[: -len(" <a@b>")] if name else ""
    return f"{shown} <{address}>".lstrip()


def _b64_lines(text: str) -> bytes:
    # base64 keeps every line at 76 characters and no line can start with "." or "--".
    return base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n")


class MimeTemplate:
    """A multipart/alternative message (text, then HTML) built once per batch.

    The email package's EmailMessage costs ~10 ms per message here (its header
    registry re-parses every header), which alone would cap a batch far below a plain
    smtplib loop. So the headers that are the same for the whole batch (From,
    Reply-To, X-Herald-Campaign) are built and validated once with EmailMessage
    (policy SMTP), and per recipient only the varying parts are filled in with the
    email package's own encoders: formataddr (To), Header (Subject, RFC 2047 and
    folding), make_msgid, format_datetime; bodies are base64. Recipient data cannot
    inject headers: the address is validated, and names and subjects have all
    whitespace (CR and LF included) collapsed to single spaces before encoding.
    """

    def __init__(self, env: Envelope, extra_headers: dict[str, str] | None = None) -> None:
        probe = EmailMessage(policy=SMTP)
        probe["From"] = Address(display_name=env.from_name, addr_spec=env.from_address)
        if env.reply_to:
            probe["Reply-To"] = env.reply_to
        for name, value in (extra_headers or {}).items():
            probe[name] = value
        probe["MIME-Version"] = "1.0"
        self._static = probe.as_bytes().split(b"\r\n\r\n", 1)[0] + b"\r\n"
        self._domain = env.from_address.rpartition("@")[2]
        self._boundary = "=_herald_" + secrets.token_hex(12)

    @staticmethod
    def _subject(subject: str) -> str:
        if subject.isascii() and len(subject) < 70:
            return subject
        charset = "us-ascii" if subject.isascii() else "utf-8"
        return Header(subject, charset, header_name="Subject").encode(linesep="\r\n")

    def build(
        self,
        to_address: str,
        to_name: str,
        rendered: Rendered,
        *,
        now: datetime,
        unsubscribe_url: str | None = None,
        unsubscribe_mailto: str | None = None,
        feedback: str | None = None,
        headers: tuple[str, ...] = (),
    ) -> bytes:
        """`feedback` (a token of shared.email.verp) starts the Message-ID; `headers`
        are added as given. An address with a non-ASCII local part goes into To as
        UTF-8 (RFC 6532: sent only over SMTPUTF8)."""
        name = " ".join(to_name.split())
        msgid = make_msgid(domain=self._domain)
        if feedback:
            msgid = f"<{feedback}.{msgid[1:]}"
        head = [
            "To: " + _to_field(name, to_address),
            "Subject: " + self._subject(" ".join(rendered.subject.split())),
            "Date: " + format_datetime(now),
            "Message-ID: " + msgid,
            *headers,
        ]
        targets = [f"<{u}>" for u in (unsubscribe_url, unsubscribe_mailto) if u]
        if targets:
            head.append("List-Unsubscribe: " + ", ".join(targets))
        if unsubscribe_url:
            head.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
        b = self._boundary
        head.append(f'Content-Type: multipart/alternative; boundary="{b}"')
        part = "Content-Type: text/{}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        return b"".join(
            (
                self._static,
                "\r\n".join(head).encode("utf-8"),
                f"\r\n\r\n--{b}\r\n{part.format('plain')}".encode("ascii"),
                _b64_lines(rendered.text),
                f"--{b}\r\n{part.format('html')}".encode("ascii"),
                _b64_lines(rendered.html),
                f"--{b}--\r\n".encode("ascii"),
            )
        )
