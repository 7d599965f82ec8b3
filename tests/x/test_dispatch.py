"""The X dispatch source: due posts enqueued once at their instant; lost tasks recovered."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.dispatch import tick
from shared.firestore import counting_client
from shared.firestore_stats import CountingInterceptor, FirestoreCounter
from shared.runtime import Runtime
from shared.x import service, worker
from shared.x.dispatch import XSource, recover
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
    source._last_recovery = 0.0  # the 30 s pass runs too: recovery and series queries
    counter.reset()
    counts = source.run(_ctx(counted))
    assert counts["enqueued"] == 4
    assert counter.reads <= 4 + 2  # the 4 due posts; the two empty queries bill one each


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
    recorded = [r.to_dict() for r in runtime.db.collection(SANDBOX_POSTS).stream()]
    assert [r for r in recorded if not r.get("withdrawn")] == []


@pytest.mark.parametrize("lead_s", [600, 30], ids=["via-dispatch", "enqueued-at-scheduling"])
def test_cost_per_published_post(settings, clock, enqueuer, lead_s) -> None:
    """≤4 document reads and ≤4 writes per published post: scheduling, dispatch, worker."""
    counter = FirestoreCounter()
    db = counting_client(settings.project_id, CountingInterceptor(counter))
    from shared.secrets import Secrets

    runtime = Runtime(
        settings=settings, clock=clock, _db=db, _enqueuer=enqueuer, _secrets=Secrets(settings)
    )
    account = _sandbox(runtime)
    n = 20
    drafts = [
        service.create_post(runtime, "ws1", account_id=account["id"], text=f"post number {i}")
        for i in range(n)
    ]
    counter.reset()  # authoring is not the publishing path; scheduling is
    for i, draft in enumerate(drafts):
        due = clock.now() + timedelta(seconds=lead_s + i)
        service.schedule_post(runtime, "ws1", draft["id"], due_at=due)
    clock.advance(lead_s - 60)
    source = XSource()
    source._last_recovery = 0.0
    source.run(_ctx(runtime))
    assert len(enqueuer.tasks) == n
    for task in list(enqueuer.tasks):
        clock.set(task.schedule_time)
        assert worker.handle(runtime, dict(task.payload))["result"] == "published"
    per_post = {k: round(v / n, 2) for k, v in counter.snapshot().items()}
    print("x cost per post", lead_s, per_post)
    # Per post: schedule (post + duplicate query, 1 write), dispatch (1 read, 1 write),
    # worker (post read, sandbox record, post write). Per tick, not per post: the
    # due-post, recovery and series queries bill one read each even when empty.
    per_tick = 3
    assert counter.reads <= 4 * n + per_tick and counter.writes <= 4 * n, per_post


def test_overlapping_ticks_publish_each_post_once(runtime, clock, enqueuer) -> None:
    import threading

    account = _sandbox(runtime)
    for i in range(10):
        _schedule(runtime, account["id"], f"overlap {i}", 300 + i)
    clock.advance(300 - 60)
    source = XSource()
    source._last_recovery = float("inf")
    threads = [threading.Thread(target=source.run, args=(_ctx(runtime),)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # The update-time precondition lets one tick win each post: one task per post.
    assert sorted(t.payload["post_id"] for t in enqueuer.tasks) == sorted(
        d.id for d in runtime.db.collection(POSTS).stream()
    )
    for task in list(enqueuer.tasks):
        clock.set(max(clock.now(), task.schedule_time))
        worker.handle(runtime, dict(task.payload))
    texts = sorted(r.get("text") for r in runtime.db.collection(SANDBOX_POSTS).stream())
    assert texts == sorted(f"overlap {i}" for i in range(10))
    statuses = {d.get("status") for d in runtime.db.collection(POSTS).stream()}
    assert statuses == {"published"}


def test_overdue_posts_are_enqueued_once_even_when_recovery_runs(runtime, clock, enqueuer) -> None:
    """After an outage, posts overdue by more than the recovery grace are enqueued by the
    tick, and the same tick's recovery sweep must not take them for lost tasks (found by
    the dispatcher-scale benchmark: 3,571 tasks for 2,000 due posts)."""
    account = _sandbox(runtime)
    posts = [_schedule(runtime, account["id"], f"overdue {i}", 600) for i in range(3)]
    assert enqueuer.tasks == []
    clock.advance(600 + 15 * 60)  # fifteen minutes past due: no tick ran meanwhile
    counts = tick(runtime, [XSource()]).counts["x"]
    assert counts["enqueued"] == 3 and counts["recovered"] == 0
    assert sorted(t.payload["post_id"] for t in enqueuer.of_kind("tweets")) == sorted(
        p["id"] for p in posts
    )
    for task in enqueuer.of_kind("tweets"):
        assert task.schedule_time is None  # due already: runs at once


def test_dead_workers_post_is_found_from_its_claim_time(runtime, clock, enqueuer) -> None:
    """The part went out just after the dead worker's claim, minutes before the loss was
    noticed: reconciliation must look from the claim (full chaos run: posted twice)."""
    from datetime import datetime

    from shared.channels.outcomes import Created, RateInfo
    from shared.claims import try_claim
    from tests.x.conftest import add_x_account

    account = add_x_account(runtime)
    post = _schedule(runtime, account.id, "worker died after sending", 5)
    clock.advance(5)
    sent_at = clock.now()
    try_claim(runtime.db, f"xp:{post['id']}:0:0", owner="dead", now=sent_at)
    clock.advance(worker.CLAIM_STALE.total_seconds() + 1)

    class Timeline:
        creates = 0

        def upload_media(self, data: bytes, content_type: str) -> str:
            raise AssertionError("no media here")

        def create_post(self, text: str, reply_to: Any, media_ids: Any, key: str) -> Created:
            Timeline.creates += 1
            return Created("dup", RateInfo())

        def recent_posts(self, since: datetime, until: datetime | None = None) -> list[Any]:
            on_x = {"id": "orig", "text": "worker died after sending", "in_reply_to": None}
            return [on_x] if since <= sent_at else []

    assert recover(runtime, clock.now()) == 1
    api = lambda _runtime, _account: Timeline()  # noqa: E731
    assert worker.handle(runtime, enqueuer.tasks[-1].payload, api)["result"] == "unconfirmed"
    clock.advance(worker.RECONCILE_AFTER.total_seconds())
    assert worker.handle(runtime, enqueuer.tasks[-1].payload, api)["result"] == "published"
    stored = runtime.db.collection(POSTS).document(post["id"]).get().to_dict()
    assert stored["x_ids"] == ["orig"] and Timeline.creates == 0


def test_worker_dead_between_requeue_claim_and_update_does_not_wedge_the_post(
    runtime, clock, enqueuer
) -> None:
    """The worker died after claiming the next try but before enqueueing it: every later
    delivery lost that claim and the post stayed queued for good (chaos run: 1 post)."""
    from shared.claims import try_claim
    from tests.x.conftest import add_x_account

    account = add_x_account(runtime)
    post = _schedule(runtime, account.id, "worker died while requeueing", 5)
    clock.advance(5)
    try_claim(runtime.db, f"xp:{post['id']}:0:0", owner="dead", now=clock.now())
    try_claim(runtime.db, f"xq:{post['id']}:1:next", owner="dead", now=clock.now())
    clock.advance(worker.CLAIM_STALE.total_seconds() + 1)
    assert recover(runtime, clock.now()) == 1
    assert worker.handle(runtime, enqueuer.tasks[-1].payload)["result"] == "unconfirmed"
    stored = runtime.db.collection(POSTS).document(post["id"]).get().to_dict()
    assert stored["status"] == "unconfirmed" and stored["try_n"] == 1
    assert enqueuer.tasks[-1].payload["try_n"] == 1
    assert enqueuer.tasks[-1].payload["action"] == "reconcile"


def test_a_live_requeue_claim_is_not_taken_over(runtime, clock, enqueuer) -> None:
    from shared.claims import try_claim
    from shared.x.dispatch import enqueue_publish

    post = _schedule(runtime, _sandbox(runtime)["id"], "requeue in flight", 5)
    try_claim(runtime.db, f"xq:{post['id']}:1:next", owner="alive", now=clock.now())
    clock.advance(30)
    before = len(enqueuer.tasks)
    assert not enqueue_publish(
        runtime, post["id"], "ws1", try_n=1, at=clock.now(), reason="retry", once_per_try=True
    )
    assert len(enqueuer.tasks) == before
    clock.advance(120)
    assert enqueue_publish(
        runtime, post["id"], "ws1", try_n=1, at=clock.now(), reason="retry", once_per_try=True
    )
    # A second caller noticing the same dead holder does not enqueue again.
    assert not enqueue_publish(
        runtime, post["id"], "ws1", try_n=1, at=clock.now(), reason="retry", once_per_try=True
    )
    assert len(enqueuer.tasks) == before + 1


def test_worker_dead_between_failure_claim_and_update_still_fails_the_post(
    runtime, clock, enqueuer
) -> None:
    from shared.claims import try_claim
    from shared.x.models import X_ACCOUNTS
    from tests.x.conftest import add_x_account

    account = add_x_account(runtime)
    post = _schedule(runtime, account.id, "worker died while failing", 5)
    clock.advance(5)
    try_claim(runtime.db, f"xfail:{post['id']}:0", owner="dead", now=clock.now())
    runtime.db.collection(X_ACCOUNTS).document(account.id).update({"status": "revoked"})
    from shared.x import cache

    cache.invalidate(runtime, account.id)
    payload = enqueuer.tasks[-1].payload
    assert worker.handle(runtime, payload)["result"] == "in_progress"  # holder may be alive
    clock.advance(180)
    assert worker.handle(runtime, payload)["result"] == "failed"
    stored = runtime.db.collection(POSTS).document(post["id"]).get().to_dict()
    assert stored["status"] == "failed" and "revoked" in stored["last_error"]["reason"]


def test_recovery_with_an_old_snapshot_does_not_undo_unconfirmed(
    runtime, clock, enqueuer, monkeypatch, x_api
) -> None:
    """Recovery read the post (queued, try 0) just before the worker lost X's answer and
    moved it to unconfirmed (try 1); recovery's write then set it back to queued, and a
    publish task for try 1 posted it a second time (full chaos run)."""
    import requests
    import responses

    from shared.x import dispatch
    from tests.x.conftest import TWEETS, add_x_account, create_calls, created_reply

    account = add_x_account(runtime)
    post = _schedule(runtime, account.id, "answer lost under recovery", 5)
    clock.advance(5)
    ref = runtime.db.collection(POSTS).document(post["id"])
    old_snapshot = ref.get()
    x_api.add(
        responses.POST,
        TWEETS,
        body=requests.exceptions.ConnectionError("('Connection aborted.', RemoteDisconnected())"),
    )
    assert worker.handle(runtime, enqueuer.tasks[-1].payload)["result"] == "unconfirmed"
    monkeypatch.setattr(dispatch, "_due", lambda *_args: iter([[old_snapshot]]))
    clock.advance(300)
    assert recover(runtime, clock.now()) == 1
    stored = ref.get().to_dict()
    assert stored["status"] == "unconfirmed" and stored["try_n"] == 1
    # Whatever task comes for the new try, X is read before anything is posted again.
    x_api.add(responses.POST, TWEETS, **created_reply("9999"))
    timeline = f"https://api.twitter.com/2/users/{account.x_user_id}/tweets"
    x_api.add(
        responses.GET,
        timeline,
        json={"data": [{"id": "9001", "text": "answer lost under recovery"}]},
    )
    publish = {**enqueuer.tasks[-1].payload, "try_n": 1, "action": "publish"}
    assert worker.handle(runtime, publish)["result"] == "published"
    assert len(create_calls(x_api)) == 1
    assert ref.get().to_dict()["x_ids"] == ["9001"]


def _due_snapshots(runtime: Runtime) -> list[Any]:
    """The due posts as this tick's query hands them to the writes."""
    from shared.x.dispatch import DUE_FIELDS, _due

    horizon = runtime.clock.now() + timedelta(seconds=runtime.settings.dispatch_lookahead_s)
    pages = _due(runtime, ["scheduled"], horizon, fields=DUE_FIELDS)
    return [snap for page in pages for snap in page]


