"""The admin page's static guarantees, checked without a browser: no inline code, a CSP
in the page itself (for static hosting), no HTML-parsing sinks in the scripts, and the
local server's headers and config.json."""

from __future__ import annotations

import json
import re
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

from local.admin_server import security_headers, serve
from local.stack import free_port

ADMIN = Path(__file__).resolve().parents[2] / "admin"
# Every way a string becomes markup or code in a browser.
SINKS = re.compile(
    r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
    r"setAttribute\(\s*['\"]on|\.srcdoc\b|createContextualFragment|DOMParser"
)
# The one deliberate sink: the email HTML preview, in an iframe sandboxed without any
# allow-* token (no scripts, opaque origin), which the browser test checks too.
ALLOWED = "frame.srcdoc = html; // sandboxed preview"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts = 0
        self.styles = 0
        self.style_attrs = 0
        self.handlers: list[str] = []
        self.csp: str | None = None
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            self._in_script = "src" not in a
        if tag == "style":
            self.styles += 1
        if "style" in a:
            self.style_attrs += 1
        self.handlers += [k for k in a if k.startswith("on")]
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp = a.get("content")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


def _directives(policy: str) -> dict[str, set[str]]:
    out = {}
    for part in policy.split(";"):
        name, *values = part.split()
        out[name] = set(values)
    return out


def test_index_has_no_inline_code_and_carries_its_own_csp() -> None:
    page = _Page()
    page.feed((ADMIN / "index.html").read_text())
    assert (page.inline_scripts, page.styles, page.style_attrs, page.handlers) == (0, 0, 0, [])
    assert page.csp, "index.html needs a <meta http-equiv=Content-Security-Policy>"
    meta = _directives(page.csp)
    header = _directives(security_headers("http://127.0.0.1:9")["Content-Security-Policy"])
    for name in ("default-src", "script-src", "style-src", "object-src", "base-uri"):
        assert meta[name] == header[name], name
    assert "'unsafe-inline'" not in page.csp and "'unsafe-eval'" not in page.csp


def test_scripts_never_parse_strings_as_html_or_code() -> None:
    offenders = []
    for path in sorted((ADMIN / "js").rglob("*.js")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if SINKS.search(line) and line.strip() != ALLOWED:
                offenders.append(f"{path.relative_to(ADMIN)}:{number}: {line.strip()}")
    assert offenders == []


def test_local_server_sends_the_csp_and_config_json() -> None:
    port = free_port()
    httpd = serve(port, "http://127.0.0.1:8701")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config.json", timeout=5) as resp:
            assert json.load(resp) == {"apiUrl": "http://127.0.0.1:8701"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
            csp = resp.headers["Content-Security-Policy"]
            assert "connect-src 'self' http://127.0.0.1:8701" in csp
            assert "frame-ancestors 'none'" in csp
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        httpd.shutdown()
        httpd.server_close()
