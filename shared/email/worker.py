"""send_email: deliver one batch over one SMTP connection; nothing twice, nothing lost.

This module runs a batch; the parts it runs live beside it: who may send the batch
(shared.email.ownership: the generation, its lease, the takeover), the SMTP session
(shared.email.session), what each answer means for its recipient
(shared.email.outcomes), and the round trips started before the batch is read
(shared.email.early).

Round trips are what a batch costs. When the task arrives the run starts at once, side
by side: the transaction that takes the batch, the read of campaign and SMTP settings
(the task names the campaign), the suppression queries and the SMTP connection (the
task names the addresses; the connection uses the sender this instance last used for
the workspace). What the read and the take decide keeps or undoes the rest.

Write-ahead: taking the batch writes ahead its first TAKE_COVERS = 50 recipients (a
whole default batch). A batch that runs longer than SLOW_AFTER_S (a slow server, where
a kill is most likely to land) writes ahead every further CHECKPOINT_EVERY = 25, each
in a fenced write (a compare-and-set) with the outcomes so far. A fast batch thus
costs the take and one final commit (the batch with its tally, and its events), and
has at most 50 in doubt after a kill; a slow one at most 25. An ordinary exception is
not a crash: the run knows what it sent, records it, releases the batch and lets Cloud
Tasks retry. A run that finds a newer run owns the batch stops at once and records
nothing.

Over 400 lines because what is left is one control flow (take, send, checkpoint,
commit) whose steps share the batch's state; its parts already live beside it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shared.email import pacing
from shared.email import session as smtp_session
from shared.email.early import POOL, Early, remember_sender, start_lookups
from shared.email.model import CAMPAIGNS, ascii_address, normalize_email, valid_email
from shared.email.outcomes import Recorder, failed, final, unconfirmed
from shared.email.ownership import Lease, LostBatch, NotTaken, take
from shared.email.queue import enqueue_batch
from shared.email.session import Session
from shared.email.signing import signer_for
from shared.email.verp import Ref, return_path
from shared.errors import HeraldError
from shared.log import get_logger

if TYPE_CHECKING:
    import smtplib

    from shared.email.compose import Composer
    from shared.email.smtp_settings import Sender
    from shared.runtime import Runtime

log = get_logger("email.send")

CHECKPOINT_EVERY = 25  # the doubt bound once a batch is slow
TAKE_COVERS = 50  # the take's write-ahead: a whole default batch
SLOW_AFTER_S = 1.0  # a batch still sending after this checkpoints every CHECKPOINT_EVERY


@dataclass
class _Run:
    runtime: Runtime
    batch_id: str
    batch: dict[str, Any]
    campaign: dict[str, Any]
    lease: Lease
    outcomes: dict[str, dict[str, Any]]
    recorder: Recorder
    side: pacing.Side
    on_message: Callable[[int], None] | None = None
    session: Session | None = None
    sender: Sender | None = None
    config_error: HeraldError | None = None
    blocked: set[str] = field(default_factory=set)
    timing: dict[str, float] = field(default_factory=dict)  # ms per phase, logged
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

    `campaign_id` and `emails` (the batch's addresses, normalized) come with the task
    and let the read, the suppression queries and the connection start beside the take;
    they are hints, the batch document decides."""
    early = Early.start(runtime, workspace_id, emails) if emails else None
    try:
        return _take_and_run(runtime, batch_id, workspace_id, campaign_id, early, on_message)
    finally:
        if early is not None:
            early.drop()  # the connection, if the run did not use it


