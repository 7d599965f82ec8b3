"""post_tweet through tweepy over `responses`: every outcome X can give."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import responses

from shared.errors import Conflict
from shared.runtime import Runtime
from shared.x import service, worker
from shared.x.models import POSTS, X_ACCOUNTS
from tests.x.conftest import (
    MEDIA,
    TWEETS,
    add_x_account,
    create_calls,
    created_reply,
    deliver_concurrently,
    oauth1_signed,
    scheduled_post,
    task_payload,
    tweet_bodies,
)


def _doc(runtime: Runtime, collection: str, doc_id: str) -> dict[str, Any]:
    return runtime.db.collection(collection).document(doc_id).get().to_dict()


def _alerts(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if '"alert"' in line]


def _deliver(runtime: Runtime, clock: Any, post_id: str) -> dict[str, Any]:
    """Deliver the post's latest task at its schedule time, as Cloud Tasks would."""
    payload = task_payload(runtime, post_id)
    spec = [t for t in runtime.enqueuer.tasks if t.payload == payload][-1]  # type: ignore[attr-defined]
    if spec.schedule_time and spec.schedule_time > clock.now():
        clock.set(spec.schedule_time)
    return worker.handle(runtime, payload)


def test_happy_path_posts_once_with_user_auth(runtime, clock, x_api) -> None:
    account = add_x_account(runtime)
    post = scheduled_post(runtime, account.id, due_in=20)
    x_api.add(responses.POST, TWEETS, **created_reply("1001"))
    result = _deliver(runtime, clock, post["id"])
    assert result["result"] == "published"
    calls = create_calls(x_api)
    assert len(calls) == 1 and oauth1_signed(calls[0])
    assert tweet_bodies(x_api) == [{"text": "Herald ships at the exact second."}]
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["status"] == "published" and stored["x_ids"] == ["1001"]
    assert stored["published_at"] >= stored["due_at"]
    assert stored["estimated_cost_usd"] > 0
    # A second delivery of the same task after publishing does nothing.
    assert worker.handle(runtime, task_payload(runtime, post["id"]))["result"] == "noop"
    assert len(create_calls(x_api)) == 1


def test_thread_resumes_at_first_unposted_part(runtime, clock, x_api) -> None:
    account = add_x_account(runtime)
    post = scheduled_post(
        runtime, account.id, text="1/3 Threads", parts=["2/3 resume", "3/3 done"], due_in=5
    )
    x_api.add(responses.POST, TWEETS, **created_reply("2001"))
    x_api.add(responses.POST, TWEETS, status=503, json={"title": "Service Unavailable"})
    first = _deliver(runtime, clock, post["id"])
    assert first["result"] == "requeued" and first["reason"] == "retry"
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["status"] == "publishing" and stored["x_ids"] == ["2001"]
    assert stored["retries"] == 1 and stored["last_error"]["code"] == 503
    assert stored["attempts"] == 2  # X received both parts' requests
    x_api.add(responses.POST, TWEETS, **created_reply("2002"))
    x_api.add(responses.POST, TWEETS, **created_reply("2003"))
    second = _deliver(runtime, clock, post["id"])
    assert second["result"] == "published"
    bodies = tweet_bodies(x_api)
    assert [b["text"] for b in bodies] == ["1/3 Threads", "2/3 resume", "2/3 resume", "3/3 done"]
    assert bodies[1]["reply"] == {"in_reply_to_tweet_id": "2001"}
    assert bodies[2]["reply"] == {"in_reply_to_tweet_id": "2001"}
    assert bodies[3]["reply"] == {"in_reply_to_tweet_id": "2002"}
    assert _doc(runtime, POSTS, post["id"])["x_ids"] == ["2001", "2002", "2003"]


