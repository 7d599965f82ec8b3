"""track: the only public worker. Open pixel, click redirect, one-click unsubscribe."""

import functions_framework
from flask import Request, Response

from shared.email.track import handle
from shared.http import client_ip
from shared.runtime import get_runtime


@functions_framework.http
def track(request: Request):  # type: ignore[no-untyped-def]
    runtime = get_runtime()
    # RFC 8058 one-click: the body is form-encoded `List-Unsubscribe=One-Click`.
    form = request.form.to_dict() if request.method == "POST" else {}
    reply = handle(
        runtime,
        request.method,
        request.path,
        form,
        user_agent=request.headers.get("User-Agent", ""),
        client=client_ip(request, runtime.settings.trusted_proxies),
    )
    body = b"" if request.method == "HEAD" else reply.body
    return Response(body, status=reply.status, headers=reply.headers, mimetype=reply.mimetype)
