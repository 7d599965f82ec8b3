"""The one entry point of the `api` function: CORS, routing, auth, roles, validation,
errors. Handlers stay thin: they call the pipelines' service modules.

Order of checks for a request, so no answer leaks more than the caller may know:
CORS preflight → route (404 / 405) → token (401) → membership of `{ws}` (404) →
role (403) → object path parameters in this workspace (404) → query and body (400).
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from shared.api import auth
from shared.api.context import Ctx, Reply
from shared.api.router import PREFIX, Route, Router, Upload, router
from shared.errors import HeraldError, NotFound, PermissionDenied, ValidationError
from shared.http import BadRequest, json_body
from shared.log import bound, get_logger
from shared.runtime import Runtime, get_runtime
from shared.tenancy import role_of, scoped_get

log = get_logger("api")

ALLOWED_HEADERS = "Authorization, Content-Type"
EXPOSED_HEADERS = "Retry-After, Content-Disposition"
_routes_loaded = False


def load_routes() -> Router:
    """Import every routes module once (each registers on `router` at import)."""
    global _routes_loaded  # noqa: PLW0603 - one registration per process
    if not _routes_loaded:
        import shared.api.routes  # noqa: F401

        _routes_loaded = True
    return router


# -- responses --------------------------------------------------------------------------


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, bytes):
        return None
    return str(value)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    from flask import Response

    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    body = "" if status == 204 else json.dumps(data, default=_default, ensure_ascii=False)
    return Response(body, status=status, mimetype="application/json", headers=headers or {})


def error_response(
    code: str, message: str, status: int, details: Any = None, headers: dict[str, str] | None = None
) -> Any:
    return json_response(
        {"error": {"code": code, "message": message, "details": details}}, status, headers
    )


# -- validation -------------------------------------------------------------------------


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "body"


def _message(err: Any) -> str:
    name = _field(tuple(err.get("loc", ())))
    if err.get("type") == "missing":
        return f"{name} is required"
    if err.get("type") == "extra_forbidden":
        return f"{name} is not a known field"
    msg = str(err.get("msg", "is not valid"))
    return f"{name}: {msg[0].lower()}{msg[1:]}" if msg else f"{name} is not valid"


def validation_error(exc: PydanticError, where: str) -> ValidationError:
    errors = exc.errors(include_url=False, include_input=False)
    details = [{"field": _field(tuple(e.get("loc", ()))), "message": _message(e)} for e in errors]
    summary = "; ".join(d["message"] for d in details[:3])
    more = f" (and {len(details) - 3} more)" if len(details) > 3 else ""
    return ValidationError(f"the {where} is not valid: {summary}{more}", details=details)


def _parse(model: type[BaseModel], data: Any, where: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        raise validation_error(exc, where) from exc


# -- CORS -------------------------------------------------------------------------------


def cors_headers(runtime: Runtime, origin: str | None) -> dict[str, str]:
    """Headers for an allowed origin (the admin page's, exactly), else none."""
    if not origin or origin.rstrip("/") != runtime.settings.admin_origin:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": EXPOSED_HEADERS,
        "Vary": "Origin",
    }


def _preflight(runtime: Runtime, request: Any) -> Any:
    origin = request.headers.get("Origin")
    headers = cors_headers(runtime, origin)
    if not headers:
        return error_response(
            "forbidden", "this origin may not call the API", 403, headers={"Vary": "Origin"}
        )
    path = api_path(request.path)
    wanted = request.headers.get("Access-Control-Request-Method", "").upper()
    _, _, allowed = router.match("__none__", path)
    if not allowed or (wanted and wanted not in allowed):
        return error_response("not_found", "no such route", 404, headers=headers)
    headers.update(
        {
            "Access-Control-Allow-Methods": ", ".join(sorted(set(allowed))),
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": "600",
        }
    )
    return json_response(None, 204, headers)


# -- dispatch ---------------------------------------------------------------------------


def api_path(path: str) -> str:
    """The path from /api/v1 on; tolerates a prefix a proxy or URL map may leave."""
    index = path.find(PREFIX)
    path = path[index:] if index > 0 else path
    return path.rstrip("/") or "/"


def _check_references(ctx: Ctx) -> None:
    """Every id a body names (its model's `references`) is an object of this workspace,
    on create and on update alike; else 404, as for a path parameter."""
    body = ctx.body
    for field_name, param in getattr(body, "references", {}).items():
        value = getattr(body, field_name, None)
        spec = router.objects[param]
        for item in value if isinstance(value, list) else [value]:
            if item is None or item == "":
                continue
            if scoped_get(ctx.db, spec.collection, ctx.ws, spec.doc_id(ctx.ws, item)) is None:
                raise NotFound(
                    f"{field_name}: {spec.label} not found in this workspace",
                    details=[{"field": field_name, "message": f"no such {spec.label} here"}],
                )


def _resolve_objects(ctx: Ctx) -> None:
    """Every object path parameter names a document of this workspace, or 404."""
    for name, value in ctx.params.items():
        spec = router.objects.get(name)
        if spec is None:
            continue
        data = scoped_get(ctx.db, spec.collection, ctx.ws, spec.doc_id(ctx.ws, value))
        if data is None:
            raise NotFound(f"{spec.label} not found in this workspace")
        data["id"] = value
        ctx.objects[name] = data


