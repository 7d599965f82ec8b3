"""Properties every route has, enumerated from the OpenAPI document (not by hand)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import jwt
import pytest

from shared import tenancy
from shared.api.router import router
from tests.api.conftest import Api

_PARAM = re.compile(r"\{([a-z_]+)\}")


def operations(api: Api) -> list[tuple[str, str, dict[str, Any]]]:
    doc = api.call("GET", "/openapi.json").get_json()
    ops = [
        (method.upper(), path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
    ]
    assert len(ops) == len(router.routes)
    return ops


def fill(path: str, ws: str, ids: dict[str, str] | None = None) -> str:
    ids = ids or {}
    return _PARAM.sub(lambda m: ws if m.group(1) == "ws" else ids.get(m.group(1), "x1"), path)


def test_every_path_parameter_is_scoped_to_the_workspace() -> None:
    # A path parameter that is not resolved through the workspace would let an id of
    # another workspace through: each one must be a declared object parameter.
    for route in router.routes:
        for name in route.params:
            assert name == "ws" or name in router.objects or name in router.plain, (
                route.method,
                route.path,
                name,
            )


def test_every_route_answers_401_without_or_with_a_bad_token(api: Api, owner) -> None:
    _, ws = owner
    claims = {"sub": "u", "jti": "j", "iat": 1, "exp": 2**40}
    other_key = jwt.encode(
        {**claims, "iss": "herald-api", "aud": "herald-admin"},
        "not-the-signing-key-0123456789abcdef",
        algorithm="HS256",
    )
    revoked = api.login("alice")
    assert api.call("POST", "/auth/logout", revoked).status_code == 204
    expiring = api.login("alice")
    bad_tokens = {
        "none": None,
        "garbage": "not.a.token",
        "other key": other_key,
        "revoked": revoked,
    }
    protected = [(m, p) for m, p, op in operations(api) if op["security"]]
    assert len(protected) == len(router.routes) - 3  # all but login, the document, the zones
    for method, path in protected:
        url = fill(path, ws)
        for label, bad in bad_tokens.items():
            r = api.call(method, url, bad, json={})
            assert r.status_code == 401, (method, path, label, r.get_json())
            assert r.get_json()["error"]["code"] == "unauthenticated"
    api.runtime.clock.advance(hours=1, seconds=1)  # type: ignore[attr-defined]
    for method, path in protected:
        r = api.call(method, fill(path, ws), expiring, json={})
        assert r.status_code == 401, (method, path, "expired", r.get_json())
        assert "expired" in r.get_json()["error"]["message"]


def test_every_route_answers_404_for_another_workspaces_objects(api: Api, owner) -> None:
    token, ws = owner
    _, other_ws = api.user("mallory", "Other Corp")
    assert other_ws
    now = api.runtime.clock.now()
    ids: dict[str, str] = {}
    for name, spec in router.objects.items():
        # A document of the other workspace under the id the route is given.
        ids[name] = f"foreign-{name}"
        doc_id = spec.doc_id(other_ws, ids[name])
        api.runtime.db.collection(spec.collection).document(doc_id).set(
            {"workspace_id": other_ws, "user_id": ids[name], "role": "owner", "created_at": now}
        )
    checked = 0
    for method, path, _op in operations(api):
        if "{ws}" not in path:
            continue
        # The other workspace itself, with its own objects' ids.
        r = api.call(method, fill(path, other_ws, ids), token, json={})
        assert r.status_code == 404, (method, path, r.get_json())
        assert r.get_json()["error"]["code"] == "not_found"
        params = set(_PARAM.findall(path)) - {"ws"} - set(router.plain)
        if params:
            # My workspace, with the other workspace's objects' ids.
            r = api.call(method, fill(path, ws, ids), token, json={})
            assert r.status_code == 404, (method, path, r.get_json())
            assert r.get_json()["error"]["code"] == "not_found"
            checked += 1
    assert checked >= 2


@pytest.mark.parametrize(
    ("role", "forbidden"),
    [
        (tenancy.Role.VIEWER, {"editor", "owner"}),
        (tenancy.Role.EDITOR, {"owner"}),
    ],
)
def test_roles_are_enforced_on_every_route(api: Api, owner, role, forbidden) -> None:
    _, ws = owner
    token = api.member(ws, f"user-{role.value}", role)
    counted = 0
    for method, path, op in operations(api):
        needed = op.get("x-required-role")
        if needed not in forbidden:
            continue
        r = api.call(method, fill(path, ws), token, json={})
        assert r.status_code == 403, (role, method, path, r.get_json())
        err = r.get_json()["error"]
        assert err["code"] == "forbidden" and needed in err["message"]
        counted += 1
    assert counted >= 1
    # Reading is allowed to every role.
    r = api.call("GET", f"/workspaces/{ws}/members", token)
    assert r.status_code == 200


def test_every_list_and_read_route_works_for_a_member(api: Api, owner) -> None:
    """Reads without object ids answer 200 on an empty workspace (no 500 anywhere)."""
    token, ws = owner
    for method, path, op in operations(api):
        if method != "GET" or set(_PARAM.findall(path)) - {"ws"}:
            continue
        if any(p["in"] == "query" and p["required"] for p in op["parameters"]):
            continue
        r = api.call(method, fill(path, ws), token)
        assert r.status_code == 200, (path, r.get_data(as_text=True)[:300])


def test_signing_key_comes_from_the_secret_store(api: Api, owner) -> None:
    token, _ = owner
    key = api.runtime.secrets.app_secret("token-signing-key")
    claims = jwt.decode(
        token,
        key,
        algorithms=["HS256"],
        audience="herald-admin",
        options={"verify_exp": False},  # the frozen clock is in the past
    )
    assert claims["exp"] - claims["iat"] == int(timedelta(hours=1).total_seconds())
    assert claims["jti"] and claims["sub"]
