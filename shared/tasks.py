"""Enqueue one Cloud Task per item, as an HTTP task to a worker function.

Production: HTTP tasks carrying an OIDC token of the tasks service account, so worker
functions need not be public. Locally: local/tasks (the same API, queues configured from
infra/queues.json) over an insecure gRPC channel. Every task has `Content-Type:
application/json` and, where the item is due in the future, `schedule_time` set to the
exact due instant.

A task name is refused for about an hour after a task of that name ran or was deleted,
which saves a wasted delivery; callers never rely on it for correctness (a task may
still be delivered twice, and the hour passes): Firestore claims are the guard.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from shared.log import get_logger

if TYPE_CHECKING:
    from shared.settings import Settings

log = get_logger("tasks")


@dataclass(frozen=True)
class TaskSpec:
    kind: str  # queue kind (shared.settings.QUEUE_KINDS): one queue per worker function
    target: str  # worker function name, e.g. "post_tweet"
    payload: dict[str, Any]
    schedule_time: datetime | None = None
    # Optional deterministic id (letters, digits, '-' and '_'): Cloud Tasks drops a
    # second task with the same name, which saves a wasted delivery.
    task_id: str | None = None
    # None: Cloud Tasks uses 10 min. tests/infra check it outlasts the target's timeout.
    dispatch_deadline: timedelta | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Enqueuer(Protocol):
    def enqueue(self, spec: TaskSpec) -> str:
        """Create the task; returns its name. Idempotent for a repeated task_id."""
        ...


class CloudTasksEnqueuer:
    """Real Cloud Tasks (production) or the local one (when a channel host is given)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Any = None
        self._lock = threading.Lock()

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                from google.cloud import tasks_v2

                host = self._settings.tasks_emulator_host
                if host:
                    import grpc
                    from google.cloud.tasks_v2.services.cloud_tasks.transports import (
                        CloudTasksGrpcTransport,
                    )

                    # client_options + anonymous credentials would try TLS and hang.
                    transport = CloudTasksGrpcTransport(channel=grpc.insecure_channel(host))
                    self._client = tasks_v2.CloudTasksClient(transport=transport)
                else:
                    self._client = tasks_v2.CloudTasksClient()
            return self._client

    def queue_path(self, kind: str) -> str:
        s = self._settings
        return f"projects/{s.project_id}/locations/{s.region}/queues/{s.queue_id(kind)}"

    def build_task(self, spec: TaskSpec) -> dict[str, Any]:
        """The task as a plain mapping (also what tests inspect)."""
        url = self._settings.function_url(spec.target)
        http_request: dict[str, Any] = {
            "http_method": "POST",
            "url": url,
            "headers": {"Content-Type": "application/json", **spec.headers},
            "body": json.dumps(spec.payload, separators=(",", ":"), default=str).encode(),
        }
        if self._settings.tasks_service_account and not self._settings.tasks_emulator_host:
            http_request["oidc_token"] = {
                "service_account_email": self._settings.tasks_service_account,
                "audience": url,
            }
        task: dict[str, Any] = {"http_request": http_request}
        if spec.schedule_time is not None:
            if spec.schedule_time.tzinfo is None:
                raise ValueError("schedule_time must be timezone-aware")
            task["schedule_time"] = spec.schedule_time
        if spec.task_id:
            task["name"] = f"{self.queue_path(spec.kind)}/tasks/{spec.task_id}"
        if spec.dispatch_deadline is not None:
            task["dispatch_deadline"] = spec.dispatch_deadline
        return task

    def enqueue(self, spec: TaskSpec) -> str:
        from google.api_core import exceptions

        task = self.build_task(spec)
        try:
            created = self._get_client().create_task(
                parent=self.queue_path(spec.kind), task=task, timeout=30
            )
        except exceptions.AlreadyExists:
            log.info("task already exists", task=task["name"], kind=spec.kind)
            return str(task["name"])
        from shared.firestore_stats import record_task

        record_task(spec.kind)
        return str(created.name)


class RecordingEnqueuer:
    """Keeps tasks in memory; for unit tests of code that enqueues."""

    def __init__(self) -> None:
        self.tasks: list[TaskSpec] = []
        self._ids: set[str] = set()
        self._lock = threading.Lock()

    def enqueue(self, spec: TaskSpec) -> str:
        with self._lock:
            if spec.task_id and spec.task_id in self._ids:
                return spec.task_id
            if spec.task_id:
                self._ids.add(spec.task_id)
            self.tasks.append(spec)
            return spec.task_id or f"task-{len(self.tasks)}"

    def of_kind(self, kind: str) -> list[TaskSpec]:
        return [t for t in self.tasks if t.kind == kind]


def safe_task_id(*parts: str) -> str:
    """A Cloud Tasks task id from arbitrary parts (allowed: [A-Za-z0-9_-], ≤500 chars)."""
    import hashlib
    import re

    raw = "-".join(parts)
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", raw)
    if len(cleaned) > 400:
        cleaned = cleaned[:300] + "-" + hashlib.sha256(raw.encode()).hexdigest()[:32]
    return cleaned
