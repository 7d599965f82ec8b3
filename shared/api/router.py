"""Route declarations that carry their OpenAPI metadata, and path matching.

A route is declared once, with everything the server enforces and the document
describes: method, path template, summary, the role it needs, the pydantic models of
its query and body, its response schema and the object-valued path parameters. The
OpenAPI document (`shared.api.openapi`) is generated from these declarations, so a
route cannot exist without being described.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from shared.tenancy import Role

if TYPE_CHECKING:
    from shared.api.context import Ctx

PREFIX = "/api/v1"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_PARAM = re.compile(r"\{([a-z_]+)\}")

Handler = Callable[["Ctx"], Any]
Schema = type[BaseModel] | dict[str, Any] | None


@dataclass(frozen=True)
class ObjectParam:
    """A path parameter naming a document of the workspace, resolved before the handler.

    `doc_id(workspace_id, value)` gives the document id (most are the value itself;
    memberships are keyed by workspace and user). A document of another workspace, or
    none, answers 404 with `label` in the message.
    """

    name: str
    collection: str
    label: str
    key: Callable[[str, str], str] | None = None

    def doc_id(self, workspace_id: str, value: str) -> str:
        return value if self.key is None else self.key(workspace_id, value)


@dataclass(frozen=True)
class Upload:
    """A multipart/form-data body: one file under `file` plus optional text fields."""

    description: str
    fields: dict[str, str] = field(default_factory=dict)  # name -> description
    max_bytes: int = 20 * 1024 * 1024


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    # None: any signed-in user (or nobody, when auth is False); else the least role needed
    # in the workspace named by `{ws}`.
    role: Role | None
    auth: bool = True
    query: type[BaseModel] | None = None
    body: type[BaseModel] | Upload | None = None
    response: Schema = None
    status: int = 200
    paged: bool = False
    produces: str = "application/json"
    description: str = ""
    regex: re.Pattern[str] = field(default=re.compile(""), compare=False)
    params: tuple[str, ...] = ()

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.objects: dict[str, ObjectParam] = {}
        # Path parameters that are not documents (e.g. an export's table name).
        self.plain: dict[str, str] = {}

    def object_param(
        self,
        name: str,
        collection: str,
        label: str,
        doc_id: Callable[[str, str], str] | None = None,
    ) -> None:
        self.objects[name] = ObjectParam(name, collection, label, doc_id)

    def plain_param(self, name: str, description: str) -> None:
        self.plain[name] = description

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        role: Role | None = Role.VIEWER,
        auth: bool = True,
        query: type[BaseModel] | None = None,
        body: type[BaseModel] | Upload | None = None,
        response: Schema = None,
        status: int = 200,
        paged: bool = False,
        produces: str = "application/json",
        description: str = "",
    ) -> Callable[[Handler], Handler]:
        if method not in METHODS:
            raise ValueError(f"unsupported method {method}")
        if paged and query is None:
            from shared.api.models import PageQuery

            query = PageQuery
        full = PREFIX + path
        params = tuple(_PARAM.findall(full))
        if role is not None and "ws" not in params:
            raise ValueError(f"{method} {path}: a role needs a {{ws}} path parameter")
        regex = re.compile("^" + _PARAM.sub(r"(?P<\1>[^/]+)", full) + "$")

        def register(handler: Handler) -> Handler:
            route = Route(
                method=method,
                path=full,
                handler=handler,
                summary=summary,
                tag=tag,
                role=role,
                auth=auth,
                query=query,
                body=body,
                response=response,
                status=status,
                paged=paged,
                produces=produces,
                description=description,
                regex=regex,
                params=params,
            )
            clash = [r for r in self.routes if r.method == method and r.path == full]
            if clash:
                raise ValueError(f"{method} {full} declared twice")
            if any(r.operation_id == route.operation_id for r in self.routes):
                raise ValueError(f"handler name {route.operation_id} is used twice")
            self.routes.append(route)
            return handler

        return register

    def actions(
        self,
        base: str,
        param: str,
        noun: str,
        service: Callable[[], Any],
        verbs: dict[str, tuple[str, str]],
        **kw: Any,
    ) -> None:
        """Body-less state changes `POST <base>/<verb>`, each calling
        `service().<function>(runtime, ws, <param>)`; `verbs` maps a verb to
        (function name, summary); operation ids are `<verb>_<noun>`."""
        for verb, (function, summary) in verbs.items():

            def handler(ctx: Ctx, function: str = function) -> Any:
                return getattr(service(), function)(ctx.runtime, ctx.ws, ctx.params[param])

            handler.__name__ = f"{verb.replace('-', '_')}_{noun}"
            self.post(f"{base}/{verb}", summary=summary, **kw)(handler)

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **kw)

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], list[str]]:
        """The route and its path parameters; or None and the methods the path allows."""
        allowed: list[str] = []
        # Literal segments win over parameters: /posts/calendar before /posts/{post_id}.
        for route in sorted(self.routes, key=lambda r: len(r.params)):
            m = route.regex.match(path)
            if m is None:
                continue
            if route.method == method:
                return route, m.groupdict(), []
            allowed.append(route.method)
        return None, {}, allowed


# The one router every routes module registers on.
router = Router()
