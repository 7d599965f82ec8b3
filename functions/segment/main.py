"""segment: k-means segmentation of a workspace's candidates (Cloud Tasks worker).

Lives apart from every other function so only it pays for scikit-learn at cold start.
Body: {"workspace_id": ..., "run_id": ...}. A 500 makes Cloud Tasks retry; the run
is idempotent (a finished run is not recomputed).
"""

import functions_framework
from flask import Request

from shared.http import BadRequest, TaskContext, json_body, json_response
from shared.jobs.worker import handle_segment
from shared.runtime import get_runtime


@functions_framework.http
def segment(request: Request):  # type: ignore[no-untyped-def]
    try:
        body = json_body(request)
    except BadRequest as exc:
        body = {"_invalid": str(exc)}
    result, status = handle_segment(get_runtime(), body, TaskContext.from_request(request))
    return json_response(result, status)
