"""send_email: one Cloud Task per batch; sends it over one SMTP connection.

Batches only: contact import chunks have their own function (import_contacts), and so
does reading the bounce mailboxes (read_bounces)."""

import functions_framework
from flask import Request

from shared.email.worker import send_batch
from shared.http import BadRequest, TaskContext, error_response, json_body, json_response
from shared.log import bound, get_logger
from shared.runtime import get_runtime

log = get_logger("send_email")


@functions_framework.http
def send_email(request: Request):  # type: ignore[no-untyped-def]
    try:
        body = json_body(request)
        batch_id, workspace_id = body.get("batch_id"), body.get("workspace_id")
        campaign_id, emails = body.get("campaign_id"), body.get("emails")
        if not isinstance(batch_id, str) or not isinstance(workspace_id, str):
            raise BadRequest("batch_id and workspace_id are required")
    except BadRequest as exc:
        # A malformed task can never succeed; Cloud Tasks retries it until the queue's
        # max attempts, so it is raised as an alert for a person to look at.
        log.alert("email_bad_task", str(exc))
        return error_response(exc.code, str(exc), 400, exc.details)
    task = TaskContext.from_request(request)
    with bound(batch_id=batch_id, workspace_id=workspace_id, task=task.task_name):
        # Errors propagate as 500: Cloud Tasks retries and the next run resumes the batch.
        result = send_batch(
            get_runtime(),
            batch_id,
            workspace_id,
            campaign_id=campaign_id if isinstance(campaign_id, str) else None,
            emails=emails if _strings(emails) else None,
        )
    return json_response(result)


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
