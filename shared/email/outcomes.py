"""Recording a batch's outcomes: what each server answer means for its recipient, hard
bounces suppressed, the deferred ladder (retry batches) and the batch's final tally.

Outcomes: sent (250), deferred on 4xx (a retry batch after 30 s, 1 min, 1 h, then failed
with transient=True), failed on 5xx (550/551/553 at RCPT also suppress the address),
suppressed (on the list before sending), unconfirmed (the server may have the message;
never re-sent), cancelled. The tally goes on the batch itself, in the same commit as
`done`: campaign progress sums the finished batches' tallies (one aggregation read), so
sending never writes the campaign document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.email import smtp
from shared.email.model import BATCHES, EVENT_RETENTION, EVENTS, FOLD_PENDING, TALLY_FIELDS
from shared.email.pace import Seen
from shared.email.queue import enqueue_batch
from shared.email.session import NO_UTF8, Dropped, NoUtf8, Reply, Result, Unreachable
from shared.email.suppression import suppress
from shared.log import get_logger

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("email.send")

RETRY_LADDER = (timedelta(seconds=30), timedelta(minutes=1), timedelta(hours=1))
UNCONFIRMED_DROP = "the connection dropped after the message was sent, before the reply"


def failed(code: int, text: str, now: datetime, *, transient: bool) -> dict[str, Any]:
    return {"status": "failed", "code": code, "text": text[:300], "transient": transient, "at": now}


def unconfirmed(reason: str, now: datetime) -> dict[str, Any]:
    return {"status": "unconfirmed", "reason": reason[:300], "at": now}


@dataclass
class Recorder:
    """Turns what the SMTP session reports into a recipient's outcome."""

    runtime: Runtime
    batch: dict[str, Any]
    campaign_id: str
    suppressed_now: list[str] = field(default_factory=list)  # recipient ids, hard bounces
    seen: Seen = field(default_factory=Seen)  # what the provider said of our pace

    def outcome(self, result: Result, rcpt: dict[str, Any]) -> dict[str, Any]:
        now = self.runtime.clock.now()
        if isinstance(result, Dropped):
            return unconfirmed(UNCONFIRMED_DROP, now)
        if isinstance(result, NoUtf8):
            # transient: "resend failed" sends it once the settings name a server that can.
            return {**failed(0, NO_UTF8, now, transient=True), "reason": "smtputf8"}
        if isinstance(result, Unreachable):
            if result.transient_net:
                text = f"cannot reach the server: {result.message}"
                return self.classify(Reply(451, text, "connect"), rcpt)
            return failed(0, result.message, now, transient=True)
        return self.classify(result, rcpt)

    def classify(self, reply: Reply, rcpt: dict[str, Any]) -> dict[str, Any]:
        now = self.runtime.clock.now()
        code, text = reply.code, smtp.reply_text(reply.text)
        if reply.phase != "connect":  # a refused connection says nothing of the pace
            self.seen.add(code, text)
        if code in (250, 251):
            return {"status": "sent", "code": code, "text": text, "at": now}
        if smtp.is_transient(code):
            attempt = int(self.batch.get("attempt") or 0)
            if attempt >= len(RETRY_LADDER):
                return failed(code, text, now, transient=True)
            return {
                "status": "deferred",
                "code": code,
                "text": text,
                "at": now,
                "retry_at": now + RETRY_LADDER[attempt],
            }
        outcome = failed(code, text, now, transient=False)
        # Only a refused recipient says the address is bad (a refused MAIL is about us).
        if code in smtp.HARD_BOUNCE_CODES and reply.phase == "rcpt":
            outcome["bounce"] = "hard"
            self.suppressed_now.append(rcpt["id"])
            ws = self.batch["workspace_id"]
            suppress(self.runtime.db, ws, rcpt["email"], "hard_bounce", now, self.campaign_id)
        return outcome


def retry_batch_id(batch_id: str, attempt: int) -> str:
    root = batch_id.split("__r", maxsplit=1)[0]
    return f"{root}__r{attempt}"


