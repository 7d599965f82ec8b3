"""Precision: posts due across a window, published by the sandbox account through the
local stack (dispatch → Cloud Tasks → post_tweet). Lateness = published_at -
due_at per post; Firestore reads/writes per published post counted by the gRPC
interceptor in every process on the path (scheduling, dispatch, worker)."""

from __future__ import annotations

import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import FunctionCounts, scheduler_loop, stack_runtime
from bench.report import Figure, Reporter, percentile
from local.stack import Stack
from shared.clock import FrozenClock
from shared.firestore_stats import FirestoreCounter


def run(reporter: Reporter, stack: Stack, quick: bool, context: dict[str, Any]) -> None:
    from google.cloud.firestore_v1.base_query import FieldFilter

    from shared.x import service
    from shared.x.accounts import create_sandbox_account
    from shared.x.models import POSTS

    count, window_s = (100, 20.0) if quick else (500, 120.0)
    tick_s = 5.0 if quick else 60.0
    # Posts are scheduled beyond dispatch's lookahead so that the scheduler loop and
    # dispatch enqueue them, as in production. The quick run schedules with a clock
    # set back by the lookahead instead of waiting for it.
    lead_s = 8.0 if quick else 100.0
    counter = FirestoreCounter()
    runtime = stack_runtime(stack, counter)
    if quick:
        runtime.clock = FrozenClock(runtime.clock.now() - timedelta(seconds=120))
    real_now = datetime.now(UTC)
    workspace_id = f"bench-{uuid.uuid4().hex[:8]}"
    account = create_sandbox_account(
        runtime,
        workspace_id,
        handle="bench",
        limits={"posts_per_15min": 100_000, "posts_per_24h": 1_000_000},
    )
    start = real_now + timedelta(seconds=lead_s)
    post_ids = []
    for i in range(count):
        due = start + timedelta(seconds=window_s * i / count)
        post = service.create_post(
            runtime,
            workspace_id,
            account_id=account["id"],
            text=f"Benchmark post {i} of {count} {uuid.uuid4().hex[:6]}",
            due_at=due,
        )
        post_ids.append(post["id"])
    counter.reset()  # authoring is not measured; scheduling is reported on its own
    for post_id in post_ids:
        service.schedule_post(runtime, workspace_id, post_id)
    scheduling = counter.snapshot()
    functions = FunctionCounts(context["stats_dir"])
    deadline = time.monotonic() + lead_s + window_s + 120
    with scheduler_loop(stack, tick_s):
        while time.monotonic() < deadline:
            q = runtime.db.collection(POSTS).where(
                filter=FieldFilter("workspace_id", "==", workspace_id)
            )
            done = (
                q.where(filter=FieldFilter("status", "in", ["published", "failed", "unconfirmed"]))
                .count()
                .get()
            )
            if int(done[0][0].value) >= count:
                break
            time.sleep(2.0)
    time.sleep(1.0)  # let the last process flush its counters
    worker = functions.delta()
    docs = [
        d.to_dict()
        for d in runtime.db.collection(POSTS)
        .where(filter=FieldFilter("workspace_id", "==", workspace_id))
        .stream()
    ]
    published = [d for d in docs if d.get("status") == "published"]
    lateness = [(d["published_at"] - d["due_at"]).total_seconds() for d in published]
    n = max(1, len(published))
    note = f"{len(published)}/{count} published over {window_s:.0f}s"
    reporter.add(Figure("post_lateness_p50_s", percentile(lateness, 50), "s", note=note))
    reporter.add(Figure("post_lateness_p95_s", percentile(lateness, 95), "s", note="goal ≤ 1 s"))
    reporter.add(Figure("post_lateness_p99_s", percentile(lateness, 99), "s"))
    reporter.add(Figure("posts_not_published", count - len(published), "posts"))
    reads = worker.get("reads", 0) / n
    writes = worker.get("writes", 0) / n
    reporter.add(
        Figure(
            "firestore_reads_per_post",
            reads,
            "reads",
            note="dispatch + post_tweet, idle-tick overhead included; goal ≤ 4",
        )
    )
    reporter.add(Figure("firestore_writes_per_post", writes, "writes", note="goal ≤ 4"))
    reporter.add(
        Figure(
            "firestore_reads_per_post_scheduling",
            scheduling.get("reads", 0) / n,
            "reads",
            note="validate + schedule (api path)",
        )
    )
    reporter.add(
        Figure("firestore_writes_per_post_scheduling", scheduling.get("writes", 0) / n, "writes")
    )
    # Tasks created by dispatch (and by any re-enqueue in the worker), counted as created.
    tasks = worker.get("tasks.tweets", 0)
    reporter.add(Figure("tasks_per_post", tasks / n, "tasks"))
    print(f"# scheduling path: {scheduling}", file=sys.stderr)
    print(f"# function processes: {worker}", file=sys.stderr)
    context["results"].update(
        {
            "firestore_reads_per_post": reads,
            "firestore_writes_per_post": writes,
            "tasks_per_post": tasks / n,
        }
    )