def test_a_focal_point_set_for_mastodon_does_not_stop_the_x_post(runtime, clock, x_api) -> None:
    """A post group's media carry one focal point for every channel; X has none to set,
    and its post goes out all the same (it raised TypeError: a 500 retried to the end)."""
    from shared import media
    from shared.x.client import TweepyX
    from tests.images import png

    account = add_x_account(runtime)
    image = media.put(runtime, "ws1", png())["id"]
    post = scheduled_post(
        runtime, account.id, media=[image], media_focus=[{"x": 0.5, "y": 0.5}], due_in=5
    )
    x_api.add(responses.POST, f"{MEDIA}/initialize", json={"data": {"id": "m1"}})
    x_api.add(responses.POST, f"{MEDIA}/m1/append", status=204)
    x_api.add(responses.POST, f"{MEDIA}/m1/finalize", json={"data": {"id": "m1"}})
    x_api.add(responses.POST, TWEETS, **created_reply("3002"))

    def api(rt: Runtime, acct: Any) -> Any:
        return TweepyX("ck-test", "cs-test", "at-test", "ats-test", acct.x_user_id)

    payload = task_payload(runtime, post["id"])
    clock.advance(5)
    assert worker.handle(runtime, payload, api_factory=api)["result"] == "published"
    assert tweet_bodies(x_api)[0]["media"]["media_ids"] == ["m1"]


def test_media_upload_flow_then_post(runtime, clock, x_api) -> None:
    from shared import media

    account = add_x_account(runtime)
    from tests.images import gif, png

    png_id = media.put(runtime, "ws1", png())["id"]
    gif_id = media.put(runtime, "ws1", gif())["id"]
    post = scheduled_post(runtime, account.id, media=[png_id, gif_id], due_in=5)
    x_api.add(responses.POST, f"{MEDIA}/initialize", json={"data": {"id": "m1"}})
    x_api.add(responses.POST, f"{MEDIA}/initialize", json={"data": {"id": "m2"}})
    for media_id in ("m1", "m2"):
        x_api.add(responses.POST, f"{MEDIA}/{media_id}/append", status=204)
    x_api.add(responses.POST, f"{MEDIA}/m1/finalize", json={"data": {"id": "m1"}})
    x_api.add(
        responses.POST,
        f"{MEDIA}/m2/finalize",
        json={"data": {"id": "m2", "processing_info": {"state": "pending", "check_after_secs": 1}}},
    )
    x_api.add(
        responses.GET,
        MEDIA,
        json={"data": {"id": "m2", "processing_info": {"state": "succeeded"}}},
    )
    x_api.add(responses.POST, TWEETS, **created_reply("3001"))
    slept: list[float] = []

    def api(rt: Runtime, acct: Any) -> Any:
        from shared.x.client import TweepyX

        return TweepyX("ck-test", "cs-test", "at-test", "ats-test", acct.x_user_id, slept.append)

    payload = task_payload(runtime, post["id"])
    clock.advance(5)
    assert worker.handle(runtime, payload, api_factory=api)["result"] == "published"
    urls = [(c.request.method, c.request.url.split("?")[0]) for c in x_api.calls]
    assert urls == [
        ("POST", f"{MEDIA}/initialize"),
        ("POST", f"{MEDIA}/m1/append"),
        ("POST", f"{MEDIA}/m1/finalize"),
        ("POST", f"{MEDIA}/initialize"),
        ("POST", f"{MEDIA}/m2/append"),
        ("POST", f"{MEDIA}/m2/finalize"),
        ("GET", MEDIA),
        ("POST", TWEETS),
    ]
    assert all(oauth1_signed(c) for c in x_api.calls)
    init = json.loads(x_api.calls[0].request.body)
    assert init["media_type"] == "image/png" and init["media_category"] == "tweet_image"
    stored, _ = media.read(runtime, "ws1", png_id)
    assert stored in x_api.calls[1].request.body
    assert "command=STATUS" in x_api.calls[6].request.url and slept == [1.0]
    assert tweet_bodies(x_api)[0]["media"] == {"media_ids": ["m1", "m2"]}


