"""send_email: deliver one batch over one SMTP connection; nothing twice, nothing lost.

Exactly once: the run claims `claims/email-batch:{batch}:{gen}` with create(); a
duplicate or concurrent delivery loses the create and does nothing (the holder is
alive while its lease runs). A run whose holder died is taken over with gen + 1 once
the lease has expired.

Checkpoints (write-ahead): before a recipient is sent, its index is recorded as
`inflight`, first in the claim itself (it names the first CLAIM_COVERS = 50 recipients,
a whole default batch), later in the batch document together with the outcomes so far.
After a crash the next run knows exactly which recipients may have been sent: the
in-flight ones without an outcome are marked `unconfirmed` (never re-sent, the reason is
recorded) and every other recipient without an outcome is sent. Granularity: a batch
that runs longer than SLOW_AFTER_S (a slow server, where a kill is most likely to land)
checkpoints every CHECKPOINT_EVERY = 25 messages, so its doubt is at most 25; a fast one
(50 messages in well under a second) writes no checkpoint at all, so a kill can leave at
most one batch in doubt. That keeps a batch at three writes in the worker (claim, and
one final write of the batch with its tally, plus the `sent` event) and the campaign
document out of the hot path: progress sums the finished batches' tallies (one
aggregation read), so writes grow with batches, not recipients, and concurrent batches
do not contend on one document. An ordinary exception is not a crash: the run knows
what it sent, records it, releases the batch to the next generation and lets Cloud
Tasks retry.

Outcomes: sent (250), deferred on 4xx (retry batches after 30 s, 1 min, 1 h, then
failed with transient=True), failed on 5xx (550/551/553 also suppress the address),
suppressed (on the list before sending), unconfirmed, cancelled.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.claims import CLAIMS, get_claim, try_claim
from shared.email import smtp
from shared.email.model import (
    BATCHES,
    CAMPAIGNS,
    EVENT_RETENTION,
    EVENTS,
    FOLD_PENDING,
    TALLY_FIELDS,
    ascii_address,
    normalize_email,
    valid_email,
)
from shared.email.queue import enqueue_batch, task_addresses
from shared.email.suppression import suppress, suppressed_in, suppression_chunks
from shared.errors import HeraldError, ProviderError
from shared.firestore import is_already_exists
from shared.log import get_logger

if TYPE_CHECKING:
    from shared.email.compose import Composer
    from shared.email.smtp_settings import Sender
    from shared.runtime import Runtime

log = get_logger("email.send")

CHECKPOINT_EVERY = 25  # the doubt bound once a batch is slow
CLAIM_COVERS = 50  # the claim's write-ahead: a whole default batch
SLOW_AFTER_S = 1.0  # a batch still sending after this checkpoints every CHECKPOINT_EVERY
LEASE = timedelta(minutes=12)
RETRY_LADDER = (timedelta(seconds=30), timedelta(minutes=1), timedelta(hours=1))
_LEADING_DOT = re.compile(rb"(?m)^\.")
UNCONFIRMED_CRASH = "the worker stopped while this message was being sent; not re-sent"
UNCONFIRMED_DROP = "the connection dropped after the message was sent, before the reply"


class BusyError(Exception):
    """Another live run holds the batch."""


@dataclass
class _Run:
    runtime: Runtime
    batch_id: str
    batch: dict[str, Any]
    campaign: dict[str, Any]
    gen: int
    outcomes: dict[str, dict[str, Any]]
    on_message: Callable[[int], None] | None = None
    conn: smtplib.SMTP | None = None
    broken: dict[str, Any] | None = None  # set when the server cannot be reached at all
    phase: str = ""
    suppressed_now: list[str] = field(default_factory=list)
    sender: Sender | None = None
    config_error: HeraldError | None = None
    blocked: set[str] = field(default_factory=set)
    timing: dict[str, float] = field(default_factory=dict)  # ms per phase, logged
    conn_future: Future[smtplib.SMTP] | None = None
    ready: dict[int, bytes | Exception] = field(default_factory=dict)  # composed ahead


def send_batch(
    runtime: Runtime,
    batch_id: str,
    workspace_id: str,
    *,
    campaign_id: str | None = None,
    emails: list[str] | None = None,
    on_message: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Process one batch task; returns a summary. Raises on errors Cloud Tasks should retry.

    Round trips are what a batch costs. The task names the campaign and the batch's
    addresses (`emails`), so everything starts at once: one get_all for batch, campaign
    and SMTP settings, beside generation 0's claim, the suppression queries and the
    SMTP connection (with the sender this instance last used for the workspace); then
    one final commit. The read decides what of the early work is kept.
    """
    early = _Early.start(runtime, batch_id, workspace_id, emails) if emails else None
    try:
        return _read_and_run(runtime, batch_id, workspace_id, campaign_id, early, on_message)
    finally:
        if early is not None and not early.used:  # the read ended the task, or failed
            early.drop(runtime, batch_id)


