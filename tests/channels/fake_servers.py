"""The channels' stand-ins over real HTTP on a free loopback port, for a process a test
cannot intercept (the stack's api): `serve` puts any httpx handler (FakePDS.handle as it
is) behind a local server, and FakeMastodon is an instance that registers apps, approves
(or, told to, denies) at once on its authorization page, exchanges codes for tokens and
answers who the account is and the instance's limits, as Mastodon.py asks them."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx

Handler = Callable[[httpx.Request], httpx.Response]
DENIED = "The resource owner or authorization server denied the request."
INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the "
    "redirection URI used in the authorization request, or was issued to another client."
)


@contextmanager
def serve(handler: Handler) -> Iterator[str]:
    """`handler` answering HTTP on 127.0.0.1 (a free port); yields the base URL."""

    class Http(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            request = httpx.Request(
                self.command,
                f"http://{self.headers['host']}{self.path}",
                headers=list(self.headers.items()),
                content=self.rfile.read(length) if length else b"",
            )
            try:
                response = handler(request)
            except httpx.TransportError:  # the fake drops the connection
                self.close_connection = True
                return
            body = response.read()
            self.send_response(response.status_code)
            for key, value in response.headers.items():
                if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _any

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Http)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _json(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body)


@dataclass
class FakeMastodon:
    """A Mastodon instance as connecting sees it. It serves no
    /.well-known/oauth-authorization-server (as before Mastodon 4.3): Mastodon.py then
    uses /oauth/authorize and /oauth/token on the instance itself."""

    max_characters: int = 1000
    version: str = "4.3.2"
    deny: bool = False  # the person presses "Deny" on the authorization page
    acct: str = "herald"
    apps: dict[str, dict[str, str]] = field(default_factory=dict)  # client_id -> app
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (client, uri)
    tokens: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.rstrip("/")
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if request.method == "POST" and path == "/api/v1/apps":
            client_id, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
            with self.lock:
                self.apps[client_id] = {"secret": secret, "redirect_uri": form["redirect_uris"]}
            return _json(
                200,
                {
                    "id": str(len(self.apps)),
                    "name": form.get("client_name", ""),
                    "redirect_uri": form["redirect_uris"],
                    "client_id": client_id,
                    "client_secret": secret,
                },
            )
        if request.method == "GET" and path == "/oauth/authorize":
            return self._authorize(dict(request.url.params))
        if request.method == "POST" and path == "/oauth/token":
            return self._token(form)
        if path == "/api/v1/accounts/verify_credentials":
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            if token not in self.tokens:
                return _json(401, {"error": "The access token is invalid"})
            return _json(
                200,
                {
                    "id": "109876",
                    "username": self.acct,
                    "acct": self.acct,
                    "display_name": "Herald on Mastodon",
                    "url": f"{request.url.scheme}://{request.url.netloc.decode()}/@{self.acct}",
                },
            )
        if path == "/api/v2/instance":
            statuses = {"max_characters": self.max_characters, "characters_reserved_per_url": 23}
            return _json(
                200,
                {
                    "domain": request.url.host,
                    "version": self.version,
                    "configuration": {"statuses": statuses},
                },
            )
        return _json(404, {"error": "Record not found"})

    def _authorize(self, params: dict[str, str]) -> httpx.Response:
        app = self.apps.get(params.get("client_id", ""))
        uri = params.get("redirect_uri", "")
        if app is None or uri != app["redirect_uri"]:
            return httpx.Response(400, text="invalid_redirect_uri or unknown client")
        answer = {"state": params.get("state", "")}
        if self.deny:
            answer = {"error": "access_denied", "error_description": DENIED} | answer
        else:
            code = secrets.token_urlsafe(16)
            with self.lock:
                self.codes[code] = (params["client_id"], uri)
            answer = {"code": code} | answer
        location = uri + ("&" if "?" in uri else "?") + urlencode(answer)
        return httpx.Response(302, headers={"Location": location})

    def _token(self, form: dict[str, str]) -> httpx.Response:
        with self.lock:
            issued = self.codes.pop(form.get("code", ""), None)
        app = self.apps.get(form.get("client_id", ""))
        if (
            issued is None
            or app is None
            or issued != (form["client_id"], form.get("redirect_uri"))
            or form.get("client_secret") != app["secret"]
            or form.get("grant_type") != "authorization_code"
        ):
            return _json(400, {"error": "invalid_grant", "error_description": INVALID_GRANT})
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens.add(token)
        return _json(
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "scope": form.get("scope", "read write"),
                "created_at": int(time.time()),
            },
        )
