"""The OpenAPI 3.1 document, generated from the route declarations.

Pydantic emits JSON Schema 2020-12, which is OpenAPI 3.1's schema dialect, so models
go into `components.schemas` as they are (their `$defs` hoisted beside them).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shared.api.router import Route, Router, Upload

REF = "#/components/schemas/{model}"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {
                    "type": "string",
                    "description": "stable machine code: unauthenticated, forbidden, "
                    "not_found, invalid, invalid_request, conflict, rate_limited, "
                    "provider_error, method_not_allowed, internal",
                },
                "message": {"type": "string", "description": "for a person"},
                "details": {"description": "machine-readable specifics, or null"},
            },
        }
    },
}

_ERRORS = {
    "400": "The request is not valid; `details` lists the fields and what is wrong.",
    "401": "No token, a bad, expired or revoked token.",
    "403": "Your role in this workspace does not allow this.",
    "404": "No such object in this workspace (also another workspace's objects).",
    "409": "The object's state does not allow this now.",
    "429": "Too many requests (sign-in throttling); see Retry-After.",
}


class _Components:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}

    def ref(self, model: type[BaseModel]) -> dict[str, Any]:
        name = model.__name__
        if name not in self.schemas:
            schema = model.model_json_schema(ref_template=REF)
            for def_name, definition in schema.pop("$defs", {}).items():
                self.schemas.setdefault(def_name, definition)
            self.schemas[name] = schema
        return {"$ref": REF.format(model=name)}

    def schema(self, spec: type[BaseModel] | dict[str, Any] | None) -> dict[str, Any]:
        if spec is None:
            return {"type": "object"}
        if isinstance(spec, dict):
            return spec
        return self.ref(spec)


def _parameters(route: Route, comps: _Components, router: Router) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for name in route.params:
        obj = router.objects.get(name)
        desc = "workspace id" if name == "ws" else (f"{obj.label} id" if obj else name)
        desc = router.plain.get(name, desc)
        params.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": desc,
                "schema": {"type": "string"},
            }
        )
    if route.query is not None:
        props = route.query.model_json_schema(ref_template=REF).get("properties", {})
        for name, info in route.query.model_fields.items():
            schema = dict(props.get(name, {}))
            description = schema.pop("description", info.description or "")
            schema.pop("title", None)
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": info.is_required(),
                    "description": description,
                    "schema": schema,
                }
            )
    return params


def _operation(route: Route, comps: _Components, router: Router) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": _parameters(route, comps, router),
    }
    if route.description:
        op["description"] = route.description
    if route.auth:
        op["security"] = [{"bearer": []}]
        role = route.role.value if route.role else "any signed-in user"
        op["x-required-role"] = role
    else:
        op["security"] = []
    if isinstance(route.body, Upload):
        props: dict[str, Any] = {
            "file": {"type": "string", "contentMediaType": "application/octet-stream"}
        }
        for name, text in route.body.fields.items():
            props[name] = {"type": "string", "description": text}
        op["requestBody"] = {
            "required": True,
            "description": route.body.description,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "required": ["file"], "properties": props}
                }
            },
        }
    elif route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": comps.ref(route.body)}},
        }
    ok: dict[str, Any] = {"description": route.summary}
    if route.status != 204:
        item = comps.schema(route.response)
        if route.paged:
            item = {
                "type": "object",
                "required": ["items", "next_cursor"],
                "properties": {
                    "items": {"type": "array", "items": item},
                    "next_cursor": {
                        "type": ["string", "null"],
                        "description": "pass as `cursor` for the next page; null on the last",
                    },
                },
            }
        if route.produces == "application/json":
            ok["content"] = {"application/json": {"schema": item}}
        else:
            ok["content"] = {route.produces: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(route.status): ok}
    for status in _ERRORS:
        if status == "401" and not route.auth:
            continue
        if status == "403" and route.role is None:
            continue
        if status == "429" and route.operation_id != "login":
            continue
        responses[status] = {"$ref": f"#/components/responses/E{status}"}
    op["responses"] = responses
    return op


def build(router: Router, server_url: str = "/") -> dict[str, Any]:
    comps = _Components()
    paths: dict[str, dict[str, Any]] = {}
    for route in sorted(router.routes, key=lambda r: (r.path, r.method)):
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, comps, router)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Herald admin API",
            "version": "1",
            "description": (
                "JSON REST API of Herald. Sign in with POST /api/v1/auth/login, then send "
                "`Authorization: Bearer <token>`. Errors are "
                '`{"error": {"code", "message", "details"}}`. Lists are paged with an '
                "opaque `cursor`; `x-required-role` names the least workspace role needed."
            ),
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": comps.schemas,
            "responses": {
                f"E{status}": {
                    "description": text,
                    "content": {
                        "application/json": {"schema": {"$ref": REF.format(model="Error")}}
                    },
                }
                for status, text in _ERRORS.items()
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