def test_429_waits_for_reset_without_spending_a_retry(runtime, clock, x_api) -> None:
    account = add_x_account(runtime)
    post = scheduled_post(runtime, account.id, due_in=5)
    reset = int((clock.now() + timedelta(minutes=7)).timestamp())
    x_api.add(
        responses.POST,
        TWEETS,
        status=429,
        json={"title": "Too Many Requests"},
        headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)},
    )
    result = _deliver(runtime, clock, post["id"])
    assert result["result"] == "requeued" and result["reason"] == "rate_limited"
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["status"] == "queued" and stored["retries"] == 0
    assert stored["attempts"] == 1  # the 429 is a request X received
    task = runtime.enqueuer.tasks[-1]  # type: ignore[attr-defined]
    assert task.schedule_time >= datetime.fromtimestamp(reset, UTC)
    assert _doc(runtime, X_ACCOUNTS, account.id)["rl_remaining"] == 0
    # Another post of the account is deferred by the governor: X is not asked.
    other = scheduled_post(runtime, account.id, text="another post", due_in=5)
    clock.advance(5)
    deferred = worker.handle(runtime, task_payload(runtime, other["id"]))
    assert deferred["reason"] == "governor" and len(create_calls(x_api)) == 1
    # At the reset instant the first post goes out.
    x_api.add(responses.POST, TWEETS, **created_reply("4001"))
    assert _deliver(runtime, clock, post["id"])["result"] == "published"
    assert _doc(runtime, POSTS, post["id"])["retries"] == 0


def test_governor_defers_before_x_rejects(runtime, clock, x_api) -> None:
    account = add_x_account(runtime, tier="free")  # 17 posts a day
    first = scheduled_post(runtime, account.id, due_in=5)
    reply = created_reply("5001")
    day_reset = int((clock.now() + timedelta(hours=3)).timestamp())
    reply["headers"] |= {
        "x-user-limit-24hour-limit": "17",
        "x-user-limit-24hour-remaining": "0",
        "x-user-limit-24hour-reset": str(day_reset),
    }
    x_api.add(responses.POST, TWEETS, **reply)
    assert _deliver(runtime, clock, first["id"])["result"] == "published"
    assert _doc(runtime, X_ACCOUNTS, account.id)["day_remaining"] == 0
    second = scheduled_post(runtime, account.id, text="over quota", due_in=5)
    result = _deliver(runtime, clock, second["id"])
    assert result["reason"] == "governor" and len(create_calls(x_api)) == 1
    assert result["at"] > datetime.fromtimestamp(day_reset, UTC)


def test_server_error_then_success(runtime, clock, x_api) -> None:
    account = add_x_account(runtime)
    post = scheduled_post(runtime, account.id, due_in=5)
    x_api.add(responses.POST, TWEETS, status=500, json={"title": "Internal Error"})
    x_api.add(
        responses.POST,
        TWEETS,
        body=requests.exceptions.ConnectionError(
            "HTTPSConnectionPool: Max retries exceeded (Caused by NewConnectionError: "
            "Failed to establish a new connection: [Errno 111] Connection refused)"
        ),
    )
    x_api.add(responses.POST, TWEETS, **created_reply("6001"))
    first = _deliver(runtime, clock, post["id"])
    assert first["reason"] == "retry"
    before = clock.now()
    second = _deliver(runtime, clock, post["id"])
    assert second["reason"] == "retry"
    assert clock.now() - before >= timedelta(seconds=5)  # the backoff moved the task out
    assert _deliver(runtime, clock, post["id"])["result"] == "published"
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["retries"] == 2 and stored["x_ids"] == ["6001"]
    assert stored["attempts"] == 2  # the 500 and the 201; the refused connection never left


