"""Openings and candidate import through the service layer, on the Firestore emulator."""

from __future__ import annotations

import io

import pytest

from shared.errors import Conflict, NotFound, ValidationError
from shared.jobs import service

WS = "ws-jobs"

OPENING = {
    "title": "Backend Engineer",
    "company": "Acme",
    "location": {"country": "us", "city": "Austin"},
    "salary_min": 90000,
    "salary_max": 120000,
    "salary_currency": "usd",
    "salary_period": "year",
    "description": "Build APIs.",
    "apply_url": "https://jobs.example.com/1",
}


def test_opening_crud_and_scoping(runtime):
    created = service.create_opening(runtime, WS, OPENING)
    assert created["status"] == "draft"
    assert created["location"] == {"country": "US", "city": "Austin", "remote": False}
    assert created["salary_currency"] == "USD"
    got = service.get_opening(runtime, WS, created["id"])
    assert got["title"] == "Backend Engineer"
    with pytest.raises(NotFound):
        service.get_opening(runtime, "other-ws", created["id"])
    updated = service.update_opening(runtime, WS, created["id"], {"status": "open"})
    assert updated["status"] == "open"
    with pytest.raises(ValidationError, match="salary_min is larger"):
        service.update_opening(runtime, WS, created["id"], {"salary_min": 200000})
    with pytest.raises(ValidationError, match="apply_url"):
        service.create_opening(runtime, WS, {**OPENING, "apply_url": "javascript:alert(1)"})
    assert [o["id"] for o in service.list_openings(runtime, WS, status="open")["items"]] == [
        created["id"]
    ]
    service.delete_opening(runtime, WS, created["id"])
    with pytest.raises(NotFound):
        service.get_opening(runtime, WS, created["id"])


def test_opening_with_campaign_cannot_be_deleted(runtime):
    opening = service.create_opening(runtime, WS, OPENING)
    runtime.db.collection("ad_campaigns").document("c1").set(
        {"workspace_id": WS, "opening_id": opening["id"]}
    )
    with pytest.raises(Conflict):
        service.delete_opening(runtime, WS, opening["id"])


CSV = (
    "Name,Email,Skills,Years of experience,Location,Education,Source\n"
    "Ann,ann@example.com,Python; SQL,5,Austin,BSc,LinkedIn\n"
    "Bob,bob@example.com,,3,Austin,BSc,Referral\n"
    "Cid,not-an-email,Go,2,Denver,MSc,Indeed\n"
    "Dee,dee@example.com,Go;K8s,abc,Denver,MSc,Indeed\n"
    "\n"
    "Eve,eve@example.com,Go|Kubernetes,7.5,Denver,MSc,Indeed\n"
    "Ann again,ANN@example.com,Python,6,Austin,BSc,LinkedIn\n"
)


def test_import_csv_report_and_idempotent_reimport(runtime):
    report = service.import_candidates(runtime, WS, CSV.encode(), "pool.csv")
    assert report["total_rows"] == 6
    assert report["imported"] == 2
    assert report["rejected"] == {
        "skills is empty": 1,
        "invalid email address": 1,
        "years of experience is not a number": 1,
        "duplicate": 1,
    }
    assert report["report"] == [
        {"row": 3, "reason": "skills is empty", "value": ""},
        {"row": 4, "reason": "invalid email address", "value": "not-an-email"},
        {"row": 5, "reason": "years of experience is not a number", "value": "abc"},
        {"row": 8, "reason": "duplicate", "value": "ann@example.com"},
    ]
    assert report["report_truncated"] is False
    stored = service.list_imports(runtime, WS)["items"]
    assert [i["id"] for i in stored] == [report["import_id"]] and stored[0]["imported"] == 2
    again = service.import_candidates(runtime, WS, CSV.encode(), "pool.csv")
    assert again["imported"] == 2
    listed = service.list_candidates(runtime, WS, limit=1)
    assert len(listed["items"]) == 1 and listed["next"]
    rest = service.list_candidates(runtime, WS, after=listed["next"], limit=10)
    everyone = listed["items"] + rest["items"]
    assert sorted(c["email"] for c in everyone) == ["ann@example.com", "eve@example.com"]
    eve = next(c for c in everyone if c["email"] == "eve@example.com")
    assert eve["skills"] == ["go", "kubernetes"] and eve["years_experience"] == 7.5


def test_import_xlsx(runtime):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["skills", "years", "location", "education", "source"])
    sheet.append(["python,ml", 4, "Paris", "MSc", "job board"])
    sheet.append(["rust", -1, "Paris", "BSc", "referral"])
    buf = io.BytesIO()
    book.save(buf)
    report = service.import_candidates(runtime, WS, buf.getvalue(), "pool.xlsx")
    assert report["imported"] == 1
    assert report["report"] == [
        {"row": 3, "reason": "years of experience is outside 0-70", "value": "-1"}
    ]


def test_import_refuses_unreadable_files(runtime):
    with pytest.raises(ValidationError, match="unsupported file"):
        service.import_candidates(runtime, WS, b"x", "pool.pdf")
    with pytest.raises(ValidationError, match="missing column: skills"):
        service.import_candidates(runtime, WS, b"name,years\nA,3\n", "pool.csv")
    with pytest.raises(ValidationError, match="not a readable XLSX"):
        service.import_candidates(runtime, WS, b"not a zip", "pool.xlsx")
    with pytest.raises(ValidationError, match="malformed"):
        service.import_candidates(runtime, WS, b'skills,years\n"python,3\n', "pool.csv")
