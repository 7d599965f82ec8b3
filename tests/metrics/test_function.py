"""collect_metrics in-process through functions-framework."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import functions_framework
import pytest

from shared.runtime import Runtime
from tests.metrics.conftest import add_account, add_posts

SOURCE = str(Path(__file__).resolve().parents[2] / "functions" / "collect_metrics" / "main.py")


@pytest.fixture
def client(installed: Runtime):  # type: ignore[no-untyped-def]
    app = functions_framework.create_app("collect_metrics", SOURCE, signature_type="http")
    return app.test_client()


def post(client, body: object):  # type: ignore[no-untyped-def]
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        "/", data=raw, headers={"Content-Type": "application/json", "X-CloudTasks-TaskName": "t1"}
    )


def test_sandbox_pull_through_the_function(client, installed: Runtime, ws: str) -> None:  # type: ignore[no-untyped-def]
    now = installed.clock.now()
    add_account(installed, ws, "sand1", sandbox=True)
    ids = add_posts(installed, ws, "sand1", 3, now - timedelta(hours=2))
    body = {"action": "x_pull", "workspace_id": ws, "account_id": "sand1", "post_ids": ids,
            "slot": now.isoformat()}  # fmt: skip
    response = post(client, body)
    assert response.status_code == 200, response.data
    assert response.get_json()["snapshots"] == 3
    assert post(client, body).get_json() == {"ok": True, "duplicate": True}


def test_rollup_and_sweep_actions(client, installed: Runtime, ws: str) -> None:  # type: ignore[no-untyped-def]
    response = post(client, {"action": "rollup", "workspace_id": ws})
    assert response.status_code == 200 and response.get_json()["ok"] is True
    response = post(client, {"action": "sweep"})
    assert response.status_code == 200 and response.get_json()["sweeps"] == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not valid JSON"),
        ({"action": "explode"}, "unknown metrics action"),
        ({"action": "x_pull", "workspace_id": "ws1"}, "missing account_id, post_ids, slot"),
        ({"action": "x_pull", "workspace_id": "ws1", "account_id": "a", "post_ids": ["p"] * 201,
          "slot": "2026-01-05T09:00:00Z"}, "1 to 200 post ids"),
        ({"action": "x_pull", "workspace_id": "ws1", "account_id": "a", "post_ids": ["p"],
          "slot": "at nine"}, "slot must be an ISO 8601 instant"),
        ({"action": "rebuild", "workspace_id": "ws1", "start": "soon", "end": "2026-01-01"},
         "is not a date"),
    ],
)  # fmt: skip
def test_bad_tasks_get_a_clear_400(client, body: object, message: str) -> None:  # type: ignore[no-untyped-def]
    response = post(client, body)
    assert response.status_code == 400
    assert message in response.get_json()["error"]["message"]


def test_a_cloud_scheduler_call_without_body_runs_the_sweep(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        "/", data=b"{}", headers={"Content-Type": "application/json", "X-CloudScheduler": "true"}
    )
    assert response.status_code == 200 and response.get_json()["sweeps"] == 2


def test_refresh_and_rebuild_requests_enqueue_tasks(installed: Runtime, ws: str) -> None:
    from shared.errors import ValidationError
    from shared.metrics import worker

    worker.request_rollup(installed, ws)
    worker.request_rebuild(installed, ws, "2025-12-01", "2025-12-31")
    payloads = [t.payload for t in installed.enqueuer.tasks]  # type: ignore[attr-defined]
    assert payloads == [
        {"action": "rollup", "workspace_id": ws},
        {"action": "rebuild", "workspace_id": ws, "start": "2025-12-01", "end": "2025-12-31"},
    ]
    with pytest.raises(ValidationError):
        worker.request_rebuild(installed, ws, "2025-12-31", "2025-12-01")


def test_request_pull_of_one_post(installed: Runtime, ws: str) -> None:
    from shared.errors import Conflict, NotFound
    from shared.metrics import worker, x_pull

    now = installed.clock.now()
    add_account(installed, ws, "sand1", sandbox=True)
    (pid,) = add_posts(installed, ws, "sand1", 1, now - timedelta(hours=2))
    worker.request_pull(installed, ws, pid)
    (task,) = installed.enqueuer.tasks  # type: ignore[attr-defined]
    assert task.payload["post_ids"] == [pid] and task.payload["account_id"] == "sand1"
    assert x_pull.pull(installed, task.payload)["snapshots"] == 1
    with pytest.raises(NotFound):
        worker.request_pull(installed, "other", pid)
    installed.db.collection("posts").document("draft").set({"workspace_id": ws, "text": "x"})
    with pytest.raises(Conflict, match="not published"):
        worker.request_pull(installed, ws, "draft")
