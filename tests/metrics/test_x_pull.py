"""X public metrics through tweepy over `responses`: paging, 429, budget, failures."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from shared.clock import FrozenClock
from shared.metrics import budget, schedule, worker, x_daily, x_pull
from shared.runtime import Runtime
from shared.tasks import RecordingEnqueuer
from tests.metrics.conftest import add_account, add_posts

TWEETS = re.compile(r"https://api\.twitter\.com/2/tweets\?.*")


def metrics_for(x_id: str) -> dict[str, int]:
    n = int(x_id)
    return {
        "impression_count": n % 1000 + 100,
        "like_count": n % 7,
        "retweet_count": n % 3,
        "reply_count": 1,
        "quote_count": 0,
        "bookmark_count": n % 2,
    }


def tweets_answer(request: Any, missing: set[str] = frozenset()) -> tuple[int, dict, str]:  # type: ignore[assignment]
    import json

    ids = parse_qs(urlparse(request.url).query)["ids"][0].split(",")
    body: dict[str, Any] = {
        "data": [
            {"id": i, "text": "t", "public_metrics": metrics_for(i)}
            for i in ids
            if i not in missing
        ]
    }
    errors = [
        {"resource_type": "tweet", "resource_id": i, "title": "Not Found Error"}
        for i in ids
        if i in missing
    ]
    if errors:
        body["errors"] = errors
    return 200, {"x-rate-limit-remaining": "800"}, json.dumps(body)


def payload(ws: str, account: str, ids: list[str], slot: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "action": "x_pull",
        "workspace_id": ws,
        "account_id": account,
        "post_ids": ids,
        "slot": slot.isoformat(),
        **extra,
    }


def snapshots(runtime: Runtime) -> list[dict[str, Any]]:
    return [d.to_dict() for d in runtime.db.collection("post_metrics_snapshots").stream()]


def post(runtime: Runtime, pid: str) -> dict[str, Any]:
    return runtime.db.collection("posts").document(pid).get().to_dict()


def test_150_posts_take_two_requests_and_store_snapshots(
    runtime: Runtime, ws: str, enqueuer: RecordingEnqueuer
) -> None:
    now = runtime.clock.now()
    add_account(runtime, ws)
    ids = add_posts(runtime, ws, "acct1", 150, now - timedelta(hours=3, minutes=10))
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, TWEETS, callback=tweets_answer)
        result = x_pull.pull(runtime, payload(ws, "acct1", ids, now))
        sizes = [
            len(parse_qs(urlparse(c.request.url).query)["ids"][0].split(",")) for c in rsps.calls
        ]
        # OAuth 1.0a user context, public_metrics asked for.
        first = rsps.calls[0].request
        assert first.headers["Authorization"].startswith("OAuth ")
        assert "public_metrics" in parse_qs(urlparse(first.url).query)["tweet.fields"][0]
    assert sizes == [100, 50]
    assert result["read"] == 150 and result["snapshots"] == 150
    snaps = snapshots(runtime)
    assert len(snaps) == 150
    p = post(runtime, "p0007")
    expected = metrics_for("10007")
    assert p["metrics_impressions"] == expected["impression_count"]
    assert p["metrics_likes"] == expected["like_count"]
    assert p["metrics_reposts"] == expected["retweet_count"]
    assert p["metrics_engagements"] == sum(
        expected[k]
        for k in ("like_count", "retweet_count", "reply_count", "quote_count", "bookmark_count")
    )
    # Hourly on the first day: published 3h10 ago -> next at +4 h.
    assert p["next_metrics_at"] == p["published_at"] + timedelta(hours=4)
    assert budget.usage(runtime, ws)["used"] == 150
    # The day rollup of the publication day sums the latest counters: recomputed by one
    # task at the end of the pull's window, not by the pull.
    assert not runtime.db.collection("metrics_daily").document(f"{ws}_2026-01-05").get().exists
    (task,) = [t for t in enqueuer.of_kind("metrics") if t.payload["action"] == "x_day"]
    assert task.payload == {"action": "x_day", "workspace_id": ws, "day": "2026-01-05"}
    assert now < task.schedule_time <= now + x_daily.REFRESH_EVERY
    worker.handle(runtime, task.payload)
    day = runtime.db.collection("metrics_daily").document(f"{ws}_2026-01-05").get().to_dict()
    assert day["x_posts"] == 150
    assert day["x_impressions"] == sum(
        metrics_for(str(10_000 + i))["impression_count"] for i in range(150)
    )


def test_429_keeps_the_answered_page_and_defers_the_rest_to_the_reset(
    runtime: Runtime, ws: str, clock: FrozenClock, enqueuer: RecordingEnqueuer
) -> None:
    now = clock.now()
    add_account(runtime, ws)
    ids = add_posts(runtime, ws, "acct1", 150, now - timedelta(hours=2))
    reset_at = now + timedelta(minutes=7)
    calls = {"n": 0}

    def answer(request: Any) -> tuple[int, dict, str]:
        calls["n"] += 1
        if calls["n"] == 2:
            headers = {
                "x-rate-limit-reset": str(int(reset_at.timestamp())),
                "x-rate-limit-remaining": "0",
            }
            return 429, headers, '{"title": "Too Many Requests"}'
        return tweets_answer(request)

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, TWEETS, callback=answer)
        result = x_pull.pull(runtime, payload(ws, "acct1", ids, now))
        assert len(rsps.calls) == 2
    assert result["snapshots"] == 100 and result["deferred"] == 50
    assert len(snapshots(runtime)) == 100
    # Re-enqueued for the reset instant (+1 s), only the 50 unread posts, no retry spent
    # (besides the pull, the day rollup's task: see x_daily).
    (task,) = [t for t in enqueuer.of_kind("metrics") if t.payload["action"] == "x_pull"]
    assert task.schedule_time == reset_at + timedelta(seconds=1)
    assert sorted(task.payload["post_ids"]) == ids[100:]
    assert task.payload["attempt"] == 0 and task.payload["hop"] == 1
    # The 50 unbilled reads are given back.
    assert budget.usage(runtime, ws)["used"] == 100

    # Delivered before the reset (Cloud Tasks may run it early): no request, deferred again.
    with responses.RequestsMock() as rsps:
        early = x_pull.pull(runtime, task.payload)
        assert len(rsps.calls) == 0
    assert early["deferred"] == 50
    again = enqueuer.tasks[-1]
    assert again.payload["hop"] == 2 and again.schedule_time == reset_at + timedelta(seconds=1)

    clock.set(reset_at + timedelta(seconds=2))
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, TWEETS, callback=tweets_answer)
        later = x_pull.pull(runtime, again.payload)
        assert len(rsps.calls) == 1
    assert later["snapshots"] == 50
    assert len(snapshots(runtime)) == 150
    assert all(post(runtime, pid)["metrics_status"] == "active" for pid in ids)


def test_429_without_reset_header_waits_one_window(
    runtime: Runtime, ws: str, clock: FrozenClock, enqueuer: RecordingEnqueuer
) -> None:
    now = clock.now()
    add_account(runtime, ws)
    ids = add_posts(runtime, ws, "acct1", 3, now - timedelta(hours=2))
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, TWEETS, status=429, json={"title": "Too Many Requests"})
        result = x_pull.pull(runtime, payload(ws, "acct1", ids, now))
    assert result["deferred"] == 3
    assert enqueuer.tasks[-1].schedule_time == now + timedelta(minutes=15)


def test_a_repeated_delivery_reads_nothing_twice(runtime: Runtime, ws: str) -> None:
    now = runtime.clock.now()
    add_account(runtime, ws)
    ids = add_posts(runtime, ws, "acct1", 5, now - timedelta(hours=2))
    body = payload(ws, "acct1", ids, now)
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, TWEETS, callback=tweets_answer)
        assert x_pull.pull(runtime, body)["snapshots"] == 5
        assert x_pull.pull(runtime, body) == {"duplicate": True}
        assert len(rsps.calls) == 1


def test_read_budget_stops_and_records(runtime: Runtime, ws: str) -> None:
    now = runtime.clock.now()
    runtime.db.collection("workspaces").document(ws).update({"metrics_read_budget": 120})
    add_account(runtime, ws)
    ids = add_posts(runtime, ws, "acct1", 150, now - timedelta(hours=2))
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, TWEETS, callback=tweets_answer)
        result = x_pull.pull(runtime, payload(ws, "acct1", ids, now))
        sizes = [
            len(parse_qs(urlparse(c.request.url).query)["ids"][0].split(",")) for c in rsps.calls
        ]
    assert sizes == [100, 20]
    assert result["snapshots"] == 120 and result["budget_exhausted"] == 30
    stopped = [post(runtime, pid) for pid in ids[120:]]
    assert {p["metrics_status"] for p in stopped} == {"budget_exhausted"}
    assert {p["next_metrics_at"] for p in stopped} == {datetime(2026, 2, 1, tzinfo=UTC)}
    assert "budget" in stopped[0]["metrics_error"]["reason"]
    usage = budget.usage(runtime, ws)
    assert usage["used"] == 120 and usage["exhausted_at"] == now
    # Spent: the next pull makes no request at all.
    more = add_posts(runtime, ws, "acct1", 2, now - timedelta(hours=2), prefix="q")
    with responses.RequestsMock() as rsps:
        again = x_pull.pull(runtime, payload(ws, "acct1", more, now + timedelta(minutes=1)))
        assert len(rsps.calls) == 0
    assert again["budget_exhausted"] == 2


def test_deleted_posts_stop_being_read(runtime: Runtime, ws: str) -> None:
    now = runtime.clock.now()
    add_account(runtime, ws)
    ids = add_posts(runtime, ws, "acct1", 3, now - timedelta(hours=2))
    with responses.RequestsMock() as rsps:
        rsps.add_callback(
            responses.GET, TWEETS, callback=lambda r: tweets_answer(r, missing={"10001"})
        )
        result = x_pull.pull(runtime, payload(ws, "acct1", ids, now))
    assert result["snapshots"] == 2 and result["deleted"] == 1
    gone = post(runtime, "p0001")
    assert gone["metrics_status"] == "deleted" and gone["next_metrics_at"] == schedule.NEVER


def test_server_errors_back_off_then_give_up_with_the_reason(
    runtime: Runtime, ws: str, enqueuer: RecordingEnqueuer
) -> None:
    now = runtime.clock.now()
    add_account(runtime, ws)
    ids = add_posts(runtime, ws, "acct1", 2, now - timedelta(hours=2))
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, TWEETS, status=503, json={"title": "Service Unavailable"})
        first = x_pull.pull(runtime, payload(ws, "acct1", ids, now))
        assert first["deferred"] == 2
        assert enqueuer.tasks[-1].payload["attempt"] == 1
        assert enqueuer.tasks[-1].schedule_time == now + timedelta(minutes=1)
        last = x_pull.pull(
            runtime, payload(ws, "acct1", ids, now, attempt=x_pull.MAX_ATTEMPTS - 1, hop=4)
        )
    assert "503" in last["errors"]["failed"]
    p = post(runtime, "p0000")
    assert p["metrics_status"] == "error" and "503" in p["metrics_error"]["reason"]
    assert p["next_metrics_at"] == p["published_at"] + timedelta(hours=3)  # the next slot
    assert budget.usage(runtime, ws)["used"] == 0  # nothing billed


def test_revoked_tokens_are_recorded(runtime: Runtime, ws: str) -> None:
    now = runtime.clock.now()
    add_account(runtime, ws)
    ids = add_posts(runtime, ws, "acct1", 1, now - timedelta(hours=2))
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, TWEETS, status=401, json={"title": "Unauthorized"})
        result = x_pull.pull(runtime, payload(ws, "acct1", ids, now))
    assert "401" in result["errors"]["failed"]
    assert "401" in post(runtime, ids[0])["metrics_error"]["reason"]


def test_sandbox_accounts_get_labelled_synthetic_metrics(runtime: Runtime, ws: str) -> None:
    now = runtime.clock.now()
    add_account(runtime, ws, "sand1", sandbox=True)
    ids = add_posts(runtime, ws, "sand1", 3, now - timedelta(hours=5))
    with responses.RequestsMock():  # any HTTP request would fail the test
        result = x_pull.pull(runtime, payload(ws, "sand1", ids, now))
    assert result["snapshots"] == 3
    snaps = snapshots(runtime)
    assert {s["source"] for s in snaps} == {"sandbox-synthetic"}
    assert post(runtime, ids[0])["metrics_source"] == "sandbox-synthetic"
    assert all(s["impressions"] > 0 for s in snaps)


def test_sandbox_accounts_are_refused_outside_sandbox(
    emulators: Any, tmp_path: Any, clock: FrozenClock
) -> None:
    from shared.secrets import Secrets
    from tests.conftest import make_settings

    settings = make_settings(emulators, tmp_path, sandbox=False)
    runtime = Runtime(
        settings=settings, clock=clock, _enqueuer=RecordingEnqueuer(), _secrets=Secrets(settings)
    )
    now = clock.now()
    add_account(runtime, "ws1", "sand1", sandbox=True)
    ids = add_posts(runtime, "ws1", "sand1", 1, now - timedelta(hours=5))
    result = x_pull.pull(runtime, payload("ws1", "sand1", ids, now))
    assert result["error"] == "sandbox_refused"
    assert post(runtime, ids[0])["metrics_status"] == "error"
    assert not snapshots(runtime)


@pytest.mark.parametrize("other", ["ws2"])
def test_posts_of_another_workspace_are_ignored(runtime: Runtime, ws: str, other: str) -> None:
    now = runtime.clock.now()
    add_account(runtime, ws)
    ids = add_posts(runtime, other, "acct1", 2, now - timedelta(hours=2))
    with responses.RequestsMock() as rsps:
        result = x_pull.pull(runtime, payload(ws, "acct1", ids, now))
        assert len(rsps.calls) == 0
    assert not result.get("snapshots")


def test_a_revoked_account_is_not_called(runtime: Runtime, ws: str) -> None:
    now = runtime.clock.now()
    add_account(runtime, ws)
    runtime.db.collection("x_accounts").document("acct1").update({"status": "revoked"})
    ids = add_posts(runtime, ws, "acct1", 2, now - timedelta(hours=2))
    with responses.RequestsMock() as rsps:
        assert x_pull.pull(runtime, payload(ws, "acct1", ids, now))["error"] == "account_unusable"
        assert len(rsps.calls) == 0
    p = post(runtime, ids[0])
    assert "revoked" in p["metrics_error"]["reason"]
    assert p["next_metrics_at"] == p["published_at"] + timedelta(hours=3)
