"""Fixtures for the admin API: the function in-process on a fresh Firestore project."""

from __future__ import annotations

import os

# grpcio >= 1.80 with fork support crashes a child forked by subprocess.Popen(preexec_fn=...)
# while the parent has live channels (grpc/grpc#43055): the session `stack` fixture forks
# its processes after these in-process tests opened Firestore channels. gRPC reads this
# when it initializes (the first channel), so setting it here is early enough.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import functions_framework
import pytest

from shared import tenancy
from shared.runtime import Runtime, set_runtime

PASSWORD = "correct horse battery"
ORIGIN = "http://127.0.0.1:8700"  # Settings.admin_origin's default


@pytest.fixture(scope="session")
def app() -> Any:
    return functions_framework.create_app("api", "functions/api/main.py", signature_type="http")


@dataclass
class Api:
    """A test client bound to a runtime, with helpers to make users and sign in."""

    client: Any
    runtime: Runtime

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> Any:
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        url = path if path.startswith("/api/") else "/api/v1" + path
        return self.client.open(url, method=method, json=json, headers=h, **kw)

    def user(self, username: str, workspace: str | None = None) -> tuple[str, str | None]:
        """(user_id, workspace_id): a user owning a new workspace when `workspace` is given."""
        now = self.runtime.clock.now()
        user_id = tenancy.create_user(self.runtime.db, username, PASSWORD, now)
        ws = None
        if workspace:
            ws = tenancy.create_workspace(self.runtime.db, workspace, user_id, now)
        return user_id, ws

    def login(self, username: str, password: str = PASSWORD) -> str:
        r = self.call("POST", "/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.get_json()
        return str(r.get_json()["token"])

    def member(self, ws: str, username: str, role: tenancy.Role) -> str:
        user_id, _ = self.user(username)
        tenancy.set_role(self.runtime.db, ws, user_id, role, self.runtime.clock.now())
        return self.login(username)


@pytest.fixture
def api(app: Any, runtime: Runtime) -> Iterator[Api]:
    set_runtime(runtime)
    try:
        yield Api(app.test_client(), runtime)
    finally:
        set_runtime(None)


@pytest.fixture
def owner(api: Api) -> tuple[str, str]:
    """(token, workspace_id) of 'alice', owner of workspace 'Acme'."""
    _, ws = api.user("alice", "Acme")
    assert ws
    return api.login("alice"), ws
