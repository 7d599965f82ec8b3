"""Autopilot on the whole local stack: the scheduler's dispatch tick enqueues a generate
task, the generate function plans the campaign's next days with offline drafts and
card images, and one of them goes out through the sandbox account with its image."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import pytest

from local.stack import Stack
from shared.x import service as xs
from shared.x.guards import sandbox_key
from shared.x.models import SANDBOX_POSTS
from tests.e2e._x_helpers import stack_runtime, wait_for_status

pytestmark = pytest.mark.e2e


def _planned(runtime: Any, campaign_id: str, timeout: float = 60) -> list[dict]:
    """The campaign's posts once the autopilot run has noted its outcome."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    deadline = time.monotonic() + timeout
    note = None
    while time.monotonic() < deadline and note is None:
        snap = runtime.db.collection("campaigns").document(campaign_id).get()
        note = (snap.to_dict() or {}).get("autopilot_last_run")
        time.sleep(0.3)
    assert note is not None, "no autopilot run noted on the campaign"
    assert note["status"] == "planned", note
    query = runtime.db.collection("posts").where(
        filter=FieldFilter("campaign_id", "==", campaign_id)
    )
    return [{**s.to_dict(), "id": s.id} for s in query.stream()]


def test_autopilot_plans_posts_with_images_that_publish(stack: Stack) -> None:
    runtime = stack_runtime(stack)
    ws = f"ws{uuid.uuid4().hex[:8]}"
    account = xs.create_sandbox_account(runtime, ws, handle="autopilot_e2e")
    auto = {"enabled": True, "days_ahead": 2, "posts_per_day": 2, "post_times": ["06:00", "18:00"]}
    campaign = xs.create_campaign(
        runtime,
        ws,
        name="Sats Daily e2e",
        keywords=["self-custody", "zaps"],
        topics=["Bitcoin", "Lightning", "Nostr"],
        hashtags=["#Bitcoin"],
        account_id=account["id"],
        status="active",
        approval_required=False,
        autopilot=auto,
        image={"enabled": True, "size": "square"},
    )
    posts = _planned(runtime, campaign["id"])
    assert len(posts) >= 2  # two days ahead, two a day, minus times already too close
    for post in posts:
        assert post["generator"] == "offline" and post["source"] == "generated"
        assert post["status"] in ("scheduled", "queued"), post
        assert len(post["media"]) == 1
        assert post["due_at"] > runtime.clock.now() + timedelta(minutes=14)

    # Bring one forward: the sandbox publishes it with its image uploaded.
    first = posts[0]
    xs.reschedule_post(runtime, ws, first["id"], runtime.clock.now() + timedelta(seconds=3))
    done = wait_for_status(runtime, first["id"], {"published", "failed"})
    assert done["status"] == "published", done.get("last_error")
    key = sandbox_key(first["id"], 0, done["try_n"])
    record = runtime.db.collection(SANDBOX_POSTS).document(key).get().to_dict()
    assert record["text"] == first["text"] and len(record["media_ids"]) == 1