def _read_and_run(
    runtime: Runtime,
    batch_id: str,
    workspace_id: str,
    campaign_id: str | None,
    early: _Early | None,
    on_message: Callable[[int], None] | None,
) -> dict[str, Any]:
    from shared.email.model import SETTINGS

    started = time.perf_counter()
    db = runtime.db
    ref = db.collection(BATCHES).document(batch_id)
    refs = [ref]
    if campaign_id:
        refs += [
            db.collection(CAMPAIGNS).document(campaign_id),
            db.collection(SETTINGS).document(workspace_id),
        ]
    snaps = {s.reference.path: s for s in db.get_all(refs)}
    snap = snaps[ref.path]
    if not snap.exists or snap.get("workspace_id") != workspace_id:
        log.warning("task for an unknown batch", batch_id=batch_id, workspace_id=workspace_id)
        return {"status": "missing"}
    batch = snap.to_dict()
    if batch["status"] == "done":
        return {"status": "already_done"}
    if campaign_id != batch["campaign_id"]:
        csnap = db.collection(CAMPAIGNS).document(batch["campaign_id"]).get()
        settings = None
    else:
        csnap = snaps[refs[1].path]
        ssnap = snaps[refs[2].path]
        settings = ssnap.to_dict() if ssnap.exists else {}
    campaign = {**(csnap.to_dict() or {}), "id": csnap.id}
    if campaign.get("status") == "paused":
        if batch["status"] != "held":
            ref.update({"status": "held"})
        return {"status": "held"}
    timing = {"read": _ms_since(started)}
    return _claim_and_run(runtime, batch_id, batch, campaign, settings, early, on_message, timing)


def _claim_and_run(
    runtime: Runtime,
    batch_id: str,
    batch: dict[str, Any],
    campaign: dict[str, Any],
    settings: dict[str, Any] | None,
    early: _Early | None,
    on_message: Callable[[int], None] | None,
    timing: dict[str, float],
) -> dict[str, Any]:
    from shared.email.smtp_settings import sender_for

    started = time.perf_counter()
    now = runtime.clock.now()
    ws = batch["workspace_id"]
    outcomes: dict[str, dict[str, Any]] = dict(batch.get("outcomes") or {})
    gen = int(batch.get("run_gen") or 0)
    todo = _todo(batch, outcomes)
    sending = campaign.get("status") != "cancelled" and bool(campaign.get("workspace_id"))
    sender: Sender | None = None
    config_error: HeraldError | None = None
    if sending and todo:
        try:
            sender = sender_for(runtime, ws, settings)
            _remember_sender(ws, sender)
        except HeraldError as exc:
            config_error = exc
    emails = [batch["recipients"][i]["email"] for i in todo] if sending else []
    first_claim: Future[bool] | None = None
    conn: Future[smtplib.SMTP] | None = None
    if early is not None:
        early.used = True
        lookups = early.lookups if early.covers(emails) else _lookups(runtime, ws, emails)
        conn = early.connection_for(sender)
        if gen == 0 and early.fits(batch):
            first_claim = early.claim
        else:
            early.give_back_claim(runtime, batch_id)
    else:
        lookups = _lookups(runtime, ws, emails)
    if conn is None and sender is not None:
        conn = _POOL.submit(_connect, sender)
    try:
        gen = _claim(runtime, batch_id, batch, gen, outcomes, now, first_claim)
    except BaseException as exc:
        if conn is not None:
            _discard(conn)
        if isinstance(exc, BusyError):
            return {"status": "busy"}
        raise
    run = _Run(runtime, batch_id, batch, campaign, gen, outcomes, on_message)
    run.sender = sender
    run.config_error = config_error
    run.conn_future = conn
    run.timing = timing
    try:
        run.blocked = set().union(*(lookup.result() for lookup in lookups))
    except Exception:
        _abandon(run)
        raise
    timing["prepare"] = _ms_since(started)
    return run_batch(run)


