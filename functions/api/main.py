"""api: the admin API (JSON REST under /api/v1), one function for every path.

Thin on purpose: routing, auth, roles and errors live in shared.api; the domain logic
in the pipelines' service modules, imported by the route handlers when first used.
"""

import functions_framework
from flask import Request, Response

from shared.api.app import framework_error, handle


@functions_framework.http
def api(request: Request) -> Response:
    response: Response = handle(request)
    return response


# The framework answers a few paths itself (/robots.txt, /favicon.ico) and refuses
# malformed requests before `api` runs: those answers take the API's error shape too.
functions_framework.errorhandler(Exception)(framework_error)
