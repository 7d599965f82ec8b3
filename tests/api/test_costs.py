"""What the API's own checks cost in Firestore reads, counted (not timed)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.firestore import counting_client
from shared.firestore_stats import CountingInterceptor, FirestoreCounter
from shared.runtime import Runtime, set_runtime
from tests.api.conftest import Api


@pytest.fixture
def counted(api: Api) -> Any:
    counter = FirestoreCounter()
    db = counting_client(api.runtime.settings.project_id, CountingInterceptor(counter))
    runtime = Runtime(
        settings=api.runtime.settings,
        clock=api.runtime.clock,
        _db=db,
        _enqueuer=api.runtime.enqueuer,
        _secrets=api.runtime.secrets,
    )
    set_runtime(runtime)
    return counter


def test_reads_per_authenticated_request(api: Api, owner, counted: FirestoreCounter) -> None:
    token, ws = owner
    account = api.call("POST", f"/workspaces/{ws}/x/accounts/sandbox", token, json={}).get_json()
    post = api.call(
        "POST", f"/workspaces/{ws}/posts", token, json={"account_id": account["id"], "text": "a"}
    ).get_json()
    counted.reset()
    assert api.call("GET", "/auth/me", token).status_code == 200
    # token checks: revoked + user in one get_all (2); memberships query (1); workspace (1)
    assert counted.reads == 4, counted.snapshot()
    counted.reset()
    assert api.call("GET", f"/workspaces/{ws}/posts/{post['id']}", token).status_code == 200
    # token (2) + membership (1) + the post resolved in the workspace (1) + the service's
    # own scoped load (1): the API's authorization costs 4 reads per request.
    assert counted.reads == 5, counted.snapshot()
    counted.reset()
    assert api.call("GET", f"/workspaces/{ws}/posts/{post['id']}", "bad.token").status_code == 401
    assert counted.reads == 0  # a bad signature is refused before any read
