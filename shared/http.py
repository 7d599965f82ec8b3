"""HTTP helpers: the requests and responses of the thin function adapters, and the
timeouts and session every outgoing call to a network uses."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any

from shared.log import trace_field


class BadRequest(ValueError):
    """The request cannot be processed as sent; the message says why, for a person."""

    def __init__(
        self, message: str, details: Any = None, code: str = "invalid_request", status: int = 400
    ) -> None:
        super().__init__(message)
        self.details = details
        self.code = code
        self.status = status


# Firestore refuses maps and arrays nested deeper than 20 levels and integers outside
# int64; a body is refused before anything is parsed into models or stored.
MAX_JSON_DEPTH = 16
MAX_JSON_BYTES = 512 * 1024
INT64 = (-(2**63), 2**63 - 1)


def _refuse_constant(name: str) -> Any:
    raise BadRequest(f"request body is not valid JSON: {name} is not a number JSON allows")


def _check_shape(body: Any) -> None:
    """Nesting depth and integer range, walked without recursion."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise BadRequest(
                    f"request body is nested more than {MAX_JSON_DEPTH} levels deep",
                    details={"max_depth": MAX_JSON_DEPTH},
                )
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)
        elif isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
            raise BadRequest("request body holds an integer too large to store")


def json_body(request: Any, max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any]:
    length = request.content_length
    if length is not None and length > max_bytes:
        raise BadRequest(
            f"request body is {length} bytes; at most {max_bytes}",
            details={"max_bytes": max_bytes},
            code="too_large",
            status=413,
        )
    raw = request.get_data(cache=True)
    if not raw:
        raise BadRequest("request body is empty; expected a JSON object")
    if len(raw) > max_bytes:
        raise BadRequest(
            f"request body is {len(raw)} bytes; at most {max_bytes}",
            details={"max_bytes": max_bytes},
            code="too_large",
            status=413,
        )
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise BadRequest(
            f"request body is nested more than {MAX_JSON_DEPTH} levels deep",
            details={"max_depth": MAX_JSON_DEPTH},
        ) from exc
    except ValueError as exc:
        # e.g. an integer of more digits than Python converts (sys.int_info).
        raise BadRequest(f"request body is not valid JSON: {str(exc)[:200]}") from exc
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    _check_shape(body)
    return body


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    from flask import Response

    return Response(
        json.dumps(data, default=str, ensure_ascii=False),
        status=status,
        mimetype="application/json",
        headers=headers or {},
    )


def error_response(code: str, message: str, status: int, details: Any = None) -> Any:
    return json_response({"error": {"code": code, "message": message, "details": details}}, status)


@dataclass(frozen=True)
class TaskContext:
    """What Cloud Tasks tells a worker about the delivery it is handling."""

    task_name: str | None
    queue_name: str | None
    retry_count: int
    execution_count: int

    @classmethod
    def from_request(cls, request: Any) -> TaskContext:
        h = request.headers

        def _int(name: str) -> int:
            try:
                return int(h.get(name, "0"))
            except ValueError:
                return 0

        return cls(
            task_name=h.get("X-CloudTasks-TaskName"),
            queue_name=h.get("X-CloudTasks-QueueName"),
            retry_count=_int("X-CloudTasks-TaskRetryCount"),
            execution_count=_int("X-CloudTasks-TaskExecutionCount"),
        )


def log_fields(request: Any, project_id: str) -> dict[str, Any]:
    return trace_field(request.headers.get("X-Cloud-Trace-Context"), project_id)


def client_ip(request: Any, trusted_proxies: int) -> str:
    """The caller's address: the first of the X-Forwarded-For entries that the
    `trusted_proxies` proxies in front of Herald appended (Google's front end appends
    "<client>, <load balancer>": 2). Entries before those are whatever the client sent,
    so never trusted; with 0, or without the header, the connection's own address."""
    forwarded = [e.strip() for e in request.headers.get("X-Forwarded-For", "").split(",")]
    forwarded = [e for e in forwarded if e]
    if trusted_proxies > 0 and forwarded:
        candidate = forwarded[max(0, len(forwarded) - trusted_proxies)]
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            pass  # not an address: a proxy we do not know of; fall back to the peer
    return str(request.remote_addr or "unknown")


# Every outgoing request to a network: a hung connection must not hold a worker forever.
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0


def timed_session(session: Any, api_base: str | None = None, hosts: tuple[str, ...] = ()) -> Any:
    """The requests `session` with a timeout on every request (SDKs such as tweepy set
    none) and, when `api_base` is set, `hosts` replaced by it (a proxy, the chaos
    benchmark's fault-injecting X, a test's fake network)."""
    from requests.adapters import HTTPAdapter

    class _Timeout(HTTPAdapter):
        def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
            if api_base:
                for host in hosts:
                    if request.url.startswith(host):
                        request.url = api_base + request.url[len(host) :]
            return super().send(request, **kwargs)

    session.mount("https://", _Timeout())
    return session


def request_left(exc: BaseException) -> bool:
    """Whether a requests connection error happened after the request was sent."""
    import requests

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    if isinstance(exc, requests.exceptions.Timeout):
        return True  # read timeout: the network may have acted on it
    text = repr(exc)
    refused = ("NewConnectionError", "Connection refused", "NameResolutionError", "getaddrinfo")
    return not any(marker in text for marker in refused)
