"""track: entry point (filled in by its pipeline)."""

import functions_framework
from flask import Request

from shared.http import error_response


@functions_framework.http
def track(request: Request):  # type: ignore[no-untyped-def]
    return error_response("not_implemented", "track is not implemented yet", 501)
