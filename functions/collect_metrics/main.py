"""collect_metrics: the metrics worker (tasks on the metrics queue).

X public metrics pulls, email and ads rollups, and their fan-outs; see
shared.metrics.worker for the actions. Thin: parse, call shared code, respond.
A 4xx says the task can never succeed (it is logged as an alert); a 5xx makes Cloud
Tasks retry (every action is idempotent). A Cloud Scheduler call without a body runs
the metrics sweep (normally driven by dispatch; see shared.metrics.dispatch).
"""

from typing import Any

import functions_framework
from flask import Request

from shared.errors import HeraldError
from shared.http import BadRequest, TaskContext, error_response, json_body, json_response
from shared.log import bound, get_logger
from shared.metrics.worker import handle
from shared.runtime import get_runtime

log = get_logger("collect_metrics")


def _payload(request: Request) -> dict[str, Any]:
    # A Cloud Scheduler job may call this function directly (infra's "metrics" job): with
    # no action given, it runs the same sweep the dispatch source runs every minute.
    if request.headers.get("X-CloudScheduler") and not request.get_data(cache=True).strip(b"{} \n"):
        return {"action": "sweep"}
    return json_body(request)


@functions_framework.http
def collect_metrics(request: Request):  # type: ignore[no-untyped-def]
    task = TaskContext.from_request(request)
    with bound(task=task.task_name, retry=task.retry_count or None):
        try:
            payload = _payload(request)
            result = handle(get_runtime(), payload)
        except BadRequest as exc:
            log.alert("metrics_bad_task", str(exc))
            return error_response(exc.code, str(exc), 400, exc.details)
        except HeraldError as exc:
            if exc.status < 500:
                log.alert("metrics_bad_task", exc.message, details=exc.details)
            return error_response(exc.code, exc.message, exc.status, exc.details)
        return json_response({"ok": True, **result})
