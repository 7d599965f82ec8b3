"""The publish_ads function's handler: route the task, map outcomes to HTTP statuses.

Cloud Tasks retries any non-2xx answer. Busy (another delivery holds the step) and
Transient (timeouts, 5xx: outcome unknown) answer 503 so the task is retried; on the
last delivery the publication is marked failed with the reason instead. A malformed
task can never succeed: it is alerted and acknowledged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.ads.platform import Transient
from shared.ads.publish import Busy, Publisher, handle
from shared.log import get_logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.ads.platform import Adapter
    from shared.http import TaskContext
    from shared.runtime import Runtime

log = get_logger("publish_ads")
LAST_ATTEMPT = 9  # retry_count of the queue's last delivery (infra: ads queue max_attempts 10)
REQUIRED = {
    "publish": ("workspace_id", "campaign_id", "platform"),
    "set_status": ("workspace_id", "campaign_id", "platform"),
    "insights": ("workspace_id", "ad_campaign_id", "date"),
}


def handle_task(
    runtime: Runtime,
    body: dict[str, Any],
    task: TaskContext,
    adapter_factory: Callable[[Runtime, str, dict[str, Any] | None], Adapter] | None = None,
) -> tuple[dict[str, Any], int]:
    needed = REQUIRED.get(str(body.get("action")))
    if needed is None or not all(isinstance(body.get(k), str) and body[k] for k in needed):
        log.alert("bad_task", "publish_ads task is malformed", body=str(body)[:500])
        return {"ok": False, "error": "malformed task"}, 200
    ids = (body.get("campaign_id"), body.get("ad_campaign_id"), body.get("workspace_id"))
    if body.get("platform") not in (None, "meta", "google") or any("/" in str(i) for i in ids):
        log.alert("bad_task", "publish_ads task has a bad platform or id", body=str(body)[:500])
        return {"ok": False, "error": "malformed task"}, 200
    try:
        return handle(runtime, body, adapter_factory), 200
    except (Busy, Transient) as exc:
        reason = f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        log.exception("publish_ads task failed", exc=exc, action=body["action"])
        reason = f"internal error: {type(exc).__name__}: {exc}"
    if task.retry_count < LAST_ATTEMPT:
        log.warning("publish_ads will retry", reason=reason, retry=task.retry_count)
        return {"ok": False, "error": reason, "retry": True}, 503
    if body["action"] == "publish":
        return Publisher(runtime, adapter_factory).fail(
            body["campaign_id"], body["platform"], f"gave up after retries: {reason}"
        ), 200
    log.alert("ads_task_gave_up", f"publish_ads {body['action']} gave up: {reason}")
    return {"ok": False, "error": reason}, 200
