"""Errors the domain raises and the API maps to `{"error": {"code", "message", "details"}}`.

Messages are written for a person ("subject is empty", not "KeyError: subject");
`details` carries machine-readable specifics (field names, rows, limits).
"""

from __future__ import annotations

from typing import Any


class HeraldError(Exception):
    code = "error"
    status = 500

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationError(HeraldError):
    """Bad input: nothing was changed."""

    code = "invalid"
    status = 400


class NotFound(HeraldError):
    """No such object in this workspace (also for another workspace's objects)."""

    code = "not_found"
    status = 404


class Conflict(HeraldError):
    """The object's state does not allow this now (e.g. editing a published post)."""

    code = "conflict"
    status = 409


class PermissionDenied(HeraldError):
    code = "forbidden"
    status = 403


class Unauthenticated(HeraldError):
    code = "unauthenticated"
    status = 401


class RateLimited(HeraldError):
    code = "rate_limited"
    status = 429


class ProviderError(HeraldError):
    """An outside service (X, SMTP, Gemini, Meta, Google Ads) failed; details say how."""

    code = "provider_error"
    status = 502