@dataclass
class Final:
    """A finished batch as one commit: the batch, its events, and a retry batch for
    its deferred recipients (created there if it does not exist yet)."""

    fields: dict[str, Any]
    events: dict[str, dict[str, Any]]  # event document id -> document
    tally: dict[str, int]
    outcomes: dict[str, dict[str, Any]]
    deferred: list[int]
    gen: int
    retry_id: str | None = None
    retry: dict[str, Any] | None = None

    def add_to(self, writer: Any, db: Any, in_transaction: bool) -> None:
        """The events and the retry batch, added to the run's final commit. The retry
        batch is simply created: only the batch's owner finishes it, once. Its usual id
        can be taken only if the claim-based worker (before fenced runs) crashed between
        making it and finishing; then the commit fails, is redone as a transaction, and
        the retry batch takes the run's generation as a suffix."""
        if self.retry_id is not None and self.retry is not None:
            ref = db.collection(BATCHES).document(self.retry_id)
            if in_transaction and ref.get(transaction=writer).exists:
                self._rename_retry(f"{self.retry_id}g{self.gen}")
                ref = db.collection(BATCHES).document(self.retry_id)
            writer.create(ref, self.retry)
        for doc_id, event in self.events.items():
            writer.set(db.collection(EVENTS).document(doc_id), event)

    def _rename_retry(self, retry_id: str) -> None:
        assert self.retry is not None
        log.warning("a retry batch of this batch exists already", retry_batch=retry_id)
        self.retry_id = self.retry["key"] = retry_id
        for i in self.deferred:
            self.outcomes[str(i)]["retry_batch"] = retry_id

    def enqueue_retry(self, runtime: Runtime) -> None:
        """After the commit: the retry batch's task, due at its rung of the ladder."""
        if self.retry_id is None or self.retry is None:
            return
        enqueue_batch(
            runtime,
            self.retry_id,
            self.retry["workspace_id"],
            self.retry["due_at"],
            self.retry["campaign_id"],
            recipients=self.retry["recipients"],
        )


def final(
    batch_id: str,
    gen: int,
    batch: dict[str, Any],
    outcomes: dict[str, dict[str, Any]],
    deferred: list[int],
    suppressed_now: list[str],
    now: datetime,
    domain: str | None = None,
) -> Final:
    """The finished batch: tally, events, and the retry batch for `deferred`."""
    recipients = batch["recipients"]
    attempt = int(batch.get("attempt") or 0)
    retry_id = retry = None
    if deferred:
        retry_id = retry_batch_id(batch_id, attempt + 1)
        retry = {
            "workspace_id": batch["workspace_id"],
            "campaign_id": batch["campaign_id"],
            "key": retry_id,
            "kind": "retry",
            "attempt": attempt + 1,
            "status": "queued",
            "due_at": now + RETRY_LADDER[attempt],
            "enqueued_at": now,
            "recipients": [recipients[i] for i in deferred],
            "outcomes": {},
            "run_gen": 0,
        }
        for i in deferred:
            outcomes[str(i)]["retry_batch"] = retry_id
    tally: dict[str, int] = {}
    ids: dict[str, list[str]] = {"sent": [], "failed": []}
    for i, rcpt in enumerate(recipients):
        status = (outcomes.get(str(i)) or {}).get("status", "unconfirmed")
        tally[status] = tally.get(status, 0) + 1
        if status in ids:
            ids[status].append(rcpt["id"])
    # The tally goes on the batch itself (atomic with `done`); progress sums it.
    summary = {k: v for k, v in tally.items() if k != "deferred"}
    summary["deferred"] = tally.get("deferred", 0) - (
        len(recipients) if batch.get("kind") == "retry" else 0
    )
    summary["batches_done"] = 0 if batch.get("kind") == "retry" else 1
    fields: dict[str, Any] = {
        "status": "done",
        "outcomes": outcomes,
        "inflight": [],
        "finished_at": now,
        "sender_domain": domain,
        "counts": tally,
        **{name: int(summary.get(k, 0)) for k, name in TALLY_FIELDS.items()},
    }
    base = {
        "workspace_id": batch["workspace_id"],
        "campaign_id": batch["campaign_id"],
        "batch_id": batch_id,
        "domain": domain,
        "at": now,
        "expires_at": now + EVENT_RETENTION,
        FOLD_PENDING: True,  # the metrics fold counts it within a tick, once
    }
    events = {
        f"{kind}__{batch_id}": {**base, "type": kind, "count": len(rids), "recipient_ids": rids}
        for kind, rids in ids.items()
        if rids
    }
    for rid in suppressed_now:
        events[f"bounce__{batch['campaign_id']}__{rid}"] = {
            **base,
            "type": "bounce",
            "count": 1,
            "recipient_id": rid,
        }
    return Final(fields, events, tally, outcomes, deferred, gen, retry_id, retry)
