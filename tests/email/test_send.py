"""The send path against a real SMTP server with STARTTLS and AUTH."""

from __future__ import annotations

import threading
from email.message import EmailMessage

import pytest

from shared.email import service, worker
from shared.email.model import BATCHES, EVENTS, SUPPRESSIONS
from shared.email.suppression import suppress
from tests.email.conftest import WS, Handler, audience, campaign, smtp_body, start_campaign

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


_DELIVERY = {"as_task": False}


def _task_payload(runtime, batch_id: str) -> dict:
    tasks = [t for t in runtime.enqueuer.tasks if t.payload.get("batch_id") == batch_id]
    return tasks[-1].payload if tasks else {}


def send_batch(runtime, batch_id, workspace_id, **kwargs):
    """The worker, called with only the batch id (a task enqueued before tasks carried
    addresses) or as the batch's own task delivers it: with the campaign and the
    addresses, which start the suppression queries and the connection beside the
    take and the read."""
    if _DELIVERY["as_task"]:
        payload = _task_payload(runtime, batch_id)
        kwargs |= {"campaign_id": payload.get("campaign_id"), "emails": payload.get("emails")}
    return worker.send_batch(runtime, batch_id, workspace_id, **kwargs)


@pytest.fixture(autouse=True, params=["bare", "as_task", "unpipelined"])
def delivery(request, monkeypatch):
    """Every test here runs three ways: called with the batch id only, as the batch's
    own task delivers it, and against a server that does not offer PIPELINING."""
    monkeypatch.setitem(_DELIVERY, "as_task", request.param == "as_task")
    monkeypatch.setattr(Handler, "pipelining", request.param != "unpipelined")
    return request.param


@pytest.fixture
def configured(runtime, smtp_server):
    service.put_smtp_settings(runtime, WS, smtp_body(smtp_server))
    return smtp_server


def _outcomes(db, batch_id):
    data = db.collection(BATCHES).document(batch_id).get().to_dict()
    return {r["email"]: data["outcomes"].get(str(i)) for i, r in enumerate(data["recipients"])}


def test_mime_structure_headers_and_personalization(runtime, db, configured):
    list_id = audience(runtime, ["ann@example.com", "bob@example.org"])
    cid = campaign(runtime, list_id, track_opens=True, track_clicks=True)
    [bid] = start_campaign(runtime, cid)
    result = send_batch(runtime, bid, WS)
    assert result["counts"] == {"sent": 2}
    [msg] = configured.handler.to("ann@example.com")
    assert isinstance(msg, EmailMessage)
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert msg["Subject"] == "Hello Name0"
    assert msg["From"].addresses[0].addr_spec == "news@herald.example"
    assert msg["From"].addresses[0].display_name == "Herald Team"
    assert msg["Reply-To"] == "reply@herald.example"
    assert msg["Message-ID"].endswith("@herald.example>")
    assert msg["Date"].datetime is not None
    unsub = msg["List-Unsubscribe"]
    assert "<http://" in unsub and "/u/" in unsub and "<mailto:reply@herald.example?" in unsub
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = parts[1].get_content()
    text = parts[0].get_content()
    assert "Hi Name0," in html and "Hi Name0," in text
    # Links are rewritten to signed click URLs, in both parts; the pixel is in the HTML.
    assert "herald.example/offer" not in html and "/c/" in html and "/o/" in html
    assert "/c/" in text
    progress = service.campaign_progress(runtime, WS, cid)
    assert progress["sent"] == 2 and progress["pending"] == 0
    sent = db.collection(EVENTS).document(f"sent__{bid}").get().to_dict()
    assert sent["type"] == "sent" and sent["count"] == 2 and sent["campaign_id"] == cid


def test_no_header_injection_from_contact_data(runtime, configured):
    from tests.email.conftest import MAPPING, csv_bytes

    lst = service.create_contact_list(runtime, WS, "l")
    data = csv_bytes([("eve@example.com", '"Eve\r\nBcc: victim@example.net"', "", "", "")])
    service.import_contacts(runtime, WS, data, "c.csv", MAPPING, lst["id"])
    cid = campaign(runtime, lst["id"])
    [bid] = start_campaign(runtime, cid)
    send_batch(runtime, bid, WS)
    [(rcpts, raw)] = configured.handler.messages
    assert rcpts == ["eve@example.com"]
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in head and b"\nBcc:" not in head


