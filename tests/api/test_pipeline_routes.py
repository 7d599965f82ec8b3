"""Email, jobs and ads, metrics and generation routes over their services."""

from __future__ import annotations

import io
import json
from datetime import timedelta

from tests.api.conftest import Api


def upload(name: str, data: bytes, ctype: str = "text/csv", **fields: str) -> dict:
    return {"file": (io.BytesIO(data), name, ctype), **fields}


def test_email_settings_contacts_and_campaign_lifecycle(api: Api, owner) -> None:
    token, ws = owner
    assert api.call("GET", f"/workspaces/{ws}/smtp", token).get_json()["configured"] is False
    r = api.call(
        "PUT",
        f"/workspaces/{ws}/smtp",
        token,
        json={
            "host": "smtp.example.com",
            "port": 587,
            "security": "starttls",
            "username": "u",
            "password": "app-password-1",
            "from_address": "news@example.com",
            "from_name": "Acme",
            "postal_address": "Acme, 1 Main Street, Springfield",
        },
    )
    assert r.status_code == 200, r.get_json()
    smtp = r.get_json()
    assert smtp["password_set"] is True and "password" not in json.dumps(smtp).replace(
        "password_set", ""
    )
    presets = api.call("GET", f"/workspaces/{ws}/smtp/presets", token).get_json()
    assert any(p["id"] == "gmail" for p in presets)
    lst = api.call("POST", f"/workspaces/{ws}/lists", token, json={"name": "Leads"}).get_json()
    csv_data = b"Email,First\nann@example.com,Ann\nnot-an-address,Bob\nANN@example.com,Ann2\n"

    def import_leads():  # type: ignore[no-untyped-def]
        return api.call(
            "POST",
            f"/workspaces/{ws}/lists/{lst['id']}/import",
            token,
            data=upload(
                "leads.csv", csv_data, mapping=json.dumps({"email": "Email", "first_name": "First"})
            ),
            content_type="multipart/form-data",
        )

    r = import_leads()
    assert r.status_code == 200, r.get_json()
    report = r.get_json()
    assert report["imported"] == 1 and report["total_rows"] == 3
    assert {row["reason"] for row in report["report"]} >= {"invalid address"} or report["rejected"]
    r = api.call(
        "POST",
        f"/workspaces/{ws}/lists/{lst['id']}/import",
        token,
        data=upload("leads.csv", csv_data, mapping="{nope"),
        content_type="multipart/form-data",
    )
    assert r.status_code == 400 and "mapping" in r.get_json()["error"]["message"]
    contacts = api.call("GET", f"/workspaces/{ws}/contacts?list_id={lst['id']}", token).get_json()
    assert [c["email_norm"] for c in contacts["items"]] == ["ann@example.com"]
    assert (
        api.call("GET", f"/workspaces/{ws}/lists/{lst['id']}", token).get_json()["contact_count"]
        == 1
    )
    ann = contacts["items"][0]["id"]
    r = api.call(
        "PATCH",
        f"/workspaces/{ws}/contacts/{ann}",
        token,
        json={"first_name": "Annie", "timezone": "Europe/Paris", "fields": {"plan": "gold"}},
    )
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["first_name"], r.get_json()["fields"]) == ("Annie", {"plan": "gold"})
    r = api.call("PATCH", f"/workspaces/{ws}/contacts/{ann}", token, json={"timezone": "Mars/X"})
    assert r.status_code == 400 and "timezone" in r.get_json()["error"]["message"]
    r = api.call("DELETE", f"/workspaces/{ws}/lists/{lst['id']}/contacts/{ann}", token)
    assert r.status_code == 204
    assert (
        api.call("GET", f"/workspaces/{ws}/lists/{lst['id']}", token).get_json()["contact_count"]
        == 0
    )
    assert api.call("GET", f"/workspaces/{ws}/contacts/{ann}", token).get_json()["list_ids"] == []
    assert import_leads().get_json()["imported"] == 1  # back in the list
    r = api.call(
        "POST",
        f"/workspaces/{ws}/email/campaigns",
        token,
        json={
            "name": "Spring",
            "subject": "Hi {{ first_name }}",
            "html": "<p>Hello</p>",
            "list_id": lst["id"],
        },
    )
    assert r.status_code == 201, r.get_json()
    campaign = r.get_json()
    base = f"/workspaces/{ws}/email/campaigns/{campaign['id']}"
    at = (api.runtime.clock.now() + timedelta(hours=2)).isoformat()
    r = api.call("POST", f"{base}/schedule", token, json={"at": at, "timezone": "Europe/Paris"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "scheduled"
    assert api.call("GET", f"{base}/progress", token).get_json()["status"] == "scheduled"
    assert api.call("POST", f"{base}/pause", token).get_json()["status"] == "paused"
    assert api.call("POST", f"{base}/cancel", token).get_json()["status"] == "cancelled"
    r = api.call("POST", f"{base}/resend-failed", token)
    assert r.status_code == 409
    assert api.call("GET", f"{base}/recipients", token).status_code == 200
    assert api.call("GET", f"{base}/metrics", token).status_code == 200
    assert api.call("DELETE", base, token).status_code == 204


def test_jobs_and_ads_flow(api: Api, owner) -> None:
    token, ws = owner
    r = api.call(
        "POST",
        f"/workspaces/{ws}/jobs/openings",
        token,
        json={
            "title": "Nurse",
            "company": "Acme Care",
            "location": {"country": "US", "city": "Austin"},
            "apply_url": "https://acme.example/jobs/1",
            "status": "open",
        },
    )
    assert r.status_code == 201, r.get_json()
    opening = r.get_json()
    csv_data = b"name,skills,years,location\nAnn,icu;triage,5,Austin\nBob,,3,Austin\n"
    r = api.call(
        "POST",
        f"/workspaces/{ws}/jobs/candidates/import",
        token,
        data=upload("c.csv", csv_data),
        content_type="multipart/form-data",
    )
    assert r.status_code == 201, r.get_json()
    report = r.get_json()
    assert report["imported"] == 1
    assert [row["row"] for row in report["report"]] == [3]  # Bob: no skills
    assert len(api.call("GET", f"/workspaces/{ws}/jobs/candidates", token).get_json()["items"]) == 1
    r = api.call("POST", f"/workspaces/{ws}/jobs/segmentations", token, json={"k": 2})
    assert r.status_code == 202
    run = r.get_json()
    assert api.runtime.enqueuer.tasks[-1].target == "segment"  # type: ignore[attr-defined]
    r = api.call("GET", f"/workspaces/{ws}/jobs/segmentations/{run['id']}", token)
    assert r.get_json()["status"] == "queued"
    r = api.call(
        "POST",
        f"/workspaces/{ws}/ads/targeting/check",
        token,
        json={"targeting": {"countries": ["US"], "age_min": 25}},
    )
    assert r.status_code == 400
    r = api.call(
        "PUT",
        f"/workspaces/{ws}/ads/accounts/meta",
        token,
        json={"account_id": "act_123456", "page_id": "987654", "access_token": "tok-secret"},
    )
    assert r.status_code == 200, r.get_json()
    assert "tok-secret" not in r.get_data(as_text=True)
    assert (
        api.call(
            "PUT", f"/workspaces/{ws}/ads/accounts/tiktok", token, json={"account_id": "1234"}
        ).status_code
        == 404
    )
    r = api.call(
        "POST",
        f"/workspaces/{ws}/ads/campaigns",
        token,
        json={"opening_id": opening["id"], "platforms": ["meta"], "daily_budget": 20},
    )
    assert r.status_code == 201, r.get_json()
    ad = r.get_json()
    base = f"/workspaces/{ws}/ads/campaigns/{ad['id']}"
    r = api.call("PATCH", base, token, json={"daily_budget": 25})
    assert r.status_code == 200 and r.get_json()["daily_budget"] == 25
    r = api.call("POST", f"{base}/publish", token)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] in ("publishing", "scheduled")
    assert api.call("POST", f"{base}/pause", token).status_code == 200
    assert api.call("POST", f"{base}/archive", token).get_json()["status"] == "archived"
    perf = api.call("GET", f"{base}/performance", token).get_json()
    assert perf["totals"]["impressions"] == 0


def test_dashboard_exports_and_generation(api: Api, owner) -> None:
    token, ws = owner
    account = api.call("POST", f"/workspaces/{ws}/x/accounts/sandbox", token, json={}).get_json()
    campaign = api.call(
        "POST",
        f"/workspaces/{ws}/campaigns",
        token,
        json={
            "name": "Bitcoin",
            "account_id": account["id"],
            "topics": ["Lightning", "Nostr"],
            "approval_required": True,
        },
    ).get_json()
    r = api.call(
        "POST", f"/workspaces/{ws}/campaigns/{campaign['id']}/generate", token, json={"count": 2}
    )
    assert r.status_code == 201, r.get_json()
    out = r.get_json()
    assert out["generator"] == "offline" and len(out["drafts"]) == 2
    assert all(d["status"] == "draft" for d in out["drafts"])
    api.call(
        "POST",
        f"/workspaces/{ws}/posts",
        token,
        json={"account_id": account["id"], "text": '=HYPERLINK("http://x")'},
    )
    r = api.call("GET", f"/workspaces/{ws}/exports/posts", token)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    body = r.get_data(as_text=True)
    assert "'=HYPERLINK" in body
    assert api.call("GET", f"/workspaces/{ws}/exports/nope", token).status_code == 404
    dash = api.call("GET", f"/workspaces/{ws}/dashboard", token).get_json()
    assert dash["activity"] == {"posting": 0, "sending": 0}
    assert len(dash["overview"]["days"]) == 7
    post_id = out["drafts"][0]["id"]
    assert api.call("GET", f"/workspaces/{ws}/posts/{post_id}/metrics", token).status_code == 200
    r = api.call("GET", f"/workspaces/{ws}/x/accounts/{account['id']}/best-time", token)
    assert r.status_code == 200


def test_xlsx_contact_import_and_a_malformed_file(api: Api, owner) -> None:
    from openpyxl import Workbook

    token, ws = owner
    lst = api.call("POST", f"/workspaces/{ws}/lists", token, json={"name": "X"}).get_json()
    book = Workbook()
    sheet = book.active
    sheet.append(["email", "first_name"])
    sheet.append(["zoe@example.com", "Zoé"])
    sheet.append(["bad address", "Y"])
    buf = io.BytesIO()
    book.save(buf)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    url = f"/workspaces/{ws}/lists/{lst['id']}/import"
    r = api.call(
        "POST",
        url,
        token,
        data=upload("people.xlsx", buf.getvalue(), xlsx),
        content_type="multipart/form-data",
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["imported"] == 1 and r.get_json()["total_rows"] == 2
    r = api.call(
        "POST",
        url,
        token,
        data=upload("broken.xlsx", b"PK\x03\x04 not a workbook", xlsx),
        content_type="multipart/form-data",
    )
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["error"]["code"] == "invalid"
    r = api.call("POST", url, token, data={}, content_type="multipart/form-data")
    assert r.status_code == 400 and r.get_json()["error"]["details"][0]["field"] == "file"


def test_every_admin_table_exports_its_rows(api: Api, owner) -> None:
    """Each table the admin page shows has its export: campaigns, post templates,
    series, contact lists and email templates come out with their own fields."""
    import csv

    token, ws = owner
    account = api.call("POST", f"/workspaces/{ws}/x/accounts/sandbox", token, json={}).get_json()
    created = [
        ("campaigns", "campaigns", {"name": "Launch", "account_id": account["id"]}),
        ("templates", "post_templates", {"name": "Tip", "text": "Tip of the day: {tip}"}),
        (
            "series",
            "series",
            {
                "name": "Weekly",
                "account_id": account["id"],
                "texts": ["Hello again"],
                "every": "weekly",
                "start_at": "2030-01-07T09:00:00Z",
                "end_at": "2030-03-04T09:00:00Z",
            },
        ),
        ("lists", "contact_lists", {"name": "@SUM(A1)"}),
        (
            "email/templates",
            "email_templates",
            {"name": "Welcome", "subject": "Hi {{ first_name }}"},
        ),
    ]
    for path, table, body in created:
        r = api.call("POST", f"/workspaces/{ws}/{path}", token, json=body)
        assert r.status_code == 201, (path, r.get_json())
        made = r.get_json()
        r = api.call("GET", f"/workspaces/{ws}/exports/{table}", token)
        assert r.status_code == 200 and r.mimetype == "text/csv", table
        rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
        assert [row["id"] for row in rows] == [made["id"]], table
        name = body["name"] if not body["name"].startswith("@") else "'" + body["name"]
        assert rows[0]["name"] == name, table
    r = api.call("GET", f"/workspaces/{ws}/exports/campaigns", token)
    assert account["id"] in r.get_data(as_text=True)
