"""The sending quota every batch of a workspace shares: `email_quotas/{workspace_id}`.

`minutes` maps a UTC minute number (epoch seconds // 60, as text) to the emails
reserved in it. A batch of n is given the earliest minute at or after its due time in
which the per-minute rate, the 24-hour window (the 1,440 minutes ending there) and the
day's warm-up cap (the UTC calendar day's total, when the sending domain warms up) all
still have room: batches are spread over time with `schedule_time` instead of failing.

Every batch reserves here before its task is enqueued, whoever makes it: the
dispatcher (a group of up to ten batches per transaction), the worker (the retry batch
of its deferred recipients), "resend failed" and "resume" (held batches). Reservations
are Firestore transactions on this one document, so two writers cannot both take the
last room of a minute: the document is written once per group of batches (once per
batch for retries and resends), never per message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from shared.email.model import QUOTAS
from shared.firestore import transact

DAY_MINUTES = 1440
DEFAULT_DAILY = 1_000_000
DEFAULT_PER_MINUTE = 100_000


@dataclass(frozen=True)
class Limits:
    """What a workspace may send: per minute, per 24 hours, and per UTC day (warm-up)."""

    per_minute: int
    daily: int
    day_cap: Callable[[date], int | None] | None = None  # the warm-up plan's cap that day

    @classmethod
    def of(cls, settings: dict[str, Any] | None, day_cap: Any = None) -> Limits:
        conf = settings or {}
        return cls(
            per_minute=int(conf.get("per_minute_rate") or DEFAULT_PER_MINUTE),
            daily=int(conf.get("daily_quota") or DEFAULT_DAILY),
            day_cap=day_cap,
        )

    def batch_size(self, wanted: int, today: date) -> int:
        """The largest batch these limits can ever place."""
        cap = self.day_cap(today) if self.day_cap else None
        return max(1, min(wanted, self.per_minute, self.daily, cap or wanted))


class Quota:
    def __init__(self, minutes: dict[str, int], limits: Limits) -> None:
        self.minutes = {int(k): int(v) for k, v in minutes.items()}
        self.limits = limits

    @property
    def daily(self) -> int:
        return self.limits.daily

    @property
    def per_minute(self) -> int:
        return self.limits.per_minute

    def prune(self, now: datetime) -> None:
        oldest = int(now.timestamp()) // 60 - DAY_MINUTES
        self.minutes = {m: c for m, c in self.minutes.items() if m > oldest}

    def _window(self, m: int) -> tuple[int, int | None]:
        """Emails reserved in the 24 h ending at minute m, and that window's oldest minute."""
        total, oldest = 0, None
        for k, c in self.minutes.items():
            if m - DAY_MINUTES < k <= m:
                total += c
                oldest = k if oldest is None or k < oldest else oldest
        return total, oldest

    def _day_full(self, m: int, n: int) -> int | None:
        """The first minute of the next UTC day if minute m's day has no room for n
        under the warm-up cap (a day's first batch always fits), else None."""
        if self.limits.day_cap is None:
            return None
        day_start = m - m % DAY_MINUTES
        cap = self.limits.day_cap(datetime.fromtimestamp(m * 60, UTC).date())
        if cap is None:
            return None
        used = sum(c for k, c in self.minutes.items() if day_start <= k < day_start + DAY_MINUTES)
        if used == 0 or used + n <= cap:
            return None
        return day_start + DAY_MINUTES

    def reserve(self, n: int, earliest: datetime) -> datetime:
        """The earliest slot at or after `earliest` with room for n. Batches are sized
        by the limits; one made under larger limits (held, then the rate was lowered)
        gets a minute (and a 24 hours) of its own rather than never fitting."""
        m = int(earliest.timestamp()) // 60
        while True:
            in_minute = self.minutes.get(m, 0)
            if in_minute and in_minute + n > self.per_minute:
                m += 1
                continue
            used, oldest = self._window(m)
            if used and used + n > self.daily and oldest is not None:
                m = max(m + 1, oldest + DAY_MINUTES)
                continue
            next_day = self._day_full(m, n)
            if next_day is not None:
                m = next_day
                continue
            self.minutes[m] = self.minutes.get(m, 0) + n
            start = datetime.fromtimestamp(m * 60, UTC)
            return max(start, earliest)

    def reserved_on(self, day: date) -> int:
        start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) // 60
        return sum(c for k, c in self.minutes.items() if start <= k < start + DAY_MINUTES)

    def to_doc(self) -> dict[str, Any]:
        return {str(k): v for k, v in self.minutes.items()}


def reserve(
    db: Any,
    workspace_id: str,
    wants: Sequence[tuple[int, datetime]],
    limits: Limits,
    now: datetime,
) -> list[datetime]:
    """Reserve a slot for each (size, earliest) in one transaction; the slots, in order.

    `merge=["minutes", ...]` replaces the whole map, so minutes older than the window
    are dropped (a field-by-field merge would keep every minute ever reserved)."""
    if not wants:
        return []
    ref = db.collection(QUOTAS).document(workspace_id)
    slots: list[datetime] = []

    def run(transaction: Any) -> None:
        snap = ref.get(transaction=transaction)
        quota = Quota((snap.to_dict() or {}).get("minutes") or {} if snap.exists else {}, limits)
        quota.prune(now)
        slots.clear()
        slots.extend(quota.reserve(n, earliest) for n, earliest in wants)
        transaction.set(
            ref,
            {"workspace_id": workspace_id, "minutes": quota.to_doc(), "updated_at": now},
            merge=["workspace_id", "minutes", "updated_at"],
        )

    transact(db, run)
    return list(slots)


def load(db: Any, workspace_id: str, limits: Limits, now: datetime) -> Quota:
    """The ledger as it stands (for figures; reservations go through `reserve`)."""
    snap = db.collection(QUOTAS).document(workspace_id).get()
    quota = Quota((snap.to_dict() or {}).get("minutes") or {} if snap.exists else {}, limits)
    quota.prune(now)
    return quota
