"""Enqueueing send_email tasks: one task per batch on the "emails" queue."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.email.model import normalize_email
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
    *,
    recipients: Sequence[dict[str, Any]] = (),
) -> str:
    """The task name; a repeated (batch, tag) is dropped by real Cloud Tasks, and the
    worker's claim makes any duplicate that does arrive harmless.

    The task carries the batch's addresses (normalized, in order; ~2 KB for 50) so
    the worker starts its claim, suppression queries and SMTP connection beside the
    batch read instead of after it. They are a hint: the batch document decides."""
    now = runtime.clock.now()
    emails = task_addresses(recipients)
    return runtime.enqueuer.enqueue(
        TaskSpec(
            kind="emails",
            target="send_email",
            payload={
                "batch_id": batch_id,
                "workspace_id": workspace_id,
                "campaign_id": campaign_id,
                **({"emails": emails} if emails else {}),
            },
            schedule_time=when if when is not None and when > now else None,
            task_id=safe_task_id("email", batch_id, attempt_tag),
            dispatch_deadline=DISPATCH_DEADLINE,
        )
    )


def task_addresses(recipients: Sequence[dict[str, Any]]) -> list[str]:
    """What a batch's task names of its recipients: their addresses, normalized, in order."""
    return [normalize_email(str(r["email"])) for r in recipients]
