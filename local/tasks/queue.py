"""One queue's state and scheduling, as Cloud Tasks does it; no I/O, time is passed in.

- Dispatch: the earliest due task first, while fewer than max_concurrent_dispatches are in
  flight and the token bucket (max_dispatches_per_second, max_burst_size) has a token.
- A 2xx answer completes the task; anything else (another status, no answer, the dispatch
  deadline passing) is a failed attempt, retried after the RetryConfig backoff (or the
  answer's Retry-After, if longer) until the retry limits are both met.
- A 429 or 503 answer also slows the whole queue (Cloud Tasks' system throttling): each
  halves the dispatch rate, down to 1/16 of it; each 2xx answer undoes one halving.
- Names: a task's name cannot be reused while it exists nor for DEDUP_WINDOW after it
  completed, gave up or was deleted.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

from local.tasks.config import QueueSettings

DEDUP_WINDOW = 3600.0  # "~1 hour" after a task with that name was deleted or executed
MAX_THROTTLE = 4  # halvings of the rate after 429/503 answers


class NotFound(LookupError):
    pass


class AlreadyExists(ValueError):
    pass


@dataclass
class Attempt:
    """One delivery of a task: when it was due, sent and answered, and how."""

    number: int  # 1 for the first delivery
    scheduled_at: float
    dispatched_at: float
    responded_at: float | None = None
    status: int | None = None  # the HTTP status; None when no answer came
    reason: str = ""  # "HTTP 500", "DEADLINE_EXCEEDED", "UNAVAILABLE: ..."


@dataclass(frozen=True)
class Outcome:
    """What came back from one delivery."""

    status: int | None
    reason: str
    retry_after: float | None = None  # seconds, from a Retry-After header

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Task:
    name: str  # projects/P/locations/L/queues/Q/tasks/ID
    url: str
    method: str
    headers: dict[str, str]
    body: bytes
    schedule_time: float
    create_time: float
    dispatch_deadline: float
    attempts: list[Attempt] = field(default_factory=list)
    running: bool = False

    @property
    def id(self) -> str:
        return self.name.rsplit("/", 1)[1]

    @property
    def response_count(self) -> int:
        return sum(1 for a in self.attempts if a.status is not None)

    @property
    def execution_count(self) -> int:
        """Answers received before, not counting 5xx (X-CloudTasks-TaskExecutionCount)."""
        done = self.attempts[:-1] if self.running else self.attempts
        return sum(1 for a in done if a.status is not None and a.status < 500)


class Queue:
    def __init__(
        self, name: str, settings: QueueSettings, now: float, dedup_window: float = DEDUP_WINDOW
    ) -> None:
        self.name = name
        self.settings = settings
        self.dedup_window = dedup_window
        self.tasks: dict[str, Task] = {}
        self.in_flight = 0
        self.throttle = 0
        # Completed, given-up and deleted tasks, kept for the dedup window (body dropped).
        self.finished: dict[str, tuple[float, Task]] = {}
        self._due: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._tokens = float(settings.max_burst_size)
        self._tokens_at = now

    @property
    def id(self) -> str:
        return self.name.rsplit("/", 1)[1]

    @property
    def rate(self) -> float:
        """The dispatch rate now: the configured one, halved per unresolved 429/503."""
        return self.settings.max_dispatches_per_second / 2**self.throttle

    # -- tasks ----------------------------------------------------------------------------

    def add(self, task: Task, now: float) -> None:
        self._expire(now)
        if task.name in self.tasks or task.name in self.finished:
            raise AlreadyExists(f"task {task.id} already exists or ran within the last hour")
        self.tasks[task.name] = task
        self._push(task)

    def get(self, name: str) -> Task:
        task = self.tasks.get(name)
        if task is None:
            raise NotFound(f"task {name} does not exist")
        return task

    def delete(self, name: str, now: float) -> None:
        """Remove a waiting or running task; a running attempt's answer is then ignored."""
        task = self.get(name)
        self._retire(task, now)

    def history(self, name: str) -> list[Attempt]:
        """Every attempt of a live or recently finished task."""
        if name in self.tasks:
            return list(self.tasks[name].attempts)
        if name in self.finished:
            return list(self.finished[name][1].attempts)
        raise NotFound(f"task {name} is unknown")

    # -- dispatch -------------------------------------------------------------------------

    def take_due(self, now: float) -> Task | float | None:
        """The task to send now (its attempt recorded, a slot and a token taken), or the
        instant to look again, or None when only an answer or a new task can change that."""
        while self._due:
            at, _, name = self._due[0]
            task = self.tasks.get(name)
            if task is None or task.running or task.schedule_time != at:
                heapq.heappop(self._due)  # deleted, or rescheduled since it was pushed
                continue
            break
        else:
            return None
        if self.in_flight >= self.settings.max_concurrent_dispatches:
            return None
        if at > now:
            return at
        self._refill(now)
        if self._tokens < 1:
            return now + (1 - self._tokens) / self.rate
        self._tokens -= 1
        heapq.heappop(self._due)
        task.running = True
        self.in_flight += 1
        task.attempts.append(Attempt(len(task.attempts) + 1, task.schedule_time, now))
        return task

    def finish(self, task: Task, outcome: Outcome, now: float) -> str:
        """Record an attempt's outcome; returns what became of the task:
        "done", "retry", "gave up" or "deleted" (deleted while it ran)."""
        attempt = task.attempts[-1]
        attempt.responded_at, attempt.status, attempt.reason = now, outcome.status, outcome.reason
        task.running = False
        self.in_flight -= 1
        if outcome.status in (429, 503):
            self._refill(now)
            self.throttle = min(MAX_THROTTLE, self.throttle + 1)
        elif outcome.ok and self.throttle:
            self._refill(now)
            self.throttle -= 1
        if self.tasks.get(task.name) is not task:
            return "deleted"
        if outcome.ok:
            self._retire(task, now)
            return "done"
        retry = self.settings.retry
        if retry.exhausted(len(task.attempts), now - task.attempts[0].dispatched_at):
            self._retire(task, now)
            return "gave up"
        delay = retry.backoff(len(task.attempts))
        if outcome.retry_after is not None:
            delay = max(delay, outcome.retry_after)
        task.schedule_time = now + delay
        self._push(task)
        return "retry"

    # -- internals ------------------------------------------------------------------------

    def _push(self, task: Task) -> None:
        heapq.heappush(self._due, (task.schedule_time, next(self._seq), task.name))

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._tokens_at)
        cap = float(self.settings.max_burst_size)
        self._tokens = min(cap, self._tokens + elapsed * self.rate)
        self._tokens_at = now

    def _retire(self, task: Task, now: float) -> None:
        del self.tasks[task.name]
        task.body = b""
        self.finished[task.name] = (now + self.dedup_window, task)
        self._expire(now)

    def _expire(self, now: float) -> None:
        # Insertion order is retirement order, so expired names are at the front.
        while self.finished:
            name, (expires, _) = next(iter(self.finished.items()))
            if expires > now:
                break
            del self.finished[name]
