"""Meta, sign-in, workspaces and members.

Over 400 lines because sign-in and the workspace and member routes share the membership
helpers below (a user's workspaces, the owners, keeping one): either half would import
them from the other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from shared.api import auth
from shared.api.context import Ctx, Reply
from shared.api.lists import list_page
from shared.api.models import Body
from shared.api.router import router
from shared.errors import Conflict, NotFound, ValidationError
from shared.http import client_ip
from shared.queries import build
from shared.queries import core as q
from shared.tenancy import (
    MEMBERSHIPS,
    USERS,
    WORKSPACES,
    Role,
    check_timezone,
    create_workspace,
    hash_password,
    membership_id,
    set_role,
    verify_password,
    workspaces_of,
)

router.object_param("member_id", MEMBERSHIPS, "member", doc_id=membership_id)

# -- models -----------------------------------------------------------------------------


class LoginIn(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class UserOut(BaseModel):
    id: str
    username: str


class WorkspaceOut(BaseModel):
    id: str
    name: str
    timezone: str
    role: Role
    created_at: datetime | None = None


class LoginOut(BaseModel):
    token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme's name
    expires_at: datetime
    user: UserOut
    workspaces: list[WorkspaceOut]


class MeOut(BaseModel):
    user: UserOut
    workspaces: list[WorkspaceOut]
    token_expires_at: datetime


class PasswordIn(Body):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=10, max_length=1024)


class TokenOut(BaseModel):
    token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme's name
    expires_at: datetime


class WorkspaceIn(Body):
    name: str = Field(min_length=1, max_length=120)
    timezone: str = Field("UTC", description="IANA zone, e.g. Europe/Paris")


class WorkspacePatch(Body):
    name: str | None = Field(None, min_length=1, max_length=120)
    timezone: str | None = Field(None, description="IANA zone, e.g. Europe/Paris")


class MemberOut(BaseModel):
    user_id: str
    username: str
    role: Role
    updated_at: datetime | None = None


class MemberPatch(Body):
    role: Role


class SystemOut(BaseModel):
    last_tick_at: datetime | None
    tick_errors: dict[str, str]
    sandbox: bool


# -- helpers ----------------------------------------------------------------------------


def _workspaces(ctx: Ctx, user_id: str) -> list[dict[str, Any]]:
    memberships = workspaces_of(ctx.db, user_id)
    if not memberships:
        return []
    refs = [ctx.db.collection(WORKSPACES).document(m.workspace_id) for m in memberships]
    docs = {s.id: s.to_dict() for s in ctx.db.get_all(refs) if s.exists}
    out = []
    for m in memberships:
        ws = docs.get(m.workspace_id)
        if ws is not None:
            out.append(_workspace_out(m.workspace_id, ws, m.role))
    return sorted(out, key=lambda w: (w["name"].lower(), w["id"]))


def _workspace_out(ws_id: str, data: dict[str, Any], role: Role) -> dict[str, Any]:
    return {
        "id": ws_id,
        "name": data.get("name", ""),
        "timezone": data.get("timezone", "UTC"),
        "role": role.value,
        "created_at": data.get("created_at"),
    }


def _owners(ctx: Ctx) -> list[str]:
    query = build(ctx.db, q.OWNERS, workspace_id=ctx.ws, role=Role.OWNER.value)
    return [d.get("user_id") for d in query.stream()]


def _keep_an_owner(ctx: Ctx, user_id: str) -> None:
    if _owners(ctx) == [user_id]:
        raise Conflict(
            "a workspace needs at least one owner; make someone else owner first",
            details={"user_id": user_id},
        )


def _usernames(ctx: Ctx, user_ids: list[str]) -> dict[str, str]:
    refs = [ctx.db.collection(USERS).document(u) for u in user_ids]
    return {s.id: str(s.get("username")) for s in ctx.db.get_all(refs) if s.exists} if refs else {}


# -- meta -------------------------------------------------------------------------------


@router.get(
    "/openapi.json",
    summary="This API's OpenAPI 3.1 document",
    tag="meta",
    auth=False,
    role=None,
    response={"type": "object", "description": "OpenAPI 3.1 document"},
)
def openapi_document(ctx: Ctx) -> Any:
    from shared.api.openapi import build

    # Built once per process (pydantic schema generation is not free); routes are
    # registered at import, so the count only changes in tests that add a route.
    cached = _openapi_cache.get(len(router.routes))
    if cached is None:
        cached = _openapi_cache[len(router.routes)] = build(router)
    return cached


_openapi_cache: dict[int, dict[str, Any]] = {}


@router.get(
    "/workspaces/{ws}/system",
    summary="Whether the scheduler is alive (last dispatch tick) and sandbox mode",
    tag="meta",
    response=SystemOut,
)
def system_status(ctx: Ctx) -> Any:
    snap = ctx.db.collection("system").document("dispatch").get()
    data = snap.to_dict() if snap.exists else {}
    return {
        "last_tick_at": data.get("last_tick_at"),
        "tick_errors": data.get("errors") or {},
        "sandbox": ctx.runtime.settings.sandbox,
    }


@router.get(
    "/timezones",
    summary="The IANA timezones Herald accepts (canonical names, UTC first), with offsets",
    tag="meta",
    auth=False,
    role=None,
    response={"type": "object", "description": "{zones: [{name, offset_minutes}], count}"},
    description="The server's own zone database, the one every timezone field is checked "
    "against (a browser's list differs: Chromium's lacks UTC and Asia/Kolkata). "
    "`offset_minutes` is the offset now. Cacheable for an hour.",
)
def timezones(ctx: Ctx) -> Any:
    from shared.timezones import zone_list

    return Reply(zone_list(ctx.now()), headers={"Cache-Control": "public, max-age=3600"})


# -- auth -------------------------------------------------------------------------------


@router.post(
    "/auth/login",
    summary="Sign in with username and password; returns a bearer token valid for 1 hour",
    tag="auth",
    auth=False,
    role=None,
    body=LoginIn,
    response=LoginOut,
    description=(
        "Failed attempts are throttled per username and client address, and per client "
        "address, with a doubling wait; while throttled every attempt answers 429 with "
        "Retry-After. Failures from other addresses never lock a user out."
    ),
)
def login(ctx: Ctx) -> Any:
    body: LoginIn = ctx.body
    user_id, token, expires = auth.login(
        ctx.runtime,
        body.username,
        body.password,
        client_ip(ctx.request, ctx.runtime.settings.trusted_proxies),
    )
    username = body.username.strip().lower()
    return {
        "token": token,
        "token_type": "Bearer",
        "expires_at": expires,
        "user": {"id": user_id, "username": username},
        "workspaces": _workspaces(ctx, user_id),
    }


@router.post(
    "/auth/logout",
    summary="Sign out: the token is revoked at once",
    tag="auth",
    role=None,
    status=204,
)
def logout(ctx: Ctx) -> Any:
    auth.revoke(ctx.runtime, ctx.claims)
    return None


@router.post(
    "/auth/refresh",
    summary="Trade a valid token for a fresh one (the old one is revoked)",
    tag="auth",
    role=None,
    response=TokenOut,
    description="Call it some minutes before `expires_at` to stay signed in while the page "
    "is in use; a sign-in lasts at most 12 hours, then the password is asked again.",
)
def refresh_token(ctx: Ctx) -> Any:
    token, expires = auth.refresh(ctx.runtime, ctx.claims)
    return {"token": token, "token_type": "Bearer", "expires_at": expires}


@router.get("/auth/me", summary="Who I am and my workspaces", tag="auth", role=None, response=MeOut)
def me(ctx: Ctx) -> Any:
    from datetime import UTC

    return {
        "user": {"id": ctx.user_id, "username": ctx.username},
        "workspaces": _workspaces(ctx, ctx.user_id or ""),
        "token_expires_at": datetime.fromtimestamp(int(ctx.claims["exp"]), UTC),
    }


@router.post(
    "/auth/password",
    summary="Change my password; every other session ends, this one gets a new token",
    tag="auth",
    role=None,
    body=PasswordIn,
    response=TokenOut,
)
def change_password(ctx: Ctx) -> Any:
    body: PasswordIn = ctx.body
    ip = client_ip(ctx.request, ctx.runtime.settings.trusted_proxies)
    # Same throttle and check as sign-in: a stolen token cannot brute-force the password.
    auth.check_throttle(ctx.runtime, ctx.username or "", ip)
    ref = ctx.db.collection(USERS).document(ctx.user_id or "")
    if not verify_password(str(ref.get().get("password_hash") or ""), body.current_password):
        auth.record_failure(ctx.runtime, ctx.username or "", ip)
        raise ValidationError(
            "the current password is wrong",
            details=[{"field": "current_password", "message": "wrong password"}],
        )
    now = ctx.now()
    # Whole seconds: tokens carry auth_time in seconds, and this one must stay valid.
    changed = now.replace(microsecond=0)
    ref.update({"password_hash": hash_password(body.new_password), "password_changed_at": changed})
    auth.revoke(ctx.runtime, ctx.claims)
    token, expires = auth.issue_token(ctx.runtime, ctx.user_id or "", int(changed.timestamp()))
    return {"token": token, "token_type": "Bearer", "expires_at": expires}


# -- workspaces -------------------------------------------------------------------------


@router.get(
    "/workspaces",
    summary="My workspaces with my role in each",
    tag="workspaces",
    role=None,
    response={"type": "array", "items": {"$ref": "#/components/schemas/WorkspaceOut"}},
)
def list_workspaces(ctx: Ctx) -> Any:
    return _workspaces(ctx, ctx.user_id or "")


@router.post(
    "/workspaces",
    summary="Create a workspace; I become its owner",
    tag="workspaces",
    role=None,
    body=WorkspaceIn,
    response=WorkspaceOut,
    status=201,
)
def create_workspace_route(ctx: Ctx) -> Any:
    body: WorkspaceIn = ctx.body
    ws_id = create_workspace(ctx.db, body.name, ctx.user_id or "", ctx.now(), body.timezone)
    data = ctx.db.collection(WORKSPACES).document(ws_id).get().to_dict()
    return _workspace_out(ws_id, data, Role.OWNER)


@router.get("/workspaces/{ws}", summary="A workspace", tag="workspaces", response=WorkspaceOut)
def get_workspace(ctx: Ctx) -> Any:
    snap = ctx.db.collection(WORKSPACES).document(ctx.ws).get()
    if not snap.exists:
        raise NotFound("workspace not found")
    return _workspace_out(ctx.ws, snap.to_dict(), ctx.role or Role.VIEWER)


@router.patch(
    "/workspaces/{ws}",
    summary="Rename a workspace or change its timezone",
    tag="workspaces",
    role=Role.OWNER,
    body=WorkspacePatch,
    response=WorkspaceOut,
)
def update_workspace(ctx: Ctx) -> Any:
    body: WorkspacePatch = ctx.body
    changes: dict[str, Any] = {}
    if body.name is not None:
        changes["name"] = body.name
    if body.timezone is not None:
        changes["timezone"] = check_timezone(body.timezone)
    ref = ctx.db.collection(WORKSPACES).document(ctx.ws)
    if changes:
        ref.update({**changes, "updated_at": ctx.now()})
    return _workspace_out(ctx.ws, ref.get().to_dict(), ctx.role or Role.OWNER)


# -- members ----------------------------------------------------------------------------


@router.get(
    "/workspaces/{ws}/members",
    summary="Members of the workspace and their roles",
    tag="members",
    response=MemberOut,
    paged=True,
)
def list_members(ctx: Ctx) -> Any:
    result = list_page(ctx, q.MEMBERS, serialize=lambda s: s.to_dict() or {})
    names = _usernames(ctx, [m["user_id"] for m in result["items"]])
    result["items"] = [
        {
            "user_id": m["user_id"],
            "username": names.get(m["user_id"], "(deleted user)"),
            "role": m["role"],
            "updated_at": m.get("updated_at"),
        }
        for m in result["items"]
    ]
    return result


@router.patch(
    "/workspaces/{ws}/members/{member_id}",
    summary="Change a member's role",
    tag="members",
    role=Role.OWNER,
    body=MemberPatch,
    response=MemberOut,
)
def change_member_role(ctx: Ctx) -> Any:
    body: MemberPatch = ctx.body
    user_id = ctx.params["member_id"]
    if body.role != Role.OWNER:
        _keep_an_owner(ctx, user_id)
    set_role(ctx.db, ctx.ws, user_id, body.role, ctx.now())
    names = _usernames(ctx, [user_id])
    return {
        "user_id": user_id,
        "username": names.get(user_id, "(deleted user)"),
        "role": body.role.value,
        "updated_at": ctx.now(),
    }


@router.delete(
    "/workspaces/{ws}/members/{member_id}",
    summary="Remove a member from the workspace",
    tag="members",
    role=Role.OWNER,
    status=204,
)
def remove_member(ctx: Ctx) -> Any:
    user_id = ctx.params["member_id"]
    _keep_an_owner(ctx, user_id)
    ctx.db.collection(MEMBERSHIPS).document(membership_id(ctx.ws, user_id)).delete()
    return None
