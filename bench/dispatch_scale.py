"""Dispatcher scale: many scheduled posts of which a fraction are due.

Seeds Firestore directly (BatchWrites, several in flight), then runs one X dispatch
tick in-process with the read/write-counting client and a recording enqueuer (tasks are
counted, not delivered); then the same due posts again with an enqueuer that takes
production's create_task round trip. Two projects with the same number of due posts but
10x different numbers stored show that a tick's reads grow with the due items only.
A tick with nothing due, every source, gives the fixed cost per tick that the other
benchmarks' per-item figures are net of.
"""

from __future__ import annotations

import os
import resource
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.report import Figure, Reporter
from local.stack import Stack
from shared.clock import FrozenClock, SystemClock
from shared.firestore import counting_client
from shared.firestore_stats import CountingInterceptor, FirestoreCounter
from shared.runtime import Runtime
from shared.settings import Settings
from shared.tasks import RecordingEnqueuer, TaskSpec

CREATE_TASK_S = 0.020  # the latency variant's create_task round trip
SEED_BATCH = 500  # writes per BatchWrite (Firestore's limit per request)
SEED_IN_FLIGHT = 4  # BatchWrites in flight while the next ones are built


def seed(db: Any, stored: int, due: int, now: Any) -> None:
    """`stored` scheduled posts, the first `due` of them due within the next minute.

    BatchWrite (non-atomic, no ordering) with several requests in flight: seeding is
    set-up, not what the benchmark measures, and 100,000 posts load in tens of seconds.
    """
    from concurrent.futures import ThreadPoolExecutor

    from google.cloud.firestore_v1.bulk_batch import BulkWriteBatch

    from shared.x.models import Post, PostStatus
    from shared.x.store import order_key

    def commit(batch: Any) -> None:
        response = batch.commit()
        failed = [s.message for s in response.status if s.code != 0]
        if failed:
            raise RuntimeError(f"seeding: {len(failed)} writes failed, e.g. {failed[0]}")

    # Every post is the model's document with its own id, instant and texts.
    template = Post(
        id="",
        workspace_id="",
        account_id="",
        text="",
        status=PostStatus.SCHEDULED.value,
        created_at=now,
        updated_at=now,
    ).to_doc()
    posts = db.collection("posts")
    with ThreadPoolExecutor(SEED_IN_FLIGHT) as pool:
        pending = []
        for start in range(0, stored, SEED_BATCH):
            batch = BulkWriteBatch(db)
            for i in range(start, min(stored, start + SEED_BATCH)):
                # Due ones spread over the next minute; the rest over the next 30 days.
                at = now + (timedelta(seconds=i % 60) if i < due else timedelta(hours=2 + i % 720))
                post_id = f"p{i:07d}"
                doc = template | {
                    "id": post_id,
                    "workspace_id": f"ws{i % 50}",
                    "account_id": f"acct{i % 50}",
                    "text": f"post {i}",
                    "parts": [f"post {i}"],
                    "due_at": at,
                    "next_at": at,
                    "next_key": order_key(at, post_id),
                }
                batch.set(posts.document(post_id), doc)
            pending.append(pool.submit(commit, batch))
            if len(pending) >= 2 * SEED_IN_FLIGHT:
                pending.pop(0).result()
        for future in pending:
            future.result()


def _runtime(stack: Stack, counter: FirestoreCounter, enqueuer: Any, now: datetime) -> Runtime:
    """An in-process runtime on a fresh project of the stack's emulator (the tick runs
    "at" `now`: seeding takes a while, and the due posts should be due, not overdue)."""
    env = stack.env()
    os.environ["FIRESTORE_EMULATOR_HOST"] = env["FIRESTORE_EMULATOR_HOST"]
    project = f"scale-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        env="test",
        project_id=project,
        sandbox=True,
        firestore_emulator_host=env["FIRESTORE_EMULATOR_HOST"],
    )
    db = counting_client(project, CountingInterceptor(counter))
    return Runtime(settings=settings, clock=FrozenClock(now), _db=db, _enqueuer=enqueuer)


