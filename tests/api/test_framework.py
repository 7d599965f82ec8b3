"""The API framework: sign-in flow, errors, CORS, the OpenAPI document, paging."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from openapi_spec_validator import validate

from shared import tenancy
from shared.api import auth
from shared.api.context import Ctx
from shared.api.paging import page
from shared.api.router import router
from shared.errors import Unauthenticated
from shared.queries import Order, QuerySpec
from tests.api.conftest import ORIGIN, PASSWORD, Api


def test_openapi_document_is_valid_3_1_and_describes_every_route(api: Api) -> None:
    r = api.call("GET", "/openapi.json")
    assert r.status_code == 200
    doc = r.get_json()
    assert doc["openapi"].startswith("3.1")
    validate(doc)  # raises on an invalid OpenAPI 3.1 document
    described = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    declared = {(route.method, route.path) for route in router.routes}
    assert described == declared
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert op["summary"] and op["operationId"], (method, path)
            assert any(s.startswith("2") for s in op["responses"]), (method, path)
            if op["security"]:
                assert "401" in op["responses"] and "x-required-role" in op, (method, path)


def test_sign_in_me_and_sign_out(api: Api, owner) -> None:
    token, ws = owner
    r = api.call("GET", "/auth/me", token)
    assert r.status_code == 200
    me = r.get_json()
    assert me["user"]["username"] == "alice"
    assert me["workspaces"] == [
        {
            "id": ws,
            "name": "Acme",
            "timezone": "UTC",
            "role": "owner",
            "created_at": me["workspaces"][0]["created_at"],
        }
    ]
    assert api.call("POST", "/auth/logout", token).status_code == 204
    r = api.call("GET", "/auth/me", token)
    assert r.status_code == 401
    assert "signed out" in r.get_json()["error"]["message"]


def test_wrong_password_and_unknown_user_answer_alike(api: Api, owner) -> None:
    for username in ("alice", "nobody"):
        r = api.call("POST", "/auth/login", json={"username": username, "password": "wrong pass"})
        assert r.status_code == 401
        assert r.get_json()["error"] == {
            "code": "unauthenticated",
            "message": "the username or password is wrong",
            "details": None,
        }


def test_login_is_throttled_per_username_and_client(api: Api, owner) -> None:
    for _ in range(auth.PER_USER_AND_CLIENT.free):
        r = api.call("POST", "/auth/login", json={"username": "alice", "password": "nope nope"})
        assert r.status_code == 401
    # Now even the right password from this client waits (2 s, then doubling).
    r = api.call("POST", "/auth/login", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 429
    assert r.get_json()["error"]["code"] == "rate_limited"
    assert 0 < int(r.headers["Retry-After"]) <= 15 * 60
    # Another user from the same address is not slowed by alice's failures.
    api.user("bob", "Bob's")
    assert (
        api.call("POST", "/auth/login", json={"username": "bob", "password": PASSWORD}).status_code
        == 200
    )
    api.runtime.clock.advance(seconds=int(r.headers["Retry-After"]))  # type: ignore[attr-defined]
    assert api.login("alice")


def test_login_is_throttled_per_client_address(api: Api, owner, monkeypatch) -> None:
    # The real limit, only smaller.
    monkeypatch.setattr(auth, "PER_CLIENT", auth.Limit("ip", free=6))
    # "<spoofable>, <client>, <Google's load balancer>": the client is the second to last.
    attacker = {"X-Forwarded-For": "10.9.9.9, 203.0.113.7, 198.51.100.250"}
    for i in range(6):
        r = api.call(
            "POST",
            "/auth/login",
            json={"username": f"guess{i}", "password": "x" * 10},
            headers=attacker,
        )
        assert r.status_code == 401
    r = api.call(
        "POST", "/auth/login", json={"username": "alice", "password": PASSWORD}, headers=attacker
    )
    assert r.status_code == 429
    # The spoofable first entry does not matter; a different client address is fine.
    other = {"X-Forwarded-For": "10.9.9.9, 198.51.100.1, 198.51.100.250"}
    r = api.call(
        "POST", "/auth/login", json={"username": "alice", "password": PASSWORD}, headers=other
    )
    assert r.status_code == 200


def test_cors_allows_only_the_admin_origin(api: Api, owner) -> None:
    token, ws = owner
    pre = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    r = api.call("OPTIONS", f"/workspaces/{ws}/members/u1", headers=pre)
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "PATCH" in r.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
    r = api.call("OPTIONS", "/auth/me", headers={**pre, "Origin": "https://evil.example"})
    assert r.status_code == 403
    assert "Access-Control-Allow-Origin" not in r.headers
    r = api.call("GET", "/auth/me", token, headers={"Origin": ORIGIN})
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert r.headers["Vary"] == "Origin"
    r = api.call("GET", "/auth/me", token, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers
    # Errors carry the CORS headers too, so the page can read their message.
    r = api.call("GET", "/auth/me", None, headers={"Origin": ORIGIN})
    assert r.status_code == 401 and r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "*" not in r.headers.get("Access-Control-Allow-Origin", "")


def test_unknown_route_wrong_method_and_bad_json(api: Api, owner) -> None:
    token, ws = owner
    r = api.call("GET", "/nope", token)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    r = api.call("PUT", "/auth/login")
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
    assert r.get_json()["error"]["code"] == "method_not_allowed"
    r = api.call("POST", "/auth/login", data="{not json", content_type="application/json")
    assert r.status_code == 400
    assert "not valid JSON" in r.get_json()["error"]["message"]
    r = api.call(
        "POST", f"/workspaces/{ws}/invitations", token, data="[1]", content_type="application/json"
    )
    assert r.status_code == 400 and "JSON object" in r.get_json()["error"]["message"]


def test_validation_messages_a_person_understands(api: Api, owner) -> None:
    token, ws = owner
    r = api.call("POST", "/auth/login", json={"username": "alice"})
    err = r.get_json()["error"]
    assert r.status_code == 400 and err["code"] == "invalid"
    assert err["message"] == "the request body is not valid: password is required"
    assert err["details"] == [{"field": "password", "message": "password is required"}]
    r = api.call(
        "POST",
        f"/workspaces/{ws}/invitations",
        token,
        json={"username": "bob", "role": "admin", "colour": 1},
    )
    details = {d["field"]: d["message"] for d in r.get_json()["error"]["details"]}
    assert "role" in details and "'owner'" in details["role"]
    assert details["colour"] == "colour is not a known field"
    r = api.call("PATCH", f"/workspaces/{ws}", token, json={"timezone": "Mars/Olympus"})
    assert r.status_code == 400 and "IANA" in r.get_json()["error"]["message"]
    r = api.call("GET", f"/workspaces/{ws}/members?limit=0", token)
    assert r.status_code == 400
    assert r.get_json()["error"]["details"][0]["field"] == "limit"


def test_unhandled_errors_answer_500_without_internals(api: Api, owner) -> None:
    token, _ = owner

    @router.get("/test-boom", summary="boom", tag="test", role=None)
    def boom(ctx: Ctx) -> Any:
        raise RuntimeError("secret internal detail /etc/passwd")

    try:
        r = api.call("GET", "/test-boom", token)
    finally:
        router.routes.pop()
    assert r.status_code == 500
    err = r.get_json()["error"]
    assert err["code"] == "internal" and "passwd" not in r.get_data(as_text=True)
    assert err["details"]["error_id"] in err["message"]


def test_members_add_change_remove_and_keep_an_owner(api: Api, owner) -> None:
    token, ws = owner
    carol, _ = api.user("carol")
    r = api.call(
        "POST", f"/workspaces/{ws}/invitations", token, json={"username": "carol", "role": "editor"}
    )
    assert r.status_code == 201, r.get_json()
    carol_token = api.login("carol")
    invitation = r.get_json()["id"]
    r = api.call("POST", f"/invitations/{invitation}/accept", carol_token)
    assert r.status_code == 200 and tenancy.role_of(api.runtime.db, ws, carol) == "editor"
    me = api.call("GET", "/auth/me", token).get_json()["user"]["id"]
    r = api.call("PATCH", f"/workspaces/{ws}/members/{me}", token, json={"role": "viewer"})
    assert r.status_code == 409 and "owner" in r.get_json()["error"]["message"]
    r = api.call("PATCH", f"/workspaces/{ws}/members/{carol}", token, json={"role": "owner"})
    assert r.status_code == 200 and r.get_json()["role"] == "owner"
    r = api.call("DELETE", f"/workspaces/{ws}/members/{carol}", token)
    assert r.status_code == 204
    assert tenancy.role_of(api.runtime.db, ws, carol) is None
    r = api.call("DELETE", f"/workspaces/{ws}/members/{me}", token)
    assert r.status_code == 409


def test_workspaces_create_list_update(api: Api, owner) -> None:
    token, ws = owner
    r = api.call("POST", "/workspaces", token, json={"name": "Beta", "timezone": "Europe/Paris"})
    assert r.status_code == 201 and r.get_json()["role"] == "owner"
    names = [w["name"] for w in api.call("GET", "/workspaces", token).get_json()]
    assert names == ["Acme", "Beta"]
    r = api.call("PATCH", f"/workspaces/{ws}", token, json={"name": "Acme 2"})
    assert r.get_json()["name"] == "Acme 2"


def test_member_list_pages_walk_everything_once(api: Api, owner) -> None:
    token, ws = owner
    now = api.runtime.clock.now()
    for i in range(11):
        tenancy.set_role(api.runtime.db, ws, f"user{i:02d}", tenancy.Role.VIEWER, now)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        q = f"?limit=4&cursor={cursor}" if cursor else "?limit=4"
        r = api.call("GET", f"/workspaces/{ws}/members{q}", token)
        assert r.status_code == 200
        body = r.get_json()
        seen += [m["user_id"] for m in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 12 and len(set(seen)) == 12
    r = api.call("GET", f"/workspaces/{ws}/members?cursor=%%%", token)
    assert r.status_code == 400 and r.get_json()["error"]["details"][0]["field"] == "cursor"


PROBE = QuerySpec(
    "test.paging_probe",
    "paging_probe",
    equals=("workspace_id",),
    order=(Order("created_at"),),
    reversible=True,
    paged=True,
)


def _probe_rows(api: Api) -> None:
    db = api.runtime.db
    base = api.runtime.clock.now()
    for i in range(13):
        db.collection("paging_probe").document(f"d{i:02d}").set(
            {"workspace_id": "w", "created_at": base + timedelta(minutes=i // 4)}
        )


@pytest.mark.parametrize("descending", [False, True])
def test_paging_on_a_field_with_ties(api: Api, descending: bool) -> None:
    """Rows sharing a sort value (same created_at, four each) across page boundaries
    (pages of three) are neither repeated nor skipped, in both directions."""
    _probe_rows(api)
    seen: list[str] = []
    cursor = None
    while True:
        result = page(
            api.runtime.db, PROBE, cursor=cursor, limit=3, descending=descending, workspace_id="w"
        )
        seen += [d.id for d in result.docs]
        cursor = result.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == [f"d{i:02d}" for i in range(13)]
    times = [int(s[1:]) // 4 for s in seen]
    assert times == sorted(times, reverse=descending)
    # Ties come in document-id order (reversed when the order is), so a cursor is exact.
    assert seen == sorted(seen, reverse=descending)


@pytest.mark.parametrize("descending", [False, True])
def test_a_cursor_of_the_earlier_format_still_resumes(api: Api, descending: bool) -> None:
    """Clients may hold a cursor from before: the sort value and every id returned at it."""
    from shared.api.paging import encode_cursor

    _probe_rows(api)
    limit = 7 if descending else 6  # ends inside a run of four: d04-d05, or d07-d06
    first = page(api.runtime.db, PROBE, limit=limit, descending=descending, workspace_id="w")
    last = first.docs[-1]
    ties = [d.id for d in first.docs if d.get("created_at") == last.get("created_at")]
    assert len(ties) == 2
    old = encode_cursor(last.get("created_at"), list(reversed(ties)))
    rest = page(
        api.runtime.db, PROBE, cursor=old, limit=20, descending=descending, workspace_id="w"
    )
    ids = [d.id for d in first.docs] + [d.id for d in rest.docs]
    assert ids == sorted((f"d{i:02d}" for i in range(13)), reverse=descending)


def test_the_guide_lists_every_route() -> None:
    from shared.api.app import load_routes
    from shared.api.doc import DOC, render

    text = DOC.read_text()
    assert render(text, load_routes()) == text, "run `python -m shared.api.doc`"


def test_change_my_password_ends_other_sessions(api: Api, owner) -> None:
    token, _ = owner
    other_session = api.login("alice")
    r = api.call(
        "POST",
        "/auth/password",
        token,
        json={"current_password": "wrong one!", "new_password": "a brand new pw"},
    )
    assert r.status_code == 400 and r.get_json()["error"]["details"][0]["field"] == (
        "current_password"
    )
    api.runtime.clock.advance(seconds=5)  # type: ignore[attr-defined]
    r = api.call(
        "POST",
        "/auth/password",
        token,
        json={"current_password": PASSWORD, "new_password": "a brand new pw"},
    )
    assert r.status_code == 200, r.get_json()
    fresh = r.get_json()["token"]
    assert api.call("GET", "/auth/me", fresh).status_code == 200
    for old in (token, other_session):
        r = api.call("GET", "/auth/me", old)
        assert r.status_code == 401, r.get_json()
    assert (
        "password was changed"
        in api.call("GET", "/auth/me", other_session).get_json()["error"]["message"]
    )
    assert api.login("alice", "a brand new pw")
    r = api.call("POST", "/auth/login", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 401


def test_refresh_replaces_the_token_within_the_session_limit(api: Api, owner) -> None:
    token, _ = owner
    clock = api.runtime.clock
    signed_in = clock.now()
    refreshed = 0
    while True:
        clock.advance(minutes=50)  # type: ignore[attr-defined]
        r = api.call("POST", "/auth/refresh", token)
        if r.status_code != 200:
            break
        old, token = token, r.get_json()["token"]
        assert api.call("GET", "/auth/me", old).status_code == 401  # revoked
        me = api.call("GET", "/auth/me", token).get_json()
        expires = datetime.fromisoformat(me["token_expires_at"])
        assert expires <= signed_in + timedelta(hours=12)
        refreshed += 1
    # The 14th refresh (at 11 h 40) got a token capped at 12 h; at 12 h 30 it is over.
    assert refreshed == 14
    assert r.status_code == 401 and "sign in again" in r.get_json()["error"]["message"]
    # Refreshing close to the limit is refused with its own message.
    now = int(clock.now().timestamp())
    claims = {"sub": "u", "jti": "j", "iat": now, "exp": now + 60, "auth_time": now - 43_000}
    with pytest.raises(Unauthenticated, match="12 hours"):
        auth.refresh(api.runtime, claims)
