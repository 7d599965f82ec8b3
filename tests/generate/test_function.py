"""The generate function in-process (functions-framework test client)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import functions_framework
import pytest

from shared.runtime import set_runtime
from tests.generate.conftest import World


@pytest.fixture
def client(world: World) -> Iterator[Any]:
    app = functions_framework.create_app(
        "generate", "functions/generate/main.py", signature_type="http"
    )
    set_runtime(world.runtime)
    try:
        yield app.test_client()
    finally:
        set_runtime(None)


def test_generate_answers_drafts(client: Any, world: World) -> None:
    cid = world.campaign()
    r = client.post("/", json={"workspace_id": world.workspace_id, "campaign_id": cid, "count": 3})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["generator"] == "offline" and len(body["drafts"]) == 3
    assert body["rejected"] == [] and body["error"] is None
    assert all(d["generator"] == "offline" for d in body["drafts"])


def test_errors_are_clear(client: Any, world: World) -> None:
    r = client.post("/", data="nope", content_type="application/json")
    assert r.status_code == 400 and "not valid JSON" in r.get_json()["error"]["message"]
    r = client.post("/", json={"workspace_id": world.workspace_id, "count": 0})
    err = r.get_json()["error"]
    assert r.status_code == 400 and set(err["details"]) == {"campaign_id", "count"}
    r = client.post("/", json={"workspace_id": world.workspace_id, "campaign_id": "missing"})
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    assert client.get("/").status_code == 405
    r = client.post("/", json={"mode": "autopilot", "workspace_id": world.workspace_id})
    assert r.status_code == 400 and "run_key" in r.get_json()["error"]["message"]


def test_autopilot_task(client: Any, world: World) -> None:
    auto = {"enabled": True, "days_ahead": 1, "posts_per_day": 1, "post_times": ["20:00"]}
    cid = world.campaign(autopilot=auto)
    payload = {
        "mode": "autopilot",
        "workspace_id": world.workspace_id,
        "campaign_id": cid,
        "run_key": "20260105T09",
    }
    first = client.post("/", json=payload, headers={"X-CloudTasks-TaskRetryCount": "0"})
    assert first.status_code == 200 and first.get_json()["slots"] == 1
    second = client.post("/", json=payload)
    assert second.status_code == 200 and second.get_json()["status"] == "skipped"
