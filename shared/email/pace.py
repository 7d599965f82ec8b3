"""Adaptive sending rate: a provider that defers lowers the workspace's rate; sends that
succeed raise it back. `email_pace/{workspace_id}`.

Providers say "slow down" with 4xx replies: 421 (closing, try later), 450/451/452
(try again later, often rate or concurrency), 454 (SES: "Throttling failure: Maximum
sending rate exceeded"). Each deferred recipient still goes through its own retry
ladder (shared.email.outcomes); on top of it, the workspace's rate is cut:

- Cut (multiplicative): a finished batch whose throttling replies are at least
  CUT_SHARE of its attempts (at least two), or any 421/454 or a reply that says so
  ("throttl", "rate", "too many"), halves the rate, at most once per CUT_EVERY (the
  batches running beside it saw the same episode). Starting from the configured
  per-minute rate; never below MIN_RATE.
- Raise (additive): a batch that sent without any throttling reply, while the rate is
  cut, adds a tenth of the configured rate, at most once per RAISE_EVERY. Back at the
  configured rate, the pace document is deleted and no batch pays for it again.
- While the rate is cut, each batch passes a gate before it sends: a virtual clock
  (`next_free`, the generic cell rate algorithm) that lets a batch of n through when
  `next_free` has passed and moves it n / rate minutes on. A batch that comes early
  goes back to `queued` with its task due at `next_free`. The gate is a transaction
  on this small document, paid only while the rate is cut; otherwise the worker only
  reads the document, in the same get_all as the campaign and settings.

The quota (shared.email.quota) reserves at the configured rate; the pace only delays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.email.model import PACE
from shared.firestore import transact

THROTTLE_CODES = frozenset({421, 450, 451, 452, 454})
_SAYS_THROTTLE = re.compile(r"throttl|rate|too many|slow down", re.IGNORECASE)
CUT_SHARE = 0.1
CUT_EVERY = timedelta(seconds=30)
RAISE_EVERY = timedelta(seconds=60)
MIN_RATE = 1.0


def is_throttle(code: int) -> bool:
    return code in THROTTLE_CODES


@dataclass
class Seen:
    """What one batch run saw of the provider's pace."""

    attempts: int = 0
    sent: int = 0
    throttled: int = 0
    strong: bool = False  # a 421/454 or a reply that names the rate
    last: str = ""

    def add(self, code: int, text: str) -> None:
        self.attempts += 1
        if code in (250, 251):
            self.sent += 1
        elif is_throttle(code):
            self.throttled += 1
            self.last = f"{code} {text}"[:200]
            if code in (421, 454) or _SAYS_THROTTLE.search(text):
                self.strong = True

    @property
    def slow_down(self) -> bool:
        if not self.throttled:
            return False
        return self.strong or (
            self.throttled >= 2 and self.throttled >= CUT_SHARE * max(1, self.attempts)
        )


def current(doc: dict[str, Any] | None, configured: int) -> float | None:
    """The cut rate per minute, or None when the workspace sends at its configured rate."""
    if not doc or doc.get("rate") is None:
        return None
    rate = float(doc["rate"])
    return rate if rate < configured else None


def gate(
    db: Any,
    workspace_id: str,
    n: int,
    now: datetime,
    configured: int,
    granted: datetime | None = None,
) -> datetime | None:
    """While the rate is cut: None lets the batch of n send now; an instant says when
    it may (the caller queues it again for then, and that slot is the batch's: it
    passes when it comes back, `granted`)."""
    if granted is not None and granted <= now:
        return None
    ref = db.collection(PACE).document(workspace_id)
    answer: list[datetime | None] = [None]

    def run(transaction: Any) -> None:
        snap = ref.get(transaction=transaction)
        doc = snap.to_dict() if snap.exists else None
        rate = current(doc, configured)
        answer[0] = None
        if rate is None or doc is None:
            return
        next_free = doc.get("next_free") or now
        if next_free > now:
            answer[0] = next_free
            start = next_free
        else:
            start = now
        transaction.update(ref, {"next_free": start + timedelta(minutes=n / rate)})

    transact(db, run)
    return answer[0]


def record(
    db: Any, workspace_id: str, seen: Seen, now: datetime, configured: int, cut: bool
) -> dict[str, Any] | None:
    """After a batch: cut the rate (`seen.slow_down`) or raise it back (a clean batch
    while `cut`). The change made, or None."""
    if not seen.slow_down and not (cut and seen.sent and not seen.throttled):
        return None
    ref = db.collection(PACE).document(workspace_id)
    change: list[dict[str, Any] | None] = [None]

    def run(transaction: Any) -> None:
        snap = ref.get(transaction=transaction)
        doc = snap.to_dict() if snap.exists else {}
        rate = current(doc, configured)
        change[0] = None
        if seen.slow_down:
            cut_at = doc.get("cut_at")
            if cut_at is not None and now - cut_at < CUT_EVERY:
                return
            new = max(MIN_RATE, (rate or float(configured)) / 2)
            change[0] = {
                "workspace_id": workspace_id,
                "rate": new,
                "configured": configured,
                "cut_at": now,
                "changed_at": now,
                "next_free": max(doc.get("next_free") or now, now),
                "reason": seen.last,
                "cuts": int(doc.get("cuts") or 0) + 1,
            }
            transaction.set(ref, change[0])
            return
        if rate is None:
            return
        changed_at = doc.get("changed_at")
        if changed_at is not None and now - changed_at < RAISE_EVERY:
            return
        new = rate + max(1.0, configured / 10)
        if new >= configured:
            change[0] = {"rate": None}
            transaction.delete(ref)
            return
        change[0] = {"rate": new, "changed_at": now}
        transaction.update(ref, change[0])

    transact(db, run)
    return change[0]


def describe(doc: dict[str, Any] | None, configured: int) -> dict[str, Any]:
    rate = current(doc, configured)
    if rate is None or doc is None:
        return {"throttled": False, "rate_per_minute": configured, "configured": configured}
    return {
        "throttled": True,
        "rate_per_minute": round(rate, 1),
        "configured": configured,
        "since": doc.get("cut_at"),
        "reason": doc.get("reason"),
        "cuts": doc.get("cuts"),
    }
