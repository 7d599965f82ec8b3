"""Deliverability upkeep the dispatcher starts each tick: one `bounce_mailbox` task per
enabled bounce mailbox (shared.email.mailbox), once a minute per workspace, on the
`bounces` queue, run by the read_bounces function (an IMAP wait kept off send_email's
emails queue).

Each task is named by its workspace and minute, so a repeated tick (Cloud Scheduler may
deliver twice) adds none on Cloud Tasks, and a duplicate that does run changes nothing:
a mailbox run applies each report once. (The reputation guard needs no tick: it runs
when a bounce or complaint arrives, from a report or at the SMTP answer.)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.queries import build
from shared.queries import email as q
from shared.tasks import TaskSpec, safe_task_id

if TYPE_CHECKING:
    from shared.runtime import Runtime

MAILBOX_EVERY = timedelta(minutes=1)
MAILBOX_QUEUE = "bounces"
MAILBOX_WORKER = "read_bounces"


def _window(now: datetime, every: timedelta) -> str:
    return str(int(now.timestamp() // every.total_seconds()))


def _enqueue(runtime: Runtime, workspace_id: str, window: str) -> None:
    # Due now, with Cloud Tasks' default deadline (10 min); the name dedupes the minute.
    runtime.enqueuer.enqueue(
        TaskSpec(
            kind=MAILBOX_QUEUE,
            target=MAILBOX_WORKER,
            payload={"bounce_mailbox": workspace_id},
            task_id=safe_task_id("bounce_mailbox", workspace_id, window),
        )
    )


def enqueue(runtime: Runtime, now: datetime) -> int:
    query = build(runtime.db, q.MAILBOXES, mailbox_enabled=True).select(["workspace_id"])
    mailboxes = sorted({d.get("workspace_id") for d in query.stream()})
    for ws in mailboxes:
        _enqueue(runtime, ws, _window(now, MAILBOX_EVERY))
    return len(mailboxes)
