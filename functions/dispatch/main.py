"""dispatch: called every minute by Cloud Scheduler; enqueues one task per due item."""

import functions_framework
from flask import Request

from shared.dispatch import tick
from shared.http import json_response
from shared.runtime import get_runtime


@functions_framework.http
def dispatch(request: Request):  # type: ignore[no-untyped-def]
    report = tick(get_runtime())
    body = {
        "ok": report.ok,
        "duration_s": report.duration_s,
        "counts": report.counts,
        "errors": report.errors,
    }
    # A 500 makes Cloud Scheduler retry; every source is idempotent.
    return json_response(body, 200 if report.ok else 500)