class SlowEnqueuer(RecordingEnqueuer):
    """create_task as production's: a round trip of CREATE_TASK_S (Cloud Tasks answers
    in 10-50 ms), spent waiting, as the gRPC call waits."""

    def enqueue(self, spec: TaskSpec) -> str:
        time.sleep(CREATE_TASK_S)
        return super().enqueue(spec)


def _cpu_s(pid: int) -> float:
    """CPU seconds a process (the emulator's JVM) has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured_tick(stack: Stack, runtime: Runtime, counter: FirestoreCounter) -> dict[str, float]:
    """One X dispatch tick (its periodic recovery pass included, as a fresh instance's
    first tick): reads, writes, tasks, seconds, and the CPU it took in this process and
    in the emulator (on a loaded machine, CPU seconds say more than wall seconds)."""
    from shared.dispatch import tick
    from shared.x.dispatch import XSource

    emulator = stack.service("firestore").process.pid
    counter.reset()
    tasks_before = len(runtime.enqueuer.tasks)  # type: ignore[attr-defined]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu, emulator_cpu = time.process_time(), _cpu_s(emulator)
    report = tick(runtime, [XSource()])
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "reads": counter.reads,
        "writes": counter.writes,
        "tasks": len(runtime.enqueuer.tasks) - tasks_before,  # type: ignore[attr-defined]
        "tick_s": report.duration_s,
        "cpu_s": time.process_time() - cpu,
        "emulator_cpu_s": _cpu_s(emulator) - emulator_cpu,
        "rss_mb": rss_after / 1024,
        "rss_growth_mb": (rss_after - rss_before) / 1024,
        "load": os.getloadavg()[0],
    }


def seeded(stack: Stack, stored: int, due: int, enqueuer: Any) -> tuple[Runtime, Any, float]:
    counter = FirestoreCounter()
    now = SystemClock().now()
    runtime = _runtime(stack, counter, enqueuer, now)
    started = time.perf_counter()
    seed(runtime.db, stored, due, now)
    settle(runtime)
    return runtime, counter, time.perf_counter() - started


def settle(runtime: Runtime) -> None:
    """One query of the tick's shape, read before the tick is timed.

    Right after a bulk load the emulator's first query pays for the load (measured at
    100,000 posts: the first tick 43 s, the same tick again 6.5 s): seeding's cost,
    not the tick's.
    """
    from shared.queries import build
    from shared.queries.x import DUE_POSTS

    list(build(runtime.db, DUE_POSTS, status=["scheduled"], le="~").limit(1).stream())


def requeue(runtime: Runtime, due: int) -> None:
    """Put the due posts a tick moved back to scheduled (for a second measured tick)."""
    from shared.batch_writes import MAX_WRITES, Write, apply_each

    posts = runtime.db.collection("posts")
    for start in range(0, due, MAX_WRITES):
        ids = range(start, min(due, start + MAX_WRITES))
        writes = [Write(posts.document(f"p{i:07d}"), {"status": "scheduled"}) for i in ids]
        apply_each(runtime.db, writes)


def fixed_tick_cost(stack: Stack) -> dict[str, int]:
    """Reads and writes of a tick with nothing due, every source, once a minute.

    A fresh project and fresh sources; the first tick (hourly and first-time passes:
    the autopilot scan's claim, the metrics sweeps' first instants) is not counted; the
    second runs a minute later, as Cloud Scheduler calls it, with every periodic pass
    (X recovery every 30 s, email recovery every minute) as production's ticks do.
    """
    from shared.dispatch import load_sources, tick

    counter = FirestoreCounter()
    runtime = _runtime(stack, counter, RecordingEnqueuer(), SystemClock().now())
    sources: list[Any] = [type(source)() for source in load_sources()]
    tick(runtime, sources)
    runtime.clock.advance(60)  # type: ignore[attr-defined]
    for source in sources:
        if hasattr(source, "_last_recovery"):
            source._last_recovery = 0.0  # its 30 s cadence is on the monotonic clock
    counter.reset()
    tick(runtime, sources)
    return {"reads": counter.reads, "writes": counter.writes}


def run(reporter: Reporter, stack: Stack, quick: bool, context: dict[str, Any]) -> None:
    # The size, 100,000 stored / 10,000 due, for the full run. Seeding 110,000
    # posts (both projects) takes the emulator about 1 ms of CPU each, minutes on two
    # cores: the quick run keeps the same ratios at a fifth of the size.
    stored, due = (20_000, 2_000) if quick else (100_000, 10_000)
    load = os.getloadavg()[0]
    runtime, counter, seed_s = seeded(stack, stored, due, RecordingEnqueuer())
    big = measured_tick(stack, runtime, counter)
    fixed = fixed_tick_cost(stack)
    # The same due posts again, their tasks created in CREATE_TASK_S each.
    requeue(runtime, due)
    runtime._enqueuer = SlowEnqueuer()
    slow = measured_tick(stack, runtime, counter)
    small_runtime, small_counter, small_seed_s = seeded(
        stack, stored // 10, due, RecordingEnqueuer()
    )
    small = measured_tick(stack, small_runtime, small_counter)
    # The same tick with nothing due: what the per-item figures are net of.
    empty_runtime, empty_counter, _ = seeded(stack, 0, 0, RecordingEnqueuer())
    empty = measured_tick(stack, empty_runtime, empty_counter)
    where = f"{stored:,} stored, {due:,} due"
    reporter.add(
        Figure(
            "dispatch_scale_stored",
            stored,
            "posts",
            note=f"{where}; seeded in {seed_s:.0f} s (+{small_seed_s:.0f} s for "
            f"{stored // 10:,}), load average {load:.1f} before",
        )
    )
    reporter.add(
        Figure(
            "dispatch_tick_s",
            big["tick_s"],
            "s",
            note=f"{where}, {big['tasks']:,} tasks (recording enqueuer); CPU "
            f"{big['cpu_s']:.1f} s here + {big['emulator_cpu_s']:.1f} s in the emulator; "
            f"load average {big['load']:.1f}; goal ≤ 10 s",
        )
    )
    reporter.add(
        Figure(
            "dispatch_tick_s_cloud_tasks_latency",
            slow["tick_s"],
            "s",
            note=f"{where}, {slow['tasks']:,} tasks created in {CREATE_TASK_S * 1000:.0f} ms "
            f"each (production's round trip); CPU {slow['cpu_s']:.1f} s here + "
            f"{slow['emulator_cpu_s']:.1f} s in the emulator; load average {slow['load']:.1f}",
        )
    )
    for kind in ("reads", "writes"):
        # Per due item, net of the same tick with nothing due (its recovery and series
        # queries bill a read each when empty; the tick's status document is a write).
        reporter.add(
            Figure(
                f"dispatch_{kind}_per_due_item",
                (big[kind] - empty[kind]) / due,
                kind,
                note=f"{where}; net of the {empty[kind]} {kind} of the tick with nothing due",
            )
        )
    reporter.add(
        Figure(
            "dispatch_reads_stored_10x_ratio",
            big["reads"] / small["reads"],
            "x",
            baseline=small["reads"],
            ratio=big["reads"] / small["reads"],
            note=f"same {due:,} due, {stored:,} vs {stored // 10:,} stored (1.0 = independent); "
            f"tick {small['tick_s']:.1f} s with {stored // 10:,}",
        )
    )
    reporter.add(
        Figure(
            "dispatch_fixed_reads_per_tick",
            fixed["reads"],
            "reads",
            note="a tick with nothing due, every source, one a minute",
        )
    )
    reporter.add(Figure("dispatch_fixed_writes_per_tick", fixed["writes"], "writes"))
    reporter.add(
        Figure(
            "dispatch_tick_rss_mb",
            big["rss_mb"],
            "MiB",
            note=f"peak RSS of the bench process; grew {big['rss_growth_mb']:.1f} MiB in the tick",
        )
    )
    context["results"].update(
        {
            "dispatch_fixed_reads_per_tick": fixed["reads"],
            "dispatch_fixed_writes_per_tick": fixed["writes"],
        }
    )