def _take_and_run(
    runtime: Runtime,
    batch_id: str,
    workspace_id: str,
    campaign_id: str | None,
    early: Early | None,
    on_message: Callable[[int], None] | None,
) -> dict[str, Any]:
    started = time.perf_counter()
    db, now = runtime.db, runtime.clock.now()
    length = timedelta(seconds=runtime.settings.email_lease_s)
    taken_at = time.monotonic()
    taking = POOL.submit(take, db, batch_id, workspace_id, now, length, TAKE_COVERS)
    try:
        read = _read(db, workspace_id, campaign_id) if campaign_id else None
    except Exception:
        _give_back(runtime, taking, batch_id, length, taken_at)
        raise
    taken = taking.result()
    if isinstance(taken, NotTaken):
        if taken.status == "missing":
            log.warning("task for an unknown batch", batch_id=batch_id, workspace_id=workspace_id)
        return {"status": taken.status}
    lease = Lease(db, taken, batch_id, length, runtime.clock, taken_at)
    lease.keep_alive()
    batch, outcomes = taken.batch, dict(taken.batch["outcomes"])
    run: _Run | None = None
    try:
        if read is not None and read[0]["id"] == batch["campaign_id"]:
            campaign, side = read
        else:
            campaign, side = _campaign(db, batch["campaign_id"]), pacing.read_side(db, workspace_id)
        if campaign.get("status") == "paused":
            lease.write({"status": "held", "inflight": [], "lease_until": now}, settle=True)
            return {"status": "held"}
        if _sending(campaign):
            n, granted = len(_todo(batch, outcomes)), batch.get("paced_slot")
            paced = pacing.gate(runtime, workspace_id, side, n, granted)
            if paced is not None:
                return _requeue(runtime, lease, batch_id, batch, paced)
        read_at = time.perf_counter()
        recorder = Recorder(runtime, batch, batch["campaign_id"])
        run = _Run(runtime, batch_id, batch, campaign, lease, outcomes, recorder, side, on_message)
        run.timing = {"read": _ms_since(started)}
        _prepare(run, side.settings, early)
        run.timing["prepare"] = _ms_since(read_at)
        return _send(run)
    except LostBatch:
        return {"status": "lost"}
    except Exception:
        # Not a crash: record what is known and release the batch, so the task's retry
        # takes it at once instead of waiting out the lease and then doubting its chunk.
        _release(runtime, lease, outcomes, [])
        raise
    finally:
        lease.stop()
        if run is not None:
            _close(run)


def _read(db: Any, workspace_id: str, campaign_id: str) -> tuple[dict[str, Any], pacing.Side]:
    """The campaign and the workspace's SMTP settings ({} when there are none), its
    pace and deliverability settings: one get_all."""
    refs = [db.collection(CAMPAIGNS).document(campaign_id), *pacing.side_refs(db, workspace_id)]
    snaps = {s.reference.path: s for s in db.get_all(refs)}
    campaign, *side = (snaps[ref.path] for ref in refs)
    return {**(campaign.to_dict() or {}), "id": campaign.id}, pacing.side_of(side)


def _requeue(
    runtime: Runtime, lease: Lease, batch_id: str, batch: dict[str, Any], due: Any
) -> dict[str, Any]:
    """The workspace's rate is cut and this batch came early: queue it for `due`."""
    now = runtime.clock.now()
    fields = {
        "status": "queued",
        "due_at": due,
        "paced_slot": due,
        "inflight": [],
        "lease_until": now,
    }
    lease.write(fields, settle=True)
    enqueue_batch(
        runtime,
        batch_id,
        batch["workspace_id"],
        due,
        batch["campaign_id"],
        attempt_tag=f"paced{int(due.timestamp())}",
        recipients=batch["recipients"],
    )
    log.info("batch paced: the workspace's rate is cut", batch_id=batch_id, due=due.isoformat())
    return {"status": "paced", "due_at": due.isoformat()}


def _campaign(db: Any, campaign_id: str) -> dict[str, Any]:
    snap = db.collection(CAMPAIGNS).document(campaign_id).get()
    return {**(snap.to_dict() or {}), "id": snap.id}


def _give_back(
    runtime: Runtime, taking: Future[Any], batch_id: str, length: timedelta, taken_at: float
) -> None:
    """The read failed beside the take: if the take won, release the batch, so the
    task's retry takes it at once (nothing was sent; nothing is in doubt)."""
    try:
        taken = taking.result()
    except Exception:
        return  # unknown whether it was taken: its lease and the takeover handle it
    if not isinstance(taken, NotTaken):
        lease = Lease(runtime.db, taken, batch_id, length, runtime.clock, taken_at)
        _release(runtime, lease, dict(taken.batch["outcomes"]), [])


def _prepare(run: _Run, settings: dict[str, Any], early: Early | None) -> None:
    """The sender, the suppression lookups and the connection (those started early
    are kept when they fit)."""
    from shared.email.smtp_settings import sender_for

    rt, batch = run.runtime, run.batch
    ws = batch["workspace_id"]
    todo = _todo(batch, run.outcomes)
    sending = _sending(run.campaign)
    if sending and todo:
        try:
            run.sender = sender_for(rt, ws, settings)
            remember_sender(ws, run.sender)
        except HeraldError as exc:
            run.config_error = exc
    emails = [batch["recipients"][i]["email"] for i in todo] if sending else []
    conn: Future[smtplib.SMTP] | None = None
    if early is not None:
        lookups = early.lookups if early.covers(emails) else start_lookups(rt, ws, emails)
        conn = early.connection_for(run.sender)
    else:
        lookups = start_lookups(rt, ws, emails)
    if conn is None and run.sender is not None:
        conn = POOL.submit(smtp_session.connect, run.sender)
    if run.sender is not None:
        run.session = Session(run.sender, conn)
    run.blocked = set().union(*(lookup.result() for lookup in lookups))


