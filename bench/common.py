"""Helpers shared by the benchmarks that drive the local stack."""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from local import scheduler
from local.stack import Stack
from shared.clock import SystemClock
from shared.firestore import counting_client
from shared.firestore_stats import CountingInterceptor, FirestoreCounter, read_totals
from shared.runtime import Runtime
from shared.secrets import Secrets
from shared.settings import Settings
from shared.tasks import CloudTasksEnqueuer


def stack_runtime(
    stack: Stack, counter: FirestoreCounter, settings: Settings | None = None
) -> Runtime:
    """A Runtime on the stack's emulators whose Firestore traffic `counter` counts
    (it stands in for the api function when a benchmark schedules work)."""
    env = stack.env()
    os.environ["FIRESTORE_EMULATOR_HOST"] = env["FIRESTORE_EMULATOR_HOST"]
    settings = settings or Settings.from_env(env)
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


def process_tree(pid: int) -> set[int]:
    """`pid` and its descendants (functions-framework serves from a gunicorn worker)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    tree, grew = {pid}, True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in tree and child not in tree:
                tree.add(child)
                grew = True
    return tree


def totals_of(stats_dir: Path, pids: set[int]) -> dict[str, int]:
    """The read/write totals of some processes (each writes `<pid>.json`)."""
    total: dict[str, int] = {}
    for pid in pids:
        try:
            counts = json.loads((stats_dir / f"{pid}.json").read_text())
        except (OSError, ValueError):
            continue
        for key, value in counts.items():
            total[key] = total.get(key, 0) + int(value)
    return total


@dataclass
class Ticks:
    """What each dispatch tick of a run cost (the dispatch process's reads and writes
    during the call, exact: nothing else calls it) and what it answered.

    A run's per-item figures are net of a fixed cost per tick: the mean of the run's
    ticks that did no work for any item (`idle`), which carries the run's own cadence
    (a 5 s tick runs the periodic recovery passes on a fraction of its ticks, a
    minute's tick on every one); with fewer than MIN_IDLE of those, a tick with nothing
    due measured on its own, once a minute (`fallback_*`).
    """

    fallback_reads: float
    fallback_writes: float
    idle: Callable[[dict[str, Any]], bool]
    costs: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)

    MIN_IDLE: ClassVar[int] = 3

    @property
    def count(self) -> int:
        return len(self.costs)

    def fixed(self) -> tuple[float, float, str]:
        """Reads and writes of one tick's fixed part, and where they come from."""
        idle = [(r, w) for r, w, answer in self.costs if self.idle(answer)]
        if len(idle) >= self.MIN_IDLE:
            reads = statistics.mean(r for r, _ in idle)
            writes = statistics.mean(w for _, w in idle)
            return reads, writes, f"the mean of its {len(idle)} idle ticks"
        return self.fallback_reads, self.fallback_writes, "a tick with nothing due"

    def net(self, totals: dict[str, int]) -> dict[str, float]:
        """`totals` less every tick's fixed part: what the items themselves cost."""
        reads, writes, _ = self.fixed()
        return {
            "reads": totals.get("reads", 0) - self.count * reads,
            "writes": totals.get("writes", 0) - self.count * writes,
        }

    def note(self) -> str:
        reads, writes, source = self.fixed()
        return f"net of {self.count} ticks x {reads:.1f} reads / {writes:.1f} writes ({source})"


def no_work(answer: dict[str, Any]) -> bool:
    """A tick answer in which no source counted any work (sweeps are periodic)."""
    return not any(
        value
        for counts in answer.values()
        if isinstance(counts, dict)
        for name, value in counts.items()
        if name != "sweeps"
    )


@contextmanager
def counted_scheduler_loop(stack: Stack, tick_s: float, ticks: Ticks) -> Iterator[Ticks]:
    """The Cloud Scheduler stand-in, recording each tick's cost in `ticks`: the dispatch
    process's reads and writes during the call (its counter file is written as each
    call ends, so it is current when the answer arrives)."""
    stats_dir = Path(stack.env()["HERALD_FIRESTORE_STATS_DIR"])
    url = stack.url("dispatch")
    stop = threading.Event()

    def loop() -> None:
        pids = process_tree(stack.service("dispatch").process.pid)
        while not stop.is_set():
            if stop.wait(max(0.0, scheduler.next_boundary(time.time(), tick_s) - time.time())):
                return
            before = totals_of(stats_dir, pids)
            status, body = scheduler.post_dispatch(url)
            after = totals_of(stats_dir, pids)
            try:
                counts = json.loads(body).get("counts") or {}
            except ValueError:
                counts = {"status": status}
            ticks.costs.append(
                (
                    after.get("reads", 0) - before.get("reads", 0),
                    after.get("writes", 0) - before.get("writes", 0),
                    counts,
                )
            )

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield ticks
    finally:
        stop.set()
        thread.join(70)


def fixed_tick(
    stack: Stack, context: dict[str, Any], idle: Callable[[dict[str, Any]], bool] = no_work
) -> Ticks:
    """A run's tick record; its fallback fixed cost is dispatch_scale's figure from this
    run, or measured now (a fresh project, every source, a minute apart)."""
    results = context["results"]
    if "dispatch_fixed_reads_per_tick" not in results:
        from bench.dispatch_scale import fixed_tick_cost

        fixed = fixed_tick_cost(stack)
        results["dispatch_fixed_reads_per_tick"] = fixed["reads"]
        results["dispatch_fixed_writes_per_tick"] = fixed["writes"]
    return Ticks(
        fallback_reads=results["dispatch_fixed_reads_per_tick"],
        fallback_writes=results["dispatch_fixed_writes_per_tick"],
        idle=idle,
    )
