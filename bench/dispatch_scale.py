"""Dispatcher scale: many scheduled posts of which a fraction are due.

Seeds Firestore directly (batched writes), then runs one dispatch tick in-process with
the read/write-counting client and a recording enqueuer (tasks are counted, not
delivered). Two projects with the same number of due posts but 10x different numbers
stored show that a tick's reads grow with the due items only.
"""

from __future__ import annotations

import os
import resource
import time
import uuid
from datetime import timedelta
from typing import Any

from bench.report import Figure, Reporter
from local.stack import Stack
from shared.clock import FrozenClock, SystemClock
from shared.firestore import counting_client
from shared.firestore_stats import CountingInterceptor, FirestoreCounter
from shared.runtime import Runtime
from shared.settings import Settings
from shared.tasks import RecordingEnqueuer


def seed(db: Any, stored: int, due: int, now: Any) -> None:
    from shared.x.models import Post, PostStatus
    from shared.x.store import order_key

    batch, pending = db.batch(), 0
    for i in range(stored):
        is_due = i < due
        # Due ones spread over the next minute; the rest over the next 30 days.
        at = now + (timedelta(seconds=(i % 60)) if is_due else timedelta(hours=2 + i % 720))
        post_id = f"p{i:07d}"
        post = Post(
            id=post_id,
            workspace_id=f"ws{i % 50}",
            account_id=f"acct{i % 50}",
            text=f"post {i}",
            parts=[f"post {i}"],
            due_at=at,
            status=PostStatus.SCHEDULED.value,
            next_at=at,
            next_key=order_key(at, post_id),
            created_at=now,
            updated_at=now,
        )
        batch.set(db.collection("posts").document(post_id), post.to_doc())
        pending += 1
        if pending == 500:
            batch.commit()
            batch, pending = db.batch(), 0
    if pending:
        batch.commit()


def one_tick(stack: Stack, stored: int, due: int) -> dict[str, float]:
    from shared.dispatch import tick
    from shared.x.dispatch import XSource

    env = stack.env()
    os.environ["FIRESTORE_EMULATOR_HOST"] = env["FIRESTORE_EMULATOR_HOST"]
    project = f"scale-{uuid.uuid4().hex[:8]}"
    counter = FirestoreCounter()
    db = counting_client(project, CountingInterceptor(counter))
    seed_now = SystemClock().now()
    # The tick runs "at" the seeding instant: seeding takes minutes here, and the due
    # posts should be due, not overdue, when the dispatcher looks.
    clock = FrozenClock(seed_now)
    seed_started = time.perf_counter()
    seed(db, stored, due, seed_now)
    seed_s = time.perf_counter() - seed_started
    counter.reset()
    enqueuer = RecordingEnqueuer()
    settings = Settings(
        env="test",
        project_id=project,
        sandbox=True,
        firestore_emulator_host=env["FIRESTORE_EMULATOR_HOST"],
    )
    runtime = Runtime(settings=settings, clock=clock, _db=db, _enqueuer=enqueuer)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = tick(runtime, [XSource()])
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "reads": counter.reads,
        "writes": counter.writes,
        "tasks": len(enqueuer.tasks),
        "tick_s": report.duration_s,
        "seed_s": seed_s,
        "rss_mb": rss_after / 1024,
        "rss_growth_mb": (rss_after - rss_before) / 1024,
    }


def run(reporter: Reporter, stack: Stack, quick: bool, context: dict[str, Any]) -> None:
    # The size is 100,000 stored / 10,000 due. The local Firestore emulator keeps
    # each collection in an immutable map that is copied on every new document, so
    # seeding is quadratic: 100k documents do not load in useful time here. The same
    # ratio at 20k shows what matters: reads track the due items, not what is stored.
    stored, due = (2_000, 200) if quick else (20_000, 2_000)
    big = one_tick(stack, stored, due)
    small = one_tick(stack, stored // 10, due)
    reporter.add(
        Figure(
            "dispatch_reads_per_due_item",
            big["reads"] / due,
            "reads",
            note=f"{stored} stored, {due} due, {big['tasks']} tasks",
        )
    )
    reporter.add(
        Figure(
            "dispatch_reads_stored_10x_ratio",
            big["reads"] / small["reads"],
            "x",
            baseline=small["reads"],
            ratio=big["reads"] / small["reads"],
            note=f"same {due} due, {stored} vs {stored // 10} stored (1.0 = independent)",
        )
    )
    reporter.add(Figure("dispatch_writes_per_due_item", big["writes"] / due, "writes"))
    reporter.add(
        Figure(
            "dispatch_tick_s",
            big["tick_s"],
            "s",
            note=f"{due} due items against the emulator (~250 writes/s here)",
        )
    )
    reporter.add(
        Figure(
            "dispatch_tick_rss_mb",
            big["rss_mb"],
            "MiB",
            note=f"peak RSS of the bench process; grew {big['rss_growth_mb']:.1f} MiB in the tick",
        )
    )
