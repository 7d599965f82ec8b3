"""Through the whole local stack: the scheduler tick finds a due metrics pull, the
local Cloud Tasks delivers it to the collect_metrics process, snapshots appear."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from google.cloud.firestore_v1.base_query import FieldFilter

from local.stack import Stack
from shared.clock import SystemClock
from tests.e2e._x_helpers import stack_runtime

pytestmark = pytest.mark.e2e


def test_a_due_sandbox_post_gets_its_metrics_through_the_stack(stack: Stack) -> None:
    runtime = stack_runtime(stack)
    db, now = runtime.db, SystemClock().now()
    tag = uuid.uuid4().hex[:8]
    ws, account, post_id = f"mws-{tag}", f"macct-{tag}", f"mpost-{tag}"
    db.collection("workspaces").document(ws).set(
        {"name": "m", "timezone": "UTC", "created_at": now}
    )
    db.collection("x_accounts").document(account).set(
        {"workspace_id": ws, "kind": "sandbox", "sandbox": True, "status": "active", "handle": tag}
    )
    published = now - timedelta(hours=3)
    db.collection("posts").document(post_id).set(
        {
            "workspace_id": ws,
            "account_id": account,
            "status": "published",
            "text": "hello",
            "x_ids": [f"sbx-{tag}"],
            "published_at": published,
            "next_metrics_at": now - timedelta(seconds=1),  # its 3-hour reading is due
        }
    )
    deadline = time.monotonic() + 45
    post: dict = {}
    while time.monotonic() < deadline:
        post = db.collection("posts").document(post_id).get().to_dict() or {}
        if post.get("metrics_at"):
            break
        time.sleep(0.3)
    assert post.get("metrics_source") == "sandbox-synthetic", post
    assert post["next_metrics_at"] == published + timedelta(hours=4)
    snaps = [
        s.to_dict()
        for s in db.collection("post_metrics_snapshots")
        .where(filter=FieldFilter("post_id", "==", post_id))
        .stream()
    ]
    assert len(snaps) == 1 and snaps[0]["impressions"] == post["metrics_impressions"] > 0
    tick = db.collection("system").document("dispatch").get().to_dict() or {}
    assert "metrics" in tick.get("counts", {}) and "metrics" not in (tick.get("errors") or {})
