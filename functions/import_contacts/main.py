"""import_contacts: writes one chunk of a large contact import (Cloud Tasks worker).

A function of its own, on the `imports` queue: a chunk is CPU and Firestore work (4,000
contact documents and their member pages), where an email batch waits on SMTP; on the
emails queue, an import of 100,000 rows would hold the batches' dispatch slots. Body:
{"import_chunk": ..., "workspace_id": ...}. Errors propagate as 500 and Cloud Tasks
retries: a chunk's writes are idempotent (shared.email.import_chunks).
"""

import functions_framework
from flask import Request

from shared.email.import_chunks import run_chunk
from shared.http import BadRequest, TaskContext, error_response, json_body, json_response
from shared.log import bound, get_logger
from shared.runtime import get_runtime

log = get_logger("import_contacts")


@functions_framework.http
def import_contacts(request: Request):  # type: ignore[no-untyped-def]
    try:
        body = json_body(request)
        chunk_id, workspace_id = body.get("import_chunk"), body.get("workspace_id")
        if not isinstance(chunk_id, str) or not isinstance(workspace_id, str):
            raise BadRequest("import_chunk and workspace_id are required")
    except BadRequest as exc:
        # A malformed task can never succeed; Cloud Tasks retries it until the queue's
        # max attempts, so it is raised as an alert for a person to look at.
        log.alert("import_bad_task", str(exc))
        return error_response(exc.code, str(exc), 400, exc.details)
    task = TaskContext.from_request(request)
    with bound(import_chunk=chunk_id, workspace_id=workspace_id, task=task.task_name):
        return json_response(run_chunk(get_runtime(), workspace_id, chunk_id))
