"""What the API answers and what X shows always agree, whatever the worker is doing.

A cancel, a reschedule or an edit that races post_tweet at the due instant either wins
(the post goes nothing out for that try) or answers 409 "already publishing" (the post
goes out once). Replays of each interleaving, then 50 real races at the due instant.
X is tweepy over `responses`; the API is the `api` function in-process.
"""

from __future__ import annotations

import json
import random
import threading
from datetime import timedelta
from typing import Any

import responses

from shared.runtime import Runtime
from shared.x import worker
from shared.x.client import TweepyX
from shared.x.models import POSTS
from tests.api.conftest import Api
from tests.x.conftest import TWEETS, add_x_account, create_calls, scheduled_post, task_payload


def _post(runtime: Runtime, post_id: str) -> dict[str, Any]:
    return runtime.db.collection(POSTS).document(post_id).get().to_dict()


def _sent(mock: responses.RequestsMock, text: str) -> int:
    return sum(1 for c in create_calls(mock) if json.loads(c.request.body)["text"] == text)


def _tweepy(_runtime: Runtime, account: Any) -> TweepyX:
    return TweepyX("ck-test", "cs-test", "at-test", "ats-test", account.x_user_id)


class SlowX:
    """POST /2/tweets that holds each request until released (the request is in flight)."""

    def __init__(self, mock: responses.RequestsMock, hold: bool = True) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self._ids = iter(range(9_000_000, 10_000_000))
        self._lock = threading.Lock()
        mock.add_callback(responses.POST, TWEETS, callback=self._create)

    def _create(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.entered.set()
        self.release.wait(10)
        with self._lock:
            tweet_id = str(next(self._ids))
        body = {"data": {"id": tweet_id, "text": json.loads(request.body)["text"]}}
        return 201, {}, json.dumps(body)


def _due_now(api: Api, ws: str, text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """An X account's post queued for a few seconds ahead, the clock at its due instant."""
    runtime = api.runtime
    account = add_x_account(runtime, ws)
    post = scheduled_post(runtime, account.id, text=text, workspace_id=ws, due_in=5)
    runtime.clock.set(post["due_at"])  # type: ignore[attr-defined]
    return post, task_payload(runtime, post["id"])


def _deliver_in_thread(runtime: Runtime, payload: dict[str, Any]) -> tuple[threading.Thread, list]:
    results: list[dict[str, Any]] = []
    thread = threading.Thread(
        target=lambda: results.append(worker.handle(runtime, dict(payload), _tweepy))
    )
    thread.start()
    return thread, results


# -- replays ----------------------------------------------------------------------------


def test_cancel_while_the_request_is_in_flight_answers_409(api: Api, owner, x_api) -> None:
    token, ws = owner
    post, payload = _due_now(api, ws, "cancel me in flight")
    x = SlowX(x_api)
    thread, results = _deliver_in_thread(api.runtime, payload)
    assert x.entered.wait(10)
    r = api.call("POST", f"/workspaces/{ws}/posts/{post['id']}/cancel", token)
    x.release.set()
    thread.join(10)
    assert r.status_code == 409, r.get_json()
    assert "already publishing" in r.get_json()["error"]["message"]
    assert results[0]["result"] == "published"
    stored = _post(api.runtime, post["id"])
    assert stored["status"] == "published" and len(stored["x_ids"]) == 1
    assert _sent(x_api, "cancel me in flight") == 1


def test_a_worker_that_read_the_post_before_a_cancel_sends_nothing(api: Api, owner, x_api) -> None:
    """The worker read the post (queued), then the cancel landed, then the worker went on
    to send it: the cancel had answered 200 and the post went out."""
    token, ws = owner
    post, payload = _due_now(api, ws, "cancelled after the worker read it")
    SlowX(x_api, hold=False)
    answers: list[Any] = []

    def cancel_then_connect(runtime: Runtime, account: Any) -> TweepyX:
        answers.append(api.call("POST", f"/workspaces/{ws}/posts/{post['id']}/cancel", token))
        return _tweepy(runtime, account)

    result = worker.handle(api.runtime, payload, cancel_then_connect)
    assert answers[0].status_code == 200, answers[0].get_json()
    assert _sent(x_api, "cancelled after the worker read it") == 0, result
    stored = _post(api.runtime, post["id"])
    assert stored["status"] == "cancelled" and not stored.get("x_ids")
    assert not stored.get("published_at")


def test_a_sandbox_post_cancelled_after_the_worker_read_it_records_nothing(api: Api, owner) -> None:
    """The sandbox's own record is its part guard: the cancel takes it first."""
    from shared.x import service
    from shared.x.models import SANDBOX_POSTS
    from shared.x.sandbox import SandboxX

    token, ws = owner
    runtime = api.runtime
    account = service.create_sandbox_account(runtime, ws)
    post = scheduled_post(runtime, account["id"], text="sandbox cancel", workspace_id=ws, due_in=5)
    runtime.clock.set(post["due_at"])  # type: ignore[attr-defined]
    answers: list[Any] = []

    def cancel_then_connect(rt: Runtime, acct: Any) -> SandboxX:
        answers.append(api.call("POST", f"/workspaces/{ws}/posts/{post['id']}/cancel", token))
        return SandboxX(rt, acct)

    result = worker.handle(runtime, task_payload(runtime, post["id"]), cancel_then_connect)
    assert answers[0].status_code == 200 and result["result"] == "withdrawn"
    records = [r.to_dict() for r in runtime.db.collection(SANDBOX_POSTS).stream()]
    assert [r.get("text") for r in records if not r.get("withdrawn")] == []
    assert _post(runtime, post["id"])["status"] == "cancelled"


def test_reschedule_while_the_request_is_in_flight_answers_409(api: Api, owner, x_api) -> None:
    token, ws = owner
    post, payload = _due_now(api, ws, "move me in flight")
    x = SlowX(x_api)
    thread, _ = _deliver_in_thread(api.runtime, payload)
    assert x.entered.wait(10)
    later = (api.runtime.clock.now() + timedelta(hours=1)).isoformat()
    r = api.call(
        "POST", f"/workspaces/{ws}/posts/{post['id']}/reschedule", token, json={"due_at": later}
    )
    x.release.set()
    thread.join(10)
    assert r.status_code == 409, r.get_json()
    stored = _post(api.runtime, post["id"])
    assert stored["status"] == "published" and stored["due_at"] == post["due_at"]
    assert _sent(x_api, "move me in flight") == 1


def test_a_worker_that_read_the_post_before_a_reschedule_sends_nothing(
    api: Api, owner, x_api
) -> None:
    token, ws = owner
    post, payload = _due_now(api, ws, "moved after the worker read it")
    SlowX(x_api, hold=False)
    later = api.runtime.clock.now() + timedelta(seconds=60)  # within the lookahead: queued
    answers: list[Any] = []

    def reschedule_then_connect(runtime: Runtime, account: Any) -> TweepyX:
        body = {"due_at": later.isoformat()}
        path = f"/workspaces/{ws}/posts/{post['id']}/reschedule"
        answers.append(api.call("POST", path, token, json=body))
        return _tweepy(runtime, account)

    worker.handle(api.runtime, payload, reschedule_then_connect)
    assert answers[0].status_code == 200, answers[0].get_json()
    assert _sent(x_api, "moved after the worker read it") == 0
    stored = _post(api.runtime, post["id"])
    assert stored["due_at"] == later and not stored.get("x_ids")
    # At the new instant it goes out, once.
    api.runtime.clock.set(later)  # type: ignore[attr-defined]
    result = worker.handle(api.runtime, task_payload(api.runtime, post["id"]), _tweepy)
    assert result["result"] == "published"
    assert _sent(x_api, "moved after the worker read it") == 1


def test_an_edit_that_raced_the_dispatcher_and_the_worker_answers_409(
    api: Api, owner, x_api, monkeypatch
) -> None:
    """The edit read a scheduled post; meanwhile dispatch queued it and post_tweet sent
    the old text; the edit then wrote the new text and answered 200."""
    from concurrent.futures import ThreadPoolExecutor

    from shared.x import posts
    from shared.x.dispatch import dispatch_posts

    token, ws = owner
    runtime = api.runtime
    account = add_x_account(runtime, ws)
    post = scheduled_post(runtime, account.id, text="old text", workspace_id=ws, due_in=600)
    SlowX(x_api, hold=False)
    lookup = posts.usable_account

    def publish_meanwhile(*args: Any, **kwargs: Any) -> Any:
        if not create_calls(x_api):
            runtime.clock.set(post["due_at"])  # type: ignore[attr-defined]
            snap = runtime.db.collection(POSTS).document(post["id"]).get()
            with ThreadPoolExecutor(1) as enqueues:
                skipped, tasks = dispatch_posts(runtime, [snap], enqueues)
                assert not skipped and [t.result() for t in tasks] == ["enqueued"]
            worker.handle(runtime, task_payload(runtime, post["id"]), _tweepy)
        return lookup(*args, **kwargs)

    monkeypatch.setattr(posts, "usable_account", publish_meanwhile)
    r = api.call("PATCH", f"/workspaces/{ws}/posts/{post['id']}", token, json={"text": "new"})
    assert r.status_code == 409, r.get_json()
    stored = _post(runtime, post["id"])
    assert stored["text"] == "old text" and stored["status"] == "published"
    assert [json.loads(c.request.body)["text"] for c in create_calls(x_api)] == ["old text"]


# -- the race itself --------------------------------------------------------------------


def test_fifty_cancels_at_the_due_instant(api: Api, owner, x_api, capsys) -> None:
    """Each cancel answers 200 with nothing published, or 409 with the post published
    once; never 200 while the post is out."""
    token, ws = owner
    SlowX(x_api, hold=False)
    rng = random.Random(20)
    outcomes: list[tuple[int, int, str]] = []
    for i in range(50):
        text = f"race {i}"
        post, payload = _due_now(api, ws, text)
        start = threading.Barrier(2)
        answer: list[Any] = []

        def deliver(payload: dict[str, Any] = payload, start: Any = start) -> None:
            start.wait()
            threading.Event().wait(rng.random() * 0.02)
            worker.handle(api.runtime, dict(payload), _tweepy)

        def cancel(post_id: str = post["id"], start: Any = start, answer: list = answer) -> None:
            client = api.client.application.test_client()
            start.wait()
            threading.Event().wait(rng.random() * 0.02)
            answer.append(
                client.post(
                    f"/api/v1/workspaces/{ws}/posts/{post_id}/cancel",
                    headers={"Authorization": f"Bearer {token}"},
                )
            )

        threads = [threading.Thread(target=deliver), threading.Thread(target=cancel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        stored = _post(api.runtime, post["id"])
        outcomes.append((answer[0].status_code, _sent(x_api, text), stored["status"]))
    counts: dict[str, int] = {}
    for status, sent, final in outcomes:
        key = f"{status} sent={sent} final={final}"
        counts[key] = counts.get(key, 0) + 1
    with capsys.disabled():
        print(f"\n50 cancels at the due instant: {json.dumps(counts, sort_keys=True)}")
    wrong = [o for o in outcomes if o not in ((200, 0, "cancelled"), (409, 1, "published"))]
    assert wrong == [], counts
