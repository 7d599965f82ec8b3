"""A post (and a thread) due 5 s ahead is published by the sandbox account, end to end."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from local.stack import Stack
from shared.x import service
from shared.x.guards import sandbox_key
from shared.x.models import SANDBOX_POSTS
from tests.e2e._x_helpers import stack_runtime, wait_for_status

pytestmark = pytest.mark.e2e


def test_post_due_in_five_seconds_is_published_by_the_sandbox(stack: Stack) -> None:
    runtime = stack_runtime(stack)
    workspace_id = f"ws{uuid.uuid4().hex[:8]}"
    account = service.create_sandbox_account(runtime, workspace_id, handle="e2e_sandbox")
    assert account["sandbox"] is True and account["kind"] == "sandbox"
    due = runtime.clock.now() + timedelta(seconds=5)
    single = service.create_post(
        runtime, workspace_id, account_id=account["id"], text=f"e2e single {uuid.uuid4().hex}"
    )
    thread = service.create_post(
        runtime,
        workspace_id,
        account_id=account["id"],
        text=f"e2e thread 1/2 {uuid.uuid4().hex}",
        parts=["e2e thread 2/2"],
    )
    for post in (single, thread):
        scheduled = service.schedule_post(runtime, workspace_id, post["id"], due_at=due)
        assert scheduled["status"] == "queued"  # within the lookahead: enqueued at once
    lateness = []
    for post in (single, thread):
        done = wait_for_status(runtime, post["id"], {"published", "failed", "unconfirmed"})
        assert done["status"] == "published", done.get("last_error")
        assert done["published_at"] >= done["due_at"]
        lateness.append((done["published_at"] - done["due_at"]).total_seconds())
    done = service.get_post(runtime, workspace_id, thread["id"])
    records = [
        runtime.db.collection(SANDBOX_POSTS)
        .document(sandbox_key(thread["id"], i, done["try_n"]))
        .get()
        .to_dict()
        for i in range(2)
    ]
    assert [r["x_id"] for r in records] == done["x_ids"]
    assert records[1]["in_reply_to"] == records[0]["x_id"]
    history = service.list_posts(runtime, workspace_id, status="published")
    assert {p["id"] for p in history["items"]} == {single["id"], thread["id"]}
    print(f"sandbox e2e lateness (s): {lateness}")
