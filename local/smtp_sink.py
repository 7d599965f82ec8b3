"""An aiosmtpd SMTP sink that keeps every message it receives as an .eml file.

`make dev` runs it so a campaign can be watched going out; tests run it in-process.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class MaildirHandler:
    """Writes each accepted message to `<dir>/<n>-<recipient>.eml` (one file per recipient).

    Offers PIPELINING unless told not to (a server that does not is still common
    enough to be tried against: `--no-pipelining`)."""

    def __init__(self, directory: Path, pipelining: bool = True) -> None:
        self.directory = directory
        self.pipelining = pipelining
        self.directory.mkdir(parents=True, exist_ok=True)
        self._seq = itertools.count(int(time.time() * 1000))
        self._lock = threading.Lock()
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data: bytes = envelope.original_content or envelope.content
        for rcpt in envelope.rcpt_tos:
            with self._lock:
                n = next(self._seq)
                self.received += 1
            safe = "".join(c if c.isalnum() or c in "@.-_" else "_" for c in rcpt)[:100]
            (self.directory / f"{n}-{safe}.eml").write_bytes(data)
        return "250 Message accepted for delivery"

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        return ehlo_answer(session, hostname, responses, pipelining=self.pipelining)


def ehlo_answer(
    session: Any, hostname: str, responses: list[str], *, pipelining: bool = True
) -> list[str]:
    """An aiosmtpd handle_EHLO answer, offering PIPELINING unless told not to, as the
    providers Herald sends through do (Gmail, SES, SendGrid, Postfix). aiosmtpd reads
    commands in order, so it already serves a pipelined client correctly; it just does
    not say so."""
    session.host_name = hostname  # what aiosmtpd does itself when there is no hook
    if not pipelining:
        return responses
    return [*responses[:-1], "250-PIPELINING", responses[-1]]


def start(host: str, port: int, directory: Path, pipelining: bool = True) -> Controller:
    controller = Controller(MaildirHandler(directory, pipelining), hostname=host, port=port)
    controller.start()
    return controller


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--dir", default=".herald/mail")
    parser.add_argument(
        "--no-pipelining", action="store_true", help="do not offer PIPELINING (RFC 2920)"
    )
    args = parser.parse_args()
    controller = start(args.host, args.port, Path(args.dir), pipelining=not args.no_pipelining)
    print(f"smtp sink listening on {args.host}:{args.port}, writing to {args.dir}", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