def test_one_batch_enqueues_only_the_posts_whose_guard_holds(runtime, clock, enqueuer) -> None:
    """The due posts' moves go in one BatchWrite: a move whose precondition fails (the
    post was moved, edited or deleted since the query) costs the others nothing."""
    from concurrent.futures import ThreadPoolExecutor

    from shared.x.dispatch import dispatch_posts

    account = _sandbox(runtime)
    posts = [_schedule(runtime, account["id"], f"batched {i}", 300 + i) for i in range(5)]
    clock.advance(300 - 60)
    snaps = _due_snapshots(runtime)
    assert [s.id for s in snaps] == [p["id"] for p in posts]
    ref = runtime.db.collection(POSTS).document
    ref(posts[0]["id"]).update({"status": "queued"})  # an overlapping tick won it
    ref(posts[1]["id"]).update({"text": "edited meanwhile"})  # the author edited it
    ref(posts[2]["id"]).delete()
    with ThreadPoolExecutor(4) as pool:
        counts, tasks = dispatch_posts(runtime, snaps, pool)
        outcomes = [t.result() for t in tasks]
    assert dict(counts) == {"skipped": 3} and outcomes == ["enqueued", "enqueued"]
    assert sorted(t.payload["post_id"] for t in enqueuer.tasks) == sorted(
        p["id"] for p in posts[3:]
    )
    statuses = [ref(p["id"]).get().get("status") for p in posts[1:2] + posts[3:]]
    assert statuses == ["scheduled", "queued", "queued"]
    # The edited post is still due: the next tick moves it.
    assert tick(runtime, [XSource()]).counts["x"]["enqueued"] == 1
    assert enqueuer.tasks[-1].payload["post_id"] == posts[1]["id"]


