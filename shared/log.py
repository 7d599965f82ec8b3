"""Structured JSON logs in the shape Cloud Logging reads from stdout.

Every entry carries `severity` and `message`; request-scoped fields (trace, workspace,
item ids) come from a context bound once per request. Values under keys that look
like secrets are redacted, so a careless `log.info(..., password=...)` cannot leak.
"""

from __future__ import annotations

import contextvars
import json
import os
import re
import sys
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import IO, Any

_SENSITIVE_KEY = re.compile(
    r"pass(word)?|secret|token|authorization|api[_-]?key|credential|cookie", re.I
)
# Keys that name a secret without holding it.
_SAFE_KEYS = frozenset({"secret_ref", "token_id", "alert"})
SEVERITIES = ("DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT")

_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "herald_log_context", default=MappingProxyType({})
)


# Hostile input must not make the logs its own: every logged value is capped (a string
# to MAX_VALUE_CHARS, a list or mapping to MAX_ITEMS entries, nesting to MAX_DEPTH), the
# message (which may carry a stack trace) to MAX_MESSAGE_CHARS.
MAX_VALUE_CHARS = 1000
MAX_MESSAGE_CHARS = 16_000
MAX_ITEMS = 50
MAX_DEPTH = 4


def _cap_text(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters]"


def _redact(key: str, value: Any, depth: int = 0) -> Any:
    if key not in _SAFE_KEYS and _SENSITIVE_KEY.search(key):
        return "[redacted]"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return _cap_text(value, MAX_VALUE_CHARS)
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, bool | int | float) or value is None:
        return value
    if depth >= MAX_DEPTH:
        return "[nested too deep]"
    if isinstance(value, Mapping):
        items = list(value.items())
        out = {str(k)[:100]: _redact(str(k), v, depth + 1) for k, v in items[:MAX_ITEMS]}
        if len(items) > MAX_ITEMS:
            out["..."] = f"{len(items) - MAX_ITEMS} more entries"
        return out
    if isinstance(value, list | tuple | set | frozenset):
        seq = list(value)
        capped = [_redact(key, v, depth + 1) for v in seq[:MAX_ITEMS]]
        if len(seq) > MAX_ITEMS:
            capped.append(f"... {len(seq) - MAX_ITEMS} more items")
        return capped
    return _cap_text(str(value), MAX_VALUE_CHARS)


def trace_field(header: str | None, project_id: str) -> dict[str, str]:
    """Map an `X-Cloud-Trace-Context: TRACE/SPAN;o=1` header to Cloud Logging's fields."""
    if not header:
        return {}
    trace_id = header.split("/", 1)[0].strip()
    if not re.fullmatch(r"[0-9a-fA-F]{16,32}", trace_id):
        return {}
    return {"logging.googleapis.com/trace": f"projects/{project_id}/traces/{trace_id}"}


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add fields to every entry logged inside the block (e.g. workspace_id, post_id)."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def _threshold() -> int:
    level = os.environ.get("HERALD_LOG_LEVEL", "INFO").upper()
    return SEVERITIES.index(level) if level in SEVERITIES else SEVERITIES.index("INFO")


class Logger:
    def __init__(self, component: str, stream: IO[str] | None = None) -> None:
        self.component = component
        self._stream = stream
        self._threshold = _threshold()  # HERALD_LOG_LEVEL

    def log(self, severity: str, message: str, **fields: Any) -> None:
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}")
        if SEVERITIES.index(severity) < self._threshold:
            return
        entry: dict[str, Any] = {
            "severity": severity,
            "message": _cap_text(message, MAX_MESSAGE_CHARS),
            "time": datetime.now(UTC).isoformat(),
            "component": self.component,
        }
        for key, value in {**_context.get(), **fields}.items():
            if value is not None:
                entry[key] = _redact(key, value)
        stream = self._stream or sys.stdout
        stream.write(json.dumps(entry, default=str, ensure_ascii=False) + "\n")
        stream.flush()

    def debug(self, message: str, **fields: Any) -> None:
        self.log("DEBUG", message, **fields)

    def info(self, message: str, **fields: Any) -> None:
        self.log("INFO", message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        self.log("WARNING", message, **fields)

    def error(self, message: str, **fields: Any) -> None:
        self.log("ERROR", message, **fields)

    def exception(self, message: str, *, exc: BaseException, **fields: Any) -> None:
        stack = "".join(traceback.format_exception(exc))
        # Error Reporting picks up entries whose message carries a stack trace.
        self.log("ERROR", f"{message}\n{stack}", error_type=type(exc).__name__, **fields)

    def alert(self, alert_type: str, message: str, **fields: Any) -> None:
        """One ERROR entry with a stable `alert` type that a log-based alert policy matches."""
        self.log("ERROR", message, alert=alert_type, **fields)


def get_logger(component: str) -> Logger:
    return Logger(component)
