"""Fixtures for the X pipeline: accounts, posts, and X itself over `responses`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import responses

from shared.runtime import Runtime
from shared.secrets import user_secret_name
from shared.x import governor, service, store
from shared.x.models import X_ACCOUNTS, AccountKind, XAccount
from tests.api.conftest import api, app, owner  # noqa: F401 - the API in-process, for races

TWEETS = "https://api.twitter.com/2/tweets"
MEDIA = "https://api.x.com/2/media/upload"


@pytest.fixture(autouse=True)
def _x_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HERALD_SECRET_X_CONSUMER_KEY", "ck-test")
    monkeypatch.setenv("HERALD_SECRET_X_CONSUMER_SECRET", "cs-test")
    governor.forget()
    yield
    governor.forget()


@pytest.fixture
def x_api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def add_x_account(runtime: Runtime, workspace_id: str = "ws1", **fields: Any) -> XAccount:
    """A connected X account with tokens in the secrets store (what complete_connection makes)."""
    now = runtime.clock.now()
    account = XAccount(
        id=store.new_id(),
        workspace_id=workspace_id,
        kind=AccountKind.X.value,
        handle="herald_test",
        x_user_id="2244994945",
        tier=fields.pop("tier", "pay_per_use"),
        created_at=now,
        updated_at=now,
        **fields,
    )
    account.secret_ref = runtime.secrets.put(
        user_secret_name(workspace_id, "x-token", account.id),
        json.dumps({"access_token": "at-test", "access_token_secret": "ats-test"}),
    )
    doc = account.to_doc() | {"created_key": store.order_key(now, account.id)}
    runtime.db.collection(X_ACCOUNTS).document(account.id).set(doc)
    return account


def scheduled_post(
    runtime: Runtime,
    account_id: str,
    text: str = "Herald ships at the exact second.",
    workspace_id: str = "ws1",
    due_in: float = 30,
    **kwargs: Any,
) -> dict[str, Any]:
    post = service.create_post(runtime, workspace_id, account_id=account_id, text=text, **kwargs)
    due = runtime.clock.now() + timedelta(seconds=due_in)
    return service.schedule_post(runtime, workspace_id, post["id"], due_at=due)


def task_payload(runtime: Runtime, post_id: str) -> dict[str, Any]:
    """The payload of the last task enqueued for the post (what Cloud Tasks delivers)."""
    tasks = [t for t in runtime.enqueuer.tasks if t.payload["post_id"] == post_id]  # type: ignore[attr-defined]
    assert tasks, "no task was enqueued for the post"
    return dict(tasks[-1].payload)


def deliver_concurrently(
    runtime: Runtime, payload: dict[str, Any], api_factory: Any = None, times: int = 6
) -> list[dict[str, Any]]:
    """The same task delivered `times` times at once, then once more after all of them
    (Cloud Tasks' duplicates and a late retry); each delivery's outcome."""
    import threading

    from shared.x import worker

    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def deliver() -> None:
        outcome = worker.handle(runtime, dict(payload), api_factory=api_factory)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=deliver) for _ in range(times)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    deliver()
    return results


def created_reply(tweet_id: str, text: str = "ok", remaining: int = 99) -> dict[str, Any]:
    return {
        "status": 201,
        "json": {"data": {"id": tweet_id, "text": text}},
        "headers": {
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": "1767606300",
        },
    }


def create_calls(mock: responses.RequestsMock) -> list[Any]:
    return [c for c in mock.calls if c.request.method == "POST" and c.request.url == TWEETS]


def tweet_bodies(mock: responses.RequestsMock) -> list[dict[str, Any]]:
    return [json.loads(c.request.body) for c in create_calls(mock)]


def oauth1_signed(call: Any) -> bool:
    header = call.request.headers.get("Authorization", "")
    if isinstance(header, bytes):
        header = header.decode()  # requests_oauthlib leaves it as bytes
    return bool(re.match(r"OAuth .*oauth_consumer_key=\"ck-test\"", header)) and (
        'oauth_token="at-test"' in header
    )
