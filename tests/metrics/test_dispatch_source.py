"""The metrics dispatch source and fan-outs: found once, enqueued once, never lost."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.clock import FrozenClock
from shared.dispatch import DispatchContext, load_sources
from shared.metrics import schedule, worker, x_pull
from shared.metrics.dispatch import SOURCE
from shared.runtime import Runtime
from shared.tasks import RecordingEnqueuer, TaskSpec
from tests.metrics.conftest import add_account, add_posts


class AllTasks(RecordingEnqueuer):
    """Keeps every enqueue, even a repeated task id: shows double enqueues."""

    def enqueue(self, spec: TaskSpec) -> str:
        with self._lock:
            self.tasks.append(spec)
        return f"t{len(self.tasks)}"


def tick(runtime: Runtime) -> dict[str, int]:
    now = runtime.clock.now()
    return SOURCE.run(DispatchContext(runtime, now, now + timedelta(seconds=90)))


def pulls(enqueuer: RecordingEnqueuer) -> list[TaskSpec]:
    return [t for t in enqueuer.tasks if t.payload.get("action") == "x_pull"]


def test_source_is_registered() -> None:
    assert SOURCE in load_sources()


def test_discover_schedule_enqueue_per_account_and_lease(
    runtime: Runtime, ws: str, clock: FrozenClock, enqueuer: RecordingEnqueuer
) -> None:
    start = clock.now()
    add_account(runtime, ws, "sand1", sandbox=True)
    add_account(runtime, ws, "acct2")
    add_posts(runtime, ws, "sand1", 150, start - timedelta(minutes=30))
    add_posts(runtime, ws, "acct2", 2, start - timedelta(minutes=30), prefix="b")
    first = tick(runtime)
    assert first["discovered"] == 152 and first["tasks"] == 0
    post = runtime.db.collection("posts").document("p0000").get().to_dict()
    assert post["next_metrics_at"] == start + timedelta(minutes=30)  # published + 1 h

    clock.advance(minutes=31)
    due = tick(runtime)
    assert due["due"] == 152 and due["claimed"] == 152 and due["discovered"] == 0
    tasks = pulls(enqueuer)
    by_account = sorted((t.payload["account_id"], len(t.payload["post_ids"])) for t in tasks)
    assert by_account == [("acct2", 2), ("sand1", 50), ("sand1", 100)]
    assert all(t.kind == "metrics" and t.target == "collect_metrics" for t in tasks)
    # Leased: the next tick finds nothing.
    assert tick(runtime)["due"] == 0

    # The worker runs: sandbox metrics, next slot one hour later.
    for task in tasks:
        if task.payload["account_id"] == "sand1":
            assert x_pull.pull(runtime, task.payload)["snapshots"] in (50, 100)
    post = runtime.db.collection("posts").document("p0000").get().to_dict()
    assert post["next_metrics_at"] == start - timedelta(minutes=30) + timedelta(hours=2)
    assert post["metrics_status"] == "active"

    # acct2's task was lost (never ran): its posts come back when the lease ends.
    clock.advance(hours=1, minutes=1)
    again = tick(runtime)
    lost = [t for t in pulls(enqueuer)[len(tasks) :] if t.payload["account_id"] == "acct2"]
    assert again["claimed"] >= 2 and len(lost) == 1 and len(lost[0].payload["post_ids"]) == 2


def test_racing_ticks_enqueue_each_pull_once(runtime: Runtime, ws: str, clock: FrozenClock) -> None:
    every = AllTasks()
    runtime._enqueuer = every
    now = clock.now()
    add_account(runtime, ws, "sand1", sandbox=True)
    add_posts(runtime, ws, "sand1", 40, now - timedelta(hours=2), next_metrics_at=now)
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        tick(runtime)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [pid for t in pulls(every) for pid in t.payload["post_ids"]]
    assert sorted(ids) == [f"p{i:04d}" for i in range(40)]  # each exactly once


def test_final_posts_are_never_due(runtime: Runtime, ws: str, clock: FrozenClock) -> None:
    now = clock.now()
    add_posts(runtime, ws, "acct1", 3, now - timedelta(days=40), next_metrics_at=schedule.NEVER)
    assert tick(runtime)["due"] == 0


def test_sweeps_start_on_their_cadence(
    runtime: Runtime, ws: str, clock: FrozenClock, enqueuer: RecordingEnqueuer
) -> None:
    assert tick(runtime)["sweeps"] == 2
    kinds = sorted(t.payload["kind"] for t in enqueuer.tasks if t.payload["action"] == "fanout")
    assert kinds == ["ads_insights", "rollups"]
    assert tick(runtime)["sweeps"] == 0
    clock.advance(seconds=runtime.settings.metrics_rollup_interval_s + 1)
    assert tick(runtime)["sweeps"] == 1  # rollups again; ads insights once a day
    clock.set(datetime(2026, 1, 6, 6, 0, 1, tzinfo=UTC))
    assert tick(runtime)["sweeps"] == 2


def test_fanouts(
    runtime: Runtime, ws: str, clock: FrozenClock, enqueuer: RecordingEnqueuer
) -> None:
    now = clock.now()
    db = runtime.db
    db.collection("workspaces").document("ws2").set({"name": "B", "created_at": now})
    out = worker.handle(runtime, {"action": "fanout", "kind": "rollups", "due": "x"})
    assert out["tasks"] == 2
    rollups = sorted(t.payload["workspace_id"] for t in enqueuer.tasks)
    assert rollups == ["ws1", "ws2"]

    for i, status in enumerate(["active", "paused", "draft", "archived"]):
        db.collection("ad_campaigns").document(f"ad{i}").set(
            {
                "workspace_id": ws,
                "status": status,
                "platforms": ["meta"],
                "start_at": now - timedelta(days=10),
                "sort_key": f"2026-01-01T00:00:00Z|ad{i}",
            }
        )
    db.collection("ad_campaigns").document("ad9").set(
        {
            "workspace_id": ws,
            "status": "active",
            "platforms": ["google"],
            "start_at": now - timedelta(days=10),
            "end_at": now - timedelta(days=2, hours=10),
            "sort_key": "2026-01-01T00:00:00Z|ad9",
        }
    )  # fmt: skip  (ended on 2026-01-02: only that day and the one before)
    out = worker.handle(runtime, {"action": "fanout", "kind": "ads_insights"})
    ads = enqueuer.of_kind("ads")
    assert out == {"campaigns": 3, "tasks": 7}
    assert [t.payload["date"] for t in ads if t.payload["ad_campaign_id"] == "ad9"] == [
        "2026-01-02"
    ]
    assert {t.target for t in ads} == {"publish_ads"}
    assert sorted((t.payload["ad_campaign_id"], t.payload["date"]) for t in ads)[:3] == [
        ("ad0", "2026-01-02"),
        ("ad0", "2026-01-03"),
        ("ad0", "2026-01-04"),
    ]
    assert ads[0].payload.keys() == {"action", "workspace_id", "ad_campaign_id", "date"}
    assert ads[0].payload["action"] == "insights"
    # The same sweep day again: claimed, nothing enqueued twice.
    assert worker.handle(runtime, {"action": "fanout", "kind": "ads_insights"})["tasks"] == 0


def test_discovery_reads_only_recent_publications(
    runtime: Runtime, ws: str, clock: FrozenClock
) -> None:
    from shared.metrics.dispatch import discover
    from tests.metrics.readcount import ReadCounter

    now = clock.now()
    add_posts(runtime, ws, "acct1", 30, now - timedelta(minutes=10))
    assert discover(runtime, now) == 30
    clock.advance(minutes=1)
    with ReadCounter(runtime.db) as counter:
        assert discover(runtime, clock.now()) == 0
    assert counter.reads == 2  # the mark and one empty query: old posts are not re-read
    add_posts(runtime, ws, "acct1", 5, clock.now() - timedelta(seconds=20), prefix="n")
    with ReadCounter(runtime.db) as counter:
        assert discover(runtime, clock.now()) == 5
    assert counter.reads == 1 + 5


def test_posts_without_an_x_id_end_with_a_reason(runtime: Runtime, ws: str) -> None:
    now = runtime.clock.now()
    add_account(runtime, ws, "sand1", sandbox=True)
    (pid,) = add_posts(runtime, ws, "sand1", 1, now - timedelta(hours=2))
    runtime.db.collection("posts").document(pid).update({"x_ids": []})
    body = {"workspace_id": ws, "account_id": "sand1", "post_ids": [pid], "slot": now.isoformat()}
    x_pull.pull(runtime, body)
    post = runtime.db.collection("posts").document(pid).get().to_dict()
    assert post["metrics_status"] == "error" and post["next_metrics_at"] == schedule.NEVER
    assert "no X id" in post["metrics_error"]["reason"]


def test_a_post_without_account_ends_with_a_reason(
    runtime: Runtime, ws: str, clock: FrozenClock, enqueuer: RecordingEnqueuer
) -> None:
    now = clock.now()
    (pid,) = add_posts(runtime, ws, "acct1", 1, now - timedelta(hours=2), next_metrics_at=now)
    runtime.db.collection("posts").document(pid).update({"account_id": ""})
    assert tick(runtime)["claimed"] == 1
    assert pulls(enqueuer) == []
    post = runtime.db.collection("posts").document(pid).get().to_dict()
    assert post["metrics_status"] == "error" and post["next_metrics_at"] == schedule.NEVER


def test_discovery_reads_a_post_once_or_twice_whatever_the_cadence(
    runtime: Runtime, ws: str, clock: FrozenClock, settings: Any
) -> None:
    """Ticks every 5 s (`--tick 5`) re-read the last 90 s of publications once a minute,
    not on every tick: a post's discovery reads do not grow with the tick's cadence."""
    from shared.firestore import counting_client
    from shared.firestore_stats import CountingInterceptor, FirestoreCounter
    from shared.metrics.dispatch import MetricsSource

    counter = FirestoreCounter()
    counted = dataclasses.replace(
        runtime, _db=counting_client(settings.project_id, CountingInterceptor(counter))
    )
    source = MetricsSource()
    horizon = timedelta(seconds=90)
    source.run(DispatchContext(counted, clock.now(), clock.now() + horizon))
    # What two minutes of ticks read with nothing published (their own queries, markers
    # and the discovery passes' fixed reads), measured rather than assumed.
    counter.reset()
    for _ in range(24):
        clock.advance(seconds=5)
        source.run(DispatchContext(counted, clock.now(), clock.now() + horizon))
    idle_reads = counter.reads
    add_posts(runtime, ws, "sand1", 20, clock.now())
    counter.reset()
    discovered = read = 0
    for _ in range(24):  # two minutes of 5 s ticks
        clock.advance(seconds=5)
        counts = source.run(DispatchContext(counted, clock.now(), clock.now() + horizon))
        discovered += counts["discovered"]
        read += counts["discovery_read"]
    assert discovered == 20 and read == 2 * 20  # two passes, each reading every post
    post_reads = counter.reads - idle_reads
    assert post_reads <= read, counter.snapshot()


def test_a_pages_pull_claims_go_in_one_request(
    runtime: Runtime, ws: str, clock: FrozenClock, settings: Any
) -> None:
    """40 due pulls: their lease is one commit and their 40 claims one BatchWrite, not a
    commit each (3,000 due pulls a tick were 3,000 round trips one after the other)."""
    from shared.firestore import counting_client
    from shared.firestore_stats import CountingInterceptor, FirestoreCounter
    from shared.metrics.dispatch import enqueue_due

    counter = FirestoreCounter()
    counted = dataclasses.replace(
        runtime, _db=counting_client(settings.project_id, CountingInterceptor(counter))
    )
    now = clock.now()
    add_account(runtime, ws, "sand1", sandbox=True)
    add_posts(runtime, ws, "sand1", 40, now - timedelta(hours=2), next_metrics_at=now)
    counter.reset()
    counts = enqueue_due(counted, now, now + timedelta(seconds=90))
    assert counts["claimed"] == 40
    calls = counter.snapshot()
    assert calls["calls.BatchWrite"] == 1 and calls["calls.Commit"] == 1, calls
    assert enqueue_due(counted, now, now + timedelta(seconds=90))["due"] == 0
