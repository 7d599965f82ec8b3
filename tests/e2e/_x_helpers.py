"""Helpers for the X end-to-end tests: a Runtime wired to the session `stack`."""

from __future__ import annotations

import os
import time
from typing import Any

from local.stack import Stack
from shared.runtime import Runtime
from shared.settings import Settings


def stack_runtime(stack: Stack) -> Runtime:
    """The same settings the function processes run with (emulators, sandbox, secrets)."""
    env = stack.env()
    os.environ["FIRESTORE_EMULATOR_HOST"] = env["FIRESTORE_EMULATOR_HOST"]
    return Runtime(settings=Settings.from_env(env))


def wait_for_status(
    runtime: Runtime, post_id: str, statuses: set[str], timeout: float = 45
) -> dict[str, Any]:
    """Poll the post until it reaches one of `statuses`; fail with its last state."""
    deadline = time.monotonic() + timeout
    data: dict[str, Any] = {}
    while time.monotonic() < deadline:
        snap = runtime.db.collection("posts").document(post_id).get()
        data = snap.to_dict() or {}
        if data.get("status") in statuses:
            return data
        time.sleep(0.2)
    raise AssertionError(f"post {post_id} did not reach {statuses}; last state: {data}")