def test_timeout_goes_unconfirmed_then_reconciles(runtime, clock, x_api, capsys) -> None:
    account = add_x_account(runtime)
    post = scheduled_post(
        runtime, account.id, text="Launch & learn: https://example.com/x", due_in=5
    )
    x_api.add(responses.POST, TWEETS, body=requests.exceptions.ReadTimeout("read timed out"))
    result = _deliver(runtime, clock, post["id"])
    assert result["result"] == "unconfirmed"
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["status"] == "unconfirmed" and stored["unknown_outcome"] is True
    alerts = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"alert"' in line
    ]
    assert [(a["alert"], a["severity"]) for a in alerts] == [("x_post_unconfirmed", "ERROR")]
    timeline = f"https://api.twitter.com/2/users/{account.x_user_id}/tweets"
    x_api.add(
        responses.GET,
        timeline,
        json={"data": [{"id": "7001", "text": "Launch &amp; learn: https://t.co/abc"}]},
    )
    assert _deliver(runtime, clock, post["id"])["result"] == "published"
    assert len(create_calls(x_api)) == 1  # settled by reading, not by posting again
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["status"] == "published" and stored["x_ids"] == ["7001"]


def test_unconfirmed_not_found_retries_and_duplicate_settles(runtime, clock, x_api) -> None:
    account = add_x_account(runtime)
    post = scheduled_post(runtime, account.id, due_in=5)
    x_api.add(
        responses.POST,
        TWEETS,
        body=requests.exceptions.ConnectionError(
            "('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))"
        ),
    )
    assert _deliver(runtime, clock, post["id"])["result"] == "unconfirmed"
    timeline = f"https://api.twitter.com/2/users/{account.x_user_id}/tweets"
    x_api.add(responses.GET, timeline, json={"meta": {"result_count": 0}})
    for _ in range(worker.RECONCILE_TRIES):
        _deliver(runtime, clock, post["id"])
    assert _doc(runtime, POSTS, post["id"])["status"] == "queued"
    x_api.add(
        responses.POST,
        TWEETS,
        status=403,
        json={"detail": "You are not allowed to create a Tweet with duplicate content."},
    )
    assert _deliver(runtime, clock, post["id"])["result"] == "published"
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["status"] == "published" and len(create_calls(x_api)) == 2


def test_duplicate_and_concurrent_delivery_posts_once(runtime, clock, x_api) -> None:
    account = add_x_account(runtime)
    post = scheduled_post(runtime, account.id, due_in=0)
    entered = threading.Event()

    def slow_create(request: Any) -> tuple[int, dict[str, str], str]:
        entered.set()
        threading.Event().wait(0.3)  # keep the request open while the others arrive
        return 201, {}, json.dumps({"data": {"id": "8001", "text": "x"}})

    x_api.add_callback(responses.POST, TWEETS, callback=slow_create)
    payload = task_payload(runtime, post["id"])
    results = deliver_concurrently(runtime, payload)
    assert len(create_calls(x_api)) == 1
    assert sorted(r["result"] for r in results).count("published") == 1
    assert _doc(runtime, POSTS, post["id"])["x_ids"] == ["8001"]


def test_revoked_token_fails_post_and_flags_account(runtime, clock, x_api, capsys) -> None:
    account = add_x_account(runtime)
    post = scheduled_post(runtime, account.id, due_in=5)
    x_api.add(
        responses.POST, TWEETS, status=401, json={"title": "Unauthorized", "detail": "Unauthorized"}
    )
    result = _deliver(runtime, clock, post["id"])
    assert result["result"] == "failed"
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["status"] == "failed" and stored["last_error"]["code"] == 401
    assert "tokens" in stored["last_error"]["reason"]
    flagged = _doc(runtime, X_ACCOUNTS, account.id)
    assert flagged["status"] == "revoked" and flagged["status_reason"]
    alerts = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"alert"' in line
    ]
    assert [a["alert"] for a in alerts] == ["x_post_failed"]
    # Scheduling on a flagged account is refused with a clear reason.
    draft = service.create_post(runtime, "ws1", account_id=account.id, text="later")
    try:
        service.schedule_post(runtime, "ws1", draft["id"], due_at=clock.now() + timedelta(hours=1))
    except Exception as exc:
        assert "revoked" in str(exc)
    else:
        raise AssertionError("scheduling on a revoked account was accepted")


