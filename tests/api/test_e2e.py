"""The api function as a real functions-framework process in the local stack: sign in
over HTTP, schedule a post on the sandbox account and see it published in the history."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from typing import Any

import pytest

from local.stack import Stack
from shared import tenancy
from tests.api.conftest import PASSWORD
from tests.e2e._x_helpers import stack_runtime

pytestmark = pytest.mark.e2e


def call(
    stack: Stack, method: str, path: str, token: str | None = None, body: Any = None
) -> tuple[int, Any, dict[str, str]]:
    headers = {"Origin": stack.admin_url, "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        stack.url("api") + "/api/v1" + path, data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null"), dict(exc.headers)


def sign_in(stack: Stack, workspace: str) -> tuple[str, str, str]:
    """A new owner of a new workspace, signed in over HTTP: (token, workspace id, username)."""
    runtime = stack_runtime(stack)
    username = f"e2e{uuid.uuid4().hex[:8]}"
    now = runtime.clock.now()
    user_id = tenancy.create_user(runtime.db, username, PASSWORD, now)
    ws = tenancy.create_workspace(runtime.db, workspace, user_id, now)
    status, body, headers = call(
        stack, "POST", "/auth/login", body={"username": username, "password": PASSWORD}
    )
    assert status == 200, body
    assert headers["Access-Control-Allow-Origin"] == stack.admin_url
    return body["token"], ws, username


def test_sign_in_schedule_and_see_the_post_published(stack: Stack) -> None:
    runtime = stack_runtime(stack)
    token, ws, _ = sign_in(stack, "E2E")
    status, account, _ = call(stack, "POST", f"/workspaces/{ws}/x/accounts/sandbox", token, {})
    assert status == 201, account
    status, post, _ = call(
        stack,
        "POST",
        f"/workspaces/{ws}/posts",
        token,
        {"account_id": account["id"], "text": f"e2e via the API {uuid.uuid4().hex[:6]}"},
    )
    assert status == 201, post
    due = (runtime.clock.now() + timedelta(seconds=3)).isoformat()
    status, scheduled, _ = call(
        stack, "POST", f"/workspaces/{ws}/posts/{post['id']}/schedule", token, {"due_at": due}
    )
    assert status == 200, scheduled
    deadline = time.monotonic() + 45
    history: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        _, page, _ = call(stack, "GET", f"/workspaces/{ws}/posts?status=published", token)
        history = page["items"]
        if history:
            break
        time.sleep(0.5)
    assert [p["id"] for p in history] == [post["id"]]
    assert history[0]["sandbox"] is True and history[0]["x_ids"]
    status, _, _ = call(stack, "POST", "/auth/logout", token)
    assert status == 204
    status, body, _ = call(stack, "GET", "/auth/me", token)
    assert status == 401 and body["error"]["code"] == "unauthenticated"


def test_smtp_test_send_reaches_the_local_sink(stack: Stack) -> None:
    runtime = stack_runtime(stack)
    username = f"e2e{uuid.uuid4().hex[:8]}"
    now = runtime.clock.now()
    user_id = tenancy.create_user(runtime.db, username, PASSWORD, now)
    ws = tenancy.create_workspace(runtime.db, "E2E mail", user_id, now)
    _, body, _ = call(
        stack, "POST", "/auth/login", body={"username": username, "password": PASSWORD}
    )
    token = body["token"]
    status, smtp, _ = call(stack, "GET", f"/workspaces/{ws}/smtp", token)
    assert status == 200 and smtp["sandbox"] is True  # the sink, clearly labelled
    to = f"{username}@example.com"
    status, sent, _ = call(stack, "POST", f"/workspaces/{ws}/smtp/test", token, {"to": to})
    assert status == 200, sent
    assert sent["sent"] is True and sent["sandbox"] is True
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = [p for p in stack.mail_dir.glob("*.eml") if to in p.read_text(errors="replace")]
        if found:
            break
        time.sleep(0.2)
    assert found, f"no message to {to} in {stack.mail_dir}"
