"""publish_ads: Cloud Tasks worker for job ads on Meta and Google Ads.

Actions: publish (one campaign on one platform), set_status (pause / resume / archive
sync) and insights (daily numbers, the metrics team's contract). The ad SDKs are
imported only inside the platform adapter that needs them.
"""

import functions_framework
from flask import Request

from shared.ads.worker import handle_task
from shared.http import BadRequest, TaskContext, json_body, json_response
from shared.runtime import get_runtime


@functions_framework.http
def publish_ads(request: Request):  # type: ignore[no-untyped-def]
    try:
        body = json_body(request)
    except BadRequest as exc:
        body = {"_invalid": str(exc)}
    result, status = handle_task(get_runtime(), body, TaskContext.from_request(request))
    return json_response(result, status)