def test_suspended_account_403(runtime, clock, x_api) -> None:
    account = add_x_account(runtime)
    post = scheduled_post(runtime, account.id, due_in=5)
    x_api.add(
        responses.POST,
        TWEETS,
        status=403,
        json={"detail": "Your account is suspended and is not permitted to access this feature."},
    )
    assert _deliver(runtime, clock, post["id"])["result"] == "failed"
    assert _doc(runtime, X_ACCOUNTS, account.id)["status"] == "suspended"


def test_missing_app_credentials_are_retried_then_fail_with_the_reason(
    runtime, clock, x_api, monkeypatch
) -> None:
    account = add_x_account(runtime)
    post = scheduled_post(runtime, account.id, due_in=5)
    monkeypatch.delenv("HERALD_SECRET_X_CONSUMER_KEY")
    results = [_deliver(runtime, clock, post["id"]) for _ in range(worker.MAX_ATTEMPTS)]
    assert [r["result"] for r in results[:-1]] == ["requeued"] * (worker.MAX_ATTEMPTS - 1)
    assert results[-1]["result"] == "failed" and "x-consumer-key" in results[-1]["reason"]
    assert create_calls(x_api) == []


def test_task_delivered_before_enqueue_returns_is_not_dropped_as_stale(
    runtime, clock, x_api, monkeypatch
) -> None:
    """Cloud Tasks may run a task due now before create_task has answered: the post must
    already be at the task's try, or the task is dropped and the thread waits for
    recovery (minutes)."""
    account = add_x_account(runtime)
    post = scheduled_post(runtime, account.id, text="1/2 first", parts=["2/2 second"], due_in=5)
    x_api.add(responses.POST, TWEETS, body=requests.exceptions.ReadTimeout("read timed out"))
    assert _deliver(runtime, clock, post["id"])["result"] == "unconfirmed"
    timeline = f"https://api.twitter.com/2/users/{account.x_user_id}/tweets"
    x_api.add(responses.GET, timeline, json={"data": [{"id": "8001", "text": "1/2 first"}]})
    x_api.add(responses.POST, TWEETS, **created_reply("8002"))
    recording = runtime.enqueuer
    record = recording.enqueue
    inline: list[dict[str, Any]] = []

    def immediate(spec: Any) -> str:
        """Delivers a task due now from inside enqueue(), as Cloud Tasks can."""
        task_id = record(spec)
        if spec.schedule_time is None:
            inline.append(worker.handle(runtime, dict(spec.payload)))
        return task_id

    monkeypatch.setattr(recording, "enqueue", immediate)
    clock.advance(worker.RECONCILE_AFTER.total_seconds())
    assert worker.handle(runtime, task_payload(runtime, post["id"]))["reason"] == "continue"
    assert [r["result"] for r in inline] == ["published"]
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["status"] == "published" and stored["x_ids"] == ["8001", "8002"]
    assert tweet_bodies(x_api)[-1]["reply"] == {"in_reply_to_tweet_id": "8001"}


