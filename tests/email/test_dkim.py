"""DKIM signing checked by dkimpy's own verifier, and SMTPUTF8 with a server that offers
it and one that does not: real messages sent over SMTP (aiosmtpd)."""

from __future__ import annotations

from typing import Any

import dkim
import pytest
from aiosmtpd.controller import Controller

from local.stack import free_port
from shared.email import deliverability, service
from shared.email.model import BATCHES
from tests.email.conftest import WS, Handler, audience, campaign, smtp_body
from tests.email.test_feedback import send

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def dns_of(record: dict[str, Any]) -> Any:
    """dkimpy's DNS lookup, answered with the record the page tells the user to publish."""

    def lookup(name: bytes, timeout: int = 5) -> bytes:
        assert name.decode().rstrip(".") == record["name"], name
        return "".join(record["strings"]).encode()

    return lookup


def raw(smtp_server, address: str) -> bytes:
    (data,) = [d for rcpts, d in smtp_server.handler.messages if address in rcpts]
    return data


def test_signed_messages_verify_with_dkimpy_and_any_change_breaks_them(runtime, clock, smtp_server):
    service.put_smtp_settings(runtime, WS, smtp_body(smtp_server))
    view = deliverability.generate_dkim(runtime, WS, {"selector": "s2026"})
    record = view["dkim"]["dns"]
    assert record["name"] == "s2026._domainkey.herald.example"
    assert record["value"].startswith("v=DKIM1; k=rsa; p=")
    assert all(len(s) <= 255 for s in record["strings"])
    send(runtime, clock, ["ann@example.com", "bob@example.com"])
    for address in ("ann@example.com", "bob@example.com"):
        message = raw(smtp_server, address)
        assert message.startswith(b"DKIM-Signature:")
        assert b"d=herald.example" in message and b"s=s2026" in message
        assert dkim.verify(message, dnsfunc=dns_of(record))
    message = raw(smtp_server, "ann@example.com")
    body_changed = message.replace(b"\r\n--=_herald_", b"\r\nP.S.\r\n--=_herald_", 1)
    assert body_changed != message
    assert not dkim.verify(body_changed, dnsfunc=dns_of(record))
    assert not dkim.verify(message.replace(b"Subject: ", b"Subject: Re: "), dnsfunc=dns_of(record))
    # A header added after signing is covered too (oversigned): From, Subject, List-*.
    assert not dkim.verify(b"Subject: extra\r\n" + message, dnsfunc=dns_of(record))


def test_dkim_off_or_for_another_domain_sends_unsigned(runtime, clock, smtp_server):
    service.put_smtp_settings(runtime, WS, smtp_body(smtp_server))
    deliverability.generate_dkim(runtime, WS, {"domain": "other.example", "selector": "s1"})
    send(runtime, clock, ["ann@example.com"])
    assert not raw(smtp_server, "ann@example.com").startswith(b"DKIM-Signature:")
    deliverability.generate_dkim(runtime, WS, {"selector": "s1", "enabled": False})
    send(runtime, clock, ["bob@example.com"])
    assert not raw(smtp_server, "bob@example.com").startswith(b"DKIM-Signature:")


def plain_server(utf8: bool) -> tuple[Handler, Controller]:
    """A plain SMTP server, offering SMTPUTF8 (RFC 6531) or not."""
    handler = Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=utf8)
    controller.start()
    return handler, controller


def use(runtime, smtp_server, controller: Controller) -> None:
    body = smtp_body(smtp_server, port=controller.port, security="none", username="", password="")
    service.put_smtp_settings(runtime, WS, body)


def test_non_ascii_local_part_goes_out_over_smtputf8(runtime, clock, smtp_server):
    handler, controller = plain_server(utf8=True)
    try:
        use(runtime, smtp_server, controller)
        send(runtime, clock, ["josé@example.com", "ann@example.com"])
    finally:
        controller.stop()
    (data,) = [d for r, d in handler.messages if "josé@example.com" in r]
    assert "To: Name0 <josé@example.com>".encode() in data
    assert handler.to("ann@example.com")


def test_non_ascii_local_part_is_refused_with_the_reason_without_smtputf8(
    runtime, db, clock, smtp_server
):
    handler, controller = plain_server(utf8=False)
    try:
        use(runtime, smtp_server, controller)
        cid = send(runtime, clock, ["josé@example.com", "ann@example.com"])
    finally:
        controller.stop()
    assert [a for rcpts, _ in handler.messages for a in rcpts] == ["ann@example.com"]
    (batch,) = [d.to_dict() for d in db.collection(BATCHES).stream()]
    index = [r["email"] for r in batch["recipients"]].index("josé@example.com")
    outcome = batch["outcomes"][str(index)]
    assert outcome["status"] == "failed" and outcome["reason"] == "smtputf8"
    assert "SMTPUTF8" in outcome["text"] and "does not offer it" in outcome["text"]
    assert service.campaign_progress(runtime, WS, cid)["failed"] == 1


def test_addresses_with_non_ascii_local_parts_are_imported(runtime):
    list_id = audience(runtime, ["josé@example.com", "Ünal@example.com"])
    assert campaign(runtime, list_id)
