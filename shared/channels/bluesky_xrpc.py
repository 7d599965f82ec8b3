"""Bluesky's XRPC through the `atproto` SDK: the client Herald uses, and what the SDK's
errors mean as Herald's outcomes. Shared by the channel (shared.channels.bluesky), the
session lineage (shared.x.bluesky_sessions), connecting and the metrics reads.

The client never refreshes a session on its own: the SDK's refresh (within 15 minutes of
the access token's expiry, under a lock of the client's) would spend a refresh token that
every process shares; sessions are renewed through their lineage instead.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from shared.channels.outcomes import (
    AccountProblem,
    NotSent,
    RateLimited,
    Rejected,
    UnknownOutcome,
    XError,
)
from shared.http import CONNECT_TIMEOUT_S, READ_TIMEOUT_S

DEFAULT_SERVICE = "https://bsky.social"
# What a PDS answers when the session itself is gone (refresh or access token).
SESSION_GONE = frozenset({"ExpiredToken", "InvalidToken"})
SUSPENDED = frozenset({"AccountTakedown", "AccountDeactivated", "AccountSuspended"})


@cache
def _client_class() -> Any:
    from atproto_client import Client

    class LineageClient(Client):
        """The SDK's client without its own refresh (see the module's docstring)."""

        def _should_refresh_session(self) -> bool:
            return False

    return LineageClient


def new_client(service_url: str | None, transport: Any = None) -> Any:
    import httpx
    from atproto_client.request import Request

    timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    options: dict[str, Any] = {"timeout": timeout}
    if transport is not None:
        options["transport"] = transport
    return _client_class()(base_url=service_url or DEFAULT_SERVICE, request=Request(**options))


def error_name(exc: Any) -> tuple[int | None, str, str]:
    """(status, XRPC error name, message) of an SDK error."""
    response = getattr(exc, "response", None)
    if response is None:
        cause = exc.__cause__ or exc.__context__
        return None, type(cause or exc).__name__, str(cause or exc)
    content = response.content
    name = getattr(content, "error", None) or ""
    message = getattr(content, "message", None) or (name or f"HTTP {response.status_code}")
    return int(response.status_code), str(name), str(message)


def error_message(exc: Exception) -> str:
    """What the PDS said (or why nothing answered), with its status and XRPC error name."""
    status, name, message = error_name(exc)
    return message if status is None else f"{status} {name}: {message}" if name else message


def map_error(exc: Exception, *, creating: bool) -> XError:
    """An atproto error as one of Herald's outcomes."""
    import httpx
    from atproto_client import exceptions as ax

    status, name, message = error_name(exc)
    if isinstance(exc, ax.RateLimitExceededError):
        reset = exc.reset_at
        return RateLimited(f"Bluesky rate limit reached: {message}", reset)
    if status is None:  # no answer: did the request leave?
        cause = exc.__cause__ or exc.__context__ or exc
        if isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return NotSent(f"could not reach Bluesky: {message}")
        if creating:
            return UnknownOutcome(f"no answer from Bluesky after sending the post: {message}")
        return NotSent(f"Bluesky did not answer: {message}")
    if name in SUSPENDED:
        return AccountProblem(
            f"Bluesky says the account is suspended: {message}", status, "suspended"
        )
    if status in (401, 403) or name == "AuthenticationRequired":
        return AccountProblem(
            f"Bluesky refused the account's credentials: {message}", status, "revoked"
        )
    if status >= 500 or status in (408, 409, 502):
        return NotSent(f"Bluesky answered {status}: {message}", status)
    return Rejected(f"Bluesky refused the post ({status} {name}): {message}", status)
