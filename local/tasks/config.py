"""Queue settings, read from infra/queues.json: the file Terraform deploys the queues from.

Cloud Tasks' own defaults apply to whatever a queue leaves out (RetryConfig: 100 attempts,
0.1 s to 3600 s, 16 doublings, no age limit; RateLimits: 500/s, 1000 at once).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

QUEUES_FILE = Path(__file__).resolve().parents[2] / "infra" / "queues.json"
MAX_RATE = 500.0  # dispatches per second a queue may have
MAX_CONCURRENCY = 5000
# max_burst_size is output-only: Cloud Tasks picks it from the rate and does not publish
# how (the default queue, 500/s, shows 100). Here the bucket holds one second's worth of
# the rate, at least 1 and at most 100.
MAX_BURST = 100
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")


def parse_duration(text: str | float) -> float:
    """Seconds of a protobuf Duration in JSON form ("5s", "0.5s")."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"a duration is written like '5s', got {text!r}")
    return float(match.group(1))


@dataclass(frozen=True)
class RetryPolicy:
    """A queue's RetryConfig, and the schedule Cloud Tasks derives from it."""

    max_attempts: int = 100  # -1: unlimited
    min_backoff: float = 0.1
    max_backoff: float = 3600.0
    max_doublings: int = 16
    max_retry_duration: float = 0.0  # 0: no age limit

    def __post_init__(self) -> None:
        if self.max_attempts < -1 or self.max_attempts == 0:
            raise ValueError("max_attempts must be -1 (unlimited) or at least 1")
        if not 0 <= self.min_backoff <= self.max_backoff:
            raise ValueError("backoffs must satisfy 0 <= min_backoff <= max_backoff")
        if self.max_doublings < 0 or self.max_retry_duration < 0:
            raise ValueError("max_doublings and max_retry_duration cannot be negative")

    def backoff(self, retry: int) -> float:
        """Seconds from a failed attempt to retry number `retry` (1 = the first retry).

        The interval starts at min_backoff, doubles max_doublings times, then grows by
        the last doubled step each time, capped at max_backoff: for 10 s, 300 s and 3
        doublings, 10, 20, 40, 80, 160, 240, 300, 300, ... (RetryConfig's own example).
        """
        if retry < 1:
            raise ValueError("retries count from 1")
        doublings = min(retry - 1, self.max_doublings)
        step = self.min_backoff * 2**self.max_doublings
        interval = self.min_backoff * 2**doublings + max(0, retry - 1 - self.max_doublings) * step
        return float(min(interval, self.max_backoff))

    def exhausted(self, attempts: int, age: float) -> bool:
        """Whether a task that failed `attempts` times, first tried `age` s ago, is done.

        Cloud Tasks stops only when both limits are met: max_attempts reached (never,
        for -1, unless an age limit is set) and max_retry_duration passed (always, for 0).
        """
        if self.max_attempts == -1:
            attempts_met = self.max_retry_duration > 0
        else:
            attempts_met = attempts >= self.max_attempts
        age_met = self.max_retry_duration == 0 or age >= self.max_retry_duration
        return attempts_met and age_met


@dataclass(frozen=True)
class QueueSettings:
    """A queue's RateLimits and RetryConfig."""

    max_dispatches_per_second: float = MAX_RATE
    max_concurrent_dispatches: int = 1000
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    function: str | None = None  # the one function the queue delivers to

    def __post_init__(self) -> None:
        if not 0 < self.max_dispatches_per_second <= MAX_RATE:
            raise ValueError(f"max_dispatches_per_second must be in (0, {MAX_RATE:g}]")
        if not 0 < self.max_concurrent_dispatches <= MAX_CONCURRENCY:
            raise ValueError(f"max_concurrent_dispatches must be in [1, {MAX_CONCURRENCY}]")

    @property
    def max_burst_size(self) -> int:
        return max(1, min(MAX_BURST, math.ceil(self.max_dispatches_per_second)))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QueueSettings:
        retry = data.get("retry") or {}
        return cls(
            max_dispatches_per_second=float(data.get("max_dispatches_per_second", MAX_RATE)),
            max_concurrent_dispatches=int(data.get("max_concurrent_dispatches", 1000)),
            retry=RetryPolicy(
                max_attempts=int(retry.get("max_attempts", 100)),
                min_backoff=parse_duration(retry.get("min_backoff", "0.1s")),
                max_backoff=parse_duration(retry.get("max_backoff", "3600s")),
                max_doublings=int(retry.get("max_doublings", 16)),
                max_retry_duration=parse_duration(retry.get("max_retry_duration", "0s")),
            ),
            function=data.get("function"),
        )


def load(path: Path = QUEUES_FILE) -> dict[str, QueueSettings]:
    """Queue kind -> its settings."""
    raw = json.loads(path.read_text())
    try:
        return {kind: QueueSettings.from_json(spec) for kind, spec in raw.items()}
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
