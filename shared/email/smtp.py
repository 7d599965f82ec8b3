"""SMTP connections (implicit TLS, STARTTLS or plain) and reply classification.

smtplib does the protocol; this module opens a connection the way the workspace's
settings say, turns the ways it fails into messages a person understands, and sorts
replies into sent / deferred (4xx, retry later) / failed (5xx).
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any

from shared.email.destinations import DestinationPolicy, DestinationRefused
from shared.errors import ProviderError

SECURITY_MODES = ("ssl", "starttls", "none")
CONNECT_TIMEOUT_S = 20.0
# Mailbox does not exist / not allowed: the address will never work, so it is suppressed.
HARD_BOUNCE_CODES = frozenset({550, 551, 553})


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str
    username: str | None
    password: str | None
    timeout: float = CONNECT_TIMEOUT_S
    # Which addresses may be reached (production: public ones, plus what the operator
    # allows); the connection goes to the address that was checked.
    policy: DestinationPolicy = field(default_factory=DestinationPolicy)


def tls_context() -> ssl.SSLContext:
    """System trust store, plus HERALD_SMTP_CA_FILE for servers behind a private CA."""
    context = ssl.create_default_context()
    extra = os.environ.get("HERALD_SMTP_CA_FILE")
    if extra:
        context.load_verify_locations(cafile=extra)
    return context


def _describe(cfg: SmtpConfig) -> str:
    return f"{cfg.host}:{cfg.port} ({cfg.security})"


class _PinnedSMTP(smtplib.SMTP):
    """Connects to a checked address while TLS still verifies the host's name."""

    def __init__(self, address: str, *args: Any, **kwargs: Any) -> None:
        self._address = address
        super().__init__(*args, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection((self._address, port), timeout, self.source_address)


class _PinnedSMTPSSL(smtplib.SMTP_SSL):
    def __init__(self, address: str, host: str, *args: Any, **kwargs: Any) -> None:
        self._address, self._server_name = address, host
        super().__init__(host, *args, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.create_connection((self._address, port), timeout, self.source_address)
        return self.context.wrap_socket(sock, server_hostname=self._server_name)


def _open(cfg: SmtpConfig) -> smtplib.SMTP:
    address = cfg.policy.address_for(cfg.host, cfg.port)
    if cfg.security == "ssl":
        if address is None:
            return smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=tls_context())
        return _PinnedSMTPSSL(
            address, cfg.host, cfg.port, timeout=cfg.timeout, context=tls_context()
        )
    if address is None:
        return smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
    return _PinnedSMTP(address, cfg.host, cfg.port, timeout=cfg.timeout)


def connect(cfg: SmtpConfig) -> smtplib.SMTP:
    """An authenticated connection, or ProviderError with a reason a person can act on
    (DestinationRefused when the host is one this deployment does not connect to)."""
    where = _describe(cfg)
    conn: smtplib.SMTP | None = None
    phase = "connect"
    try:
        conn = _open(cfg)
        conn.ehlo()
        if cfg.security == "starttls":
            conn.starttls(context=tls_context())
            conn.ehlo()
        if cfg.username:
            phase = "login"
            conn.login(cfg.username, cfg.password or "")
        return conn
    except DestinationRefused as exc:
        raise ProviderError(exc.message, {"reason": "destination"}) from exc
    except smtplib.SMTPAuthenticationError as exc:
        _close(conn)
        raise ProviderError(
            f"the SMTP server {where} rejected the username or password "
            f"({exc.smtp_code} {_text(exc.smtp_error)})",
            {"reason": "auth", "smtp_code": exc.smtp_code},
        ) from exc
    except smtplib.SMTPNotSupportedError as exc:
        _close(conn)
        if cfg.security == "starttls":
            msg = (
                f"the SMTP server {where} does not offer STARTTLS; choose SSL/TLS "
                "(usually port 465) if it expects TLS from the start"
            )
        elif cfg.security == "none":
            msg = (
                f"the SMTP server {where} does not offer login (AUTH) without encryption; "
                "choose STARTTLS (usually 587) or SSL/TLS (usually 465)"
            )
        else:
            msg = f"the SMTP server {where} does not offer login (AUTH) on this connection"
        raise ProviderError(msg, {"reason": "tls_mode"}) from exc
    except ssl.SSLCertVerificationError as exc:
        _close(conn)
        raise ProviderError(
            f"the TLS certificate of {where} is not trusted ({exc.verify_message})",
            {"reason": "certificate"},
        ) from exc
    except ssl.SSLError as exc:
        _close(conn)
        raise ProviderError(
            f"TLS handshake with {where} failed ({exc.reason}): the port probably expects "
            "STARTTLS (usually 587) rather than SSL/TLS from the start",
            {"reason": "tls_mode"},
        ) from exc
    except (smtplib.SMTPServerDisconnected, TimeoutError) as exc:
        _close(conn)
        if phase == "login":
            # Some servers hang up after a failed AUTH instead of answering 535.
            raise ProviderError(
                f"the SMTP server {where} rejected the username or password "
                "(it closed the connection during login)",
                {"reason": "auth"},
            ) from exc
        hint = (
            "; if the port expects TLS from the start (465), choose SSL/TLS"
            if cfg.security != "ssl"
            else ""
        )
        raise ProviderError(
            f"the SMTP server {where} closed the connection or did not answer{hint}",
            {"reason": "tls_mode" if hint else "disconnected"},
        ) from exc
    except smtplib.SMTPException as exc:
        _close(conn)
        raise ProviderError(
            f"the SMTP server {where} refused the session: {exc}", {"reason": "smtp"}
        ) from exc
    except OSError as exc:
        _close(conn)
        raise ProviderError(
            f"could not connect to the SMTP server {where}: {exc.strerror or exc}",
            {"reason": "connect"},
        ) from exc


def pipelines(conn: smtplib.SMTP) -> bool:
    """The server offers PIPELINING (RFC 2920; Gmail, SES, SendGrid and Postfix do)."""
    return bool(conn.does_esmtp and conn.has_extn("pipelining"))


def offers_utf8(conn: smtplib.SMTP) -> bool:
    """The server offers SMTPUTF8 (RFC 6531): addresses with non-ASCII local parts."""
    return bool(conn.does_esmtp and conn.has_extn("smtputf8"))


def envelope(sender: str, recipient: str, options: list[str] | None = None) -> str:
    """MAIL FROM, RCPT TO and DATA as one pipelined group (DATA must come last), written
    as smtplib's mail() and rcpt() write them (send() encodes them the same way).

    An address with a line break is refused: quoteaddr() would cut it there and the
    message would go to what is left."""
    if any(c in sender + recipient for c in "\r\n"):
        raise ValueError("an address contains a line break")
    mail, rcpt = smtplib.quoteaddr(sender), smtplib.quoteaddr(recipient)
    extra = "".join(f" {o}" for o in options or ())
    return f"MAIL FROM:{mail}{extra}\r\nRCPT TO:{rcpt}\r\nDATA\r\n"


def _close(conn: smtplib.SMTP | None) -> None:
    if conn is None:
        return
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()


def close(conn: smtplib.SMTP | None) -> None:
    _close(conn)


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def reply_text(raw: bytes | str) -> str:
    """An SMTP reply's text on one line, bounded (it is stored with the outcome)."""
    return " ".join(_text(raw).split())[:300]


def is_transient(code: int) -> bool:
    return 400 <= code < 500
