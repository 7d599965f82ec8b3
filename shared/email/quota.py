"""Sliding-window sending quota per workspace: `email_quotas/{workspace_id}`.

`minutes` maps a UTC minute number (epoch seconds // 60, as text) to the emails
reserved in it. A batch of n is given the earliest minute at or after its due time in
which the per-minute rate and the 24-hour window (the 1,440 minutes ending there)
both still have room: batches are spread over time with `schedule_time` instead of
failing. Reservations are made by the dispatcher under the workspace's expansion
lease, so there is one writer at a time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

DAY_MINUTES = 1440


class Quota:
    def __init__(self, minutes: dict[str, int], daily: int, per_minute: int) -> None:
        self.minutes = {int(k): int(v) for k, v in minutes.items()}
        self.daily = daily
        self.per_minute = per_minute

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

    def reserve(self, n: int, earliest: datetime) -> datetime:
        if n > min(self.daily, self.per_minute):
            raise ValueError("batch larger than the quota; size batches by the quota")
        m = int(earliest.timestamp()) // 60
        while True:
            if self.minutes.get(m, 0) + n > self.per_minute:
                m += 1
                continue
            used, oldest = self._window(m)
            if used + n > self.daily and oldest is not None:
                m = max(m + 1, oldest + DAY_MINUTES)
                continue
            self.minutes[m] = self.minutes.get(m, 0) + n
            start = datetime.fromtimestamp(m * 60, UTC)
            return max(start, earliest)

    def to_doc(self) -> dict[str, Any]:
        return {str(k): v for k, v in self.minutes.items()}
