"""The segment function's handler: parse, run, map outcomes to HTTP statuses.

Cloud Tasks retries any non-2xx answer. A malformed task can never succeed, so it is
alerted and acknowledged (200); a failure inside the run is retried (500) until the
last attempt, when the run is marked failed with the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.jobs.segments import RUNS
from shared.log import get_logger

if TYPE_CHECKING:
    from shared.http import TaskContext
    from shared.runtime import Runtime

log = get_logger("segment")
LAST_ATTEMPT = 4  # retry_count of the segments queue's last delivery (infra: max_attempts 5)


def handle_segment(
    runtime: Runtime, body: dict[str, Any], task: TaskContext
) -> tuple[dict[str, Any], int]:
    ws, run_id = body.get("workspace_id"), body.get("run_id")
    if not isinstance(ws, str) or not isinstance(run_id, str) or "/" in run_id:
        log.alert("bad_task", "segment task without workspace_id/run_id", body=str(body)[:500])
        return {"ok": False, "error": "task needs workspace_id and run_id"}, 200
    from shared.jobs.segmentation import run

    try:
        result = run(runtime, ws, run_id)
    except Exception as exc:
        log.exception("segmentation failed", exc=exc, run_id=run_id, retry=task.retry_count)
        if task.retry_count >= LAST_ATTEMPT:
            runtime.db.collection(RUNS).document(run_id).update(
                {"status": "failed", "error": f"internal error: {type(exc).__name__}: {exc}"[:500],
                 "finished_at": runtime.clock.now()}
            )  # fmt: skip
            return {"ok": False, "error": "segmentation failed"}, 200
        return {"ok": False, "error": "segmentation failed; will retry"}, 500
    return {"ok": True, **{k: v for k, v in result.items() if k != "finished_at"}}, 200
