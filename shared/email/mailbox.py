"""Reading a workspace's bounce mailbox over IMAP (imaplib) and applying what it holds.

Who reads it: the dispatcher enqueues one `bounce_mailbox` task per workspace with a
mailbox, once a minute (a task name per workspace and minute, so a repeated tick adds
none) on the `bounces` queue; the read_bounces function runs it. IMAP IDLE would need a
connection held open, which a serverless function does not keep.

A run logs in, selects the folder and takes up to MAX_PER_RUN messages that are neither
deleted nor flagged. Each is parsed (shared.email.reports) and its reports applied
(shared.email.feedback); then it is marked \\Deleted, and the run expunges at the end.
A message that is no DSN or ARF report (an auto-reply, a bounce in no standard form)
is flagged and left for a person. Processing is idempotent: a run that dies after
applying and before deleting leaves the message to the next run, which applies
nothing twice (each report's event is created once).

Credentials: the password is in the secrets store (`ws-<ws>-bounce-mailbox-default`).
A mailbox that cannot be read raises the `email_feedback` alert.
"""

from __future__ import annotations

import contextlib
import imaplib
import ssl
from typing import TYPE_CHECKING, Any

from shared.email import deliverability
from shared.email.feedback import apply
from shared.email.reports import parse
from shared.email.smtp import tls_context
from shared.email.verp import Tokens
from shared.log import get_logger

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("email.mailbox")

MAX_PER_RUN = 200
TIMEOUT_S = 20.0


class MailboxError(Exception):
    """The mailbox cannot be read; the message says why."""


def connect(conf: dict[str, Any], password: str) -> imaplib.IMAP4:
    host, port, security = conf["host"], int(conf["port"]), conf.get("security", "ssl")
    where = f"{host}:{port} ({security})"
    try:
        if security == "ssl":
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                host, port, ssl_context=tls_context(), timeout=TIMEOUT_S
            )
        else:
            conn = imaplib.IMAP4(host, port, timeout=TIMEOUT_S)
            if security == "starttls":
                conn.starttls(ssl_context=tls_context())
    except (OSError, ssl.SSLError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"could not connect to the bounce mailbox {where}: {exc}") from exc
    try:
        conn.login(conf["username"], password)
    except imaplib.IMAP4.error as exc:
        _logout(conn)
        raise MailboxError(f"the bounce mailbox {where} refused the login: {exc}") from exc
    return conn


def _logout(conn: imaplib.IMAP4) -> None:
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        conn.logout()


def poll(runtime: Runtime, workspace_id: str) -> dict[str, int]:
    """One run over the workspace's bounce mailbox; counts of what it did."""
    doc = deliverability.load(runtime, workspace_id)
    conf = doc.get("mailbox") or {}
    counts = {"messages": 0, "applied": 0, "duplicate": 0, "unknown": 0, "kept": 0}
    if not conf.get("enabled"):
        return counts
    try:
        password = runtime.secrets.get(conf["password_ref"]) if conf.get("password_ref") else ""
        conn = connect(conf, password)
    except (MailboxError, KeyError) as exc:
        _alert(workspace_id, exc)
        return counts
    tokens = Tokens(runtime.secrets.app_secret("track-hmac-key"))
    try:
        typ, _ = conn.select(_quoted(conf.get("folder") or "INBOX"))
        if typ != "OK":
            raise MailboxError(f"the folder {conf.get('folder')!r} does not exist")
        typ, data = conn.uid("SEARCH", "UNDELETED", "UNFLAGGED")
        found = (data[0] or b"").split() if typ == "OK" else []
        uids = [u.decode() for u in found[:MAX_PER_RUN]]
        for uid in uids:
            _one(runtime, conn, uid, tokens, counts)
        conn.expunge()
    except (MailboxError, imaplib.IMAP4.error, OSError) as exc:
        _alert(workspace_id, exc)
    finally:
        _logout(conn)
    polled = {**conf, "last_polled_at": runtime.clock.now()}
    deliverability.save(runtime, workspace_id, "mailbox", polled)
    log.info("bounce mailbox read", workspace_id=workspace_id, **counts)
    return counts


def _alert(workspace_id: str, exc: Exception) -> None:
    log.alert(
        "email_feedback",
        "the bounce mailbox cannot be read",
        workspace_id=workspace_id,
        reason=str(exc),
    )


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _one(
    runtime: Runtime, conn: imaplib.IMAP4, uid: str, tokens: Tokens, counts: dict[str, int]
) -> None:
    typ, data = conn.uid("FETCH", uid, "(BODY.PEEK[])")
    raw = next((part[1] for part in data or () if isinstance(part, tuple)), None)
    if typ != "OK" or not isinstance(raw, bytes):
        return
    counts["messages"] += 1
    reports = parse(raw, tokens)
    if not reports:
        conn.uid("STORE", uid, "+FLAGS", "(\\Flagged)")  # not a report: for a person
        counts["kept"] += 1
        return
    for report in reports:
        outcome = apply(runtime, report)
        counts[outcome if outcome in counts else "applied"] += 1
    conn.uid("STORE", uid, "+FLAGS", "(\\Deleted)")
