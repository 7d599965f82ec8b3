"""The foundation's walking skeleton: scheduler loop → dispatch → Cloud Tasks emulator →
post_tweet (functions-framework process) → Firestore, with a sandbox X account."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from local.stack import Stack
from shared.x.guards import sandbox_key
from shared.x.models import POSTS, SANDBOX_POSTS, X_ACCOUNTS
from shared.x.store import order_key
from tests.e2e._x_helpers import stack_runtime, wait_for_status

pytestmark = pytest.mark.e2e


def test_scheduled_post_is_published_by_the_whole_chain(stack: Stack) -> None:
    runtime = stack_runtime(stack)
    db = runtime.db
    workspace_id = f"ws{uuid.uuid4().hex[:8]}"
    account_id, post_id = uuid.uuid4().hex[:20], uuid.uuid4().hex[:20]
    now = runtime.clock.now()
    db.collection(X_ACCOUNTS).document(account_id).set(
        {
            "workspace_id": workspace_id,
            "kind": "sandbox",
            "sandbox": True,
            "handle": "skeleton",
            "status": "active",
            "tier": "sandbox",
            "limits": {"weighted_length": 280, "posts_per_15min": 300, "posts_per_24h": 10000},
            "pricing": {"model": "pay_per_use", "post_usd": 0.015, "post_with_url_usd": 0.2},
            "created_at": now,
        }
    )
    # Written straight to Firestore as "scheduled": only the dispatcher can pick it up.
    due = now + timedelta(seconds=4)
    text = f"walking skeleton {post_id}"
    db.collection(POSTS).document(post_id).set(
        {
            "workspace_id": workspace_id,
            "account_id": account_id,
            "text": text,
            "parts": [text],
            "media": [],
            "status": "scheduled",
            "due_at": due,
            "due_key": order_key(due, post_id),
            "next_at": due,
            "next_key": order_key(due, post_id),
            "timezone": "UTC",
            "try_n": 0,
            "attempts": 0,
            "x_ids": [],
            "source": "manual",
            "created_at": now,
        }
    )
    post = wait_for_status(runtime, post_id, {"published", "failed", "unconfirmed"})
    assert post["status"] == "published", post.get("last_error")
    assert len(post["x_ids"]) == 1 and post["x_ids"][0].isdigit()
    assert post["published_at"] >= post["due_at"]
    record = db.collection(SANDBOX_POSTS).document(sandbox_key(post_id, 0, 0)).get().to_dict()
    assert record["x_id"] == post["x_ids"][0] and record["text"] == text
    assert record["sandbox"] is True
    lateness = (post["published_at"] - post["due_at"]).total_seconds()
    print(f"walking skeleton lateness: {lateness:.3f}s")
