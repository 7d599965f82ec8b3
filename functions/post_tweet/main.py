"""post_tweet: Cloud Tasks delivers one post (or thread) to publish on X."""

import functions_framework
from flask import Request

from shared.http import BadRequest, TaskContext, error_response, json_body, json_response
from shared.log import bound, get_logger
from shared.runtime import get_runtime
from shared.x.worker import BadTask, handle

log = get_logger("post_tweet")


@functions_framework.http
def post_tweet(request: Request):  # type: ignore[no-untyped-def]
    task = TaskContext.from_request(request)
    try:
        payload = json_body(request)
        with bound(task=task.task_name, execution=task.execution_count):
            result = handle(get_runtime(), payload)
    except (BadRequest, BadTask) as exc:
        # Retrying cannot fix a malformed task: answer 400 and log it for a person.
        log.error("malformed post_tweet task", error=str(exc), task=task.task_name)
        return error_response("invalid_task", str(exc), 400)
    # Every outcome (published, requeued, failed) is recorded on the post: 200 stops
    # Cloud Tasks from retrying. Unexpected errors (Firestore down) raise: 500, retried.
    return json_response(result)
