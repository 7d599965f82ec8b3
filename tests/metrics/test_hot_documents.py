"""No metrics document takes a write per concurrent pull.

The metrics queue runs up to `rate` pulls a second (infra/queues.tf), in a large fan-out
mostly of one workspace; a Firestore document sustains about one write a second. Pulls
run here side by side on threads against the emulator, and every write is counted per
document (tests/writecount.py)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from shared.clock import FrozenClock
from shared.metrics import budget, worker, x_daily, x_pull
from shared.runtime import Runtime
from shared.tasks import RecordingEnqueuer, TaskSpec
from tests.infra import hcl
from tests.metrics.conftest import add_account, add_posts
from tests.writecount import WriteCounter

PULLS = 32


class CountingEnqueuer(RecordingEnqueuer):
    """Records every enqueue call, as Cloud Tasks sees create_task calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[TaskSpec] = []

    def enqueue(self, spec: TaskSpec) -> str:
        with self._lock:
            self.calls.append(spec)
        return super().enqueue(spec)


@pytest.fixture
def enqueuer() -> CountingEnqueuer:
    return CountingEnqueuer()


def _pull_body(ws: str, account: str, ids: list[str], clock: FrozenClock) -> dict:
    return {"workspace_id": ws, "account_id": account, "post_ids": ids,
            "slot": clock.now().isoformat()}  # fmt: skip


def test_concurrent_reservations_spread_over_the_budget_shards(runtime: Runtime, ws: str) -> None:
    keys = [f"mxpull:acct{i % 4}:20260105T1000Z:{i:04x}:0" for i in range(PULLS)]
    with WriteCounter(runtime.db) as writes, ThreadPoolExecutor(8) as pool:
        granted = list(pool.map(lambda k: budget.reserve(runtime, ws, 100, key=k).granted, keys))
    per_doc = writes.of("metrics_budgets")
    assert sum(per_doc.values()) == PULLS  # one write per reservation, none lost
    # Unsharded, one document took all PULLS writes; spread, each takes about 1/SHARDS.
    assert len(per_doc) == budget.SHARDS
    assert max(per_doc.values()) <= 2 * PULLS // budget.SHARDS, per_doc
    assert budget.usage(runtime, ws)["used"] == sum(granted) == PULLS * 100


def test_a_refund_goes_back_to_the_shard_and_month_reserved(
    runtime: Runtime, ws: str, clock: FrozenClock
) -> None:
    clock.set(clock.now().replace(day=31, hour=23, minute=59))
    held = budget.reserve(runtime, ws, 100, key="pull-a")
    clock.advance(minutes=2)  # the answer comes in the next month
    budget.refund(runtime, ws, held, 60)
    month = budget.shard_ref(runtime.db, ws, held.period, held.shard).get().to_dict()
    assert month["reads_used"] == 40 and budget.usage(runtime, ws)["used"] == 0


def test_shards_keep_each_budget_document_under_a_write_a_second() -> None:
    rate = hcl.queues()["metrics"]["max_dispatches_per_second"]
    assert rate / budget.SHARDS < 1, f"{rate} pulls/s over {budget.SHARDS} shards"


def test_concurrent_pulls_of_one_day_rewrite_its_rollup_once_per_window(
    runtime: Runtime, ws: str, clock: FrozenClock, enqueuer: CountingEnqueuer
) -> None:
    add_account(runtime, ws, "sand1", sandbox=True)
    published = clock.now() - timedelta(hours=3)
    groups = [
        add_posts(runtime, ws, "sand1", 5, published, prefix=f"g{g:02d}-") for g in range(PULLS)
    ]
    with WriteCounter(runtime.db) as writes, ThreadPoolExecutor(8) as pool:
        list(
            pool.map(lambda ids: x_pull.pull(runtime, _pull_body(ws, "sand1", ids, clock)), groups)
        )
    # The pulls wrote their posts and snapshots, and not the day's rollup even once...
    assert writes.of("posts") and not writes.of("metrics_daily")
    days = [t for t in enqueuer.calls if t.payload["action"] == "x_day"]
    assert len(days) == PULLS  # each pull asks for the day's refresh...
    assert len({t.task_id for t in days}) == 1  # ...under the window's one task name
    (task,) = [t for t in enqueuer.tasks if t.payload["action"] == "x_day"]
    assert task.schedule_time == x_daily.window_end(clock.now())
    with WriteCounter(runtime.db) as writes:
        worker.handle(runtime, task.payload)
    assert list(writes.of("metrics_daily").values()) == [1]
    day = runtime.db.collection("metrics_daily").document(f"{ws}_{published.date()}").get()
    assert day.get("x_posts") == 5 * PULLS  # every pull's posts, read after all of them

    # The next window's pulls get the next window's task: one rollup write per window.
    clock.advance(seconds=int(x_daily.REFRESH_EVERY.total_seconds()))
    late = add_posts(runtime, ws, "sand1", 5, published, prefix="late-")
    x_pull.pull(runtime, _pull_body(ws, "sand1", late, clock))
    names = {t.task_id for t in enqueuer.calls if t.payload["action"] == "x_day"}
    assert len(names) == 2
