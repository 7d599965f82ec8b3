"""A real IMAP server for tests: Debian's dovecot-imapd, started on a free port with a
configuration of its own (implicit TLS with the tests' certificate, one passwd-file
user, Maildir under the test's directory). `make system` installs it."""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from local.stack import free_port
from shared.email.smtp import tls_context

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "bounces", "imap secret 42"


@dataclass
class ImapServer:
    port: int
    user: str
    password: str

    def connect(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=tls_context(), timeout=10)
        conn.login(self.user, self.password)
        return conn

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        conn = self.connect()
        try:
            typ, data = conn.append(folder, None, None, raw)
            assert typ == "OK", data
        finally:
            conn.logout()

    def flags(self, folder: str = "INBOX") -> list[str]:
        """Each message's flags, in order (expunged messages are gone)."""
        conn = self.connect()
        try:
            conn.select(folder)
            typ, data = conn.fetch("1:*", "(FLAGS)")
            if typ != "OK" or data == [None]:
                return []
            return [d.decode() for d in data if isinstance(d, bytes)]
        except imaplib.IMAP4.error:
            return []
        finally:
            conn.logout()


def _owner() -> tuple[str, str, int]:
    """The users dovecot's processes run as, and the mail uid: dovecot's own when the
    tests run as root, the test's user otherwise."""
    if os.getuid() == 0:
        entry = pwd.getpwnam("dovecot")
        return "dovecot", "dovenull", entry.pw_uid
    name = pwd.getpwuid(os.getuid()).pw_name
    return name, name, os.getuid()


def _config(root: Path, port: int, cert: Path, key: Path) -> str:
    internal, login, uid = _owner()
    gid = pwd.getpwuid(uid).pw_gid
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {port}
  }}
}}
service anvil {{
  chroot =
}}
"""


@contextlib.contextmanager
def dovecot(root: Path, cert: Path, key: Path) -> Iterator[ImapServer]:
    port = free_port()
    for sub in ("run", "state", "home"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    _, _, uid = _owner()
    os.chown(root / "home", uid, pwd.getpwuid(uid).pw_gid)
    (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    conf = root / "dovecot.conf"
    conf.write_text(_config(root, port, cert, key))
    proc = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                raise RuntimeError(f"dovecot did not start: {out}\n{log}")
            time.sleep(0.05)
        yield ImapServer(port, USER, PASSWORD)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