def test_a_task_delivered_early_waits_for_the_due_instant(runtime, clock, x_api) -> None:
    """A delivery 0.6 s early published at once, before the due instant."""
    account = add_x_account(runtime)
    post = scheduled_post(runtime, account.id, due_in=20)
    sent_at: list[datetime] = []

    def create(request: Any) -> tuple[int, dict[str, str], str]:
        sent_at.append(clock.now())
        return 201, {}, json.dumps({"data": {"id": "1101", "text": "x"}})

    x_api.add_callback(responses.POST, TWEETS, callback=create)
    clock.set(post["due_at"] - timedelta(seconds=0.6))
    assert worker.handle(runtime, task_payload(runtime, post["id"]))["result"] == "published"
    assert sent_at == [post["due_at"]]
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["published_at"] >= stored["due_at"]
    # Far too early (a clock off by minutes): not held in the request, re-enqueued.
    other = scheduled_post(runtime, account.id, text="much later", due_in=60)
    clock.set(other["due_at"] - timedelta(seconds=40))
    result = worker.handle(runtime, task_payload(runtime, other["id"]))
    assert result["reason"] == "early" and result["at"] == other["due_at"]
    assert len(sent_at) == 1


def test_attempts_count_every_request_x_received(runtime, clock, x_api) -> None:
    """`attempts` said 4 when X had received 5 requests: 429s and lost answers were not
    counted. It counts what was sent; `retries` is the retry budget spent."""
    account = add_x_account(runtime)
    post = scheduled_post(runtime, account.id, due_in=5)
    reset = int((clock.now() + timedelta(minutes=2)).timestamp())
    x_api.add(responses.POST, TWEETS, status=503, json={"title": "Service Unavailable"})
    x_api.add(
        responses.POST,
        TWEETS,
        status=429,
        json={"title": "Too Many Requests"},
        headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)},
    )
    x_api.add(responses.POST, TWEETS, body=requests.exceptions.ReadTimeout("read timed out"))
    x_api.add(
        responses.POST,
        TWEETS,
        body=requests.exceptions.ConnectionError("[Errno 111] Connection refused"),
    )
    x_api.add(responses.POST, TWEETS, **created_reply("1201"))
    timeline = f"https://api.twitter.com/2/users/{account.x_user_id}/tweets"
    x_api.add(responses.GET, timeline, json={"meta": {"result_count": 0}})
    for _ in range(12):
        if _deliver(runtime, clock, post["id"])["result"] == "published":
            break
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["status"] == "published"
    received = len(create_calls(x_api)) - 1  # the refused connection never reached X
    assert received == 4 and stored["attempts"] == received
    assert stored["retries"] == 3  # 503, refused, and the post not found after its lost answer


def test_link_in_first_reply_keeps_urls_out_of_the_main_post(runtime, clock, x_api) -> None:
    account = add_x_account(runtime)
    text = "Our launch post is up: https://example.com/launch — tell us what you think!"
    post = scheduled_post(runtime, account.id, text=text, link_in_reply=True, due_in=5)
    assert post["parts"] == [text]  # as written; what goes out is computed from it
    checked = service.validate_post(runtime, "ws1", post["id"])
    assert checked["outgoing"] == [
        "Our launch post is up: — tell us what you think!",
        "https://example.com/launch",
    ]
    assert checked["cost"]["per_part_usd"] == [0.015, 0.2]
    x_api.add(responses.POST, TWEETS, **created_reply("1301"))
    x_api.add(responses.POST, TWEETS, **created_reply("1302"))
    assert _deliver(runtime, clock, post["id"])["result"] == "published"
    bodies = tweet_bodies(x_api)
    assert bodies[0] == {"text": "Our launch post is up: — tell us what you think!"}
    assert bodies[1] == {
        "text": "https://example.com/launch",
        "reply": {"in_reply_to_tweet_id": "1301"},
    }
    assert _doc(runtime, POSTS, post["id"])["x_ids"] == ["1301", "1302"]
    # A post that is only a link cannot lose it: the main post would be empty.
    bare = service.create_post(
        runtime, "ws1", account_id=account.id, text="https://example.com", link_in_reply=True
    )
    problems = service.validate_post(runtime, "ws1", bare["id"])["problems"]
    assert "main post is empty" in problems[0]["message"]


