"""api: the admin API (JSON REST under /api/v1), one function for every path.

Thin on purpose: routing, auth, roles and errors live in shared.api; the domain logic
in the pipelines' service modules, imported by the route handlers when first used.
"""

import functions_framework
from flask import Request, Response

from shared.api.app import handle


@functions_framework.http
def api(request: Request) -> Response:
    response: Response = handle(request)
    return response
