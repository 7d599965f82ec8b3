"""A Bluesky PDS stand-in for the real atproto SDK, through an httpx MockTransport.

It answers what the SDK asks when Herald publishes: sessions (createSession with an app
password, refreshSession rotating the refresh token; an access token in `revoked_access`
is answered ExpiredToken), createRecord (a key already used
answers 500 InternalServerError, as the reference PDS does today), getRecord,
listRecords (newest first), uploadBlob, resolveHandle. `faults` queues what the next
createRecord does instead of answering normally.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

DID = "did:plc:heraldtest0000000000000"
HANDLE = "herald.bsky.social"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"


def jwt(exp: float, sub: str = DID, scope: str = "com.atproto.appPass") -> str:
    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    # jti: two tokens issued in the same second differ (tests tell versions apart by them)
    payload = {
        "exp": int(exp),
        "iat": int(time.time()),
        "sub": sub,
        "scope": scope,
        "jti": uuid.uuid4().hex,
    }
    return f"{b64({'alg': 'ES256K', 'typ': 'at+jwt'})}.{b64(payload)}.c2ln"


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return httpx.Response(status, json=body, headers=headers)


@dataclass
class FakePDS:
    password: str = APP_PASSWORD
    access_ttl_s: float = 7200
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # rkey -> record
    creates: list[dict[str, Any]] = field(default_factory=list)  # every createRecord body
    sessions: int = 0
    refreshes: int = 0
    refused_refreshes: int = 0  # refreshSession answered ExpiredToken
    failed_logins: int = 0  # createSession answered AuthenticationRequired
    sessions_limited: bool = False  # createSession answers 429 (the account's login limit)
    limited_logins: int = 0
    session_delay_s: float = 0.0
    revoked_access: set[str] = field(default_factory=set)
    create_tokens: list[str] = field(default_factory=list)  # each createRecord's access token
    refused_refresh: set[str] = field(default_factory=set)
    faults: list[str] = field(default_factory=list)
    list_fails: int = 0  # listRecords / getRecord answers 502 this many times
    get_fails: int = 0
    list_lags: bool = False  # listRecords does not show the records yet (an AppView lag)
    refresh_delay_s: float = 0.0
    rate_headers: dict[str, str] = field(default_factory=dict)
    reset_epoch: int | None = None  # what a 429's ratelimit-reset says (else in 10 min)
    lock: threading.Lock = field(default_factory=threading.Lock)
    live_refresh: set[str] = field(default_factory=set)

    _transport: httpx.MockTransport | None = None

    @property
    def transport(self) -> httpx.MockTransport:
        if self._transport is None:
            self._transport = httpx.MockTransport(self.handle)
        return self._transport

    def tokens(self) -> dict[str, Any]:
        refresh = jwt(time.time() + 86400 * 60, scope="com.atproto.refresh") + f"{time.time_ns()}"
        with self.lock:
            self.live_refresh.add(refresh)
        return {
            "accessJwt": jwt(time.time() + self.access_ttl_s),
            "refreshJwt": refresh,
            "handle": HANDLE,
            "did": DID,
        }

    def posts(self) -> list[dict[str, Any]]:
        return [self.records[k] for k in sorted(self.records)]

    def handle(self, request: httpx.Request) -> httpx.Response:
        method = request.url.path.removeprefix("/xrpc/")
        body = (
            json.loads(request.content)
            if request.headers.get("content-type", "").startswith("application/json")
            and request.content
            else {}
        )
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer in self.revoked_access and method != "com.atproto.server.refreshSession":
            return _json(400, {"error": "ExpiredToken", "message": "Token has been revoked"})
        if method == "com.atproto.server.createSession":
            time.sleep(self.session_delay_s)
            if self.sessions_limited:
                with self.lock:
                    self.limited_logins += 1
                reset = str(self.reset_epoch or int(time.time()) + 600)
                return _json(
                    429,
                    {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                    {"ratelimit-limit": "30", "ratelimit-remaining": "0", "ratelimit-reset": reset},
                )
            if body.get("password") != self.password:
                with self.lock:
                    self.failed_logins += 1
                return _json(
                    401,
                    {
                        "error": "AuthenticationRequired",
                        "message": "Invalid identifier or password",
                    },
                )
            with self.lock:
                self.sessions += 1
            return _json(200, self.tokens())
        if method == "com.atproto.server.refreshSession":
            token = request.headers["authorization"].removeprefix("Bearer ")
            time.sleep(self.refresh_delay_s)
            with self.lock:
                if token not in self.live_refresh or token in self.refused_refresh:
                    self.refused_refreshes += 1
                    return _json(
                        400, {"error": "ExpiredToken", "message": "Token has been revoked"}
                    )
                self.live_refresh.discard(token)  # rotation: a refresh token works once
                self.refreshes += 1
            return _json(200, self.tokens())
        if method == "com.atproto.identity.resolveHandle":
            handle = request.url.params["handle"]
            if handle.endswith(".invalid"):
                return _json(
                    400, {"error": "InvalidRequest", "message": "Unable to resolve handle"}
                )
            return _json(
                200, {"did": "did:plc:" + hashlib.sha256(handle.encode()).hexdigest()[:24]}
            )
        if method == "com.atproto.repo.uploadBlob":
            cid = "bafkrei" + hashlib.sha256(request.content).hexdigest()[:52]
            blob = {
                "$type": "blob",
                "ref": {"$link": cid},
                "mimeType": request.headers["content-type"],
                "size": len(request.content),
            }
            return _json(200, {"blob": blob})
        if method == "com.atproto.repo.createRecord":
            with self.lock:
                self.create_tokens.append(bearer)
            return self._create(body)
        if method == "com.atproto.repo.getRecord":
            if self.get_fails:
                self.get_fails -= 1
                return _json(502, {"error": "UpstreamFailure", "message": "bad gateway"})
            found = self.records.get(request.url.params["rkey"])
            if not found:
                return _json(400, {"error": "RecordNotFound", "message": "Could not locate record"})
            return _json(200, found)
        if method == "com.atproto.repo.listRecords":
            if self.list_fails:
                self.list_fails -= 1
                return _json(502, {"error": "UpstreamFailure", "message": "bad gateway"})
            shown = {} if self.list_lags else self.records
            items = [shown[k] for k in sorted(shown, reverse=True)]
            return _json(200, {"records": items})
        return _json(404, {"error": "MethodNotImplemented", "message": method})

    def _create(self, body: dict[str, Any]) -> httpx.Response:
        with self.lock:
            fault = self.faults.pop(0) if self.faults else None
            self.creates.append(body)
        if fault == "429":
            reset = str(self.reset_epoch or int(time.time()) + 600)
            return _json(
                429,
                {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                {"ratelimit-limit": "5000", "ratelimit-remaining": "0", "ratelimit-reset": reset},
            )
        if fault == "503":
            return _json(503, {"error": "InternalServerError", "message": "unavailable"})
        rkey = body["rkey"]
        with self.lock:
            if rkey in self.records:
                return _json(
                    500, {"error": "InternalServerError", "message": "Internal Server Error"}
                )
            cid = "bafyrei" + hashlib.sha256(json.dumps(body["record"]).encode()).hexdigest()[:52]
            uri = f"at://{DID}/app.bsky.feed.post/{rkey}"
            self.records[rkey] = {"uri": uri, "cid": cid, "value": body["record"]}
        if fault == "cut":  # accepted, then the answer is lost
            raise httpx.ReadTimeout("read timed out")
        headers = {"ratelimit-limit": "5000", "ratelimit-remaining": "4997"} | self.rate_headers
        return _json(200, {"uri": uri, "cid": cid}, headers)