# Threads for a batch's parallel round trips, kept by the warm instance: starting and
# joining four threads per batch cost ~0.6 ms. The executor starts its threads on first
# use. A batch of 50 uses four at once; 32 leave room for the instance's concurrent
# requests (excess work queues; no pooled job waits on another, so it cannot deadlock).
_POOL = ThreadPoolExecutor(32, thread_name_prefix="email-batch")

# The sender each workspace's last batch used on this instance: the next batch opens
# its connection with it before its read answers, and keeps that connection only if
# the sender resolved from the read is the same (settings change their `updated_at`).
_SENDERS: dict[str, Sender] = {}
_SENDERS_MAX = 512
_SENDERS_LOCK = threading.Lock()  # an instance serves concurrent requests


def _remember_sender(workspace_id: str, sender: Sender) -> None:
    with _SENDERS_LOCK:
        if workspace_id not in _SENDERS and len(_SENDERS) >= _SENDERS_MAX:
            _SENDERS.pop(next(iter(_SENDERS)))  # the oldest entry
        _SENDERS[workspace_id] = sender


def _ms_since(started: float) -> float:
    """Milliseconds since a `time.perf_counter()` reading, for the batch's timing log."""
    return round(1000 * (time.perf_counter() - started), 1)


def _lookups(runtime: Runtime, workspace_id: str, emails: list[str]) -> list[Future[set[str]]]:
    """The suppression queries for `emails`, one pooled thread per `in` chunk."""
    chunks = suppression_chunks(emails)
    return [_POOL.submit(suppressed_in, runtime.db, workspace_id, c) for c in chunks]


def _claim_key(batch_id: str, gen: int) -> str:
    return f"email-batch:{batch_id}:{gen}"


def _try_gen(
    db: Any, batch_id: str, workspace_id: str, gen: int, inflight: list[int], now: datetime
) -> bool:
    return try_claim(
        db,
        _claim_key(batch_id, gen),
        owner="send_email",
        now=now,
        workspace_id=workspace_id,
        lease_until=now + LEASE,
        inflight=inflight,  # write-ahead for the first chunk
    )


@dataclass
class _Early:
    """Round trips a task starts before its batch is read, from the addresses it names
    (normalized, in recipient order): generation 0's claim, the suppression queries
    and, with the workspace's last sender, the SMTP connection. The read decides what
    is kept (`covers`, `fits`, `connection_for`); what is not is undone (`drop`)."""

    emails: list[str]
    claim: Future[bool]
    lookups: list[Future[set[str]]]
    sender: Sender | None
    conn: Future[smtplib.SMTP] | None
    used: bool = False

    @classmethod
    def start(cls, runtime: Runtime, batch_id: str, workspace_id: str, emails: list[str]) -> _Early:
        pool, db, now = _POOL, runtime.db, runtime.clock.now()
        first = list(range(min(len(emails), CLAIM_COVERS)))  # an untouched batch's todo
        claim = pool.submit(_try_gen, db, batch_id, workspace_id, 0, first, now)
        lookups = _lookups(runtime, workspace_id, emails)
        sender = _SENDERS.get(workspace_id)
        conn = pool.submit(_connect, sender) if sender is not None else None
        return cls(emails, claim, lookups, sender, conn)

    def covers(self, emails: list[str]) -> bool:
        """The lookups answered for every address about to be sent."""
        return {normalize_email(e) for e in emails} <= set(self.emails)

    def fits(self, batch: dict[str, Any]) -> bool:
        """Generation 0's claim, with its write-ahead, is right for this batch: nothing
        of it has run and the task named exactly its recipients."""
        return (
            int(batch.get("run_gen") or 0) == 0
            and not batch.get("outcomes")
            and task_addresses(batch["recipients"]) == self.emails
        )

    def connection_for(self, sender: Sender | None) -> Future[smtplib.SMTP] | None:
        """The early connection if it was opened with the sender the read resolved."""
        conn, self.conn = self.conn, None
        if conn is not None and (sender is None or sender != self.sender):
            _discard(conn)
            return None
        return conn

    def give_back_claim(self, runtime: Runtime, batch_id: str) -> None:
        """Delete generation 0's claim if this task made it: nothing was sent under
        it, and left in place it would hold the batch for a whole lease."""
        try:
            won = self.claim.result()
        except Exception:
            return  # unknown whether it was made: the lease and takeover handle it
        if won:
            runtime.db.collection(CLAIMS).document(_claim_key(batch_id, 0)).delete()

    def drop(self, runtime: Runtime, batch_id: str) -> None:
        """The read ended the task (missing, done, paused) or failed: undo it all."""
        self.used = True
        if self.conn is not None:
            _discard(self.conn)
            self.conn = None
        self.give_back_claim(runtime, batch_id)


