"""One HTTP delivery of a task, with the headers Cloud Tasks sends and its dispatch deadline.

When the deadline passes the request is cancelled (the connection closed) and the attempt
is a DEADLINE_EXCEEDED failure; whether the worker stops is up to the worker, as on Cloud
Tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from email.utils import parsedate_to_datetime

import aiohttp

from local.tasks.queue import Outcome, Task

# Set by Cloud Tasks whatever the task says (Host and Content-Length are computed).
REPLACED = {"host", "content-length", "user-agent"}
RESERVED_PREFIXES = ("x-google-", "x-appengine-", "x-cloudtasks-")


def request_headers(queue_id: str, task: Task) -> dict[str, str]:
    """The headers of the attempt just recorded on `task`."""
    headers = {
        k: v
        for k, v in task.headers.items()
        if k.lower() not in REPLACED and not k.lower().startswith(RESERVED_PREFIXES)
    }
    if task.body and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/octet-stream"
    attempt = task.attempts[-1]
    headers.update(
        {
            "User-Agent": "Google-Cloud-Tasks",
            "X-CloudTasks-QueueName": queue_id,
            "X-CloudTasks-TaskName": task.id,
            "X-CloudTasks-TaskRetryCount": str(attempt.number - 1),
            "X-CloudTasks-TaskExecutionCount": str(task.execution_count),
            "X-CloudTasks-TaskETA": f"{attempt.scheduled_at:.6f}",
        }
    )
    if attempt.number > 1:
        previous = task.attempts[-2]
        if previous.status is not None:
            headers["X-CloudTasks-TaskPreviousResponse"] = str(previous.status)
        headers["X-CloudTasks-TaskRetryReason"] = previous.reason
    return headers


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


async def deliver(
    session: aiohttp.ClientSession, queue_id: str, task: Task, clock: Callable[[], float]
) -> Outcome:
    headers = request_headers(queue_id, task)
    try:
        async with asyncio.timeout(task.dispatch_deadline):
            async with session.request(
                task.method,
                task.url,
                data=task.body or None,
                headers=headers,
                allow_redirects=False,  # a 3xx is an answer other than 2xx: a failure
            ) as response:
                await response.read()
                return Outcome(
                    response.status,
                    f"HTTP {response.status}",
                    retry_after(response.headers.get("Retry-After"), clock()),
                )
    except TimeoutError:
        return Outcome(None, "DEADLINE_EXCEEDED")
    except (aiohttp.ClientError, OSError) as exc:
        return Outcome(None, f"UNAVAILABLE: {type(exc).__name__}: {exc}"[:300])
