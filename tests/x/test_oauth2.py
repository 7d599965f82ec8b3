"""OAuth 2.0 accounts against a local fake authorization server (tests/x/fake_x.py):
connect with PKCE, post with the user token, refresh before expiry with exactly one
refresher, a lost lineage, reconnect. Real requests-oauthlib and tweepy over real HTTP."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from shared.errors import NotFound
from shared.lineage import ProcessCache
from shared.runtime import Runtime
from shared.x import service, tokens, worker
from shared.x.models import OAUTH_REQUESTS, POSTS, X_ACCOUNTS, XAccount
from tests.x.conftest import scheduled_post, task_payload
from tests.x.fake_x import CLIENT_ID, USER, FakeX

CALLBACK = "http://127.0.0.1:8700/"


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    fake = FakeX(expires_in=7200)
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def oauth2_runtime(runtime: Runtime, fake_x: FakeX, monkeypatch) -> Runtime:
    monkeypatch.setenv("HERALD_SECRET_X_OAUTH2_CLIENT_ID", CLIENT_ID)
    runtime.settings = dataclasses.replace(
        runtime.settings, x_api_base=fake_x.base_url, x_authorize_url=fake_x.authorize_url
    )
    return runtime


def _consent(url: str) -> dict[str, str]:
    """What the person's browser does at X: approve, come back with code and state."""
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK)
    query = dict(p.split("=", 1) for p in location.split("?", 1)[1].split("&"))
    return query


def connect(runtime: Runtime, account_id: str | None = None) -> dict[str, Any]:
    begun = service.begin_oauth2(runtime, "ws1", CALLBACK, account_id=account_id)
    assert "code_challenge_method=S256" in begun["authorization_url"]
    back = _consent(begun["authorization_url"])
    assert back["state"] == begun["state"]
    return service.complete_oauth2(runtime, "ws1", back["state"], back["code"])


def _record(runtime: Runtime, account_id: str) -> XAccount:
    snap = runtime.db.collection(X_ACCOUNTS).document(account_id).get()
    return XAccount.from_doc(snap.id, snap.to_dict())


def _expire(runtime: Runtime, account_id: str) -> None:
    """Time passes: the access token is about to expire (no process holds a fresh one)."""
    runtime.clock.advance(hours=2)  # type: ignore[attr-defined]
    tokens.forget(runtime, account_id)


def test_connect_with_pkce_then_post_with_the_user_token(oauth2_runtime, fake_x, clock) -> None:
    runtime = oauth2_runtime
    account = connect(runtime)
    assert account["auth"] == "oauth2" and account["handle"] == USER["username"]
    assert account["x_user_id"] == USER["id"] and account["status"] == "active"
    assert "secret_ref" not in account
    lineage = tokens.lineage(runtime, account["id"])
    assert lineage["version"] == 1 and not lineage["lost_at"]
    stored = json.loads(runtime.secrets.get(lineage["secret_ref"]))
    assert set(stored) == {"access_token", "refresh_token", "scope", "expires_at"}
    assert list(runtime.db.collection(OAUTH_REQUESTS).stream()) == []  # used once
    post = scheduled_post(runtime, account["id"], text="posted with OAuth 2.0", due_in=5)
    clock.advance(5)
    assert worker.handle(runtime, task_payload(runtime, post["id"]))["result"] == "published"
    assert fake_x.state.tweets[0]["text"] == "posted with OAuth 2.0"
    assert fake_x.state.auth_headers[-1] == f"Bearer {stored['access_token']}"


def test_a_callback_replayed_or_with_a_wrong_verifier_connects_nothing(
    oauth2_runtime, fake_x
) -> None:
    runtime = oauth2_runtime
    begun = service.begin_oauth2(runtime, "ws1", CALLBACK)
    back = _consent(begun["authorization_url"])
    service.complete_oauth2(runtime, "ws1", back["state"], back["code"])
    with pytest.raises(NotFound, match="already used"):
        service.complete_oauth2(runtime, "ws1", back["state"], back["code"])
    # The code alone is worthless: without this begin's verifier X refuses it.
    first = service.begin_oauth2(runtime, "ws1", CALLBACK)
    second = service.begin_oauth2(runtime, "ws1", CALLBACK)
    code = _consent(first["authorization_url"])["code"]
    with pytest.raises(Exception, match="did not complete"):
        service.complete_oauth2(runtime, "ws1", second["state"], code)


def test_tokens_are_refreshed_before_they_expire(oauth2_runtime, fake_x) -> None:
    runtime = oauth2_runtime
    account = connect(runtime)
    record = _record(runtime, account["id"])
    first = tokens.access_token(runtime, record)
    runtime.clock.advance(minutes=100)  # type: ignore[attr-defined]
    assert tokens.access_token(runtime, record) == first  # still 20 minutes left
    runtime.clock.advance(minutes=16)  # type: ignore[attr-defined]
    second = tokens.access_token(runtime, record)  # within the margin: refreshed
    assert second != first and fake_x.state.refreshes == 1
    lineage = tokens.lineage(runtime, account["id"])
    assert lineage["version"] == 2 and lineage["lease_owner"] is None
    old_secret = tokens.secret_name("ws1", account["id"], 1)
    old = json.loads(runtime.secrets.get(old_secret))
    assert fake_x.use_refresh_token(old["refresh_token"]) is None  # rotated: the old is dead