def _connect(sender: Sender) -> smtplib.SMTP:
    return smtp.connect(sender.smtp)


def _discard(future: Future[smtplib.SMTP]) -> None:
    with contextlib.suppress(ProviderError):
        smtp.close(future.result())


def _todo(batch: dict[str, Any], outcomes: dict[str, Any]) -> list[int]:
    return [i for i in range(len(batch["recipients"])) if str(i) not in outcomes]


def _claim(
    runtime: Runtime,
    batch_id: str,
    batch: dict[str, Any],
    gen: int,
    outcomes: dict[str, dict[str, Any]],
    now: datetime,
    first: Future[bool] | None = None,
) -> int:
    """Win the batch for this run; on takeover, mark the dead run's in-flight chunk.

    `first` is the claim of `gen` already made when the task arrived."""
    db, ws = runtime.db, batch["workspace_id"]

    def claim(generation: int) -> bool:
        return _try_gen(db, batch_id, ws, generation, _todo(batch, outcomes)[:CLAIM_COVERS], now)

    if first.result() if first is not None else claim(gen):
        return gen
    held = get_claim(db, _claim_key(batch_id, gen)) or {}
    checkpointed = batch.get("ckpt_gen") == gen
    lease = max(held.get("lease_until") or now, (checkpointed and batch.get("lease_until")) or now)
    if lease > now:
        raise BusyError
    doubt = batch.get("inflight") if checkpointed else held.get("inflight")
    for i in doubt or []:
        if str(i) not in outcomes:
            outcomes[str(i)] = {"status": "unconfirmed", "reason": UNCONFIRMED_CRASH, "at": now}
    if not claim(gen + 1):
        raise BusyError
    log.warning("took over a batch whose worker died", batch_id=batch_id, in_doubt=len(doubt or []))
    return gen + 1


def run_batch(run: _Run) -> dict[str, Any]:
    from shared.email.compose import Composer

    rt, batch = run.runtime, run.batch
    recipients: list[dict[str, Any]] = batch["recipients"]
    todo = _todo(batch, run.outcomes)
    # What the winning claim wrote ahead (before suppressed recipients are taken out).
    claimed = set(todo[:CLAIM_COVERS])
    now = rt.clock.now()
    if run.campaign.get("status") == "cancelled" or not run.campaign.get("workspace_id"):
        for i in todo:
            run.outcomes[str(i)] = {"status": "cancelled", "at": now}
        return _finish(run, [])
    for i in todo:
        if normalize_email(recipients[i]["email"]) in run.blocked:
            run.outcomes[str(i)] = {"status": "suppressed", "at": now}
    todo = [i for i in todo if str(i) not in run.outcomes]
    sender = run.sender
    try:
        if run.config_error is not None:
            raise run.config_error
        if sender is None:
            if todo:
                raise AssertionError("a sender is resolved whenever there is work")
            return _finish(run, [])
        composer = Composer(rt, batch["workspace_id"], run.campaign, sender)
    except HeraldError as exc:
        log.alert("email_config", "a batch cannot be sent", batch_id=run.batch_id, error=str(exc))
        for i in todo:
            run.outcomes[str(i)] = _failed(0, f"not sent: {exc.message}", now, transient=True)
        if run.conn_future is not None:
            _discard(run.conn_future)
        return _finish(run, [])
    except Exception:
        _abandon(run)
        raise
    deferred: list[int] = []
    covered = claimed  # the recipients the last write-ahead names
    last_write = time.monotonic()
    smtp_started = time.perf_counter()
    current: int | None = None
    try:
        for p, i in enumerate(todo):
            slow = p % CHECKPOINT_EVERY == 0 and time.monotonic() - last_write >= SLOW_AFTER_S
            if i not in covered or (p > 0 and slow):
                chunk = todo[p : p + CHECKPOINT_EVERY]
                _checkpoint(run, chunk)
                covered, last_write = set(chunk), time.monotonic()
            current = i
            following = todo[p + 1] if p + 1 < len(todo) else None
            outcome = _deliver(run, sender, composer, recipients[i], i, following)
            run.outcomes[str(i)] = outcome
            current = None
            if outcome["status"] == "deferred":
                deferred.append(i)
            if run.on_message is not None:
                run.on_message(i)
    except Exception as exc:
        # Not a crash: this run knows what it sent. Record it, hand the rest to a retry.
        if current is not None and str(current) not in run.outcomes and run.phase == "body":
            run.outcomes[str(current)] = {
                "status": "unconfirmed",
                "reason": f"error while sending: {exc}"[:300],
                "at": rt.clock.now(),
            }
        _release(run, deferred)
        _close_all(run)
        raise
    _close_all(run)
    run.timing["smtp"] = _ms_since(smtp_started)
    return _finish(run, deferred)