class _FailingFor:
    """An enqueuer whose create_task fails for some posts (Cloud Tasks unavailable)."""

    def __init__(self, inner: Any, post_ids: set[str], before_failing: Any = None) -> None:
        self.inner, self.post_ids, self.before_failing = inner, post_ids, before_failing

    def enqueue(self, spec: Any) -> str:
        post_id = spec.payload["post_id"]
        if post_id in self.post_ids:
            if self.before_failing is not None:
                self.before_failing(post_id)
            raise RuntimeError("create_task: 503 service unavailable")
        return str(self.inner.enqueue(spec))


def test_an_enqueue_failure_puts_back_only_its_post(runtime, clock, enqueuer) -> None:
    import dataclasses

    account = _sandbox(runtime)
    posts = [_schedule(runtime, account["id"], f"enqueue {i}", 300 + i) for i in range(4)]
    clock.advance(300 - 60)
    unlucky = posts[2]["id"]
    failing = dataclasses.replace(runtime, _enqueuer=_FailingFor(enqueuer, {unlucky}))
    counts = tick(failing, [XSource()]).counts["x"]
    assert counts["enqueued"] == 3 and counts["failed"] == 1
    status = {
        p["id"]: runtime.db.collection(POSTS).document(p["id"]).get().get("status") for p in posts
    }
    assert status == {p["id"]: "scheduled" if p["id"] == unlucky else "queued" for p in posts}
    assert unlucky not in {t.payload["post_id"] for t in enqueuer.tasks}
    # Cloud Tasks is back: the next tick enqueues it, and only it.
    assert tick(runtime, [XSource()]).counts["x"]["enqueued"] == 1
    assert [t.payload["post_id"] for t in enqueuer.tasks].count(unlucky) == 1


def test_a_failed_enqueue_does_not_undo_a_cancel_made_meanwhile(runtime, clock, enqueuer) -> None:
    """The put-back is guarded by the tick's own update: a post the author cancelled
    while its task was being created stays cancelled (an unguarded put-back made it
    scheduled again, and the next tick published a cancelled post)."""
    import dataclasses

    account = _sandbox(runtime)
    post = _schedule(runtime, account["id"], "cancelled in flight", 300)
    clock.advance(300 - 60)

    def cancel(post_id: str) -> None:
        service.cancel_post(runtime, "ws1", post_id)

    failing = dataclasses.replace(runtime, _enqueuer=_FailingFor(enqueuer, {post["id"]}, cancel))
    assert tick(failing, [XSource()]).counts["x"]["failed"] == 1
    assert runtime.db.collection(POSTS).document(post["id"]).get().get("status") == "cancelled"
    assert tick(runtime, [XSource()]).counts["x"]["enqueued"] == 0
    assert enqueuer.tasks == []
