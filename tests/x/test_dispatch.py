"""The X dispatch source: due posts enqueued once at their instant; lost tasks recovered."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.dispatch import tick
from shared.firestore import counting_client
from shared.firestore_stats import CountingInterceptor, FirestoreCounter
from shared.runtime import Runtime
from shared.x import service, worker
from shared.x.dispatch import SOURCE, XSource, recover
from shared.x.models import POSTS, SANDBOX_POSTS


def _sandbox(runtime: Runtime) -> dict[str, Any]:
    return service.create_sandbox_account(runtime, "ws1", handle="sandy")


def _schedule(runtime: Runtime, account_id: str, text: str, due_in: float) -> dict[str, Any]:
    post = service.create_post(runtime, "ws1", account_id=account_id, text=text)
    return service.schedule_post(
        runtime, "ws1", post["id"], due_at=runtime.clock.now() + timedelta(seconds=due_in)
    )


def test_due_posts_are_enqueued_once_at_their_instant(runtime, clock, enqueuer) -> None:
    account = _sandbox(runtime)
    later = [_schedule(runtime, account["id"], f"later {i}", 600 + i) for i in range(3)]
    assert enqueuer.tasks == []  # beyond the lookahead: left to a later tick
    clock.advance(600 - runtime.settings.dispatch_lookahead_s + 1)
    source = XSource()
    first = tick(runtime, [source]).counts["x"]
    second = tick(runtime, [source]).counts["x"]
    # Horizon = now + lookahead = due of later[1]: the first two go, once.
    assert first["enqueued"] == 2 and second["enqueued"] == 0
    tasks = enqueuer.of_kind("tweets")
    assert {t.payload["post_id"] for t in tasks} == {later[0]["id"], later[1]["id"]}
    for task in tasks:
        due = next(p["due_at"] for p in later if p["id"] == task.payload["post_id"])
        assert task.schedule_time == due and task.target == "post_tweet"
    statuses = {
        p["id"]: runtime.db.collection(POSTS).document(p["id"]).get().get("status") for p in later
    }
    assert statuses == {
        later[0]["id"]: "queued",
        later[1]["id"]: "queued",
        later[2]["id"]: "scheduled",
    }


def test_posts_due_soon_are_enqueued_when_scheduled(runtime, enqueuer) -> None:
    account = _sandbox(runtime)
    post = _schedule(runtime, account["id"], "in five seconds", 5)
    assert post["status"] == "queued"
    assert [t.payload["post_id"] for t in enqueuer.tasks] == [post["id"]]
    assert tick(runtime, [XSource()]).counts["x"]["enqueued"] == 0


def test_dispatch_reads_grow_with_due_posts_only(runtime, clock, settings) -> None:
    counter = FirestoreCounter()
    counted = Runtime(
        settings=settings,
        clock=clock,
        _db=counting_client(settings.project_id, CountingInterceptor(counter)),
        _enqueuer=runtime.enqueuer,
        _secrets=runtime.secrets,
    )
    account = _sandbox(runtime)
    for i in range(30):  # far in the future: never read by this tick
        _schedule(runtime, account["id"], f"future {i}", 3600 + i)
    for i in range(4):
        _schedule(runtime, account["id"], f"due {i}", 200 + i)
    clock.advance(200)
    source = XSource()
    source._last_recovery = float("inf") * -1  # recovery query included: +1 read
    counter.reset()
    counts = source.run(_ctx(counted))
    assert counts["enqueued"] == 4
    assert counter.reads <= 4 + 2  # the due posts, plus one empty recovery query and page end


def _ctx(runtime: Runtime) -> Any:
    from shared.dispatch import DispatchContext

    now = runtime.clock.now()
    horizon = now + timedelta(seconds=runtime.settings.dispatch_lookahead_s)
    return DispatchContext(runtime=runtime, now=now, horizon=horizon)


def test_lost_tasks_are_recovered_and_published_once(runtime, clock, enqueuer) -> None:
    account = _sandbox(runtime)
    _schedule(runtime, account["id"], "the emulator restarted", 30)
    enqueuer.tasks.clear()  # the Cloud Tasks emulator lost it
    clock.advance(30 + 60)
    assert recover(runtime, clock.now()) == 0  # not yet "well past"
    clock.advance(120)
    assert recover(runtime, clock.now()) == 1
    assert recover(runtime, clock.now()) == 0  # next_at moved: not recovered again at once
    payload = enqueuer.tasks[-1].payload
    assert worker.handle(runtime, payload)["result"] == "published"
    assert worker.handle(runtime, payload)["result"] == "noop"
    records = list(runtime.db.collection(SANDBOX_POSTS).stream())
    assert [r.get("text") for r in records] == ["the emulator restarted"]


def test_stale_claim_of_a_dead_worker_goes_to_reconciliation(
    runtime, clock, enqueuer, monkeypatch
) -> None:
    from shared.claims import try_claim
    from tests.x.conftest import add_x_account

    account = add_x_account(runtime)
    post = _schedule(runtime, account.id, "worker died mid-call", 5)
    clock.advance(5)
    # A worker claimed part 0 and died before recording X's answer.
    try_claim(runtime.db, f"xp:{post['id']}:0:0", owner="dead", now=clock.now())
    clock.advance(worker.CLAIM_STALE.total_seconds() + 1)
    assert recover(runtime, clock.now()) == 1
    result = worker.handle(runtime, enqueuer.tasks[-1].payload)
    assert result["result"] == "unconfirmed"
    assert enqueuer.tasks[-1].payload["action"] == "reconcile"


def test_cancelled_and_rescheduled_posts_make_old_tasks_stale(runtime, clock, enqueuer) -> None:
    account = _sandbox(runtime)
    post = _schedule(runtime, account["id"], "moved", 10)
    old = dict(enqueuer.tasks[-1].payload)
    service.reschedule_post(runtime, "ws1", post["id"], clock.now() + timedelta(seconds=40))
    clock.advance(10)
    assert worker.handle(runtime, old)["result"] == "stale"
    new = enqueuer.tasks[-1]
    assert new.schedule_time == clock.now() + timedelta(seconds=30)
    service.cancel_post(runtime, "ws1", post["id"])
    assert worker.handle(runtime, dict(new.payload))["result"] == "noop"
    assert list(runtime.db.collection(SANDBOX_POSTS).stream()) == []


def test_cost_per_published_post(settings, clock, enqueuer) -> None:
    """≤4 document reads and ≤4 writes per published post across dispatch and worker."""
    counter = FirestoreCounter()
    db = counting_client(settings.project_id, CountingInterceptor(counter))
    from shared.secrets import Secrets

    runtime = Runtime(
        settings=settings, clock=clock, _db=db, _enqueuer=enqueuer, _secrets=Secrets(settings)
    )
    account = _sandbox(runtime)
    n = 20
    for i in range(n):
        _schedule(runtime, account["id"], f"post number {i}", 600 + i)
    clock.advance(600 - 60)
    source = XSource()
    source._last_recovery = 0.0
    counter.reset()
    source.run(_ctx(runtime))
    for task in list(enqueuer.tasks):
        clock.set(task.schedule_time)
        assert worker.handle(runtime, dict(task.payload))["result"] == "published"
    print("x cost per post", {k: v / n for k, v in counter.snapshot().items()})
    assert counter.reads / n <= 4 and counter.writes / n <= 4, counter.snapshot()
    assert SOURCE.name == "x"
