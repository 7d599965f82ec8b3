"""Who may send a batch: the run generation (a fencing token), its lease, the takeover.

A run takes a batch in a Firestore transaction: it reads the batch and, unless it is
done or another run's lease is still running, bumps `run_gen`, sets `lease_until` and
writes ahead the recipients it is about to send (`inflight`). Recipients a previous run
had in flight without an outcome are marked `unconfirmed` there and then (that run may
have sent them; they are never sent again). Of two runs taking the batch at once, the
transactions make exactly one the owner; the other answers `busy`.

Every later write of the run is fenced: a checkpoint (the outcomes so far and the next
chunk written ahead) before each new chunk, a heartbeat, a release, the final commit.
Each is one commit conditional on the batch's update time being that of the run's own
last write (a compare-and-set: a newer run must write the batch to take it, so the
commit fails if one did); when it fails, a transaction reads `run_gen` and decides. A
run that finds a newer generation stops at once and writes nothing more (`LostBatch`).
The compare-and-set costs what a plain write costs (no read, one round trip); a
transaction per write would add a read and two round trips to every batch.

The lease is short (LEASE: 60 s, settings.email_lease_s) and kept alive while the
run makes progress: every fenced write renews it, a ticker thread renews it every
LEASE/4 between them (a slow SMTP server must not cost a live run its batch), and
before each message the run makes sure it renewed within the last LEASE/2, renewing
first if not. A stalled run therefore sends at most the message it was in when it
stalled, and that message is in its written-ahead chunk, which the run that took over
marked `unconfirmed`: a run that was only slow and wakes up causes no second copy. The
ticker stops renewing when the run has made no progress for STUCK_AFTER (one message
can take that long only on a server that answers each of its steps just before the
20 s timeout), so a hung session cannot hold a batch for ever.

Takeover: the dispatcher's recovery (on every Cloud Scheduler tick, at most every
LEASE/2 per instance) re-enqueues a `sending` batch whose lease ends within LEASE/2 (a
live run's lease has about 3/4 of it left), with the task due TAKEOVER_MARGIN after
the lease ends (`takeover_at`). Worst case from a SIGKILL at t0 to the next run holding
the batch, with Cloud Scheduler's period P = 60 s: the lease ends at most at t0 + LEASE;
the first tick after t0 + LEASE/2 sees it, at most P + J later (J: the tick's jitter
and the dispatch sources that run before email, a few seconds); the task is due at
max(t0 + LEASE + 2 s, t0 + LEASE/2 + P + J) and is taken d later (Cloud Tasks dispatch,
a cold start): 90 s + J + d, that is 95 s + d with J = 5 s, inside the 2-minute goal
for d up to 25 s (tests/email/test_ownership.py replays it on a frozen clock).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from shared.email.model import BATCHES
from shared.firestore import transact
from shared.log import get_logger

log = get_logger("email.ownership")

# A run makes no progress for this long only if its server answers each step of a
# message (connect, EHLO, STARTTLS, AUTH, envelope, body: ~17 waits) just before the
# 20 s socket timeout: past it, the ticker lets the lease lapse.
STUCK_AFTER = timedelta(minutes=6)
# Recovery's task for a stale lease is due this long after the lease ends: the worker
# compares the lease with its own clock, which may be a little behind the dispatcher's.
TAKEOVER_MARGIN = timedelta(seconds=2)
UNCONFIRMED_CRASH = "the worker stopped while this message was being sent; not re-sent"


class LostBatch(Exception):
    """A newer run took the batch over: this run stops and records nothing more."""


@dataclass(frozen=True)
class Taken:
    gen: int
    batch: dict[str, Any]  # as read in the transaction, the previous run's doubt marked
    in_doubt: int
    version: Any = None  # the batch's update time after the take


@dataclass(frozen=True)
class NotTaken:
    status: str  # "missing", "already_done" or "busy"


def take(
    db: Any,
    batch_id: str,
    workspace_id: str,
    now: datetime,
    lease: timedelta,
    covers: int,
) -> Taken | NotTaken:
    """Make this run the batch's owner, in one transaction; write ahead the first
    `covers` recipients without an outcome."""
    ref = db.collection(BATCHES).document(batch_id)

    def attempt(txn: Any) -> Taken | NotTaken:
        snap = ref.get(transaction=txn)
        if not snap.exists or snap.get("workspace_id") != workspace_id:
            return NotTaken("missing")
        batch = snap.to_dict()
        if batch["status"] == "done":
            return NotTaken("already_done")
        if batch["status"] == "sending" and (batch.get("lease_until") or now) > now:
            return NotTaken("busy")
        outcomes = dict(batch.get("outcomes") or {})
        doubt = [i for i in batch.get("inflight") or [] if str(i) not in outcomes]
        for i in doubt:
            outcomes[str(i)] = {"status": "unconfirmed", "reason": UNCONFIRMED_CRASH, "at": now}
        gen = int(batch.get("run_gen") or 0) + 1
        todo = [i for i in range(len(batch["recipients"])) if str(i) not in outcomes]
        update: dict[str, Any] = {
            "status": "sending",
            "run_gen": gen,
            "lease_until": now + lease,
            "inflight": todo[:covers],
        }
        if doubt:
            update["outcomes"] = outcomes
        txn.update(ref, update)
        return Taken(gen, {**batch, **update, "outcomes": outcomes}, len(doubt))

    taken, written = transact(db, attempt)
    if isinstance(taken, Taken):
        taken = replace(taken, version=written[-1].update_time)
        if taken.in_doubt:
            log.warning(
                "took over a batch whose run stopped", batch_id=batch_id, in_doubt=taken.in_doubt
            )
    return taken


def takeover_at(lease_until: datetime, now: datetime) -> datetime | None:
    """When recovery's task for a batch with this stale lease should run (None: now)."""
    due = lease_until + TAKEOVER_MARGIN
    return due if due > now else None


