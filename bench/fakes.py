"""Fault-injecting stand-ins for X and an SMTP provider, for the chaos benchmark.

Unlike the sandbox providers, these do what the real services do: X accepts the same
post twice if asked twice (it has no idempotency key), an SMTP server delivers every
DATA it accepts. Each records every accepted item, so "sent twice" is measured at the
provider, not inferred from Herald's own records.
"""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from local.smtp_sink import ehlo_answer


@dataclass
class Faults:
    """Probabilities applied to the first attempt at each item."""

    server_error: float = 0.05  # 503 before accepting
    rate_limited: float = 0.05  # 429 with x-rate-limit-reset a few seconds ahead
    lost_answer: float = 0.03  # accepted, then the connection is cut before the answer
    seed: int = 7


@dataclass
class FakeXState:
    accepted: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    tweets: list[dict[str, Any]] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    injected: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Every timeline read (user, start_time, end_time, ids returned): the chaos report
    # shows what reconciliation was told when a post went out twice.
    reads: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_id: int = 1_800_000_000_000_000_000


class FakeX:
    """X API v2 over HTTP: POST /2/tweets and GET /2/users/:id/tweets."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.state = FakeXState()
        self._rng = random.Random(faults.seed)
        handler = type("Handler", (_XHandler,), {"fake": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = int(self.httpd.server_address[1])
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def decide(self, text: str) -> str:
        with self.state.lock:
            attempt = self.state.attempts[text]
            self.state.attempts[text] += 1
            if attempt > 0:
                return "accept"
            roll = self._rng.random()
        f = self.faults
        if roll < f.server_error:
            return "server_error"
        if roll < f.server_error + f.rate_limited:
            return "rate_limited"
        if roll < f.server_error + f.rate_limited + f.lost_answer:
            return "lost_answer"
        return "accept"

    def accept(self, text: str, reply_to: str | None, user: str = "42") -> dict[str, Any]:
        with self.state.lock:
            self.state.next_id += 1
            tweet_id = str(self.state.next_id)
            tweet: dict[str, Any] = {
                "id": tweet_id,
                "text": text,
                "created_at": datetime.now(UTC)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"),
                "reply_to": reply_to,
                "user": user,
            }
            self.state.accepted[text].append(tweet_id)
            self.state.tweets.append(tweet)
            return tweet

    def stop(self) -> None:
        self.httpd.shutdown()


class _XHandler(BaseHTTPRequestHandler):
    fake: FakeX
    protocol_version = "HTTP/1.1"

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        reset = str(int(time.time()) + 900)
        for key, value in {
            "x-rate-limit-limit": "100000",
            "x-rate-limit-remaining": "99999",
            "x-rate-limit-reset": reset,
            **(headers or {}),
        }.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if urlparse(self.path).path != "/2/tweets":
            self._send(404, {"title": "Not Found"})
            return
        text = str(body.get("text", ""))
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        user = _user_of(self.headers.get("Authorization", ""))
        outcome = self.fake.decide(text)
        with self.fake.state.lock:
            self.fake.state.injected[outcome] += 1
        if outcome == "server_error":
            self._send(503, {"title": "Service Unavailable", "detail": "injected"})
        elif outcome == "rate_limited":
            self._send(
                429,
                {"title": "Too Many Requests"},
                {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(time.time()) + 3)},
            )
        elif outcome == "lost_answer":
            self.fake.accept(text, reply_to, user)
            self.connection.shutdown(socket.SHUT_RDWR)  # the answer never arrives
            self.close_connection = True
        else:
            tweet = self.fake.accept(text, reply_to, user)
            self._send(
                201,
                {
                    "data": {
                        "id": tweet["id"],
                        "text": text,
                        "edit_history_tweet_ids": [tweet["id"]],
                    }
                },
            )

    def do_GET(self) -> None:
        """GET /2/users/:id/tweets as X answers it: newest first, `max_results` a page
        (default 10, at most 100), `meta.next_token` while more remain."""
        url = urlparse(self.path)
        if not (url.path.startswith("/2/users/") and url.path.endswith("/tweets")):
            self._send(404, {"title": "Not Found"})
            return
        query = parse_qs(url.query)
        user = url.path.split("/")[3]
        since = _instant(query.get("start_time", [""])[0])
        until = _instant(query.get("end_time", [""])[0])
        size = min(100, int(query.get("max_results", ["10"])[0]))
        offset = int(query.get("pagination_token", ["0"])[0] or 0)
        with self.fake.state.lock:
            tweets = [
                t
                for t in reversed(self.fake.state.tweets)
                if t["user"] == user
                and (since is None or _instant(t["created_at"]) >= since)  # type: ignore[operator]
                and (until is None or _instant(t["created_at"]) <= until)  # type: ignore[operator]
            ]
        page = tweets[offset : offset + size]
        with self.fake.state.lock:
            self.fake.state.reads.append(
                {
                    "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "user": user,
                    "since": query.get("start_time", [""])[0],
                    "until": query.get("end_time", [""])[0],
                    "offset": offset,
                    "ids": [t["id"] for t in page],
                }
            )
        data = [
            {
                "id": t["id"],
                "text": t["text"],
                "created_at": t["created_at"],
                **(
                    {"referenced_tweets": [{"type": "replied_to", "id": t["reply_to"]}]}
                    if t["reply_to"]
                    else {}
                ),
            }
            for t in page
        ]
        meta: dict[str, Any] = {"result_count": len(data)}
        if offset + size < len(tweets):
            meta["next_token"] = str(offset + size)
        self._send(200, {"data": data, "meta": meta} if data else {"meta": meta})

    def log_message(self, *args: Any) -> None:
        pass


def _user_of(authorization: str) -> str:
    """The X user an OAuth 1.0a request acts for: access tokens here are "at-<user id>"."""
    match = re.search(r'oauth_token="at-([^"]+)"', authorization)
    return match.group(1) if match else "42"


def _instant(value: str) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


class ChaosSMTPHandler:
    """aiosmtpd handler: 451 on the first try of 'soft' addresses, 550 for 'hard' ones,
    accepted-then-cut for 'cut' addresses (first try), and every Nth session dropped at
    MAIL FROM (before anything is sent, so a reconnect is safe). It offers PIPELINING,
    as the real providers do."""

    def __init__(self, drop_every_sessions: int = 25) -> None:
        self.accepted: dict[str, int] = defaultdict(int)
        self.tries: dict[str, int] = defaultdict(int)
        self.injected: dict[str, int] = defaultdict(int)
        self.sessions = 0
        self.drop_every = drop_every_sessions
        self._lock = threading.Lock()

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        return ehlo_answer(session, hostname, responses)

    async def handle_MAIL(
        self,
        server: Any,
        session: Any,
        envelope: Any,
        address: str,
        options: list[str],
    ) -> str:
        with self._lock:
            if not getattr(session, "counted", False):
                session.counted = True
                self.sessions += 1
                drop = self.drop_every and self.sessions % self.drop_every == 0
            else:
                drop = False
        if drop:
            self.injected["dropped_connection"] += 1
            server.transport.close()
            return "421 closing"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self,
        server: Any,
        session: Any,
        envelope: Any,
        address: str,
        options: list[str],
    ) -> str:
        with self._lock:
            self.tries[address] += 1
            first = self.tries[address] == 1
        if "hard" in address:
            self.injected["550"] += 1
            return "550 5.1.1 mailbox unavailable"
        if "soft" in address and first:
            self.injected["451"] += 1
            return "451 4.7.1 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        cut = False
        with self._lock:
            for rcpt in envelope.rcpt_tos:
                self.accepted[rcpt] += 1
                if "cut" in rcpt and self.accepted[rcpt] == 1:
                    cut = True
        if cut:
            self.injected["lost_answer"] += 1
            server.transport.close()  # accepted, but the 250 never arrives
        return "250 accepted"