def _sending(campaign: dict[str, Any]) -> bool:
    return campaign.get("status") != "cancelled" and bool(campaign.get("workspace_id"))


def _ms_since(started: float) -> float:
    """Milliseconds since a `time.perf_counter()` reading, for the batch's timing log."""
    return round(1000 * (time.perf_counter() - started), 1)


def _todo(batch: dict[str, Any], outcomes: dict[str, Any]) -> list[int]:
    return [i for i in range(len(batch["recipients"])) if str(i) not in outcomes]


def _send(run: _Run) -> dict[str, Any]:
    from shared.email.compose import Composer

    rt, batch = run.runtime, run.batch
    recipients: list[dict[str, Any]] = batch["recipients"]
    todo = _todo(batch, run.outcomes)
    # What the take wrote ahead (before suppressed recipients are taken out).
    covered = set(batch.get("inflight") or [])
    now = rt.clock.now()
    if not _sending(run.campaign):
        for i in todo:
            run.outcomes[str(i)] = {"status": "cancelled", "at": now}
        return _finish(run, [])
    for i in todo:
        if normalize_email(recipients[i]["email"]) in run.blocked:
            run.outcomes[str(i)] = {"status": "suppressed", "at": now}
    todo = [i for i in todo if str(i) not in run.outcomes]
    try:
        if run.config_error is not None:
            raise run.config_error
        if run.sender is None or run.session is None:
            if todo:
                raise AssertionError("a sender is resolved whenever there is work")
            return _finish(run, [])
        dkim = signer_for(rt, run.side.deliverability, run.sender.from_address)
        composer = Composer(rt, batch["workspace_id"], run.campaign, run.sender, dkim=dkim)
    except HeraldError as exc:
        return _stop_for_config(run, [], "settings", exc.message)
    session, lease = run.session, run.lease
    deferred: list[int] = []
    last_write = time.monotonic()
    smtp_started = time.perf_counter()
    current: int | None = None
    try:
        for p, i in enumerate(todo):
            slow = p % CHECKPOINT_EVERY == 0 and time.monotonic() - last_write >= SLOW_AFTER_S
            if i not in covered or (p > 0 and slow):
                chunk = todo[p : p + CHECKPOINT_EVERY]
                # Write-ahead, fenced: only the batch's owner starts a new chunk.
                lease.write({"outcomes": run.outcomes, "inflight": chunk})
                covered, last_write = set(chunk), time.monotonic()
            lease.ensure()  # still ours, renewed lately; a message starts (progress)
            current = i
            following = todo[p + 1] if p + 1 < len(todo) else None
            outcome = _deliver(run, session, composer, recipients[i], i, following)
            if session.broken is not None and not session.broken.transient_net:
                # The server refused the login (or TLS): no message can go out.
                return _stop_for_config(run, deferred, "smtp_login", session.broken.message)
            run.outcomes[str(i)] = outcome
            current = None
            if outcome["status"] == "deferred":
                deferred.append(i)
            if run.on_message is not None:
                run.on_message(i)
    except Exception as exc:
        if isinstance(exc, LostBatch):
            raise
        # This run knows what it sent: record it, hand the rest to the task's retry.
        if current is not None and str(current) not in run.outcomes and session.phase == "body":
            reason = f"error while sending: {exc}"
            run.outcomes[str(current)] = unconfirmed(reason, rt.clock.now())
        _release(rt, lease, run.outcomes, deferred)
        raise
    _close(run)
    run.timing["smtp"] = _ms_since(smtp_started)
    return _finish(run, deferred)


def _deliver(
    run: _Run,
    session: Session,
    composer: Composer,
    rcpt: dict[str, Any],
    index: int,
    following: int | None,
) -> dict[str, Any]:
    now = run.runtime.clock.now()
    ready = run.ready.pop(index, None)
    if not valid_email(normalize_email(rcpt["email"])):
        return failed(0, "invalid address", now, transient=False)
    if session.broken is not None:
        return run.recorder.outcome(session.broken, rcpt)
    try:
        if isinstance(ready, Exception):
            raise ready
        ref = Ref(run.batch_id, index)
        body = ready if ready is not None else smtp_session.wire(composer.message(rcpt, ref))
    except Exception as exc:  # a template error or a value no header can carry
        return failed(0, f"could not build the message: {exc}", now, transient=False)

    def compose_next() -> None:
        """Compose the next message while the server stores this one (templates, MIME,
        tokens: CPU, instead of adding to the next message's round trips). Nothing is
        sent here; an error is recorded against that recipient when its turn comes."""
        if following is None or following in run.ready:
            return
        try:
            raw = composer.message(run.batch["recipients"][following], Ref(run.batch_id, following))
            run.ready[following] = smtp_session.wire(raw)
        except Exception as exc:  # recorded per recipient by the loop
            run.ready[following] = exc

    mailbox = run.side.deliverability.get("mailbox") or {}
    mail_from = None
    if mailbox.get("enabled") and mailbox.get("address"):
        # VERP: a bounce comes back to an address that names this message.
        mail_from = return_path(mailbox["address"], composer.tokens.encode(ref))
    result = session.send(ascii_address(rcpt["email"]), body, compose_next, mail_from)
    return run.recorder.outcome(result, rcpt)