def _run(route: Route, ctx: Ctx) -> Any:
    request = ctx.request
    if route.auth:
        who = auth.authenticate(ctx.runtime, request)
        ctx.user_id, ctx.username, ctx.claims = who.user_id, who.username, who.claims
    if "ws" in ctx.params:
        role = role_of(ctx.db, ctx.ws, ctx.user_id or "") if ctx.user_id else None
        if role is None:
            # Not a member: indistinguishable from a workspace that does not exist.
            raise NotFound("workspace not found")
        ctx.role = role
        if route.role is not None and not role.allows(route.role):
            raise PermissionDenied(
                f"this needs the {route.role.value} role in this workspace; "
                f"you are {'an' if role.value[0] in 'aeiou' else 'a'} {role.value}",
                details={"required_role": route.role.value, "your_role": role.value},
            )
        _resolve_objects(ctx)
    query_model = route.query
    if query_model is not None:
        ctx.query = _parse(query_model, request.args.to_dict(), "query string")
    if isinstance(route.body, Upload):
        length = request.content_length or 0
        if length > route.body.max_bytes:
            raise ValidationError(
                f"the file is too large ({length} bytes; at most {route.body.max_bytes})"
            )
    elif route.body is not None:
        if request.mimetype != "application/json":
            # Also keeps cross-site "simple" form posts (text/plain) away from the API.
            raise BadRequest(
                "send the body as JSON with the header Content-Type: application/json",
                details={"content_type": request.mimetype or None},
            )
        ctx.body = _parse(route.body, json_body(request), "request body")
        if "ws" in ctx.params:
            _check_references(ctx)
    with bound(workspace_id=ctx.params.get("ws"), user_id=ctx.user_id):
        result = route.handler(ctx)
    if isinstance(result, Reply):
        return result
    return Reply(result, route.status)


# References into the secrets store and hashes: the browser has no use for them.
_NEVER_SENT = frozenset({"secret_ref", "password_hash", "password_ref"})


def scrub(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: scrub(v) for k, v in data.items() if k not in _NEVER_SENT}
    if isinstance(data, list):
        return [scrub(v) for v in data]
    return data


def _to_response(route: Route, reply: Reply) -> Any:
    from flask import Response

    if isinstance(reply.data, Response):
        return reply.data
    if route.produces != "application/json":
        return Response(
            reply.data, status=reply.status, headers=reply.headers, mimetype=route.produces
        )
    return json_response(scrub(reply.data), reply.status, reply.headers)


def framework_error(exc: BaseException) -> Any:
    """The answer to what the framework itself refuses (its /robots.txt and /favicon.ico
    routes, a malformed request werkzeug rejects): the API's error shape too."""
    from werkzeug.exceptions import HTTPException

    if isinstance(exc, HTTPException):
        status = exc.code or 500
        if status == 404:
            return error_response("not_found", "no such route", 404)
        if status == 405:
            return error_response("method_not_allowed", "this method is not allowed here", 405)
        if status < 500:
            return error_response("invalid_request", exc.name, status)
    error_id = uuid.uuid4().hex[:12]
    log.error("unhandled error in the framework", error_type=type(exc).__name__, error_id=error_id)
    return error_response(
        "internal",
        f"something went wrong on our side; it was logged as {error_id}",
        500,
        {"error_id": error_id},
    )


def handle(request: Any) -> Any:
    """Serve one request (any path, any method) and always answer in the API's shape."""
    from werkzeug.exceptions import HTTPException

    runtime = get_runtime()
    load_routes()
    cors = cors_headers(runtime, request.headers.get("Origin"))
    with bound(http_method=request.method, path=request.path):
        try:
            if request.method == "OPTIONS":
                return _preflight(runtime, request)
            path = api_path(request.path)
            route, params, allowed = router.match(request.method, path)
            if route is None:
                if allowed:
                    methods = ", ".join(sorted(set(allowed)))
                    response = error_response(
                        "method_not_allowed",
                        f"{request.method} is not allowed here; use {methods}",
                        405,
                        headers={"Allow": methods},
                    )
                else:
                    response = error_response("not_found", f"no such route: {path[:200]}", 404)
            else:
                ctx = Ctx(request=request, runtime=runtime, params=params)
                response = _to_response(route, _run(route, ctx))
        except HeraldError as exc:
            headers = {}
            if exc.status == 429 and isinstance(exc.details, dict):
                headers["Retry-After"] = str(exc.details.get("retry_after_s", 60))
            if exc.status >= 500:
                log.error("request failed", code=exc.code, error=exc.message)
            response = error_response(exc.code, exc.message, exc.status, exc.details, headers)
        except BadRequest as exc:
            response = error_response(exc.code, str(exc), exc.status, exc.details)
        except HTTPException as exc:
            status = exc.code or 500
            response = error_response(
                "invalid_request" if status < 500 else "internal",
                exc.description or exc.name,
                status,
            )
        except Exception as exc:
            error_id = uuid.uuid4().hex[:12]
            log.exception("unhandled error in api", exc=exc, error_id=error_id)
            response = error_response(
                "internal",
                f"something went wrong on our side; it was logged as {error_id}",
                500,
                {"error_id": error_id},
            )
    for key, value in cors.items():
        response.headers[key] = value
    return response
