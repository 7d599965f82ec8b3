"""read_bounces: one run over a workspace's bounce mailbox (IMAP; Cloud Tasks worker).

A function of its own, on the `bounces` queue: a run waits on an IMAP server and applies
the bounce and complaint reports it finds (shared.email.mailbox), where send_email waits
on SMTP; on the emails queue, a slow mailbox would hold a batch's dispatch slot. The
dispatcher enqueues one task per enabled mailbox and minute (shared.email.upkeep). Body:
{"bounce_mailbox": <workspace id>}. A mailbox that cannot be read raises the
`email_feedback` alert and answers 200 (the next minute's run tries again); other errors
propagate as 500 and Cloud Tasks retries: a run applies each report once.
"""

import functions_framework
from flask import Request

from shared.email.mailbox import poll
from shared.http import BadRequest, TaskContext, error_response, json_body, json_response
from shared.log import bound, get_logger
from shared.runtime import get_runtime

log = get_logger("read_bounces")


@functions_framework.http
def read_bounces(request: Request):  # type: ignore[no-untyped-def]
    try:
        workspace_id = json_body(request).get("bounce_mailbox")
        if not isinstance(workspace_id, str) or not workspace_id:
            raise BadRequest("bounce_mailbox (a workspace id) is required")
    except BadRequest as exc:
        # A malformed task can never succeed; Cloud Tasks retries it until the queue's
        # max attempts, so it is raised as an alert for a person to look at.
        log.alert("bounces_bad_task", str(exc))
        return error_response(exc.code, str(exc), 400, exc.details)
    task = TaskContext.from_request(request)
    with bound(bounce_mailbox=workspace_id, workspace_id=workspace_id, task=task.task_name):
        return json_response(poll(get_runtime(), workspace_id))