REPLY_RESTRICTED = (
    "Reply to this conversation is not allowed because you have not been mentioned or "
    "otherwise engaged by the author of the post you are replying to."
)


def test_a_403_on_a_reply_part_holds_the_rest_of_the_thread(runtime, clock, x_api, capsys) -> None:
    account = add_x_account(runtime)
    post = scheduled_post(runtime, account.id, text="1/3 held", parts=["2/3", "3/3"], due_in=5)
    x_api.add(responses.POST, TWEETS, **created_reply("1401"))
    x_api.add(
        responses.POST,
        TWEETS,
        status=403,
        json={"title": "Forbidden", "detail": REPLY_RESTRICTED, "type": "about:blank"},
    )
    result = _deliver(runtime, clock, post["id"])
    assert result["result"] == "held"
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["status"] == "held" and stored["x_ids"] == ["1401"]
    assert stored["last_error"]["code"] == 403
    assert REPLY_RESTRICTED in stored["last_error"]["reason"]
    # Nothing retried: no task beyond the first try's.
    assert all(t.payload["try_n"] == 0 for t in runtime.enqueuer.tasks)  # type: ignore[attr-defined]
    assert [a["alert"] for a in _alerts(capsys.readouterr().out)] == ["x_thread_held"]
    # Not retried blindly: another delivery of the task sends nothing.
    assert worker.handle(runtime, task_payload(runtime, post["id"]))["result"] == "noop"
    assert len(create_calls(x_api)) == 2
    # Held: it cannot be cancelled (part one is on X), the rest can go out on its own.
    with pytest.raises(Conflict, match="already publishing"):
        service.cancel_post(runtime, "ws1", post["id"])
    service.post_rest_separately(runtime, "ws1", post["id"])
    x_api.add(responses.POST, TWEETS, **created_reply("1402"))
    x_api.add(responses.POST, TWEETS, **created_reply("1403"))
    assert _deliver(runtime, clock, post["id"])["result"] == "published"
    bodies = tweet_bodies(x_api)
    assert bodies[2] == {"text": "2/3"} and bodies[3] == {"text": "3/3"}  # no reply field
    stored = _doc(runtime, POSTS, post["id"])
    assert stored["x_ids"] == ["1401", "1402", "1403"] and stored["status"] == "published"


def test_the_rest_of_a_held_thread_can_be_dropped(runtime, clock, x_api) -> None:
    account = add_x_account(runtime)
    post = scheduled_post(runtime, account.id, text="1/2 drop", parts=["2/2"], due_in=5)
    x_api.add(responses.POST, TWEETS, **created_reply("1501"))
    x_api.add(responses.POST, TWEETS, status=403, json={"detail": REPLY_RESTRICTED})
    assert _deliver(runtime, clock, post["id"])["result"] == "held"
    dropped = service.drop_rest(runtime, "ws1", post["id"])
    assert dropped["status"] == "failed" and dropped["x_ids"] == ["1501"]
    assert "1 of 2 parts" in dropped["last_error"]["reason"]
    with pytest.raises(Conflict):
        service.post_rest_separately(runtime, "ws1", post["id"])
    # A 403 on a post that is not a reply is X refusing it: failed, as before.
    single = scheduled_post(runtime, account.id, text="not a reply", due_in=5)
    x_api.add(responses.POST, TWEETS, status=403, json={"detail": "You are not permitted."})
    assert _deliver(runtime, clock, single["id"])["result"] == "failed"