def _warn(run: _Run, tally: dict[str, int]) -> None:
    """Hard bounces and messages in doubt are worth a look: one WARNING each per batch."""
    if run.recorder.suppressed_now:
        log.warning(
            "hard bounces: addresses suppressed",
            batch_id=run.batch_id,
            campaign_id=run.batch["campaign_id"],
            hard_bounces=len(run.recorder.suppressed_now),
        )
    if tally.get("unconfirmed"):
        reasons = sorted(
            {
                str(o.get("reason"))
                for o in run.outcomes.values()
                if o.get("status") == "unconfirmed"
            }
        )
        log.warning(
            "messages in doubt (unconfirmed): never re-sent",
            batch_id=run.batch_id,
            campaign_id=run.batch["campaign_id"],
            unconfirmed=tally["unconfirmed"],
            reasons=reasons,
        )


def _close(run: _Run) -> None:
    if run.session is not None:
        run.session.close()


def _release(runtime: Runtime, lease: Lease, outcomes: dict[str, Any], deferred: list[int]) -> None:
    """After an ordinary exception: keep what is known; the next run resumes at once.
    Nothing to do once the run gave the batch up (released, held or done)."""
    if lease.settled:
        return
    now = runtime.clock.now()
    for i in deferred:  # their retry batch was not made: send them again on resume
        outcomes.pop(str(i), None)
    fields = {
        "status": "queued",
        "outcomes": outcomes,
        "inflight": [],
        "lease_until": now,
        "due_at": now,
    }
    # Lost: the newer run decides; the exception that brought us here is raised.
    with contextlib.suppress(LostBatch):
        lease.write(fields, settle=True)


def _stop_for_config(run: _Run, deferred: list[int], kind: str, message: str) -> dict[str, Any]:
    """The SMTP settings cannot work: nothing is failed. The batch is held with what it
    knows (resumed with the campaign), the campaign paused with the reason, an alert."""
    _close(run)
    now = run.runtime.clock.now()
    for i in deferred:  # no retry batch was made for them: sent again on resume
        run.outcomes.pop(str(i), None)
    run.lease.stop()
    fields = {"status": "held", "outcomes": run.outcomes, "inflight": [], "lease_until": now}
    run.lease.write(fields, settle=True)
    pacing.stop_campaign(run.runtime, run.batch["campaign_id"], run.batch_id, kind, message)
    return {"status": "held", "reason": message}


def _finish(run: _Run, deferred: list[int]) -> dict[str, Any]:
    """One fenced commit: the batch with its tally, its events, the retry batch for the
    deferred; then the retry batch's task."""
    rt = run.runtime
    run.lease.stop()
    done = final(
        run.batch_id,
        run.lease.gen,
        run.batch,
        run.outcomes,
        deferred,
        run.recorder.suppressed_now,
        rt.clock.now(),
        run.sender.from_address.rpartition("@")[2].lower() if run.sender else None,
    )
    ws = run.batch["workspace_id"]
    if done.retry is not None:
        # The retry batch takes its slot in the quota every batch shares.
        wanted, n = done.retry["due_at"], len(done.retry["recipients"])
        done.retry["due_at"] = pacing.retry_slot(rt, ws, run.side, n, wanted)
    committing = time.perf_counter()
    run.lease.write(done.fields, settle=True, also=lambda w, txn: done.add_to(w, rt.db, txn))
    run.timing["commit"] = _ms_since(committing)
    done.enqueue_retry(rt)
    pacing.after_batch(rt, ws, run.side, run.recorder.seen)
    _warn(run, done.tally)
    if run.recorder.suppressed_now:  # hard bounces at the SMTP answer move the rate too
        from shared.email.reputation import check_soon

        check_soon(rt, ws)
    log.info(
        "batch finished",
        batch_id=run.batch_id,
        counts=done.tally,
        retry_batch=done.retry_id,
        run_gen=run.lease.gen,
        timing_ms=run.timing,
    )
    return {"status": "done", "counts": done.tally, "retry_batch": done.retry_id}
