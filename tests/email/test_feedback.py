"""Bounces and complaints after delivery: real messages sent over SMTP (aiosmtpd) come
back as DSNs (RFC 3464) and ARF reports (RFC 5965) into a real IMAP mailbox (dovecot),
and the bounce mailbox run applies them: suppression, soft-bounce streaks, the
recipient's outcome and the campaign's figures, once each."""

from __future__ import annotations

import json
import shutil
import tempfile
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from shared.email import deliverability, feedback, mailbox, service
from shared.email.model import BATCHES, EVENTS, SOFT_BOUNCES, SUPPRESSIONS, suppression_id
from shared.email.reports import parse
from shared.email.verp import Tokens
from tests.email.conftest import WS, Handler, audience, campaign, dispatch, smtp_body
from tests.email.imap_server import dovecot
from tests.email.test_throttle import run_tasks

pytestmark = [
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
    pytest.mark.skipif(shutil.which("dovecot") is None, reason="make system installs dovecot"),
]


class Recording(Handler):
    """Keeps each message's envelope sender (the VERP return path) by recipient."""

    senders: dict[str, str]

    async def handle_DATA(self, server, session, envelope):
        self.senders[envelope.rcpt_tos[0]] = envelope.mail_from
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def server(smtp_server):
    smtp_server.handler.__class__ = Recording
    smtp_server.handler.senders = {}
    return smtp_server


@pytest.fixture
def imap(tls_files, monkeypatch):
    cert, key = tls_files
    monkeypatch.setenv("HERALD_SMTP_CA_FILE", str(cert))
    # Not under pytest's tmp_path: dovecot's mail user must reach its home.
    root = Path(tempfile.mkdtemp(prefix="herald-imap-"))
    root.chmod(0o755)
    try:
        with dovecot(root, cert, key) as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


MAILBOX = {
    "host": "127.0.0.1",
    "security": "ssl",
    "username": "bounces",
    "address": "bounces@herald.example",
}


def configure(runtime, server, imap, **mailbox_overrides: Any) -> None:
    service.put_smtp_settings(runtime, WS, smtp_body(server))
    body = {**MAILBOX, "port": imap.port, "password": imap.password, **mailbox_overrides}
    deliverability.put_mailbox(runtime, WS, body)


def send(runtime, clock, addresses: list[str]) -> str:
    cid = campaign(runtime, audience(runtime, addresses))
    service.schedule_campaign(runtime, WS, cid, clock.now().isoformat())
    before = len(runtime.enqueuer.tasks)
    dispatch(runtime)
    run_tasks(runtime, clock, start=before)
    return cid


def original_headers(server, rcpt: str) -> str:
    (msg,) = server.handler.to(rcpt)
    return "".join(f"{k}: {v}\r\n" for k, v in msg.items())


def _report(head: str, report_type: str, text: str, fields: str, headers: str) -> bytes:
    """A multipart/report as receiving MTAs and feedback loops write them."""
    boundary = "=_report_boundary"
    return (
        f"{head}Message-ID: {make_msgid(domain='mx.example.com')}\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type={report_type}; boundary="{boundary}"\r\n'
        f"\r\n--{boundary}\r\nContent-Type: text/plain\r\n\r\n{text}\r\n"
        f"\r\n--{boundary}\r\nContent-Type: message/{report_type}\r\n\r\n{fields}"
        f"\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}"
        f"\r\n--{boundary}--\r\n"
    ).encode()


def dsn(
    to: str, rcpt: str, status: str, headers: str, action: str = "failed", diag: str = ""
) -> bytes:
    """A delivery status notification (RFC 3464) returned to `to`."""
    head = (
        "From: MAILER-DAEMON@mx.example.com\r\n"
        f"To: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
    )
    fields = (
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; {rcpt}\r\nOriginal-Recipient: rfc822;{rcpt}\r\n"
        f"Action: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {diag or status + ' mailbox unavailable'}\r\n"
    )
    return _report(head, "delivery-status", "The mail system.", fields, headers)


def arf(rcpt: str, headers: str, feedback_type: str = "abuse") -> bytes:
    """An abuse report (RFC 5965) from a feedback loop, quoting the original headers."""
    head = "From: fbl@isp.example.net\r\nTo: abuse@herald.example\r\nSubject: complaint\r\n"
    fields = (
        f"Feedback-Type: {feedback_type}\r\nUser-Agent: FBL/1.0\r\nVersion: 1\r\n"
        f"Original-Rcpt-To: {rcpt}\r\nArrival-Date: Thu, 8 Mar 2026 14:00:00 +0000\r\n"
    )
    return _report(head, "feedback-report", "An email abuse report.", fields, headers)


