"""publish_ads: entry point (filled in by its pipeline)."""

import functions_framework
from flask import Request

from shared.http import error_response


@functions_framework.http
def publish_ads(request: Request):  # type: ignore[no-untyped-def]
    return error_response("not_implemented", "publish_ads is not implemented yet", 501)
