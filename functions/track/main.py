"""track: the only public worker. Open pixel, click redirect, one-click unsubscribe, and
the providers' bounce and complaint webhooks (`/hooks/<provider>/<workspace_id>`)."""

import functions_framework
from flask import Request, Response, jsonify

from shared.email.track import handle
from shared.http import client_ip
from shared.runtime import get_runtime


@functions_framework.http
def track(request: Request):  # type: ignore[no-untyped-def]
    parts = [p for p in request.path.split("/") if p]
    if parts[:1] == ["track"]:  # Cloud Functions may pass the function name through
        parts = parts[1:]
    if len(parts) == 3 and parts[0] == "hooks":
        return _hook(request, parts[1], parts[2])
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


def _hook(request: Request, provider: str, workspace_id: str):  # type: ignore[no-untyped-def]
    from shared.email.webhooks import MAX_BODY, receive

    if request.method != "POST":
        return Response("Method not allowed", 405, {"Allow": "POST"}, mimetype="text/plain")
    if (request.content_length or 0) > MAX_BODY:
        return jsonify(error="too_large"), 413
    body = request.get_data(cache=False)
    # WSGI headers arrive Title-Cased (X-Twilio-Email-Event-Webhook-Signature, Authorization).
    reply = receive(get_runtime(), provider, workspace_id, dict(request.headers.items()), body)
    return jsonify(reply.body), reply.status