def _abandon(run: _Run) -> None:
    """An error before the first message: release the batch, so the retry takes it at
    once rather than waiting out this claim's lease and then holding its write-ahead
    in doubt."""
    _release(run, [])
    _close_all(run)


def _close_all(run: _Run) -> None:
    smtp.close(run.conn)
    run.conn = None
    if run.conn_future is not None:  # opened but never needed (e.g. all suppressed)
        _discard(run.conn_future)
        run.conn_future = None


def _failed(code: int, text: str, now: datetime, *, transient: bool) -> dict[str, Any]:
    return {"status": "failed", "code": code, "text": text[:300], "transient": transient, "at": now}


def _classify(run: _Run, code: int, text: bytes | str, rcpt: dict[str, Any]) -> dict[str, Any]:
    now = run.runtime.clock.now()
    reply = smtp.reply_text(text)
    if code in (250, 251):
        return {"status": "sent", "code": code, "text": reply, "at": now}
    if smtp.is_transient(code):
        attempt = int(run.batch.get("attempt") or 0)
        if attempt >= len(RETRY_LADDER):
            return _failed(code, reply, now, transient=True)
        return {
            "status": "deferred",
            "code": code,
            "text": reply,
            "at": now,
            "retry_at": now + RETRY_LADDER[attempt],
        }
    outcome = _failed(code, reply, now, transient=False)
    if code in smtp.HARD_BOUNCE_CODES and run.phase == "rcpt":
        outcome["bounce"] = "hard"
        run.suppressed_now.append(rcpt["id"])
        suppress(
            run.runtime.db,
            run.batch["workspace_id"],
            rcpt["email"],
            "hard_bounce",
            now,
            run.campaign["id"],
        )
    return outcome


def _reset(run: _Run, code: int) -> None:
    """After a refusal: RSET, or drop the connection when the server said it is closing."""
    if run.conn is None:
        return
    if code == 421:
        smtp.close(run.conn)
        run.conn = None
        return
    try:
        run.conn.rset()
    except (smtplib.SMTPException, OSError):
        smtp.close(run.conn)
        run.conn = None


def _wire(raw: bytes) -> bytes:
    """A composed message as DATA carries it: dot-stuffed, ending in CRLF."""
    body = _LEADING_DOT.sub(b"..", raw)
    return body if body.endswith(b"\r\n") else body + b"\r\n"


def _compose_ahead(run: _Run, composer: Composer, index: int) -> None:
    """Compose recipient `index`'s message now; the loop sends it next.

    Called between sending a message's body and reading the server's reply: the
    composition (templates, MIME, tokens: CPU) runs while the server stores the
    message, instead of adding to the next message's round trips. Nothing is sent
    here; an error is kept for the loop to record against that recipient as usual.
    """
    try:
        run.ready[index] = _wire(composer.message(run.batch["recipients"][index]))
    except Exception as exc:  # recorded per recipient by the loop
        run.ready[index] = exc


