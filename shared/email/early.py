"""Round trips a send_email task starts before its batch is read, and the pool they run in.

The task names the batch's campaign and addresses, so the suppression queries and the
SMTP connection (with the sender this instance last used for the workspace) start
beside the take of the batch and the read of campaign and settings; what the read
then decides keeps or undoes them (`Early`).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.email import session as smtp_session
from shared.email.model import normalize_email
from shared.email.suppression import suppressed_in, suppression_chunks

if TYPE_CHECKING:
    import smtplib

    from shared.email.smtp_settings import Sender
    from shared.runtime import Runtime

# Threads for a batch's parallel round trips, kept by the warm instance: starting and
# joining four threads per batch cost ~0.6 ms. The executor starts its threads on first
# use. A batch of 50 uses four at once; 32 leave room for the instance's concurrent
# requests (excess work queues; no pooled job waits on another, so it cannot deadlock).
POOL = ThreadPoolExecutor(32, thread_name_prefix="email-batch")

# The sender each workspace's last batch used on this instance: the next batch opens
# its connection with it before its read answers, and keeps that connection only if
# the sender resolved from the read is the same (settings change their `updated_at`).
SENDERS: dict[str, Sender] = {}
SENDERS_MAX = 512
SENDERS_LOCK = threading.Lock()  # an instance serves concurrent requests


def remember_sender(workspace_id: str, sender: Sender) -> None:
    with SENDERS_LOCK:
        if workspace_id not in SENDERS and len(SENDERS) >= SENDERS_MAX:
            SENDERS.pop(next(iter(SENDERS)))  # the oldest entry
        SENDERS[workspace_id] = sender


def start_lookups(runtime: Runtime, workspace_id: str, emails: list[str]) -> list[Future[set[str]]]:
    """The suppression queries for `emails`, one pooled thread per `in` chunk."""
    chunks = suppression_chunks(emails)
    return [POOL.submit(suppressed_in, runtime.db, workspace_id, c) for c in chunks]


@dataclass
class Early:
    """Round trips a task starts from the addresses it names (normalized, in recipient
    order) before its batch is read: the suppression queries and, with the workspace's
    last sender, the SMTP connection. What does not fit the batch is redone or closed."""

    emails: list[str]
    lookups: list[Future[set[str]]]
    sender: Sender | None
    conn: Future[smtplib.SMTP] | None

    @classmethod
    def start(cls, runtime: Runtime, workspace_id: str, emails: list[str]) -> Early:
        lookups = start_lookups(runtime, workspace_id, emails)
        sender = SENDERS.get(workspace_id)
        conn = POOL.submit(smtp_session.connect, sender) if sender is not None else None
        return cls(emails, lookups, sender, conn)

    def covers(self, emails: list[str]) -> bool:
        """The lookups answered for every address about to be sent."""
        return {normalize_email(e) for e in emails} <= set(self.emails)

    def connection_for(self, sender: Sender | None) -> Future[smtplib.SMTP] | None:
        """The early connection if it was opened with the sender the read resolved."""
        conn, self.conn = self.conn, None
        if conn is not None and (sender is None or sender != self.sender):
            smtp_session.discard(conn)
            return None
        return conn

    def drop(self) -> None:
        """Close the connection if the run did not take it (missing, done, busy, held)."""
        if self.conn is not None:
            smtp_session.discard(self.conn)
            self.conn = None
