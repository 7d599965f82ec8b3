"""X routes over the X pipeline's service: the composer-to-calendar flow."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image

from shared import tenancy
from tests.api.conftest import Api
from tests.images import png

PNG = png((1, 1))


def test_compose_schedule_calendar_and_cancel(api: Api, owner) -> None:
    token, ws = owner
    r = api.call("POST", f"/workspaces/{ws}/x/accounts/sandbox", token, json={"handle": "acme"})
    assert r.status_code == 201, r.get_json()
    account = r.get_json()
    assert account["sandbox"] is True and "secret_ref" not in account
    r = api.call(
        "POST",
        f"/workspaces/{ws}/campaigns",
        token,
        json={"name": "Launch", "timezone": "Europe/Paris", "hashtags": ["#launch"]},
    )
    assert r.status_code == 201, r.get_json()
    campaign = r.get_json()
    r = api.call(
        "POST",
        f"/workspaces/{ws}/media",
        token,
        data={"file": (io.BytesIO(PNG), "dot.png", "image/png")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 201, r.get_json()
    ref = r.get_json()["id"]
    r = api.call("GET", f"/workspaces/{ws}/media/{ref}/content", token)
    assert r.status_code == 200 and r.mimetype == "image/png"
    assert Image.open(io.BytesIO(r.data)).size == (1, 1)
    r = api.call(
        "POST",
        f"/workspaces/{ws}/posts",
        token,
        json={
            "account_id": account["id"],
            "text": "We launch today",
            "media": [ref],
            "campaign_id": campaign["id"],
            "parts": ["Part two"],
        },
    )
    assert r.status_code == 201, r.get_json()
    post = r.get_json()
    assert post["status"] == "draft" and post["parts"] == ["We launch today", "Part two"]
    r = api.call("POST", f"/workspaces/{ws}/posts/{post['id']}/validate", token)
    assert r.status_code == 200 and r.get_json()["ok"] is True
    due = api.runtime.clock.now() + timedelta(days=2)
    r = api.call(
        "POST",
        f"/workspaces/{ws}/posts/{post['id']}/schedule",
        token,
        json={"due_at": due.isoformat(), "timezone": "Europe/Paris"},
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "scheduled"
    start = (due - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    end = (due + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    r = api.call("GET", f"/workspaces/{ws}/calendar?start={start}&end={end}", token)
    assert r.status_code == 200, r.get_json()
    assert [p["id"] for p in r.get_json()["items"]] == [post["id"]]
    r = api.call(
        "POST",
        f"/workspaces/{ws}/posts/{post['id']}/reschedule",
        token,
        json={"due_at": "2026-01-05T10:00:00"},
    )
    assert r.status_code == 400
    assert "timezone" in r.get_json()["error"]["message"]
    r = api.call("POST", f"/workspaces/{ws}/posts/{post['id']}/cancel", token)
    assert r.get_json()["status"] == "cancelled"
    r = api.call("POST", f"/workspaces/{ws}/posts/{post['id']}/cancel", token)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "conflict"


def test_viewer_reads_but_cannot_compose(api: Api, owner) -> None:
    token, ws = owner
    viewer = api.member(ws, "victor", tenancy.Role.VIEWER)
    account = api.call("POST", f"/workspaces/{ws}/x/accounts/sandbox", token, json={}).get_json()
    r = api.call(
        "POST", f"/workspaces/{ws}/posts", viewer, json={"account_id": account["id"], "text": "x"}
    )
    assert r.status_code == 403
    r = api.call("GET", f"/workspaces/{ws}/x/accounts/{account['id']}", viewer)
    assert r.status_code == 200 and r.get_json()["handle"] == "herald_sandbox"


def test_campaign_pages_walk_everything_once(api: Api, owner) -> None:
    token, ws = owner
    for i in range(7):
        api.runtime.clock.advance(seconds=1)  # type: ignore[attr-defined]
        r = api.call("POST", f"/workspaces/{ws}/campaigns", token, json={"name": f"c{i}"})
        assert r.status_code == 201
    names: list[str] = []
    cursor = None
    while True:
        q = f"?limit=3&cursor={cursor}" if cursor else "?limit=3"
        body = api.call("GET", f"/workspaces/{ws}/campaigns{q}", token).get_json()
        names += [c["name"] for c in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert names == [f"c{i}" for i in range(7)]


def test_oauth_callback_must_be_the_admin_page(api: Api, owner) -> None:
    token, ws = owner
    r = api.call(
        "POST",
        f"/workspaces/{ws}/x/oauth/begin",
        token,
        json={"callback_url": "https://evil.example/cb"},
    )
    assert r.status_code == 400 and "callback_url" in r.get_json()["error"]["message"]


def test_ids_in_bodies_and_queries_of_another_workspace_are_refused(api: Api, owner) -> None:
    token, ws = owner
    _, other_ws = api.user("mallory", "Other")
    other_token = api.login("mallory")
    foreign = api.call(
        "POST", f"/workspaces/{other_ws}/x/accounts/sandbox", other_token, json={}
    ).get_json()
    r = api.call(
        "POST", f"/workspaces/{ws}/posts", token, json={"account_id": foreign["id"], "text": "hi"}
    )
    assert r.status_code == 404, r.get_json()
    r = api.call(
        "POST",
        f"/workspaces/{other_ws}/media",
        other_token,
        data={"file": (io.BytesIO(PNG), "dot.png", "image/png")},
        content_type="multipart/form-data",
    )
    ref = r.get_json()["id"]
    r = api.call("GET", f"/workspaces/{ws}/media/{ref}/content", token)
    assert r.status_code == 404
    lst = api.call("POST", f"/workspaces/{other_ws}/lists", other_token, json={"name": "L"})
    r = api.call("GET", f"/workspaces/{ws}/contacts?list_id={lst.get_json()['id']}", token)
    assert r.status_code == 404


def test_media_library_lists_the_workspaces_images_newest_first(api: Api, owner) -> None:
    """GET /media: the workspace's images, newest first, a page at a time; none of
    another workspace's."""
    token, ws = owner

    def upload(workspace: str, bearer: str, size: tuple[int, int]) -> dict:
        r = api.call(
            "POST",
            f"/workspaces/{workspace}/media",
            bearer,
            data={"file": (io.BytesIO(png(size)), "img.png", "image/png")},
            content_type="multipart/form-data",
        )
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    made = []
    for width in (1, 2, 3):
        made.append(upload(ws, token, (width, 1)))
        api.runtime.clock.advance(1)
    _, other_ws = api.user("mallory", "Other")
    upload(other_ws, api.login("mallory"), (9, 9))
    seen, cursor = [], None
    while True:
        query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        page = api.call("GET", f"/workspaces/{ws}/media{query}", token).get_json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [m["id"] for m in seen] == [m["id"] for m in reversed(made)]
    assert [(m["width"], m["content_type"]) for m in seen] == [
        (3, "image/png"),
        (2, "image/png"),
        (1, "image/png"),
    ]
    assert all("key" not in m and "workspace_id" not in m for m in seen)
