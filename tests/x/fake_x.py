"""A local stand-in for X's OAuth 2.0 authorization server and the v2 endpoints an OAuth
2.0 account uses, over real HTTP on a free port.

- GET /i/oauth2/authorize: the consent page, approved at once: 302 to redirect_uri
  with `code` and `state` (the code remembers the PKCE challenge).
- POST /2/oauth2/token: authorization_code (checks the client, the redirect URI and the
  PKCE verifier against the challenge) and refresh_token (rotates: the refresh token
  used dies, a new pair is issued; a dead or unknown one answers 400 invalid_request,
  as X does).
- GET /2/users/me, POST /2/tweets, GET /2/users/:id/tweets: bearer user tokens only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

CLIENT_ID = "herald-test-client"
USER = {"id": "4242", "username": "herald_oauth2", "name": "Herald OAuth 2"}


@dataclass
class FakeXState:
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access: dict[str, float] = field(default_factory=dict)  # token -> expires (epoch)
    refresh: dict[str, bool] = field(default_factory=dict)  # token -> still valid
    refreshes: int = 0  # refresh requests answered with new tokens
    refused: int = 0  # refresh requests refused (used or unknown token)
    tweets: list[dict[str, Any]] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeX:
    def __init__(
        self, client_secret: str | None = None, expires_in: int = 7200, refresh_delay: float = 0
    ) -> None:
        self.client_secret = client_secret
        self.expires_in = expires_in
        self.refresh_delay = refresh_delay
        self.state = FakeXState()
        handler = type("Handler", (_Handler,), {"fake": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = int(self.httpd.server_address[1])
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/i/oauth2/authorize"

    def issue(self) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        with self.state.lock:
            self.state.access[access] = time.time() + self.expires_in
            self.state.refresh[refresh] = True
        return {
            "token_type": "bearer",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": self.expires_in,
            "scope": "tweet.read tweet.write users.read offline.access media.write",
        }

    def use_refresh_token(self, token: str) -> dict[str, Any] | None:
        """Rotate `token` (as anyone holding it could): None if it is dead or unknown."""
        with self.state.lock:
            if not self.state.refresh.get(token):
                self.state.refused += 1
                return None
            self.state.refresh[token] = False
            self.state.refreshes += 1
        return self.issue()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeX
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)

    def _bearer(self) -> str | None:
        header = self.headers.get("Authorization", "")
        with self.fake.state.lock:
            self.fake.state.auth_headers.append(header)
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None
        with self.fake.state.lock:
            ok = token is not None and self.fake.state.access.get(token, 0) > time.time()
        if not ok:
            self._send(401, {"title": "Unauthorized", "detail": "Unauthorized", "status": 401})
            return None
        return token

    def _client_ok(self, form: dict[str, str]) -> bool:
        header = self.headers.get("Authorization", "")
        if self.fake.client_secret is not None:
            expected = base64.b64encode(f"{CLIENT_ID}:{self.fake.client_secret}".encode()).decode()
            return header == f"Basic {expected}"
        return form.get("client_id") == CLIENT_ID

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/i/oauth2/authorize":
            if query.get("client_id") != CLIENT_ID or query.get("code_challenge_method") != "S256":
                self._send(400, {"error": "invalid_request"})
                return
            code = secrets.token_urlsafe(12)
            with self.fake.state.lock:
                self.fake.state.codes[code] = query
            target = f"{query['redirect_uri']}?{urlencode({'state': query['state'], 'code': code})}"
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if url.path == "/2/users/me":
            if self._bearer():
                self._send(200, {"data": USER})
            return
        if url.path.startswith("/2/users/") and url.path.endswith("/tweets"):
            if self._bearer():
                with self.fake.state.lock:
                    data = [
                        {"id": t["id"], "text": t["text"]} for t in reversed(self.fake.state.tweets)
                    ]
                self._send(200, {"data": data, "meta": {"result_count": len(data)}})
            return
        self._send(404, {"title": "Not Found"})

    def do_POST(self) -> None:
        url = urlparse(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        if url.path == "/2/oauth2/token":
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            self._token(form)
            return
        if url.path == "/2/tweets":
            if not self._bearer():
                return
            body = json.loads(raw or b"{}")
            with self.fake.state.lock:
                tweet_id = str(1_900_000_000_000_000_000 + len(self.fake.state.tweets))
                self.fake.state.tweets.append({"id": tweet_id, "text": body.get("text", "")})
            self._send(201, {"data": {"id": tweet_id, "text": body.get("text", "")}})
            return
        self._send(404, {"title": "Not Found"})

    def _token(self, form: dict[str, str]) -> None:
        if not self._client_ok(form):
            self._send(401, {"error": "unauthorized_client", "error_description": "bad client"})
            return
        grant = form.get("grant_type")
        if grant == "authorization_code":
            with self.fake.state.lock:
                pending = self.fake.state.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .rstrip(b"=")
                .decode()
            )
            if (
                pending is None
                or pending["code_challenge"] != challenge
                or pending["redirect_uri"] != form.get("redirect_uri")
            ):
                self._send(400, {"error": "invalid_request", "error_description": "bad code"})
                return
            self._send(200, self.fake.issue())
            return
        if grant == "refresh_token":
            if self.fake.refresh_delay:
                time.sleep(self.fake.refresh_delay)
            issued = self.fake.use_refresh_token(form.get("refresh_token", ""))
            if issued is None:
                self._send(
                    400,
                    {
                        "error": "invalid_request",
                        "error_description": "Value passed for the token was invalid.",
                    },
                )
                return
            self._send(200, issued)
            return
        self._send(400, {"error": "unsupported_grant_type"})
