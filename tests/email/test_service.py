"""The domain operations the API exposes: templates, campaigns, schedule, presets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.email import service
from shared.email.worker import send_batch
from shared.errors import Conflict, NotFound, ValidationError
from tests.email.conftest import WS, audience, campaign, smtp_body, start_campaign

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def test_templates_crud_and_syntax_errors(runtime):
    with pytest.raises(ValidationError, match="line 2"):
        service.create_template(runtime, WS, {"name": "t", "subject": "s", "html": "a\n{% if %}"})
    tpl = service.create_template(
        runtime, WS, {"name": "Welcome", "subject": "Hi {{ first_name }}", "html": "<p>x</p>"}
    )
    assert [t["name"] for t in service.list_templates(runtime, WS)] == ["Welcome"]
    service.update_template(runtime, WS, tpl["id"], {"subject": "Hello"})
    assert service.get_template(runtime, WS, tpl["id"])["subject"] == "Hello"
    with pytest.raises(NotFound):
        service.get_template(runtime, "other-ws", tpl["id"])
    created = service.create_campaign(runtime, WS, {"name": "c", "template_id": tpl["id"]})
    assert created["subject"] == "Hello" and created["status"] == "draft"
    service.delete_template(runtime, WS, tpl["id"])
    assert service.list_templates(runtime, WS) == []


def test_a_template_too_large_for_firestore_is_refused_clearly(runtime):
    """Both bodies within their character limits can still pass Firestore's 1 MiB (four
    UTF-8 bytes a character): the guard refuses it as bad input, before Firestore would
    refuse the write (shown on the emulator), and an update is checked the same way."""
    from google.api_core.exceptions import InvalidArgument

    from shared.docsize import MAX_DOCUMENT_BYTES, document_size

    big = "\U0001f600" * 150_000  # 600,000 bytes each
    body = {"name": "Huge", "subject": "Hi", "html": f"<p>{big}</p>", "text": big}
    with pytest.raises(ValidationError, match="template is too large to store") as caught:
        service.create_template(runtime, WS, body)
    assert set(caught.value.details["largest_fields"][:2]) == {"html", "text"}
    assert service.list_templates(runtime, WS) == []
    assert document_size("email_templates/x", body) > MAX_DOCUMENT_BYTES
    with pytest.raises(InvalidArgument):  # what the guard saves the caller from
        runtime.db.collection("email_templates").document("raw").set(body)

    small = service.create_template(runtime, WS, {**body, "text": "ok"})
    with pytest.raises(ValidationError, match="too large"):
        service.update_template(runtime, WS, small["id"], {"text": big})
    assert service.get_template(runtime, WS, small["id"])["text"] == "ok"


def test_document_size_follows_firestores_rules() -> None:
    """The worked example of Firestore's storage-size page: 147 bytes."""
    from shared.docsize import document_size

    task = {
        "type": "Personal",
        "done": False,
        "priority": 1,
        "description": "Learn Cloud Firestore",
    }
    assert document_size("users/jeff/tasks/my_task_id", task) == 147


def test_schedule_reads_wall_clock_time_in_the_users_zone(runtime, monkeypatch):
    monkeypatch.setenv("HERALD_LOCAL_SMTP", "127.0.0.1:2525")
    cid = campaign(runtime, audience(runtime, ["a@example.com"]))
    out = service.schedule_campaign(runtime, WS, cid, "2026-01-05T18:30", "Europe/Paris")
    assert out["scheduled_at"] == datetime(2026, 1, 5, 17, 30, tzinfo=UTC).isoformat()
    assert out["status"] == "scheduled"
    with pytest.raises(Conflict):
        service.update_campaign(runtime, WS, cid, {"subject": "changed"})
    with pytest.raises(ValidationError, match="past"):
        service.schedule_campaign(runtime, WS, cid, "2025-01-01T00:00Z")
    with pytest.raises(ValidationError, match="timezone"):
        service.schedule_campaign(runtime, WS, cid, "2026-02-01T00:00", "Mars/Olympus")
    assert service.unschedule_campaign(runtime, WS, cid)["status"] == "draft"


def test_local_sink_is_offered_only_in_the_sandbox(runtime, monkeypatch):
    from dataclasses import replace

    monkeypatch.setenv("HERALD_LOCAL_SMTP", "127.0.0.1:2525")
    offered = service.get_smtp_settings(runtime, WS)
    assert offered["sandbox"] is True and offered["configured"] is False
    assert offered["host"] == "127.0.0.1" and offered["port"] == 2525
    assert service.smtp_presets(runtime, WS)[0]["id"] == "local-sink"
    runtime.settings = replace(runtime.settings, sandbox=False)
    with pytest.raises(NotFound):
        service.get_smtp_settings(runtime, WS)
    assert all(p["id"] != "local-sink" for p in service.smtp_presets(runtime, WS))
    with pytest.raises(ValidationError, match="sandbox"):
        service.put_smtp_settings(
            runtime,
            WS,
            {
                "preset": "local-sink",
                "host": "127.0.0.1",
                "port": 2525,
                "security": "none",
                "from_address": "a@example.com",
            },
        )


def test_settings_validation_is_clear(runtime):
    base = {"host": "smtp.example.com", "port": 587, "from_address": "a@example.com"}
    for change, field in (
        ({"port": 70000}, "port"),
        ({"security": "tls13"}, "security"),
        ({"from_address": "nope"}, "from_address"),
        ({"from_name": "Evil\r\nBcc: x@y.z"}, "from_name"),
        ({"daily_quota": 0}, "daily_quota"),
    ):
        with pytest.raises(ValidationError) as info:
            service.put_smtp_settings(runtime, WS, {**base, **change})
        assert info.value.details["field"] == field


def test_test_send_and_outcome_listing(runtime, smtp_server):
    service.put_smtp_settings(runtime, WS, smtp_body(smtp_server))
    smtp_server.handler.rcpt_replies["no@example.com"] = ["550 5.1.1 unknown"]
    cid = campaign(runtime, audience(runtime, ["yes@example.com", "no@example.com"]))
    sent = service.send_test_campaign(runtime, WS, cid, "me@example.com", {"first_name": "Sam"})
    assert sent["sent"] is True
    [msg] = smtp_server.handler.to("me@example.com")
    assert msg["Subject"] == "[TEST] Hello Sam"
    [bid] = start_campaign(runtime, cid)
    send_batch(runtime, bid, WS)
    page = service.list_outcomes(runtime, WS, cid)
    assert sorted((o["email"], o["status"]) for o in page["items"]) == [
        ("no@example.com", "failed"),
        ("yes@example.com", "sent"),
    ]
    [failed] = service.list_outcomes(runtime, WS, cid, status="failed")["items"]
    assert (failed["code"], failed["text"]) == (550, "5.1.1 unknown")
    assert failed["at"].startswith("2026-")
