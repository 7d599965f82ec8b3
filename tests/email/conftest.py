"""Email test fixtures: a real aiosmtpd server with STARTTLS and AUTH (self-signed
certificate made here with `cryptography`), scripted replies, and workspace helpers."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from local.smtp_sink import ehlo_answer
from local.stack import free_port
from shared.email import service
from shared.email.dispatch import SOURCE
from shared.runtime import Runtime

USER, PASSWORD = "mailer", "correct horse battery"


def self_signed(key: Any, common_name: str, *extensions: Any) -> Any:
    """A certificate for `key`, signed by itself, valid from yesterday for 30 days."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, hashes.SHA256())


def make_cert(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = self_signed(
        key,
        "127.0.0.1",
        (x509.SubjectAlternativeName(names), False),
        (x509.BasicConstraints(ca=True, path_length=None), True),
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Handler:
    """Records accepted messages; scripted replies and drops per recipient address."""

    messages: list[tuple[list[str], bytes]] = field(default_factory=list)
    rcpt_replies: dict[str, list[str]] = field(default_factory=dict)
    data_replies: dict[str, list[str]] = field(default_factory=dict)
    drop_at_rcpt: set[str] = field(default_factory=set)
    drop_after_data: set[str] = field(default_factory=set)
    logins: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    mail_replies: list[str] = field(default_factory=list)
    # Offered unless a test turns it off (test_send runs every test both ways).
    pipelining: ClassVar[bool] = True

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        return ehlo_answer(session, hostname, responses, pipelining=self.pipelining)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.lock:
            if self.mail_replies:
                return self.mail_replies.pop(0)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            if address in self.drop_at_rcpt:
                self.drop_at_rcpt.discard(address)
                server.transport.close()
                return "250 OK"
            script = self.rcpt_replies.get(address)
            if script:
                return script.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        rcpt = envelope.rcpt_tos[0]
        with self.lock:
            script = self.data_replies.get(rcpt)
            if script:
                return script.pop(0)
            self.messages.append((list(envelope.rcpt_tos), envelope.original_content))
            if rcpt in self.drop_after_data:
                self.drop_after_data.discard(rcpt)
                server.transport.close()
        return "250 Message accepted"

    def to(self, address: str) -> list[Message]:
        return [
            message_from_bytes(raw, policy=default_policy)
            for rcpts, raw in self.messages
            if address in rcpts
        ]

    def count_by_rcpt(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for rcpts, _ in self.messages:
            for r in rcpts:
                out[r] = out.get(r, 0) + 1
        return out


@dataclass
class SmtpServer:
    handler: Handler
    port: int
    implicit_port: int
    cert: Path


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp_server(
    tls_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[SmtpServer]:
    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = Handler()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (USER, PASSWORD)
        if ok:
            handler.logins += 1
        return AuthResult(success=ok, handled=False)

    common: dict[str, Any] = {
        "hostname": "127.0.0.1",
        "authenticator": authenticator,
        "auth_required": True,
        "server_hostname": "127.0.0.1",
    }
    port, implicit_port = free_port(), free_port()
    starttls = Controller(handler, port=port, tls_context=context, require_starttls=True, **common)
    # Implicit TLS: the session is encrypted from the start, so AUTH needs no STARTTLS.
    implicit = Controller(
        handler, port=implicit_port, ssl_context=context, auth_require_tls=False, **common
    )
    starttls.start()
    implicit.start()
    monkeypatch.setenv("HERALD_SMTP_CA_FILE", str(cert))
    try:
        yield SmtpServer(handler, port, implicit_port, cert)
    finally:
        starttls.stop()
        implicit.stop()


def smtp_body(server: SmtpServer, **overrides: Any) -> dict[str, Any]:
    body = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": "starttls",
        "username": USER,
        "password": PASSWORD,
        "from_name": "Herald Team",
        "from_address": "news@herald.example",
        "reply_to": "reply@herald.example",
        "daily_quota": 100_000,
        "per_minute_rate": 10_000,
        "postal_address": "Herald Team, 1 Rue de la Paix, 75002 Paris, France",
    }
    body.update(overrides)
    return body


WS = "ws1"


def csv_bytes(
    rows: Sequence[tuple[str, ...]], header: str = "Email,First,Last,TZ,Company"
) -> bytes:
    lines = [header] + [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode()


MAPPING = {
    "email": "Email",
    "first_name": "First",
    "last_name": "Last",
    "timezone": "TZ",
    "fields": {"company": "Company"},
}


def audience(runtime: Runtime, addresses: list[str], workspace_id: str = WS) -> str:
    """A contact list holding these addresses; returns its id."""
    lst = service.create_contact_list(runtime, workspace_id, "list")
    rows = [(a, f"Name{i}", "", "", "") for i, a in enumerate(addresses)]
    report = service.import_contacts(
        runtime, workspace_id, csv_bytes(rows), "c.csv", MAPPING, lst["id"]
    )
    assert report["imported"] == len(addresses), report
    return str(lst["id"])


def campaign(runtime: Runtime, list_id: str, workspace_id: str = WS, **extra: Any) -> str:
    body = {
        "name": "Spring",
        "subject": "Hello {{ first_name }}",
        "html": "<html><body><p>Hi {{ first_name | default('friend') }},</p>"
        '<p><a href="https://herald.example/offer?a=1&amp;b=2">offer</a></p></body></html>',
        "list_id": list_id,
        **extra,
    }
    created = service.create_campaign(runtime, workspace_id, body)
    return str(created["id"])


def dispatch(runtime: Runtime) -> dict[str, int]:
    from datetime import timedelta

    from shared.dispatch import DispatchContext

    now = runtime.clock.now()
    ctx = DispatchContext(runtime=runtime, now=now, horizon=now + timedelta(seconds=90))
    return SOURCE.run(ctx)


def start_campaign(runtime: Runtime, cid: str) -> list[str]:
    """Schedule now, run the dispatcher; the batch ids it enqueued, in order."""
    service.schedule_campaign(runtime, WS, cid, runtime.clock.now().isoformat(), "UTC")
    before = len(runtime.enqueuer.tasks)  # type: ignore[attr-defined]
    dispatch(runtime)
    return [t.payload["batch_id"] for t in runtime.enqueuer.tasks[before:]]  # type: ignore[attr-defined]
