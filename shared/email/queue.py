"""Enqueueing send_email tasks: one task per batch on the "emails" queue."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.tasks import TaskSpec, safe_task_id

if TYPE_CHECKING:
    from shared.runtime import Runtime

# A batch of 50 over one connection takes seconds; the deadline leaves room for slow servers.
DISPATCH_DEADLINE = timedelta(minutes=10)


def enqueue_batch(
    runtime: Runtime,
    batch_id: str,
    workspace_id: str,
    when: datetime | None,
    campaign_id: str,
    attempt_tag: str = "0",
) -> str:
    """The task name; a repeated (batch, tag) is dropped by real Cloud Tasks, and the
    worker's claim makes any duplicate that does arrive harmless."""
    now = runtime.clock.now()
    return runtime.enqueuer.enqueue(
        TaskSpec(
            kind="emails",
            target="send_email",
            payload={
                "batch_id": batch_id,
                "workspace_id": workspace_id,
                "campaign_id": campaign_id,
            },
            schedule_time=when if when is not None and when > now else None,
            task_id=safe_task_id("email", batch_id, attempt_tag),
            dispatch_deadline=DISPATCH_DEADLINE,
        )
    )