def test_451_defers_through_the_ladder_then_fails_and_resend_requeues_it(
    runtime, db, clock, enqueuer, configured
):
    h = configured.handler
    h.rcpt_replies["slow@example.com"] = ["451 4.7.1 try later"] * 4
    h.rcpt_replies["gone@example.com"] = ["550 5.1.1 no such user"]
    list_id = audience(runtime, ["ok@example.com", "slow@example.com", "gone@example.com"])
    cid = campaign(runtime, list_id)
    [bid] = start_campaign(runtime, cid)
    send_batch(runtime, bid, WS)
    out = _outcomes(db, bid)
    assert out["ok@example.com"]["status"] == "sent"
    assert out["gone@example.com"]["status"] == "failed"
    assert out["gone@example.com"]["code"] == 550
    assert out["slow@example.com"]["status"] == "deferred"
    assert out["slow@example.com"]["code"] == 451
    assert "try later" in out["slow@example.com"]["text"]
    ladder = []
    retry = out["slow@example.com"]["retry_batch"]
    for expected in (30, 60, 3600):
        task = enqueuer.tasks[-1]
        assert task.payload["batch_id"] == retry and task.kind == "emails"
        ladder.append((task.schedule_time - clock.now()).total_seconds())
        clock.advance(expected)
        send_batch(runtime, retry, WS)
        out = _outcomes(db, retry)
        retry = out["slow@example.com"].get("retry_batch")
    assert ladder == [30, 60, 3600]
    assert out["slow@example.com"]["status"] == "failed"
    assert out["slow@example.com"]["transient"] is True
    progress = service.campaign_progress(runtime, WS, cid)
    assert (progress["sent"], progress["failed"], progress["deferred"]) == (1, 2, 0)
    # Resend: only the transient failure goes out again (the 550 stays failed).
    result = service.resend_failed(runtime, WS, cid)
    assert result["requeued"] == 1
    again = service.resend_failed(runtime, WS, cid)
    assert again["requeued"] == 0
    send_batch(runtime, result["batches"][0], WS)
    assert h.count_by_rcpt() == {"ok@example.com": 1, "slow@example.com": 1}
    progress = service.campaign_progress(runtime, WS, cid)
    assert (progress["sent"], progress["failed"]) == (2, 1)


def test_hard_bounce_suppresses_and_later_sends_skip_the_address(runtime, db, configured):
    configured.handler.rcpt_replies["gone@example.com"] = ["550 5.1.1 no such user"]
    list_id = audience(runtime, ["gone@example.com", "ok@example.com"])
    [bid] = start_campaign(runtime, campaign(runtime, list_id))
    send_batch(runtime, bid, WS)
    sup = list(db.collection(SUPPRESSIONS).stream())
    assert [(d.get("email_norm"), d.get("reason")) for d in sup] == [
        ("gone@example.com", "hard_bounce")
    ]
    cid2 = campaign(runtime, list_id)
    [bid2] = start_campaign(runtime, cid2)
    send_batch(runtime, bid2, WS)
    assert _outcomes(db, bid2)["gone@example.com"]["status"] == "suppressed"
    assert configured.handler.count_by_rcpt() == {"ok@example.com": 2}


def test_dropped_connection_is_reconnected_and_a_drop_after_data_is_unconfirmed(
    runtime, db, configured
):
    h = configured.handler
    h.drop_at_rcpt.add("b@example.com")
    h.drop_after_data.add("c@example.com")
    list_id = audience(
        runtime, ["a@example.com", "b@example.com", "c@example.com", "d@example.com"]
    )
    [bid] = start_campaign(runtime, campaign(runtime, list_id))
    send_batch(runtime, bid, WS)
    out = _outcomes(db, bid)
    assert [out[a]["status"] for a in sorted(out)] == ["sent", "sent", "unconfirmed", "sent"]
    assert "dropped" in out["c@example.com"]["reason"]
    # Every address received exactly one copy; three logins: first, after each drop.
    assert h.count_by_rcpt() == dict.fromkeys(sorted(out), 1)
    assert h.logins == 3


