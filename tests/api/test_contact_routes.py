"""Contacts from the admin page: search, subscription status, edit, delete, list counts."""

from __future__ import annotations

import io
import json

from shared.email.members import pages as member_pages
from tests.api.conftest import Api


def _import(api: Api, token: str, ws: str, list_id: str, rows: str) -> None:
    r = api.call(
        "POST",
        f"/workspaces/{ws}/lists/{list_id}/import",
        token,
        data={
            "file": (io.BytesIO(rows.encode()), "c.csv", "text/csv"),
            "mapping": json.dumps({"email": "email", "first_name": "first_name"}),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 200, r.get_json()


def test_search_status_edit_delete_and_list_counts(api: Api, owner) -> None:
    token, ws = owner
    base = f"/workspaces/{ws}"
    news = api.call("POST", f"{base}/lists", token, json={"name": "News"}).get_json()
    vip = api.call("POST", f"{base}/lists", token, json={"name": "VIP"}).get_json()
    _import(api, token, ws, news["id"], "email,first_name\nann@a.test,Ann\nbob@b.test,Bob\n"
            "bea@b.test,Bea\n")  # fmt: skip
    _import(api, token, ws, vip["id"], "email,first_name\nann@a.test,Ann\n")

    lists = api.call("GET", f"{base}/lists", token).get_json()
    assert [(x["name"], x["contact_count"]) for x in lists] == [("News", 3), ("VIP", 1)]

    # Search by the start of the address; each contact with its lists and status.
    found = api.call("GET", f"{base}/contacts?q=B", token).get_json()["items"]
    assert [c["email"] for c in found] == ["bea@b.test", "bob@b.test"]
    everyone = {
        c["email"]: c for c in api.call("GET", f"{base}/contacts", token).get_json()["items"]
    }
    assert everyone["ann@a.test"]["list_ids"] == sorted([news["id"], vip["id"]])
    assert {c["status"] for c in everyone.values()} == {"subscribed"}
    ann = everyone["ann@a.test"]["id"]

    # Edit: the list's member entry (what the next campaign reads) changes too.
    r = api.call(
        "PATCH",
        f"{base}/contacts/{ann}",
        token,
        json={"first_name": "Anna", "timezone": "Asia/Kolkata", "fields": {"plan": "pro"}},
    )
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["first_name"], r.get_json()["timezone"]) == ("Anna", "Asia/Kolkata")
    [entry] = [m for _, page in member_pages(api.runtime.db, ws, vip["id"]) for m in page]
    assert (entry["first_name"], entry["fields"]) == ("Anna", {"plan": "pro"})
    bad = api.call("PATCH", f"{base}/contacts/{ann}", token, json={"timezone": "Mars/Base"})
    assert bad.status_code == 400 and "timezone" in bad.get_json()["error"]["message"]
    moved = api.call("PATCH", f"{base}/contacts/{ann}", token, json={"email": "new@a.test"})
    assert moved.status_code == 400 and "delete" in moved.get_json()["error"]["message"]

    # A manual unsubscribe, and its undoing; a recipient's own unsubscribe stays.
    r = api.call("PATCH", f"{base}/contacts/{ann}", token, json={"status": "unsubscribed"})
    assert r.get_json()["status"] == "unsubscribed"
    assert (
        api.call("GET", f"{base}/contacts?q=ann", token).get_json()["items"][0]["status"]
        == "unsubscribed"
    )
    r = api.call("PATCH", f"{base}/contacts/{ann}", token, json={"status": "subscribed"})
    assert r.get_json()["status"] == "subscribed"
    from shared.email.suppression import suppress

    suppress(api.runtime.db, ws, "bob@b.test", "unsubscribe", api.runtime.clock.now())
    bob = everyone["bob@b.test"]["id"]
    r = api.call("PATCH", f"{base}/contacts/{bob}", token, json={"status": "subscribed"})
    assert r.status_code == 409 and "unsubscribed themselves" in r.get_json()["error"]["message"]

    # Delete: gone from the contacts, the list count and the list's members.
    assert api.call("DELETE", f"{base}/contacts/{bob}", token).status_code == 204
    assert api.call("GET", f"{base}/contacts/{bob}", token).status_code == 404
    lists = api.call("GET", f"{base}/lists", token).get_json()
    assert [(x["name"], x["contact_count"]) for x in lists] == [("News", 2), ("VIP", 1)]
    members = api.call("GET", f"{base}/contacts?list_id={news['id']}", token).get_json()
    assert sorted(c["email"] for c in members["items"]) == ["ann@a.test", "bea@b.test"]
    sent_to = [m["email"] for _, page in member_pages(api.runtime.db, ws, news["id"]) for m in page]
    assert sorted(sent_to) == ["ann@a.test", "bea@b.test"]  # what the next campaign reads