def test_video_upload_in_chunks_with_alt_text_waits_for_processing(
    runtime, clock, x_api, monkeypatch
) -> None:
    """A video goes up in chunks (tweet_video), X processes it; a wait longer than one
    request allows sends the post back for it later, without uploading it again; every
    item gets its alt text before the post goes out."""
    from shared import media
    from shared.x import media_upload
    from tests.images import gif as gif_bytes
    from tests.images import mp4

    monkeypatch.setattr(media_upload, "CHUNK", 1024)
    account = add_x_account(runtime)
    video = media.put(runtime, "ws1", mp4(2510))["id"]
    gif = media.put(runtime, "ws1", gif_bytes())["id"]
    post = scheduled_post(
        runtime,
        account.id,
        media=[gif, video],
        media_alt=["A cat waving", "Our team at the launch, cheering"],
        due_in=5,
    )
    x_api.add(responses.POST, f"{MEDIA}/initialize", json={"data": {"id": "g1"}})
    x_api.add(responses.POST, f"{MEDIA}/initialize", json={"data": {"id": "v1"}})
    x_api.add(responses.POST, f"{MEDIA}/g1/append", status=204)
    for _ in range(3):
        x_api.add(responses.POST, f"{MEDIA}/v1/append", status=204)
    x_api.add(responses.POST, f"{MEDIA}/g1/finalize", json={"data": {"id": "g1"}})
    pending = {"state": "in_progress", "check_after_secs": 40}
    x_api.add(
        responses.POST,
        f"{MEDIA}/v1/finalize",
        json={"data": {"id": "v1", "processing_info": pending}},
    )
    x_api.add(responses.GET, MEDIA, json={"data": {"id": "v1", "processing_info": pending}})
    metadata = "https://api.x.com/2/media/metadata"
    x_api.add(responses.POST, metadata, json={"data": {"id": "g1"}})
    slept: list[float] = []

    def api(rt: Runtime, acct: Any) -> Any:
        from shared.x.client import TweepyX

        return TweepyX("ck-test", "cs-test", "at-test", "ats-test", acct.x_user_id, slept.append)

    clock.advance(5)
    result = worker.handle(runtime, task_payload(runtime, post["id"]), api_factory=api)
    assert result["reason"] == "media_processing" and slept == [40.0]
    stored = _doc(runtime, POSTS, post["id"])
    assert {v["id"] for v in stored["x_media"].values()} == {"g1", "v1"}
    assert create_calls(x_api) == []
    # The next try asks how the upload is doing instead of uploading it again.
    x_api.add(
        responses.GET, MEDIA, json={"data": {"id": "v1", "processing_info": {"state": "succeeded"}}}
    )
    x_api.add(responses.POST, metadata, json={"data": {"id": "v1"}})
    x_api.add(responses.POST, TWEETS, **created_reply("1601"))
    clock.set(task_payload_time(runtime, post["id"]))
    result = worker.handle(runtime, task_payload(runtime, post["id"]), api_factory=api)
    assert result["result"] == "published"
    init = [json.loads(c.request.body) for c in x_api.calls if c.request.url.endswith("initialize")]
    assert [(i["media_type"], i["media_category"]) for i in init] == [
        ("image/gif", "tweet_gif"),
        ("video/mp4", "tweet_video"),
    ]
    appends = [c for c in x_api.calls if c.request.url.endswith("/v1/append")]
    assert len(appends) == 3  # 2,510 bytes in 1,024-byte chunks, uploaded once
    alt = [json.loads(c.request.body) for c in x_api.calls if c.request.url == metadata]
    assert [(a["id"], a["metadata"]["alt_text"]["text"]) for a in alt] == [
        ("g1", "A cat waving"),
        ("v1", "Our team at the launch, cheering"),
    ]
    # The GIF, ready in the first try, was not asked about again.
    assert [
        c.request.url.split("media_id=")[1] for c in x_api.calls if "STATUS" in c.request.url
    ] == ["v1", "v1"]
    assert all(oauth1_signed(c) for c in x_api.calls)
    assert tweet_bodies(x_api)[0]["media"] == {"media_ids": ["g1", "v1"]}


def task_payload_time(runtime: Runtime, post_id: str) -> datetime:
    spec = [t for t in runtime.enqueuer.tasks if t.payload["post_id"] == post_id][-1]  # type: ignore[attr-defined]
    return spec.schedule_time