def test_same_batch_delivered_twice_and_concurrently_sends_once(runtime, configured):
    addresses = [f"u{i:02d}@example.com" for i in range(12)]
    [bid] = start_campaign(runtime, campaign(runtime, audience(runtime, addresses)))
    results: list[dict] = []
    threads = [
        threading.Thread(target=lambda: results.append(send_batch(runtime, bid, WS)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["status"] for r in results).count("done") == 1
    assert send_batch(runtime, bid, WS) == {"status": "already_done"}
    assert configured.handler.count_by_rcpt() == dict.fromkeys(addresses, 1)
    cid = runtime.db.collection(BATCHES).document(bid).get().get("campaign_id")
    progress = service.campaign_progress(runtime, WS, cid)
    assert progress["sent"] == 12 and progress["batches_done"] == 1


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the worker catches it."""


def _kill_after(runtime, smtp_server, bid: str, n: int) -> None:
    """Runs the batch and kills the worker once the server has n messages."""

    def kill(i: int) -> None:
        if len(smtp_server.handler.messages) == n:
            raise Killed

    with pytest.raises(Killed):
        send_batch(runtime, bid, WS, on_message=kill)


@pytest.fixture
def slow_batches(monkeypatch):
    """Every batch behaves as a slow one: the take writes ahead 25, a checkpoint every 25."""
    from shared.email import worker

    monkeypatch.setattr(worker, "TAKE_COVERS", worker.CHECKPOINT_EVERY)
    monkeypatch.setattr(worker, "SLOW_AFTER_S", 0.0)


def _past_the_lease(runtime, clock) -> None:
    """The killed run's lease (renewed at most at the kill) has ended."""
    clock.advance(seconds=runtime.settings.email_lease_s + 1)


def test_fast_batch_writes_no_checkpoint_and_a_kill_leaves_it_in_doubt(
    runtime, db, clock, configured, monkeypatch
):
    """A batch that sends quickly is covered by the take's write-ahead: no checkpoint
    write; a kill puts every recipient without an outcome in doubt (unconfirmed), none
    is re-sent. (Quick here by decree: a loaded machine can take over 1 s for 25.)"""
    monkeypatch.setattr(worker, "SLOW_AFTER_S", 3600.0)
    addresses = [f"q{i:02d}@example.com" for i in range(50)]
    [bid] = start_campaign(runtime, campaign(runtime, audience(runtime, addresses)))
    _kill_after(runtime, configured, bid, 30)
    untouched = db.collection(BATCHES).document(bid).get().to_dict()
    assert (untouched["status"], untouched["run_gen"]) == ("sending", 1)
    assert untouched["inflight"] == list(range(50)) and untouched["outcomes"] == {}
    _past_the_lease(runtime, clock)
    result = send_batch(runtime, bid, WS)
    assert result["counts"] == {"unconfirmed": 50}
    assert configured.handler.count_by_rcpt() == dict.fromkeys(addresses[:30], 1)


def test_worker_killed_mid_batch_resumes_only_unsent(runtime, db, clock, configured, slow_batches):
    addresses = [f"k{i:02d}@example.com" for i in range(50)]
    [bid] = start_campaign(runtime, campaign(runtime, audience(runtime, addresses)))
    _kill_after(runtime, configured, bid, 30)
    # Redelivered while the dead run's lease runs (to its last second): nothing happens.
    clock.advance(seconds=runtime.settings.email_lease_s - 1)
    assert send_batch(runtime, bid, WS) == {"status": "busy"}
    clock.advance(seconds=2)
    result = send_batch(runtime, bid, WS)
    counts = configured.handler.count_by_rcpt()
    assert max(counts.values()) == 1, "a recipient got two copies"
    # Chunk 0 (25) was checkpointed as sent; chunk 1 was in flight: its 5 sent messages
    # and 20 unsent are in doubt -> unconfirmed, never re-sent. Nothing else is pending.
    assert result["counts"] == {"sent": 25, "unconfirmed": 25}
    assert len(counts) == 30
    out = _outcomes(db, bid)
    assert all("stopped" in o["reason"] for o in out.values() if o["status"] == "unconfirmed")


def test_suppressed_recipients_do_not_widen_the_takes_write_ahead(
    runtime, db, clock, configured, slow_batches
):
    """The take writes ahead the first 25 recipients; 5 are suppressed, so the 21st
    and later unsuppressed ones are not covered by it: a checkpoint must come first, or
    a kill would leave them sent but unrecorded and the takeover would send them again."""
    addresses = [f"s{i:02d}@example.com" for i in range(50)]
    [bid] = start_campaign(runtime, campaign(runtime, audience(runtime, addresses)))
    for address in addresses[:25:5]:
        suppress(db, WS, address, "manual", clock.now())
    _kill_after(runtime, configured, bid, 22)
    _past_the_lease(runtime, clock)
    result = send_batch(runtime, bid, WS)
    assert max(configured.handler.count_by_rcpt().values()) == 1, "a recipient got two copies"
    assert result["counts"] == {"sent": 20, "suppressed": 5, "unconfirmed": 25}


def test_worker_killed_in_first_chunk_resumes_the_rest(
    runtime, db, clock, configured, slow_batches
):
    addresses = [f"f{i:02d}@example.com" for i in range(50)]
    [bid] = start_campaign(runtime, campaign(runtime, audience(runtime, addresses)))

    def kill_after_10(i: int) -> None:
        if len(configured.handler.messages) == 10:
            raise Killed

    with pytest.raises(Killed):
        send_batch(runtime, bid, WS, on_message=kill_after_10)
    _past_the_lease(runtime, clock)
    result = send_batch(runtime, bid, WS)
    assert result["counts"] == {"sent": 25, "unconfirmed": 25}
    counts = configured.handler.count_by_rcpt()
    assert len(counts) == 35 and max(counts.values()) == 1


def test_exception_mid_batch_resumes_exactly_the_unsent(runtime, db, configured):
    addresses = [f"e{i:02d}@example.com" for i in range(50)]
    [bid] = start_campaign(runtime, campaign(runtime, audience(runtime, addresses)))

    def fail_after_30(i: int) -> None:
        if len(configured.handler.messages) == 30:
            raise RuntimeError("firestore hiccup")

    with pytest.raises(RuntimeError):
        send_batch(runtime, bid, WS, on_message=fail_after_30)
    result = send_batch(runtime, bid, WS)
    assert result["counts"] == {"sent": 50}
    assert configured.handler.count_by_rcpt() == dict.fromkeys(addresses, 1)


def test_cancelled_campaign_sends_nothing(runtime, db, configured):
    list_id = audience(runtime, ["a@example.com"])
    cid = campaign(runtime, list_id)
    [bid] = start_campaign(runtime, cid)
    service.cancel_campaign(runtime, WS, cid)
    assert send_batch(runtime, bid, WS)["counts"] == {"cancelled": 1}
    assert configured.handler.messages == []


def test_paused_campaign_holds_batches_until_resumed(runtime, db, enqueuer, configured):
    list_id = audience(runtime, ["a@example.com"])
    cid = campaign(runtime, list_id)
    [bid] = start_campaign(runtime, cid)
    service.pause_campaign(runtime, WS, cid)
    assert send_batch(runtime, bid, WS) == {"status": "held"}
    service.resume_campaign(runtime, WS, cid)
    assert enqueuer.tasks[-1].payload["batch_id"] == bid
    assert send_batch(runtime, bid, WS)["counts"] == {"sent": 1}


def test_send_test_email_explains_wrong_credentials_and_tls_mode(runtime, configured):
    from shared.errors import ProviderError

    service.put_smtp_settings(runtime, WS, smtp_body(configured, password="wrong password"))
    with pytest.raises(ProviderError, match="rejected the username or password"):
        service.send_test_email(runtime, WS, "me@example.com")
    service.put_smtp_settings(runtime, WS, smtp_body(configured, security="ssl"))
    with pytest.raises(ProviderError, match="STARTTLS"):
        service.send_test_email(runtime, WS, "me@example.com")
    service.put_smtp_settings(runtime, WS, smtp_body(configured, security="none"))
    with pytest.raises(ProviderError, match="login"):
        service.send_test_email(runtime, WS, "me@example.com")
    implicit = smtp_body(configured, security="ssl", port=configured.implicit_port)
    service.put_smtp_settings(runtime, WS, implicit)
    assert service.send_test_email(runtime, WS, "me@example.com")["sent"] is True
    [msg] = configured.handler.to("me@example.com")
    assert msg["Subject"] == "Herald SMTP test"


def test_password_goes_to_the_secret_store_not_firestore(runtime, db, configured):
    from shared.email.model import SETTINGS

    stored = db.collection(SETTINGS).document(WS).get().to_dict()
    assert "password" not in stored and stored["password_ref"]
    assert runtime.secrets.get(stored["password_ref"]) == smtp_body(configured)["password"]
    public = service.get_smtp_settings(runtime, WS)
    assert public["password_set"] is True and "password_ref" not in public


def test_template_cannot_escape_the_sandbox(runtime, db, configured):
    list_id = audience(runtime, ["a@example.com"])
    cid = campaign(runtime, list_id, html="<p>{{ ''.__class__.__mro__[1].__subclasses__() }}</p>")
    [bid] = start_campaign(runtime, cid)
    send_batch(runtime, bid, WS)
    out = _outcomes(db, bid)["a@example.com"]
    assert out["status"] == "failed" and "could not build" in out["text"]
    assert configured.handler.messages == []


def test_release_then_kill_marks_the_new_runs_chunk_in_doubt(
    runtime, db, clock, configured, slow_batches
):
    """An exception hands the batch to the next generation; if that run is then killed
    before its first checkpoint, its in-flight chunk (from its take) is not re-sent."""
    addresses = [f"g{i:02d}@example.com" for i in range(30)]
    [bid] = start_campaign(runtime, campaign(runtime, audience(runtime, addresses)))

    def fail_after_5(i: int) -> None:
        if len(configured.handler.messages) == 5:
            raise RuntimeError("transient")

    with pytest.raises(RuntimeError):
        send_batch(runtime, bid, WS, on_message=fail_after_5)

    def kill_after_8(i: int) -> None:
        if len(configured.handler.messages) == 8:
            raise Killed

    with pytest.raises(Killed):
        send_batch(runtime, bid, WS, on_message=kill_after_8)
    _past_the_lease(runtime, clock)
    result = send_batch(runtime, bid, WS)
    counts = configured.handler.count_by_rcpt()
    assert max(counts.values()) == 1
    # 5 sent and recorded; the second run's chunk (25 from index 5) is in doubt; 0 left.
    assert result["counts"] == {"sent": 5, "unconfirmed": 25}


def test_next_message_is_composed_while_the_server_stores_this_one(
    runtime, configured, monkeypatch
):
    """Composition (CPU) overlaps the wait for the server's reply to the previous
    message instead of adding to the round trips; a message that cannot be built is
    still recorded as failed, each is composed once, and nothing is sent twice."""
    import smtplib

    from shared.email import compose

    addresses = [f"c{i:02d}@example.com" for i in range(6)]
    [bid] = start_campaign(runtime, campaign(runtime, audience(runtime, addresses)))
    events: list[str] = []
    real_message, real_send, real_reply = (
        compose.Composer.message,
        smtplib.SMTP.send,
        smtplib.SMTP.getreply,
    )

    def message(self, rcpt, ref=None):
        events.append("compose " + rcpt["email"])
        if rcpt["email"] == "c03@example.com":
            raise ValueError("no header can carry this")
        return real_message(self, rcpt, ref)

    def send(self, data):
        if isinstance(data, bytes) and data.endswith(b"\r\n.\r\n"):
            events.append("body")
        return real_send(self, data)

    def getreply(self):
        reply = real_reply(self)
        if events and events[-1] != "reply":
            events.append("reply")
        return reply

    monkeypatch.setattr(compose.Composer, "message", message)
    monkeypatch.setattr(smtplib.SMTP, "send", send)
    monkeypatch.setattr(smtplib.SMTP, "getreply", getreply)
    result = send_batch(runtime, bid, WS)
    assert result["counts"] == {"sent": 5, "failed": 1}
    composed = [e.split()[1] for e in events if e.startswith("compose")]
    assert composed == sorted(addresses), "each message is composed once, in order"
    # Each one after the first is composed right after the previous body went out,
    # before the server answered it; c04 follows c03, whose message could not be
    # built and so was never sent: nothing to overlap with, it is composed in its turn.
    for address in addresses[1:]:
        at = events.index("compose " + address)
        expected = "reply" if address == "c04@example.com" else "body"
        assert events[at - 1] == expected, (address, events[at - 3 : at + 2])
    out = _outcomes(runtime.db, bid)["c03@example.com"]
    assert out["status"] == "failed" and "no header can carry this" in out["text"]
    assert configured.handler.count_by_rcpt() == {a: 1 for a in addresses if a != "c03@example.com"}


def test_suppression_chunks_are_queried_side_by_side(runtime, db, clock, configured, monkeypatch):
    """A batch of 50 needs two `in` queries (30 + 20): both are in flight at once, and a
    suppressed address in either is honoured."""
    from shared.email import early

    addresses = [f"p{i:02d}@example.com" for i in range(50)]
    [bid] = start_campaign(runtime, campaign(runtime, audience(runtime, addresses)))
    for address in (addresses[3], addresses[45]):
        suppress(db, WS, address, "manual", clock.now())
    together = threading.Barrier(2, timeout=5)
    met: list[bool] = []
    real_lookup = early.suppressed_in

    def lookup(db, workspace_id, chunk):
        try:
            together.wait()
            met.append(True)
        except threading.BrokenBarrierError:
            met.append(False)
        return real_lookup(db, workspace_id, chunk)

    monkeypatch.setattr(early, "suppressed_in", lookup)
    result = send_batch(runtime, bid, WS)
    assert met == [True, True]
    assert result["counts"] == {"sent": 48, "suppressed": 2}
    assert set(configured.handler.count_by_rcpt()) == set(addresses) - {addresses[3], addresses[45]}


def test_error_after_the_take_before_any_send_releases_the_batch(runtime, configured, monkeypatch):
    """An ordinary exception between taking the batch and the first message (here the
    tracking key cannot be read) releases the batch: the retry sends everything at once,
    instead of finding the batch held for its lease and then marking the take's
    write-ahead recipients unconfirmed though nothing was sent."""
    from shared.email import compose

    addresses = [f"r{i:02d}@example.com" for i in range(5)]
    [bid] = start_campaign(runtime, campaign(runtime, audience(runtime, addresses)))
    real_signer = compose.signer
    calls = []

    def signer(rt):
        calls.append(1)
        if len(calls) == 1:
            raise FileExistsError("the key file was being created by another request")
        return real_signer(rt)

    monkeypatch.setattr(compose, "signer", signer)
    with pytest.raises(FileExistsError):
        send_batch(runtime, bid, WS)
    assert configured.handler.messages == []
    result = send_batch(runtime, bid, WS)
    assert result["counts"] == {"sent": 5}
    assert configured.handler.count_by_rcpt() == dict.fromkeys(addresses, 1)


def test_envelope_is_pipelined_when_the_server_offers_it(runtime, configured, monkeypatch):
    """MAIL, RCPT and DATA go out in one write to a server that offers PIPELINING
    (one round trip instead of three per message), one by one to a server that does
    not; the messages are the same."""
    import smtplib

    writes: list[bytes] = []
    real_send = smtplib.SMTP.send

    def send(self, data):
        writes.append(data.encode() if isinstance(data, str) else data)
        return real_send(self, data)

    monkeypatch.setattr(smtplib.SMTP, "send", send)
    addresses = ["p1@example.com", "p2@example.com", "p3@example.com"]
    [bid] = start_campaign(runtime, campaign(runtime, audience(runtime, addresses)))
    assert send_batch(runtime, bid, WS)["counts"] == {"sent": 3}
    grouped = [w for w in writes if w.startswith(b"MAIL FROM:") and b"\r\nRCPT TO:" in w]
    if Handler.pipelining:
        assert grouped == [
            f"MAIL FROM:<news@herald.example>\r\nRCPT TO:<{a}>\r\nDATA\r\n".encode()
            for a in addresses
        ]
    else:
        assert grouped == []
        assert sum(w.lower().startswith(b"mail from:") for w in writes) == 3
    assert configured.handler.count_by_rcpt() == dict.fromkeys(addresses, 1)


def test_refused_sender_defers_or_fails_the_message_without_suppressing_the_recipient(
    runtime, db, configured
):
    """A refusal of MAIL FROM is about the sender, not the address: 451 defers, 550
    fails without suppressing it, 421 closes the session and the next message goes
    out on a new one. Pipelined, the RCPT and DATA answered after the refusal (503)
    are read and ignored; the session is reset before the next message."""
    h = configured.handler
    h.mail_replies[:] = ["451 4.3.2 slow down", "550 5.7.1 sender not allowed", "421 4.7.0 bye"]
    addresses = [f"m{i}@example.com" for i in range(4)]
    [bid] = start_campaign(runtime, campaign(runtime, audience(runtime, addresses)))
    send_batch(runtime, bid, WS)
    out = _outcomes(db, bid)
    assert [out[a]["status"] for a in addresses] == ["deferred", "failed", "deferred", "sent"]
    assert [out[a].get("code") for a in addresses] == [451, 550, 421, 250]
    assert "bounce" not in out["m1@example.com"]
    assert list(db.collection(SUPPRESSIONS).stream()) == []
    assert h.count_by_rcpt() == {"m3@example.com": 1}
    assert h.logins == 2  # the 421 ended the first session


def test_data_accepted_after_a_refused_rcpt_gets_no_body_and_a_new_session(
    runtime, db, smtp_server
):
    """RFC 2920 says a server must refuse DATA when no recipient was accepted; one that
    answers 354 anyway is waiting for a body. The worker sends nothing more on that
    session (not even QUIT, which would become the body) and goes on over a new one."""
    import socketserver

    if not Handler.pipelining:
        pytest.skip("only a pipelined envelope reads DATA's reply after a refusal")
    sessions: list[list[bytes]] = []

    class Careless(socketserver.StreamRequestHandler):
        def handle(self):
            seen: list[bytes] = []
            sessions.append(seen)
            self.wfile.write(b"220 careless ESMTP\r\n")
            in_data = False
            for line in self.rfile:
                seen.append(line)
                if in_data:
                    if line == b".\r\n":
                        in_data = False
                        self.wfile.write(b"250 queued\r\n")
                    continue
                verb = line[:4].upper()
                if verb == b"EHLO":
                    self.wfile.write(b"250-careless\r\n250 PIPELINING\r\n")
                elif verb == b"RCPT" and b"bad@" in line:
                    self.wfile.write(b"550 5.1.1 no such user\r\n")
                elif verb == b"DATA":
                    in_data = True
                    self.wfile.write(b"354 go ahead\r\n")  # even after the 550
                elif verb == b"QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 ok\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Careless)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        # The fixture's settings, pointed at this server: plain, no login.
        body = smtp_body(smtp_server, port=port, security="none", username="", password="")
        service.put_smtp_settings(runtime, WS, body)
        addresses = ["bad@example.com", "fine1@example.com", "fine2@example.com"]
        [bid] = start_campaign(runtime, campaign(runtime, audience(runtime, addresses)))
        send_batch(runtime, bid, WS)
    finally:
        server.shutdown()
        server.server_close()
    out = _outcomes(db, bid)
    refused = out["bad@example.com"]
    assert (refused["status"], refused["code"], refused.get("bounce")) == ("failed", 550, "hard")
    assert out["fine1@example.com"]["status"] == out["fine2@example.com"]["status"] == "sent"
    [careless] = [s for s in sessions if any(b"bad@" in line for line in s)]
    assert careless[-1] == b"DATA\r\n", "nothing follows the DATA that came after the refusal"
    rcpts = [line for s in sessions for line in s if line.startswith(b"RCPT")]
    assert sorted(rcpts) == sorted(f"RCPT TO:<{a}>\r\n".encode() for a in addresses)
    # The recipients after the refused one went out over a new session.
    order = [r["email"] for r in db.collection(BATCHES).document(bid).get().get("recipients")]
    after = order[order.index("bad@example.com") + 1 :]
    assert after, order  # the batch holds them in address order
    assert careless is sessions[0] and len(sessions) == 2
    assert all(any(a.encode() in line for line in sessions[1]) for a in after)
