"""Helpers shared by the benchmarks that drive the local stack."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from local import scheduler
from local.stack import Stack
from shared.clock import SystemClock
from shared.firestore import counting_client
from shared.firestore_stats import CountingInterceptor, FirestoreCounter, read_totals
from shared.runtime import Runtime
from shared.secrets import Secrets
from shared.settings import Settings
from shared.tasks import CloudTasksEnqueuer


def stack_runtime(stack: Stack, counter: FirestoreCounter) -> Runtime:
    """A Runtime on the stack's emulators whose Firestore traffic `counter` counts
    (it stands in for the api function when a benchmark schedules work)."""
    env = stack.env()
    os.environ["FIRESTORE_EMULATOR_HOST"] = env["FIRESTORE_EMULATOR_HOST"]
    settings = Settings.from_env(env)
    return Runtime(
        settings=settings,
        clock=SystemClock(),
        _db=counting_client(settings.project_id, CountingInterceptor(counter)),
        _enqueuer=CloudTasksEnqueuer(settings),
        _secrets=Secrets(settings),
    )


class FunctionCounts:
    """Reads and writes made by the stack's function processes between two points."""

    def __init__(self, stats_dir: Path) -> None:
        self.stats_dir = stats_dir
        self.start = read_totals(stats_dir)

    def delta(self) -> dict[str, int]:
        now = read_totals(self.stats_dir)
        return {k: now.get(k, 0) - self.start.get(k, 0) for k in now}


@contextmanager
def scheduler_loop(stack: Stack, tick_s: float) -> Iterator[None]:
    """The Cloud Scheduler stand-in calling the stack's dispatch every `tick_s` seconds."""
    stop = threading.Event()
    thread = threading.Thread(
        target=scheduler.run, args=(stack.url("dispatch"), tick_s, stop), daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)
