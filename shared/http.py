"""Request and response helpers shared by the thin function adapters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shared.log import trace_field


class BadRequest(ValueError):
    """The request cannot be processed as sent; the message says why, for a person."""

    def __init__(self, message: str, details: Any = None, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.details = details
        self.code = code


def json_body(request: Any) -> dict[str, Any]:
    raw = request.get_data(cache=True)
    if not raw:
        raise BadRequest("request body is empty; expected a JSON object")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
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
