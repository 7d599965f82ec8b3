"""The SMTP session of one batch: one connection, pipelined envelopes, the bodies.

It says what happened to each message (`Reply`, `Dropped`, `Unreachable`); what that
means for the recipient (sent, deferred, failed, suppressed) is decided in
shared.email.outcomes. Retries of the session itself live here: a server that drops
the connection before a message's body was sent gets the message again on a new
connection (once); after the body a drop is `Dropped` (the server may have it).
"""

from __future__ import annotations

import contextlib
import re
import smtplib
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.email import smtp
from shared.errors import ProviderError
from shared.log import get_logger

if TYPE_CHECKING:
    from shared.email.smtp_settings import Sender

log = get_logger("email.send")

_LEADING_DOT = re.compile(rb"(?m)^\.")


@dataclass(frozen=True)
class Reply:
    """The server's answer; `phase` names the command it answers (mail, rcpt, data for
    a refusal of the envelope; body for the reply to the message)."""

    code: int
    text: bytes | str
    phase: str


@dataclass(frozen=True)
class Dropped:
    """The connection dropped after the body was sent, before the reply."""


@dataclass(frozen=True)
class Unreachable:
    """No connection could be made; every later message of the batch gets the same."""

    message: str
    transient_net: bool  # connect or protocol trouble (retry later), not e.g. a login


@dataclass(frozen=True)
class NoUtf8:
    """The recipient's address has a non-ASCII local part and the server does not offer
    SMTPUTF8 (RFC 6531): the message cannot be delivered through it."""


NO_UTF8 = (
    "not sent: the address has a non-ASCII local part, which needs SMTPUTF8, and the "
    "SMTP server does not offer it; use a provider that does (Gmail, Postfix, Exim do)"
)

Result = Reply | Dropped | Unreachable | NoUtf8


def connect(sender: Sender) -> smtplib.SMTP:
    return smtp.connect(sender.smtp)


def discard(future: Future[smtplib.SMTP]) -> None:
    """Close a connection opened ahead that will not be used."""
    with contextlib.suppress(ProviderError):
        smtp.close(future.result())


def wire(raw: bytes) -> bytes:
    """A composed message as DATA carries it: dot-stuffed, ending in CRLF."""
    body = _LEADING_DOT.sub(b"..", raw)
    return body if body.endswith(b"\r\n") else body + b"\r\n"


# The envelope's commands, in order, with the replies that let the next one proceed.
_ENVELOPE: tuple[tuple[str, frozenset[int]], ...] = (
    ("mail", frozenset({250})),
    ("rcpt", frozenset({250, 251})),
    ("data", frozenset({354})),
)


@dataclass
class Session:
    sender: Sender
    conn_future: Future[smtplib.SMTP] | None = None  # opened while the batch was taken
    conn: smtplib.SMTP | None = None
    broken: Unreachable | None = None
    phase: str = ""  # of the message being sent; "body" once the server may have it

    def _connection(self) -> smtplib.SMTP | Unreachable:
        if self.conn is None:
            try:
                if self.conn_future is not None:
                    future, self.conn_future = self.conn_future, None
                    self.conn = future.result()
                else:
                    self.conn = smtp.connect(self.sender.smtp)
            except ProviderError as exc:
                reason = (exc.details or {}).get("reason")
                self.broken = Unreachable(
                    exc.message, transient_net=reason in ("connect", "disconnected", "smtp")
                )
                return self.broken
        return self.conn

    def send(
        self,
        to: str,
        body: bytes,
        meanwhile: Callable[[], None] | None = None,
        mail_from: str | None = None,
    ) -> Result:
        """One message. `meanwhile` runs after the body is sent, before the reply is
        read: the next message is composed while the server stores this one.
        `mail_from` is its return path (VERP), the From address when None."""
        if self.broken is not None:
            return self.broken
        sender = mail_from or self.sender.from_address
        for attempt in range(2):
            self.phase = "connect"
            conn_or = self._connection()
            if isinstance(conn_or, Unreachable):
                return conn_or
            conn = conn_or
            if not to.isascii() and not smtp.offers_utf8(conn):
                return NoUtf8()
            try:
                refused = self._envelope(conn, sender, to)
                if refused is not None:
                    return refused
                # From here the server may have the message: a drop is `Dropped`.
                self.phase = "body"
                conn.send(body + b".\r\n")
                if meanwhile is not None:
                    meanwhile()
                code, text = conn.getreply()
                self.phase = "done"
                if code != 250:
                    self._reset(code)
                return Reply(code, text, "body")
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                smtp.close(self.conn)
                self.conn = None
                if self.phase == "body":
                    return Dropped()
                if attempt == 1:
                    return Reply(451, f"connection dropped twice: {exc}", self.phase)
                log.info("SMTP connection dropped; reconnecting")
        raise AssertionError("unreachable")

    def close(self) -> None:
        smtp.close(self.conn)
        self.conn = None
        if self.conn_future is not None:  # opened but never needed (e.g. all suppressed)
            discard(self.conn_future)
            self.conn_future = None

    def _reset(self, code: int) -> None:
        """After a refusal: RSET, or drop the connection when the server said it is closing."""
        if self.conn is None:
            return
        if code == 421:
            smtp.close(self.conn)
            self.conn = None
            return
        try:
            self.conn.rset()
        except (smtplib.SMTPException, OSError):
            smtp.close(self.conn)
            self.conn = None

    def _envelope(self, conn: smtplib.SMTP, sender: str, to: str) -> Reply | None:
        """MAIL, RCPT and DATA. None once the server waits for the body; else the first
        refusal, with the connection reset or closed.

        A server that offers PIPELINING gets the three in one write and answers them in
        order: one round trip instead of three per message (RFC 2920). Nothing of the
        message is sent before its 354, so a drop here is retried like an unpipelined one.
        """
        options = ["SMTPUTF8"] if not (sender + to).isascii() else []
        if not smtp.pipelines(conn):
            commands = (
                lambda: conn.mail(sender, options),
                lambda: conn.rcpt(to),
                lambda: conn.docmd("DATA"),
            )
            for (phase, accepted), command in zip(_ENVELOPE, commands, strict=True):
                self.phase = phase
                code, text = command()
                if code not in accepted:
                    self._reset(code)
                    return Reply(code, text, phase)
            return None
        self.phase = "mail"
        conn.send(smtp.envelope(sender, to, options).encode("utf-8"))
        replies: list[tuple[int, bytes]] = []
        dropped: Exception | None = None
        for _ in _ENVELOPE:
            try:
                replies.append(conn.getreply())
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                dropped = exc
                break
        # replies may be shorter than _ENVELOPE (a drop): zip stops at its end.
        for (code, text), (phase, accepted) in zip(replies, _ENVELOPE, strict=False):
            self.phase = phase
            if code in accepted:
                continue
            # A refusal is the outcome, even if the server then hung up.
            if conn.sock is None or replies[-1][0] == 354:
                # Hung up, or DATA accepted after the refusal (RFC 2920 says it must not
                # be): no body follows, and only a new session leaves the DATA state. No
                # QUIT either: in the DATA state the server would take it for the body.
                conn.close()
                self.conn = None
            else:
                self._reset(code)
            return Reply(code, text, phase)
        if dropped is not None:
            raise dropped  # a drop before any refusal: retried on a new connection
        return None