def test_concurrent_refreshes_call_x_once(oauth2_runtime, fake_x) -> None:
    """Eight processes need a token at the same moment: one refresher wins, the others
    wait for it and use what it got; X sees a single refresh. (Each thread has a process
    cache of its own: threads of one process would wait on the process's lock instead.)"""
    runtime = oauth2_runtime
    fake_x.refresh_delay = 0.3  # a slow answer: the others arrive while it is out
    account = connect(runtime)
    record = _record(runtime, account["id"])
    _expire(runtime, account["id"])
    start = threading.Barrier(8)
    got: list[str] = []
    errors: list[BaseException] = []

    def need_token() -> None:
        start.wait()
        try:
            got.append(tokens.access_token(runtime, record, ProcessCache()))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=need_token) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(got) == 8
    assert len(set(got)) == 1 and fake_x.state.refreshes == 1 and fake_x.state.refused == 0
    assert tokens.lineage(runtime, account["id"])["version"] == 2


def test_a_refresher_that_died_after_storing_the_tokens_is_adopted(oauth2_runtime, fake_x) -> None:
    runtime = oauth2_runtime
    account = connect(runtime)
    record = _record(runtime, account["id"])
    _expire(runtime, account["id"])
    # A worker took the lease, got version 2 from X, stored it, and was killed before
    # moving the pointer; its lease ran out.
    lineage = tokens.lineage(runtime, account["id"])
    old = json.loads(runtime.secrets.get(lineage["secret_ref"]))
    issued = fake_x.use_refresh_token(old["refresh_token"])
    assert issued is not None
    runtime.secrets.put(
        tokens.secret_name("ws1", account["id"], 2),
        json.dumps(tokens._stored(issued, runtime.clock.now())),
    )
    runtime.db.collection(tokens.LINEAGES).document(account["id"]).update(
        {"lease_owner": "dead", "lease_until": runtime.clock.now() - timedelta(seconds=1)}
    )
    assert tokens.access_token(runtime, record) == issued["access_token"]
    assert fake_x.state.refreshes == 1 and fake_x.state.refused == 0  # X asked once, by it
    assert tokens.lineage(runtime, account["id"])["version"] == 2


def test_a_used_refresh_token_loses_the_lineage_and_reconnecting_restores_it(
    oauth2_runtime, fake_x, clock, capsys
) -> None:
    runtime = oauth2_runtime
    account = connect(runtime)
    post = scheduled_post(runtime, account["id"], text="after the token was stolen", due_in=5)
    # Someone else refreshed with the account's refresh token: X rotated it away.
    lineage = tokens.lineage(runtime, account["id"])
    stolen = json.loads(runtime.secrets.get(lineage["secret_ref"]))["refresh_token"]
    assert fake_x.use_refresh_token(stolen) is not None
    _expire(runtime, account["id"])
    result = worker.handle(runtime, task_payload(runtime, post["id"]))
    assert result["result"] == "failed" and "reconnect" in result["reason"]
    stored = runtime.db.collection(POSTS).document(post["id"]).get().to_dict()
    assert stored["status"] == "failed" and "reconnect" in stored["last_error"]["reason"]
    flagged = service.get_account(runtime, "ws1", account["id"])
    assert flagged["status"] == "reconnect_needed" and "refresh token" in flagged["status_reason"]
    alerts = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"alert"' in x]
    assert sorted(a["alert"] for a in alerts) == ["x_account_reconnect_needed", "x_post_failed"]
    assert tokens.lineage(runtime, account["id"])["lost_at"] is not None
    # Reconnect from Settings: the same account, a new lineage, active again.
    reconnected = connect(runtime, account_id=account["id"])
    assert reconnected["id"] == account["id"] and reconnected["status"] == "active"
    lineage = tokens.lineage(runtime, account["id"])
    assert lineage["version"] == 2 and lineage["lost_at"] is None
    record = _record(runtime, account["id"])
    assert tokens.access_token(runtime, record)
    assert len(service.list_accounts(runtime, "ws1")["items"]) == 1


def test_oauth2_routes(api, owner, fake_x, monkeypatch) -> None:
    token, ws = owner
    monkeypatch.setenv("HERALD_SECRET_X_OAUTH2_CLIENT_ID", CLIENT_ID)
    api.runtime.settings = dataclasses.replace(
        api.runtime.settings, x_api_base=fake_x.base_url, x_authorize_url=fake_x.authorize_url
    )
    r = api.call("POST", f"/workspaces/{ws}/x/oauth2/begin", token, json={"callback_url": CALLBACK})
    assert r.status_code == 200, r.get_json()
    back = _consent(r.get_json()["authorization_url"])
    r = api.call("POST", f"/workspaces/{ws}/x/oauth2/complete", token, json=back)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["auth"] == "oauth2"
    r = api.call(
        "POST",
        f"/workspaces/{ws}/x/oauth2/begin",
        token,
        json={"callback_url": "https://evil.example/"},
    )
    assert r.status_code == 400