def auto_reply(to: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "ok@example.com"
    msg["To"] = to
    msg["Subject"] = "Out of office"
    msg.set_content("I am away until Monday.\n")
    return msg.as_bytes()


def outcome_of(db, email: str) -> dict[str, Any]:
    for doc in db.collection(BATCHES).stream():
        batch = doc.to_dict()
        for i, rcpt in enumerate(batch.get("recipients") or []):
            if rcpt["email"] == email and str(i) in (batch.get("outcomes") or {}):
                return dict(batch["outcomes"][str(i)])
    raise AssertionError(f"no outcome for {email}")


def suppression(db, email: str) -> dict[str, Any] | None:
    snap = db.collection(SUPPRESSIONS).document(suppression_id(WS, email)).get()
    return snap.to_dict() if snap.exists else None


def test_bounces_and_complaints_delivered_to_the_imap_mailbox_are_applied_once(
    runtime, db, clock, server, imap
):
    configure(runtime, server, imap)
    to = ["hard@example.com", "soft@example.com", "spam@example.com", "ok@example.com"]
    cid = send(runtime, clock, to)
    senders = server.handler.senders
    assert all(senders[a].startswith("bounces+") for a in to), senders
    assert senders["hard@example.com"].endswith("@herald.example")
    assert len(set(senders.values())) == 4, "each message has its own return path"

    # The hard bounce names its message by the VERP address it was returned to; the
    # soft one and the complaint only by the original headers they quote.
    imap.deliver(dsn(senders["hard@example.com"], "hard@example.com", "5.1.1", "Subject: x\r\n"))
    imap.deliver(
        dsn(
            "postmaster@herald.example",
            "soft@example.com",
            "4.2.2",
            original_headers(server, "soft@example.com"),
            diag="452 4.2.2 mailbox full",
        )
    )
    imap.deliver(arf("spam@example.com", original_headers(server, "spam@example.com")))
    imap.deliver(auto_reply(senders["ok@example.com"]))
    # A DSN whose token was altered names no one: it changes nothing.
    forged = senders["ok@example.com"].replace("bounces+", "bounces+a", 1)
    imap.deliver(dsn(forged, "ok@example.com", "5.1.1", "Subject: x\r\n"))

    counts = mailbox.poll(runtime, WS)
    assert counts == {"messages": 5, "applied": 3, "duplicate": 0, "unknown": 1, "kept": 1}

    assert suppression(db, "hard@example.com")["reason"] == "hard_bounce"
    assert suppression(db, "spam@example.com")["reason"] == "complaint"
    assert suppression(db, "soft@example.com") is None, "one soft bounce is not a streak"
    assert suppression(db, "ok@example.com") is None
    streak = db.collection(SOFT_BOUNCES).document(suppression_id(WS, "soft@example.com")).get()
    assert streak.get("count") == 1

    hard = outcome_of(db, "hard@example.com")
    assert (hard["status"], hard["bounce"], hard["bounce_status"]) == ("sent", "hard", "5.1.1")
    soft = outcome_of(db, "soft@example.com")
    assert soft["bounce"] == "soft" and "mailbox full" in soft["bounce_text"]
    assert outcome_of(db, "spam@example.com")["complaint"] is True
    assert "bounce" not in outcome_of(db, "ok@example.com")

    progress = service.campaign_progress(runtime, WS, cid)
    assert progress["feedback"] == {"hard_bounces": 1, "soft_bounces": 1, "complaints": 1}
    listed = service.list_outcomes(runtime, WS, cid)["items"]
    assert {i["email"]: i.get("bounce") for i in listed}["hard@example.com"] == "hard"

    # Reports are deleted once applied; the auto-reply stays, flagged for a person.
    (left,) = imap.flags()
    assert "\\Flagged" in left
    assert deliverability.load(runtime, WS)["mailbox"]["last_polled_at"] is not None

    # The same bounce read again (a run that died before deleting it) changes nothing.
    events_before = len(list(db.collection(EVENTS).stream()))
    imap.deliver(dsn(senders["hard@example.com"], "hard@example.com", "5.1.1", "Subject: x\r\n"))
    again = mailbox.poll(runtime, WS)
    assert (again["messages"], again["duplicate"], again["applied"]) == (1, 1, 0)
    assert len(list(db.collection(EVENTS).stream())) == events_before
    assert service.campaign_progress(runtime, WS, cid)["feedback"]["hard_bounces"] == 1


def test_soft_bounces_in_a_row_suppress_at_the_workspace_limit(runtime, db, clock, server, imap):
    configure(runtime, server, imap)
    deliverability.put_policy(runtime, WS, {"soft_bounce_limit": 2})
    tokens = Tokens(runtime.secrets.app_secret("track-hmac-key"))
    for n in range(2):
        assert suppression(db, "full@example.com") is None
        server.handler.messages.clear()
        send(runtime, clock, ["full@example.com", f"other{n}@example.com"])
        headers = original_headers(server, "full@example.com")
        (report,) = parse(dsn("x@herald.example", "full@example.com", "4.2.2", headers), tokens)
        assert feedback.apply(runtime, report) == "applied"
        clock.advance(days=1)
    assert suppression(db, "full@example.com")["reason"] == "soft_bounce_limit"
    # A delivery report ends a streak: the next soft bounce starts at one.
    send(runtime, clock, ["calm@example.com"])
    headers = original_headers(server, "calm@example.com")
    (soft,) = parse(dsn("x@herald.example", "calm@example.com", "4.2.2", headers), tokens)
    feedback.apply(runtime, soft)
    (ok,) = parse(
        dsn("x@herald.example", "calm@example.com", "2.0.0", headers, action="delivered"),
        tokens,
    )
    feedback.apply(runtime, ok)
    streak = db.collection(SOFT_BOUNCES).document(suppression_id(WS, "calm@example.com"))
    assert not streak.get().exists


def deliver(runtime, function: str, payload: Any) -> Any:
    """One task delivered to a function through its adapter (functions-framework)."""
    from functions_framework import create_app

    from shared.runtime import set_runtime

    source = Path(__file__).resolve().parents[2] / "functions" / function / "main.py"
    set_runtime(runtime)
    try:
        app = create_app(function, str(source), signature_type="http").test_client()
        return app.post("/", json=payload)
    finally:
        set_runtime(None)


def test_a_mailbox_that_refuses_the_login_raises_the_feedback_alert(runtime, server, imap, capsys):
    configure(runtime, server, imap, password="not the password")
    reply = deliver(runtime, "read_bounces", {"bounce_mailbox": WS})
    # Answered (not retried by Cloud Tasks): the next minute's run tries again.
    assert reply.status_code == 200 and reply.json["messages"] == 0
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (alert,) = [e for e in entries if e.get("alert") == "email_feedback"]
    assert "refused the login" in alert["reason"]
    assert alert["workspace_id"] == WS


def test_the_dispatcher_reads_each_mailbox_once_a_minute_through_read_bounces(
    runtime, db, clock, server, imap
):
    configure(runtime, server, imap)
    send(runtime, clock, ["hard@example.com"])
    sender = server.handler.senders["hard@example.com"]
    imap.deliver(dsn(sender, "hard@example.com", "5.1.1", "Subject: x\r\n"))
    clock.advance(minutes=1)
    before = len(runtime.enqueuer.tasks)
    dispatch(runtime)
    dispatch(runtime)  # the same minute, twice: one task
    tasks = [t for t in runtime.enqueuer.tasks[before:] if "bounce_mailbox" in t.payload]
    assert [(t.kind, t.target, t.payload) for t in tasks] == [
        ("bounces", "read_bounces", {"bounce_mailbox": WS})
    ]
    reply = deliver(runtime, "read_bounces", tasks[0].payload)
    assert reply.status_code == 200 and reply.json["applied"] == 1
    assert suppression(db, "hard@example.com")["reason"] == "hard_bounce"
    deliverability.put_mailbox(runtime, WS, {**MAILBOX, "port": imap.port, "enabled": False})
    clock.advance(minutes=1)
    later = len(runtime.enqueuer.tasks)
    dispatch(runtime)
    assert not [t for t in runtime.enqueuer.tasks[later:] if "bounce_mailbox" in t.payload]


def test_send_email_no_longer_reads_mailboxes_and_read_bounces_refuses_bad_tasks(
    runtime, server, imap, capsys
):
    configure(runtime, server, imap)
    imap.deliver(dsn("bounces@herald.example", "x@example.com", "5.1.1", "Subject: x\r\n"))
    # Batches only: a mailbox task on the emails queue is a malformed batch task.
    reply = deliver(runtime, "send_email", {"bounce_mailbox": WS})
    assert reply.status_code == 400 and "batch_id" in reply.json["error"]["message"]
    assert len(imap.flags()) == 1, "send_email left the mailbox unread"
    for bad in ({}, {"bounce_mailbox": ""}, {"bounce_mailbox": ["ws"]}, {"batch_id": "b1"}):
        reply = deliver(runtime, "read_bounces", bad)
        assert reply.status_code == 400, bad
        assert "bounce_mailbox" in reply.json["error"]["message"]
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    alerts = [e["alert"] for e in entries if e.get("alert")]
    assert alerts == ["email_bad_task"] + ["bounces_bad_task"] * 4
