"""The sending domain's pre-flight (SPF, DKIM, DMARC) through dnspython against a local
DNS server (dnslib) holding the records a test publishes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dnslib import AAAA, MX, QTYPE, RR, TXT, A, DNSRecord
from dnslib.server import BaseResolver, DNSServer

from local.stack import free_port
from shared.email import deliverability, preflight, service
from shared.errors import ValidationError
from tests.email.conftest import WS

SMTP_HOST = "mail.herald.example"
SMTP_IP = "192.0.2.25"


class Zone(BaseResolver):  # type: ignore[misc]
    """Answers from a dict: (name, type) -> rdata list; NXDOMAIN otherwise."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[Any]] = {}
        self.queries: list[str] = []

    def publish_txt(self, name: str, value: str) -> None:
        chunks = [value[i : i + 255] for i in range(0, len(value), 255)]
        self.records.setdefault((name, "TXT"), []).append(TXT(chunks))

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        self.queries.append(f"{qtype} {name}")
        for rdata in self.records.get((name, qtype), []):
            reply.add_answer(RR(name, request.q.qtype, rdata=rdata, ttl=60))
        if not any(n == name for n, _ in self.records):
            reply.header.rcode = 3  # NXDOMAIN
        return reply


@pytest.fixture
def zone(monkeypatch) -> Iterator[Zone]:
    zone = Zone()
    port = free_port()
    server = DNSServer(zone, port=port, address="127.0.0.1")
    server.start_thread()
    monkeypatch.setenv("HERALD_DNS_RESOLVER", f"127.0.0.1:{port}")
    zone.records[(SMTP_HOST, "A")] = [A(SMTP_IP)]
    zone.records[(SMTP_HOST, "AAAA")] = [AAAA("2001:db8::25")]
    try:
        yield zone
    finally:
        server.stop()


@pytest.fixture
def workspace(runtime) -> dict[str, Any]:
    service.put_smtp_settings(
        runtime,
        WS,
        {
            "host": SMTP_HOST,
            "port": 587,
            "security": "starttls",
            "username": "u",
            "password": "p",
            "from_name": "News",
            "from_address": "news@herald.example",
        },
    )
    return deliverability.generate_dkim(runtime, WS, {"selector": "s1"})


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["checks"]}


def test_nothing_published_fails_each_check_with_the_record_to_publish(runtime, zone, workspace):
    report = preflight.run(runtime, WS)
    checks = by_name(report)
    assert report["ok"] == "fail" and report["domain"] == "herald.example"
    assert checks["spf"]["advice"] == (
        "Publish a TXT record at herald.example: v=spf1 a:mail.herald.example ~all"
    )
    dkim = workspace["dkim"]["dns"]
    assert checks["dkim"]["advice"] == f"Publish a TXT record at {dkim['name']}: {dkim['value']}"
    assert "_dmarc.herald.example: v=DMARC1; p=none" in checks["dmarc"]["advice"]
    assert "TXT _dmarc.herald.example" in zone.queries


def test_correct_records_pass_every_check(runtime, zone, workspace):
    dkim = workspace["dkim"]["dns"]
    zone.publish_txt("herald.example", "v=spf1 include:_spf.herald.example -all")
    zone.publish_txt("_spf.herald.example", "v=spf1 mx ip4:198.51.100.0/24 -all")
    zone.records[("_spf.herald.example", "MX")] = [MX(SMTP_HOST)]
    zone.records[("herald.example", "MX")] = [MX(SMTP_HOST)]
    zone.publish_txt(dkim["name"], dkim["value"])  # 400 characters: two TXT strings
    zone.publish_txt("_dmarc.herald.example", "v=DMARC1; p=quarantine; adkim=s")
    report = preflight.run(runtime, WS)
    assert report["ok"] == "pass", report
    assert all(c["advice"] is None for c in report["checks"])


def test_wrong_records_get_concrete_advice(runtime, zone, workspace):
    zone.publish_txt("herald.example", "v=spf1 ip4:203.0.113.7 ~all")
    zone.publish_txt(
        "s1._domainkey.herald.example", "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOC"
    )
    zone.publish_txt("_dmarc.herald.example", "v=DMARC1; p=none")
    checks = by_name(preflight.run(runtime, WS))
    assert checks["spf"]["ok"] == "fail"
    assert "does not authorise mail.herald.example" in checks["spf"]["advice"]
    assert "v=spf1 ip4:203.0.113.7 a:mail.herald.example ~all" in checks["spf"]["advice"]
    assert (
        checks["dkim"]["ok"] == "fail"
        and "not the one Herald signs with" in (checks["dkim"]["advice"])
    )
    # SPF fails and the DKIM record is wrong: DMARC's alignment by DKIM still counts the
    # signature's domain (receivers check the signature itself, the DKIM check above).
    assert checks["dmarc"]["ok"] == "warn" and "p=none" in checks["dmarc"]["advice"]


def test_two_spf_records_and_a_provider_without_its_include(runtime, zone, workspace):
    service.put_smtp_settings(
        runtime,
        WS,
        {
            "host": "smtp.sendgrid.net",
            "port": 587,
            "security": "starttls",
            "username": "apikey",
            "password": "p",
            "from_name": "News",
            "from_address": "news@herald.example",
        },
    )
    zone.publish_txt("herald.example", "v=spf1 -all")
    assert "include:sendgrid.net" in by_name(preflight.run(runtime, WS))["spf"]["advice"]
    zone.publish_txt("herald.example", "v=spf1 include:sendgrid.net -all")
    assert "2 SPF records" in by_name(preflight.run(runtime, WS))["spf"]["advice"]


def test_dmarc_without_alignment_explains_both_ways_out(runtime, zone, workspace):
    deliverability.set_dkim_enabled(runtime, WS, False)
    zone.publish_txt("_dmarc.herald.example", "v=DMARC1; p=reject")
    checks = by_name(preflight.run(runtime, WS))
    assert checks["dkim"]["ok"] == "fail"
    assert checks["dmarc"]["ok"] == "fail"
    assert "Neither DKIM nor SPF aligns with herald.example" in checks["dmarc"]["advice"]


def test_unreachable_dns_is_a_clear_error(runtime, workspace, monkeypatch):
    monkeypatch.setenv("HERALD_DNS_RESOLVER", f"127.0.0.1:{free_port()}")
    with pytest.raises(ValidationError, match="DNS lookup failed"):
        preflight.run(runtime, WS)