class Lease:
    """This run's hold on its batch: fenced writes, and the renewals that keep it."""

    def __init__(
        self, db: Any, taken: Taken, batch_id: str, length: timedelta, clock: Any, taken_at: float
    ) -> None:
        self.db, self.batch_id, self.gen = db, batch_id, taken.gen
        self.length, self.clock = length, clock
        # The batch's update time after this run's last write: a write that names it
        # succeeds only if nothing else wrote the batch since (a compare-and-set).
        self.version = taken.version
        self.ref = db.collection(BATCHES).document(batch_id)
        self.renewed_at = taken_at  # time.monotonic() when the last renewal started
        self.progress_at = taken_at  # ... when the run last started a message
        self.lost: LostBatch | None = None
        self.settled = False  # the run gave the batch up: released, held or done
        self._lock = threading.RLock()  # one fenced write at a time
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # -- fenced writes ----------------------------------------------------------------

    def write(
        self,
        fields: dict[str, Any],
        *,
        settle: bool = False,
        also: Callable[[Any, bool], None] | None = None,
    ) -> None:
        """Write `fields` to the batch, and whatever `also(writer, in_transaction)` adds,
        only while this run owns it; raises LostBatch when a newer run does. The lease
        is renewed, unless the write `settle`s the batch (gives it up: released, held
        or done).

        One commit, conditional on the batch's update time being this run's last
        write's: a newer run must write the batch to take it, so the commit fails if
        one did. When it fails (something wrote the batch), a transaction reads the
        generation and decides: still ours, write; a newer one, stop."""
        with self._lock:
            if self.lost is not None:
                raise self.lost
            if self.settled:
                raise AssertionError(f"run {self.gen} of {self.batch_id} gave its batch up")
            started = time.monotonic()
            now = self.clock.now()
            update = fields if settle else {**fields, "lease_until": now + self.length}
            written = self._write_if_unchanged(update, also)
            if written is None:
                written = self._write_if_owner(update, also)
            self.version = written
            if settle:
                self.settled = True
            else:
                self.renewed_at = started

    def _write_if_unchanged(
        self, update: dict[str, Any], also: Callable[[Any, bool], None] | None
    ) -> Any:
        from google.api_core.exceptions import AlreadyExists, FailedPrecondition

        if self.version is None:
            return None
        batch = self.db.batch()
        if also is not None:
            also(batch, False)
        option = self.db.write_option(last_update_time=self.version)
        batch.update(self.ref, update, option=option)
        try:
            return batch.commit()[-1].update_time
        except (FailedPrecondition, AlreadyExists):
            return None  # something wrote the batch (or `also`'s documents): check

    def _write_if_owner(
        self, update: dict[str, Any], also: Callable[[Any, bool], None] | None
    ) -> Any:
        def attempt(txn: Any) -> int | None:
            snap = self.ref.get(transaction=txn)
            current = int(snap.get("run_gen") or 0) if snap.exists else None
            if current != self.gen:
                return current
            if also is not None:
                also(txn, True)
            txn.update(self.ref, update)
            return current

        current, written = transact(self.db, attempt)
        if current != self.gen:
            self.lost = LostBatch(
                f"run {self.gen} of batch {self.batch_id} lost it to run {current}"
            )
            log.warning(
                "a newer run took this batch over; this run stops and records nothing",
                batch_id=self.batch_id,
                run_gen=self.gen,
                current_gen=current,
            )
            raise self.lost
        return written[-1].update_time

    def renew(self) -> None:
        with self._lock:  # reentrant: `write` takes it again
            if not self.settled:
                self.write({})

    def ensure(self) -> None:
        """Before a message: the lease must have been renewed within LEASE/2; renew now
        if not (the run may have stalled), and stop if the batch is no longer ours."""
        if self.lost is not None:
            raise self.lost
        self.progress_at = time.monotonic()
        if self.progress_at - self.renewed_at >= self.length.total_seconds() / 2:
            self.renew()

    # -- the ticker -------------------------------------------------------------------

    def keep_alive(self) -> None:
        """Renew every LEASE/4 in a thread while the run makes progress; `stop` ends it."""
        self._ticker = threading.Thread(
            target=self._tick, name=f"lease-{self.batch_id}", daemon=True
        )
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join()

    def _tick(self) -> None:
        every = self.length.total_seconds() / 4
        wait, stuck = every, False
        while not self._stop.wait(max(0.01, wait)):
            now = time.monotonic()
            wait = self.renewed_at + every - now
            if wait > 0:
                continue
            wait = every
            if now - self.progress_at > STUCK_AFTER.total_seconds():
                if not stuck:  # once; a message that ends after all renews again
                    log.warning(
                        "no progress for too long: letting the batch's lease lapse",
                        batch_id=self.batch_id,
                        stuck_s=round(now - self.progress_at),
                    )
                stuck = True
                continue
            stuck = False
            try:
                self.renew()
            except LostBatch:
                return
            except Exception as exc:  # Firestore unavailable: try again soon
                log.warning(
                    "could not renew the batch's lease", batch_id=self.batch_id, error=str(exc)
                )
                wait = every / 4