def _deliver(
    run: _Run,
    sender: Sender,
    composer: Composer,
    rcpt: dict[str, Any],
    index: int,
    following: int | None = None,
) -> dict[str, Any]:
    now = run.runtime.clock.now()
    ready = run.ready.pop(index, None)
    if not valid_email(normalize_email(rcpt["email"])):
        return _failed(0, "invalid address", now, transient=False)
    if run.broken is not None:
        return {**run.broken, "at": now}
    try:
        if isinstance(ready, Exception):
            raise ready
        body = ready if ready is not None else _wire(composer.message(rcpt))
    except Exception as exc:  # a template error or a value no header can carry
        return _failed(0, f"could not build the message: {exc}", now, transient=False)
    to = ascii_address(rcpt["email"])
    for attempt in range(2):
        run.phase = "connect"
        if run.conn is None:
            try:
                if run.conn_future is not None:  # opened while the claim was made
                    future, run.conn_future = run.conn_future, None
                    run.conn = future.result()
                else:
                    run.conn = smtp.connect(sender.smtp)
            except ProviderError as exc:
                reason = (exc.details or {}).get("reason")
                transient_net = reason in ("connect", "disconnected", "smtp")
                outcome = (
                    _classify(run, 451, f"cannot reach the server: {exc.message}", rcpt)
                    if transient_net
                    else _failed(0, exc.message, now, transient=True)
                )
                run.broken = {k: v for k, v in outcome.items() if k != "at"}
                return outcome
        conn = run.conn
        try:
            refused = _envelope(run, conn, sender.from_address, to)
            if refused is not None:
                return _classify(run, *refused, rcpt)
            # From here the server may have the message: a drop is "unconfirmed".
            run.phase = "body"
            conn.send(body + b".\r\n")
            if following is not None and following not in run.ready:
                _compose_ahead(run, composer, following)
            code, text = conn.getreply()
            run.phase = "done"
            if code != 250:
                _reset(run, code)
            return _classify(run, code, text, rcpt)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            smtp.close(run.conn)
            run.conn = None
            if run.phase == "body":
                return {"status": "unconfirmed", "reason": UNCONFIRMED_DROP, "at": now}
            if attempt == 1:
                return _classify(run, 451, f"connection dropped twice: {exc}", rcpt)
            log.info("SMTP connection dropped; reconnecting", batch_id=run.batch_id)
    raise AssertionError("unreachable")


# The envelope's commands, in order, with the replies that let the next one proceed.
_ENVELOPE: tuple[tuple[str, frozenset[int]], ...] = (
    ("mail", frozenset({250})),
    ("rcpt", frozenset({250, 251})),
    ("data", frozenset({354})),
)


def _envelope(run: _Run, conn: smtplib.SMTP, sender: str, to: str) -> tuple[int, bytes] | None:
    """MAIL, RCPT and DATA. None once the server waits for the body; else the first
    refusal, with `run.phase` naming its command and the connection reset or closed.

    A server that offers PIPELINING gets the three in one write and answers them in
    order: one round trip instead of three per message (RFC 2920). Nothing of the
    message is sent before its 354, so a drop here is retried like an unpipelined one.
    """
    if not smtp.pipelines(conn):
        commands = (lambda: conn.mail(sender), lambda: conn.rcpt(to), lambda: conn.docmd("DATA"))
        for (phase, accepted), command in zip(_ENVELOPE, commands, strict=True):
            run.phase = phase
            code, text = command()
            if code not in accepted:
                _reset(run, code)
                return code, text
        return None
    run.phase = "mail"
    conn.send(smtp.envelope(sender, to))
    replies: list[tuple[int, bytes]] = []
    dropped: Exception | None = None
    for _ in _ENVELOPE:
        try:
            replies.append(conn.getreply())
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            dropped = exc
            break
    # replies may be shorter than _ENVELOPE (a drop): zip stops at its end.
    for (code, text), (phase, accepted) in zip(replies, _ENVELOPE, strict=False):
        run.phase = phase
        if code in accepted:
            continue
        # A refusal is the outcome, even if the server then hung up.
        if conn.sock is None or replies[-1][0] == 354:
            # Hung up, or DATA accepted after the refusal (RFC 2920 says it must not
            # be): no body follows, and only a new session leaves the DATA state. No
            # QUIT either: in the DATA state the server would take it for the body.
            conn.close()
            run.conn = None
        else:
            _reset(run, code)
        return code, text
    if dropped is not None:
        raise dropped  # a drop before any refusal: retried on a new connection
    return None


def _checkpoint(run: _Run, inflight: list[int]) -> None:
    """Write-ahead: outcomes so far and the chunk about to be sent (one write)."""
    now = run.runtime.clock.now()
    run.runtime.db.collection(BATCHES).document(run.batch_id).update(
        {
            "status": "sending",
            "outcomes": run.outcomes,
            "inflight": inflight,
            "run_gen": run.gen,
            "ckpt_gen": run.gen,
            "lease_until": now + LEASE,
        }
    )


