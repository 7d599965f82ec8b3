"""Job ads end to end on the local stack: the real segment and publish_ads function
processes, Cloud Tasks emulator delivery, the sandbox ad platforms."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from local.stack import Stack
from shared.ads import service as ads
from shared.jobs import service as jobs
from tests.ads.conftest import opening_body
from tests.e2e._x_helpers import stack_runtime
from tests.jobs.test_segmentation import synthetic_pool

pytestmark = pytest.mark.e2e


def wait_until(read: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool],
               timeout: float = 60) -> dict[str, Any]:  # fmt: skip
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = read()
        if done(state):
            return state
        time.sleep(0.25)
    raise AssertionError(f"gave up waiting; last state: {state}")


def test_segment_then_publish_pause_on_the_sandbox(stack: Stack) -> None:
    runtime = stack_runtime(stack)
    ws = f"ws{uuid.uuid4().hex[:8]}"
    data, _ = synthetic_pool(per_cluster=15)
    assert jobs.import_candidates(runtime, ws, data.encode(), "pool.csv")["imported"] == 45
    run = jobs.run_segmentation(runtime, ws)
    run = wait_until(lambda: jobs.get_run(runtime, ws, run["id"]), lambda r: r["status"] != "queued"
                     and r["status"] != "running")  # fmt: skip
    assert run["status"] == "done", run
    segments = jobs.list_segments(runtime, ws)["items"]
    assert len(segments) == run["k"] >= 2

    opening = jobs.create_opening(runtime, ws, opening_body())
    campaign = ads.create_campaign(
        runtime, ws,
        {"opening_id": opening["id"], "segment_ids": [segments[0]["id"]],
         "platforms": ["meta", "google"], "daily_budget": 30},
    )  # fmt: skip
    assert set(campaign["targeting"]["keywords"]) == set(segments[0]["keywords"])
    ads.publish_campaign(runtime, ws, campaign["id"])
    live = wait_until(
        lambda: ads.get_campaign(runtime, ws, campaign["id"]),
        lambda c: c["status"] in ("active", "failed"),
    )
    assert live["status"] == "active", live.get("error")
    assert all(p["sandbox"] and p["status"] == "live" for p in live["publications"].values())

    ads.pause_campaign(runtime, ws, campaign["id"])
    paused = wait_until(
        lambda: ads.get_campaign(runtime, ws, campaign["id"]),
        lambda c: all(p["status"] == "paused" for p in c["publications"].values()),
    )
    assert paused["status"] == "paused"
