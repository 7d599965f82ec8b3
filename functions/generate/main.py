"""generate: drafts for a campaign from its brief (Gemini, or offline templates).

POST JSON:
- `{"workspace_id", "campaign_id", "count": 1-20, "topic"?, "images"?}` from the API
  (admin page "Generate"): answers `{generator, drafts, rejected, usage, trends, error}`.
- `{"mode": "autopilot", "workspace_id", "campaign_id", "run_key"}` from a Cloud Task
  enqueued by dispatch: fills the campaign's empty slots for the next days.

Thin: parsing and responses here; google-genai, Pillow and matplotlib load only when a
request needs them (shared.generate imports them lazily).
"""

import functions_framework
from flask import Request, Response

from shared.errors import HeraldError
from shared.http import BadRequest, error_response, json_body, json_response
from shared.log import get_logger

log = get_logger("generate")


@functions_framework.http
def generate(request: Request) -> Response:
    from shared.runtime import get_runtime

    if request.method != "POST":
        return error_response("method_not_allowed", "use POST with a JSON body", 405)
    try:
        body = json_body(request)
        runtime = get_runtime()
        if body.get("mode") == "autopilot":
            from shared.generate import autopilot

            args = [body.get(k) for k in ("workspace_id", "campaign_id", "run_key")]
            if not all(isinstance(v, str) and v for v in args):
                raise BadRequest("autopilot needs workspace_id, campaign_id and run_key")
            return json_response(autopilot.run(runtime, *(str(v) for v in args)))
        from shared.generate.service import GenerateRequest
        from shared.generate.service import generate as run

        outcome = run(runtime, GenerateRequest.parse(body))
        return json_response(outcome.to_dict())
    except BadRequest as exc:
        return error_response(exc.code, str(exc), 400, exc.details)
    except HeraldError as exc:
        if exc.status >= 500 or exc.status == 429:
            log.warning("generation failed", code=exc.code, reason=exc.message)
        return error_response(exc.code, exc.message, exc.status, exc.details)