def _release(run: _Run, deferred: list[int]) -> None:
    """After an ordinary exception: keep what is known, let the next generation resume."""
    now = run.runtime.clock.now()
    for i in deferred:  # their retry batch was not made: send them again on resume
        run.outcomes.pop(str(i), None)
    run.runtime.db.collection(BATCHES).document(run.batch_id).update(
        {
            "status": "queued",
            "outcomes": run.outcomes,
            "inflight": [],
            "run_gen": run.gen + 1,
            # Not gen + 1: until that run checkpoints, its claim names its in-flight chunk.
            "ckpt_gen": run.gen,
            "lease_until": now,
            "due_at": now,
        }
    )


def _retry_batch_id(batch_id: str, attempt: int) -> str:
    root = batch_id.split("__r", maxsplit=1)[0]
    return f"{root}__r{attempt}"


def _finish(run: _Run, deferred: list[int]) -> dict[str, Any]:
    """Retry batch for the deferred, then one commit: the batch with its tally, events."""
    rt, batch = run.runtime, run.batch
    db = rt.db
    now = rt.clock.now()
    recipients = batch["recipients"]
    attempt = int(batch.get("attempt") or 0)
    retry_id = None
    if deferred:
        retry_id = _retry_batch_id(run.batch_id, attempt + 1)
        due = now + RETRY_LADDER[attempt]
        try:
            db.collection(BATCHES).document(retry_id).create(
                {
                    "workspace_id": batch["workspace_id"],
                    "campaign_id": batch["campaign_id"],
                    "key": retry_id,
                    "kind": "retry",
                    "attempt": attempt + 1,
                    "status": "queued",
                    "due_at": due,
                    "enqueued_at": now,
                    "recipients": [recipients[i] for i in deferred],
                    "outcomes": {},
                    "run_gen": 0,
                }
            )
            enqueue_batch(
                rt,
                retry_id,
                batch["workspace_id"],
                due,
                batch["campaign_id"],
                recipients=[recipients[i] for i in deferred],
            )
        except Exception as exc:
            if not is_already_exists(exc):
                raise
        for i in deferred:
            run.outcomes[str(i)]["retry_batch"] = retry_id
    tally: dict[str, int] = {}
    ids: dict[str, list[str]] = {"sent": [], "failed": []}
    for i, rcpt in enumerate(recipients):
        status = (run.outcomes.get(str(i)) or {}).get("status", "unconfirmed")
        tally[status] = tally.get(status, 0) + 1
        if status in ids:
            ids[status].append(rcpt["id"])
    # The tally goes on the batch itself (atomic with `done`); progress sums it.
    summary = {k: v for k, v in tally.items() if k != "deferred"}
    summary["deferred"] = tally.get("deferred", 0) - (
        len(recipients) if batch.get("kind") == "retry" else 0
    )
    summary["batches_done"] = 0 if batch.get("kind") == "retry" else 1
    commit = db.batch()
    commit.update(
        db.collection(BATCHES).document(run.batch_id),
        {
            "status": "done",
            "outcomes": run.outcomes,
            "inflight": [],
            "run_gen": run.gen,
            "ckpt_gen": run.gen,
            "finished_at": now,
            "counts": tally,
            **{field: int(summary.get(k, 0)) for k, field in TALLY_FIELDS.items()},
        },
    )
    base = {
        "workspace_id": batch["workspace_id"],
        "campaign_id": batch["campaign_id"],
        "batch_id": run.batch_id,
        "at": now,
        "expires_at": now + EVENT_RETENTION,
        FOLD_PENDING: True,
    }
    for kind, rids in ids.items():
        if rids:
            commit.set(
                db.collection(EVENTS).document(f"{kind}__{run.batch_id}"),
                {**base, "type": kind, "count": len(rids), "recipient_ids": rids},
            )
    for rid in run.suppressed_now:
        commit.set(
            db.collection(EVENTS).document(f"bounce__{batch['campaign_id']}__{rid}"),
            {**base, "type": "bounce", "count": 1, "recipient_id": rid},
        )
    committing = time.perf_counter()
    commit.commit()
    run.timing["commit"] = _ms_since(committing)
    log.info(
        "batch finished",
        batch_id=run.batch_id,
        counts=tally,
        retry_batch=retry_id,
        timing_ms=run.timing,
    )
    return {"status": "done", "counts": tally, "retry_batch": retry_id}
