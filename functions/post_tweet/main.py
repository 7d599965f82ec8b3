"""post_tweet: entry point (filled in by its pipeline)."""

import functions_framework
from flask import Request

from shared.http import error_response


@functions_framework.http
def post_tweet(request: Request):  # type: ignore[no-untyped-def]
    return error_response("not_implemented", "post_tweet is not implemented yet", 501)
