"""Concurrent delivery reaches the functions: a cold function process must answer its
queue's first deliveries when they arrive together.

With one task at a time per queue this never happened locally; with the metrics queue's
5 at once, two sweeps reaching a cold collect_metrics imported google.cloud.firestore in
two threads at once and got a half-initialized module (a 500, or a hung request). An api
instance (concurrency 8) meets the same in production.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest

from local.stack import Stack, free_port, function_command, port_open

pytestmark = pytest.mark.e2e
KINDS = ("rollups", "ads_insights", "rollups", "ads_insights")


def test_a_cold_function_answers_concurrent_first_deliveries(emulators: Stack) -> None:
    from google.cloud import firestore

    env = emulators.env()
    db = firestore.Client(project=emulators.config.project_id)
    for i in range(3):  # the rollup fan-out then enqueues tasks too
        db.collection("workspaces").document(f"cold-{i}").set(
            {"name": "w", "timezone": "UTC", "created_at": datetime.now(UTC)}
        )
    port = free_port()
    process = subprocess.Popen(
        function_command("collect_metrics", port),
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    start = threading.Barrier(len(KINDS))
    answers: list[int | str] = []

    def deliver(kind: str) -> None:
        body = {"action": "fanout", "kind": kind, "due": datetime.now(UTC).isoformat()}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        start.wait()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answers.append(response.status)
        except (urllib.error.URLError, TimeoutError) as exc:
            answers.append(str(exc))

    try:
        for _ in range(300):
            if port_open(port):
                break
            threading.Event().wait(0.1)
        threads = [threading.Thread(target=deliver, args=(k,)) for k in KINDS]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
    finally:
        process.terminate()
        process.wait(10)
    assert answers == [200] * len(KINDS)
