"""The post_tweet entry point in-process: parse, call shared code, answer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import functions_framework
import pytest

from shared.runtime import Runtime, set_runtime
from shared.x import service

SOURCE = str(Path(__file__).resolve().parents[2] / "functions" / "post_tweet" / "main.py")


@pytest.fixture
def client(runtime: Runtime) -> Iterator[Any]:
    set_runtime(runtime)
    try:
        app = functions_framework.create_app("post_tweet", SOURCE, signature_type="http")
        yield app.test_client()
    finally:
        set_runtime(None)


def test_task_publishes_with_the_sandbox(client, runtime, clock, enqueuer) -> None:
    account = service.create_sandbox_account(runtime, "ws1")
    post = service.create_post(runtime, "ws1", account_id=account["id"], text="from a task")
    service.schedule_post(runtime, "ws1", post["id"], due_at=clock.now() + timedelta(seconds=3))
    task = enqueuer.tasks[-1]
    assert task.target == "post_tweet" and task.payload["account_id"] == account["id"]
    clock.set(task.schedule_time)
    headers = {"X-CloudTasks-TaskName": "t1", "X-CloudTasks-TaskExecutionCount": "0"}
    answer = client.post("/", json=task.payload, headers=headers)
    assert answer.status_code == 200 and answer.get_json()["result"] == "published"
    again = client.post("/", json=task.payload, headers=headers)
    assert again.status_code == 200 and again.get_json()["result"] == "noop"
    assert service.get_post(runtime, "ws1", post["id"])["status"] == "published"


def test_malformed_tasks_are_refused_clearly(client) -> None:
    answer = client.post("/", data=b"not json", content_type="application/json")
    assert answer.status_code == 400 and "JSON" in answer.get_json()["error"]["message"]
    answer = client.post("/", json={"workspace_id": "ws1"})
    assert answer.status_code == 400 and "post_id" in answer.get_json()["error"]["message"]
