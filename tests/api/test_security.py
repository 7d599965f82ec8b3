"""Hostile requests, class by class (issue 17): each answers 4xx in the API's error shape,
never 5xx, and never another workspace's data."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from PIL import Image

from shared import media, tenancy
from shared.api.router import router
from shared.errors import NotFound, ValidationError
from tests.api.conftest import PASSWORD, Api
from tests.images import image_bytes, png


def ok_or_error(r: Any, error_status: int = 400) -> None:
    """A 2xx answer, or the error shape with `error_status`; never a 5xx."""
    if r.status_code < 300:
        assert r.mimetype == "application/json" and "error" not in r.get_json()
    else:
        error_of(r, error_status)


def error_of(r: Any, status: int | tuple[int, ...]) -> dict[str, Any]:
    statuses = status if isinstance(status, tuple) else (status,)
    assert r.status_code in statuses, (r.status_code, r.get_data(as_text=True)[:300])
    assert r.mimetype == "application/json", r.get_data(as_text=True)[:200]
    body = r.get_json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
    return dict(body["error"])


def upload_png(api: Api, token: str, ws: str, data: bytes | None = None) -> Any:
    return api.call(
        "POST",
        f"/workspaces/{ws}/media",
        token,
        data={"file": (io.BytesIO(data if data is not None else png()), "a.png", "image/png")},
        content_type="multipart/form-data",
    )


@pytest.fixture
def two_workspaces(api: Api, owner) -> dict[str, Any]:
    """alice owns A (with an image and an X account); mallory owns B."""
    token_a, ws_a = owner
    api.user("mallory", "B Corp")
    token_b = api.login("mallory")
    ws_b = next(w["id"] for w in api.call("GET", "/workspaces", token_b).get_json())
    image = upload_png(api, token_a, ws_a).get_json()
    account = api.call(
        "POST", f"/workspaces/{ws_a}/x/accounts/sandbox", token_a, json={"handle": "a_acct"}
    ).get_json()
    return {
        "a": (token_a, ws_a),
        "b": (token_b, ws_b),
        "image_a": image["id"],
        "account_a": account["id"],
    }


# -- 1. media references --------------------------------------------------------------


def test_another_workspaces_image_cannot_be_read_or_attached(api: Api, two_workspaces) -> None:
    token_b, ws_b = two_workspaces["b"]
    _, ws_a = two_workspaces["a"]
    image_a = two_workspaces["image_a"]
    stored_key = f"{ws_a}/{image_a}.png"
    # By id, through B's workspace: not found.
    error_of(api.call("GET", f"/workspaces/{ws_b}/media/{image_a}/content", token_b), 404)
    error_of(api.call("GET", f"/workspaces/{ws_b}/media/{image_a}", token_b), 404)
    # The reference forms the report used: the route is gone, paths are not ids.
    for ref in (
        f"file:{ws_b}/../{stored_key}",
        f"file:{ws_b}/./../{stored_key}",
        f"file:{ws_b}//../{stored_key}",
    ):
        r = api.call("GET", f"/workspaces/{ws_b}/media/content", token_b, query_string={"ref": ref})
        error_of(r, 404)
    account_b = api.call(
        "POST", f"/workspaces/{ws_b}/x/accounts/sandbox", token_b, json={"handle": "b_acct"}
    ).get_json()
    for media_item in (
        image_a,
        f"file:{ws_b}/../{stored_key}",
        "gs://some-other-bucket/x.png",
        f"gs://some-other-bucket/{ws_b}/../{stored_key}",
    ):
        r = api.call(
            "POST",
            f"/workspaces/{ws_b}/posts",
            token_b,
            json={"account_id": account_b["id"], "text": "mine", "media": [media_item]},
        )
        error_of(r, 400)


def test_old_refs_of_stored_posts_resolve_only_inside_their_workspace(runtime) -> None:
    stored = media.put(runtime, "wsA", png())
    # What the old store wrote, kept on posts created before media ids.
    legacy = f"wsA/{'ab' * 16}.png"
    path = runtime.settings.media_dir + "/" + legacy
    import pathlib

    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(path).write_bytes(png())
    data, ctype = media.resolve(runtime, "wsA", f"file:{legacy}")
    assert ctype == "image/png" and data == png()
    for hostile in (
        f"file:wsB/../{legacy}",
        f"file:wsB/./../{legacy}",
        f"file:wsB//../{legacy}",
        f"file:../{legacy}",
        "file:wsA/../../etc/passwd",
        f"gs://other-bucket/{legacy}",
    ):
        with pytest.raises(NotFound):
            media.resolve(runtime, "wsB", hostile)
    with pytest.raises(NotFound):
        media.resolve(runtime, "wsB", stored["id"])


# -- 2. references in update bodies ----------------------------------------------------


def test_updates_refuse_another_workspaces_ids_like_creates(api: Api, two_workspaces) -> None:
    token_b, ws_b = two_workspaces["b"]
    foreign_account = two_workspaces["account_a"]
    campaign = api.call(
        "POST", f"/workspaces/{ws_b}/campaigns", token_b, json={"name": "Mine"}
    ).get_json()
    r = api.call(
        "PATCH",
        f"/workspaces/{ws_b}/campaigns/{campaign['id']}",
        token_b,
        json={"account_id": foreign_account},
    )
    err = error_of(r, 404)
    assert err["details"][0]["field"] == "account_id"
    stored = api.runtime.db.collection("campaigns").document(campaign["id"]).get().to_dict()
    assert stored.get("account_id") in (None, "")
    r = api.call(
        "POST",
        f"/workspaces/{ws_b}/campaigns",
        token_b,
        json={"name": "Other", "account_id": foreign_account},
    )
    error_of(r, 404)


def test_every_id_field_of_every_body_is_checked_against_the_workspace() -> None:
    """A body field naming another object must be declared in `references` (checked
    against the caller's workspace on create and update) or be an outside system's id."""
    from shared.api.app import load_routes
    from shared.api.router import Upload

    load_routes()
    for route in router.routes:
        body = route.body
        if body is None or isinstance(body, Upload):
            continue
        declared = set(body.references) | set(body.external_ids)
        for name in body.model_fields:
            if name.endswith(("_id", "_ids")):
                assert name in declared, (route.method, route.path, name)
        for field_name, param in body.references.items():
            assert field_name in body.model_fields and param in router.objects


# -- 3. hostile input: 4xx, not 500 -----------------------------------------------------


def test_deeply_nested_json_and_huge_integers_are_refused(api: Api, owner) -> None:
    token, ws = owner
    deep = "[" * 100_000 + "]" * 100_000
    for path, tok in (("/auth/login", None), (f"/workspaces/{ws}/campaigns", token)):
        r = api.call("POST", path, tok, data=deep, content_type="application/json")
        error_of(r, 400)
        nested = '{"name": "x", "autopilot": ' + '{"a": ' * 40 + "1" + "}" * 40 + "}"
        error_of(api.call("POST", path, tok, data=nested, content_type="application/json"), 400)
    huge = '{"username": "alice", "password": ' + "9" * 5000 + "}"
    error_of(api.call("POST", "/auth/login", data=huge, content_type="application/json"), 400)
    r = api.call(
        "PUT",
        f"/workspaces/{ws}/smtp",
        token,
        json={"host": "smtp.example.com", "port": 587, "from_address": "a@example.com",
              "daily_quota": 10**30},
    )  # fmt: skip
    error_of(r, 400)
    error_of(
        api.call("POST", "/auth/login", data=b'{"a": NaN}', content_type="application/json"), 400
    )


def test_a_huge_timezone_is_refused_everywhere(api: Api, owner) -> None:
    token, ws = owner
    huge = "Europe/" + "A" * 1_000_000
    for name in (huge, "A" * 300, "../../../../etc/passwd", "Europe/Paris\x00"):
        with pytest.raises(ValidationError):
            tenancy.check_timezone(name)
    error_of(api.call("POST", "/workspaces", token, json={"name": "W", "timezone": huge}), 413)
    long_zone = "A" * 5000
    calls = [
        ("POST", "/workspaces", {"name": "W", "timezone": long_zone}),
        ("PATCH", f"/workspaces/{ws}", {"timezone": long_zone}),
        ("POST", f"/workspaces/{ws}/campaigns", {"name": "C", "timezone": long_zone}),
    ]
    for method, path, body in calls:
        error_of(api.call(method, path, token, json=body), 400)


def test_usernames_never_become_document_paths(api: Api, owner) -> None:
    token, ws = owner
    for name in ("a/b", "users/x", "../../x", "..", "__x__"):
        r = api.call("POST", "/auth/login", json={"username": name, "password": "x" * 12})
        error_of(r, 401)
        r = api.call(
            "POST",
            f"/workspaces/{ws}/invitations",
            token,
            json={"username": name, "role": "viewer"},
        )
        error_of(r, 400)


def test_a_test_send_that_cannot_render_is_a_400(api: Api, owner, monkeypatch) -> None:
    token, ws = owner
    monkeypatch.setenv("HERALD_LOCAL_SMTP", "127.0.0.1:9")  # sandbox sender; never reached
    for html in (
        "<p>{{ company.name.first }}</p>",
        "<p>{{ ''.__class__.__mro__[1].__subclasses__() }}</p>",
        "<p>{{ (1).__class__.__base__ }}</p>",
    ):
        created = api.call(
            "POST",
            f"/workspaces/{ws}/email/campaigns",
            token,
            json={"name": "T", "subject": "Hi", "html": html},
        )
        assert created.status_code == 201, created.get_json()
        r = api.call(
            "POST",
            f"/workspaces/{ws}/email/campaigns/{created.get_json()['id']}/test",
            token,
            json={"to": "me@example.com", "sample": {"company": "Acme"}},
        )
        err = error_of(r, 400)
        assert "cannot be rendered" in err["message"]


# -- 4. every answer in the error shape ------------------------------------------------


@pytest.mark.parametrize("path", ["/favicon.ico", "/robots.txt", "/static/app.js", "/api/v1/x"])
def test_framework_answers_take_the_error_shape(api: Api, path: str) -> None:
    for method in ("GET", "POST", "TRACE"):
        r = api.client.open(path, method=method)
        error_of(r, (404, 405))


# -- 5. bounded strings and documents ---------------------------------------------------


def test_megabyte_strings_are_refused(api: Api, owner) -> None:
    token, ws = owner
    mb = "x" * (1024 * 1024)
    big = "y" * 300_000  # under the body limit, over every field's bound
    error_of(
        api.call(
            "POST", f"/workspaces/{ws}/campaigns", token, json={"name": "C", "description": mb}
        ),
        413,
    )
    for path, body in (
        (f"/workspaces/{ws}/campaigns", {"name": "C", "description": big}),
        (f"/workspaces/{ws}/campaigns", {"name": "C", "tone": big}),
        (f"/workspaces/{ws}/templates", {"name": "T", "text": big}),
        (f"/workspaces/{ws}/email/templates", {"name": "T", "html": big}),
        (f"/workspaces/{ws}/campaigns", {"name": "C", "autopilot": {"x": big}}),
    ):
        err = error_of(api.call("POST", path, token, json=body), 400)
        assert err["code"] == "invalid"
    r = api.call(
        "PUT",
        f"/workspaces/{ws}/ads/accounts/meta",
        token,
        json={"account_id": "act_1", "access_token": big},
    )
    error_of(r, 400)


def _worst_bytes(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> int:
    """The most UTF-8 bytes a value of this schema can take in a Firestore document."""
    if "$ref" in schema:
        return _worst_bytes(defs[schema["$ref"].split("/")[-1]], defs, depth)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return max(_worst_bytes(o, defs, depth) for o in options)
    kind = schema.get("type")
    if "enum" in schema or schema.get("format") in ("date-time", "date"):
        return 64
    if kind == "string":
        assert "maxLength" in schema, schema
        return 4 * int(schema["maxLength"]) + 1
    if kind in ("integer", "number", "boolean", "null"):
        return 8
    if kind == "array":
        assert "maxItems" in schema, schema
        return int(schema["maxItems"]) * _worst_bytes(schema.get("items", {}), defs, depth + 1)
    if kind == "object":
        if "x-max-bytes" in schema:
            return int(schema["x-max-bytes"])
        total = sum(
            len(name) + 1 + _worst_bytes(s, defs, depth + 1)
            for name, s in schema.get("properties", {}).items()
        )
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            assert "maxProperties" in schema, schema
            key = 4 * int(schema.get("propertyNames", {}).get("maxLength", 2000)) + 1
            total += int(schema["maxProperties"]) * (key + _worst_bytes(extra, defs, depth + 1))
        return total
    raise AssertionError(f"unbounded schema {schema}")


def test_no_request_body_can_outgrow_a_firestore_document(api: Api) -> None:
    doc = api.call("GET", "/openapi.json").get_json()
    defs = doc["components"]["schemas"]
    checked = 0
    for path, item in doc["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            if schema is None:
                continue
            worst = _worst_bytes(schema, defs)
            # A document holds at most one body's fields (updates replace, never append)
            # plus what the server adds: keep a body well under 1 MiB.
            assert worst < 900 * 1024, (method, path, worst)
            checked += 1
    assert checked >= 40


# -- 6. uploads are decoded and re-encoded ----------------------------------------------


def test_uploads_must_decode_as_images_and_lose_their_metadata(api: Api, owner) -> None:
    token, ws = owner
    html = b"<html><script>alert(document.cookie)</script></html>"
    err = error_of(upload_png(api, token, ws, html), 400)
    assert "not a JPEG, PNG, GIF or WebP" in err["message"]
    error_of(upload_png(api, token, ws, b"GIF89a" + b"\x00" * 20), 400)
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {2: (48.0, 51.0, 0.0)}  # GPS
    jpeg = image_bytes("JPEG", (16, 9), exif=exif.tobytes(), comment=b"secret note")
    assert b"SecretCam" in jpeg
    r = upload_png(api, token, ws, jpeg)  # declared image/png; it is a JPEG
    assert r.status_code == 201, r.get_json()
    stored = r.get_json()
    assert stored["content_type"] == "image/jpeg" and (stored["width"], stored["height"]) == (16, 9)
    served = api.call("GET", f"/workspaces/{ws}/media/{stored['id']}/content", token)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert b"SecretCam" not in served.data and b"secret note" not in served.data
    assert not Image.open(io.BytesIO(served.data)).getexif()


# -- 7. sign-in throttling ------------------------------------------------------------


def _login(api: Api, username: str, password: str, client: str) -> Any:
    return api.call(
        "POST",
        "/auth/login",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": f"{client}, 203.0.113.250"},  # <client>, <Google front end>
    )


def test_failures_elsewhere_never_lock_a_user_out(api: Api, owner) -> None:
    attacker, victim = "198.51.100.66", "192.0.2.10"
    for _ in range(40):
        r = _login(api, "alice", "wrong password", attacker)
        assert r.status_code in (401, 429)
    error_of(_login(api, "alice", "wrong password", attacker), 429)
    # alice, from her own address, signs in at once.
    assert _login(api, "alice", PASSWORD, victim).status_code == 200


def test_wrong_passwords_back_off_doubling(api: Api, owner) -> None:
    client = "192.0.2.20"
    for _ in range(5):
        error_of(_login(api, "alice", "wrong password", client), 401)
    waits = []
    for _ in range(4):
        err = error_of(_login(api, "alice", "wrong password", client), 429)
        waits.append(err["details"]["retry_after_s"])
        api.runtime.clock.advance(seconds=waits[-1])  # type: ignore[attr-defined]
        error_of(_login(api, "alice", "wrong password", client), 401)
    assert waits == [2, 4, 8, 16]
    r = _login(api, "alice", PASSWORD, client)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) == 32
    api.runtime.clock.advance(seconds=32)  # type: ignore[attr-defined]
    assert _login(api, "alice", PASSWORD, client).status_code == 200
    # The right password ended this client's wait for alice.
    error_of(_login(api, "alice", "wrong password", client), 401)


def test_client_address_counts_only_trusted_proxy_entries() -> None:
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    from shared.http import client_ip

    def request(xff: str | None) -> Request:
        headers = {"X-Forwarded-For": xff} if xff is not None else {}
        builder = EnvironBuilder(headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.1"})
        return Request(builder.get_environ())

    spoofed = "6.6.6.6, 198.51.100.7, 203.0.113.250"
    assert client_ip(request(spoofed), 2) == "198.51.100.7"
    assert client_ip(request(spoofed), 1) == "203.0.113.250"
    assert client_ip(request(spoofed), 0) == "10.0.0.1"
    assert client_ip(request(None), 2) == "10.0.0.1"
    assert client_ip(request("not-an-ip, 203.0.113.250"), 2) == "10.0.0.1"


def test_trusted_proxies_is_a_checked_setting() -> None:
    from shared.settings import Settings, SettingsError

    assert Settings.from_env({}).trusted_proxies == 2
    assert Settings.from_env({"HERALD_TRUSTED_PROXIES": "0"}).trusted_proxies == 0
    with pytest.raises(SettingsError):
        Settings.from_env({"HERALD_TRUSTED_PROXIES": "-1"})


# -- 8. membership by invitation only ----------------------------------------------------


def test_members_join_only_by_accepting_an_invitation(api: Api, owner) -> None:
    token, ws = owner
    api.user("bob")
    # The old way (add any username, 201) is gone.
    r = api.call("POST", f"/workspaces/{ws}/members", token, json={"username": "bob"})
    error_of(r, 405)
    answers = []
    for name in ("bob", "nobody-has-this"):
        r = api.call(
            "POST",
            f"/workspaces/{ws}/invitations",
            token,
            json={"username": name, "role": "editor"},
        )
        assert r.status_code == 201, r.get_json()
        body = r.get_json()
        answers.append({k: v for k, v in body.items() if k not in ("id", "username")})
    assert answers[0] == answers[1]  # nothing tells whether the account exists
    pending = api.call("GET", f"/workspaces/{ws}/invitations", token).get_json()["items"]
    assert sorted(i["username"] for i in pending) == ["bob", "nobody-has-this"]
    assert tenancy.role_of(api.runtime.db, ws, tenancy.find_user(api.runtime.db, "bob")[0]) is None
    # bob sees it, and joins only when he accepts.
    bob = api.login("bob")
    mine = api.call("GET", "/invitations", bob).get_json()["items"]
    assert [(i["workspace_name"], i["role"]) for i in mine] == [("Acme", "editor")]
    # Nobody else can accept it for him.
    api.user("mallory")
    mallory = api.login("mallory")
    error_of(api.call("POST", f"/invitations/{mine[0]['id']}/accept", mallory), 404)
    r = api.call("POST", f"/invitations/{mine[0]['id']}/accept", bob)
    assert r.status_code == 200 and r.get_json() == {"workspace_id": ws, "role": "editor"}
    assert [w["id"] for w in api.call("GET", "/workspaces", bob).get_json()] == [ws]
    assert api.call("GET", "/invitations", bob).get_json()["items"] == []
    # An invitation can be revoked, and declined invitations are gone.
    other = pending[1]["id"]
    assert api.call("DELETE", f"/workspaces/{ws}/invitations/{other}", token).status_code == 204
    assert api.call("GET", f"/workspaces/{ws}/invitations", token).get_json()["items"] == []


def test_invitations_expire(api: Api, owner) -> None:
    token, ws = owner
    api.user("carol")
    api.call("POST", f"/workspaces/{ws}/invitations", token, json={"username": "carol"})
    carol = api.login("carol")
    [inv] = api.call("GET", "/invitations", carol).get_json()["items"]
    api.runtime.clock.advance(days=15)  # type: ignore[attr-defined]
    carol = api.login("carol")
    assert api.call("GET", "/invitations", carol).get_json()["items"] == []
    error_of(api.call("POST", f"/invitations/{inv['id']}/accept", carol), 404)


# -- 9. SMTP destinations -------------------------------------------------------------


def test_production_refuses_private_and_metadata_smtp_hosts(api: Api, owner) -> None:
    from dataclasses import replace

    token, ws = owner
    api.runtime.settings = replace(api.runtime.settings, env="production")  # type: ignore[misc]
    body = {"port": 25, "security": "none", "from_address": "a@example.com"}
    for host in ("169.254.169.254", "127.0.0.1", "10.1.2.3", "::1", "::ffff:169.254.169.254",
                 "localhost", "0.0.0.0", "100.64.0.1", "192.168.1.1"):  # fmt: skip
        r = api.call("PUT", f"/workspaces/{ws}/smtp", token, json={**body, "host": host})
        err = error_of(r, 400)
        assert err["details"]["reason"] in ("destination", "dns"), err
    r = api.call("PUT", f"/workspaces/{ws}/smtp", token, json={**body, "host": "8.8.8.8"})
    assert r.status_code == 200, r.get_json()
    api.runtime.settings = replace(  # type: ignore[misc]
        api.runtime.settings, smtp_allowed_destinations=("10.1.2.0/24",)
    )
    r = api.call("PUT", f"/workspaces/{ws}/smtp", token, json={**body, "host": "10.1.2.3"})
    assert r.status_code == 200, r.get_json()


# -- 11, 12. logs and the local admin server -------------------------------------------


def test_logged_values_are_capped() -> None:
    from shared.log import Logger

    out = io.StringIO()
    log = Logger("t", stream=out)
    log.info("x" * 1_000_000, value="y" * 1_000_000, nested={"a": ["z" * 100_000] * 1000})
    line = out.getvalue()
    assert len(line) < 80_000
    entry = json.loads(line)
    assert entry["value"].endswith("more characters]")


def test_admin_server_lists_no_directories(tmp_path) -> None:
    import urllib.error
    import urllib.request

    from local.admin_server import serve
    from local.stack import free_port

    port = free_port()
    httpd = serve(port, "http://127.0.0.1:1")
    try:
        for path in ("/js/", "/js/views/", "/css/"):
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5)
            assert info.value.code == 404
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/js/main.js", timeout=5) as ok:
            assert ok.status == 200
    finally:
        httpd.shutdown()


def test_path_values_that_cannot_name_a_document_are_404(api: Api, owner) -> None:
    token, ws = owner
    for value in ("a" * 3000, "..", "__reserved__", "x" * 600):
        error_of(api.call("GET", f"/workspaces/{value}/campaigns", token), 404)
        error_of(api.call("GET", f"/workspaces/{ws}/campaigns/{value}", token), 404)
        error_of(api.call("GET", f"/workspaces/{ws}/media/{value}/content", token), 404)
        error_of(api.call("POST", f"/invitations/{value}/accept", token), 404)


def test_a_post_edited_to_nothing_is_a_400(api: Api, owner) -> None:
    """Found by the fuzz run: PATCH {"text": null, "parts": []} answered 500."""
    token, ws = owner
    account = api.call(
        "POST", f"/workspaces/{ws}/x/accounts/sandbox", token, json={"handle": "h"}
    ).get_json()
    post = api.call(
        "POST", f"/workspaces/{ws}/posts", token, json={"account_id": account["id"], "text": "x"}
    ).get_json()
    r = api.call(
        "PATCH", f"/workspaces/{ws}/posts/{post['id']}", token, json={"text": None, "parts": []}
    )
    assert r.status_code == 200 and r.get_json()["text"] == "x"
    # Also a fuzz find: {"timezone": null} answered 500.
    r = api.call("PATCH", f"/workspaces/{ws}/posts/{post['id']}", token, json={"timezone": None})
    error_of(r, 400)
    r = api.call(
        "POST",
        f"/workspaces/{ws}/posts/estimate",
        token,
        json={"account_id": account["id"], "text": "", "parts": []},
    )
    ok_or_error(r)


def test_forged_cursors_and_import_mappings_are_400(api: Api, owner) -> None:
    import base64

    token, ws = owner

    def cursor(payload: str) -> str:
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    for forged in (
        cursor('{"v": {"a": 1}, "ids": []}'),
        cursor('{"v": [1, 2], "ids": []}'),
        cursor('{"v": 5, "ids": []}'),
        cursor("[" * 900 + "]" * 900),
    ):
        for path in ("/posts", "/campaigns", "/members", "/templates"):
            r = api.call("GET", f"/workspaces/{ws}{path}", token, query_string={"cursor": forged})
            ok_or_error(r)
    lst = api.call("POST", f"/workspaces/{ws}/lists", token, json={"name": "L"}).get_json()
    for mapping in ("[" * 5000 + "]" * 5000, '{"email": ' + "9" * 5000 + "}"):
        r = api.call(
            "POST",
            f"/workspaces/{ws}/lists/{lst['id']}/import",
            token,
            data={"file": (io.BytesIO(b"email\na@example.com\n"), "c.csv"), "mapping": mapping},
            content_type="multipart/form-data",
        )
        error_of(r, 400)
