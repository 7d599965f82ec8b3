"""The local SMTP sink: offers PIPELINING and serves a pipelined client in order."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest

from local import smtp_sink
from local.stack import free_port
from shared.email import smtp


def test_sink_offers_pipelining_and_keeps_each_pipelined_message(tmp_path: Path) -> None:
    port = free_port()
    controller = smtp_sink.start("127.0.0.1", port, tmp_path)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as conn:
            conn.ehlo()
            assert smtp.pipelines(conn)
            for n in (1, 2):
                conn.send(smtp.envelope("news@herald.example", f"r{n}@example.com"))
                assert [conn.getreply()[0] for _ in range(3)] == [250, 250, 354]
                conn.send(f"Subject: m{n}\r\n\r\nbody {n}\r\n.\r\n")
                assert conn.getreply()[0] == 250
    finally:
        controller.stop()
    kept = {p.name.split("-", 1)[1]: p.read_bytes() for p in tmp_path.glob("*.eml")}
    assert sorted(kept) == ["r1@example.com.eml", "r2@example.com.eml"]
    assert b"body 2" in kept["r2@example.com.eml"]


def test_envelope_refuses_a_line_break_in_an_address() -> None:
    """smtplib's quoteaddr() cuts an address at a line break; the cut address must not
    be sent to (nor can a command be injected)."""
    for sender, rcpt in [("news@herald.example", "a@exa\nmple.com"), ("n@h.example\r", "a@b.c")]:
        with pytest.raises(ValueError, match="line break"):
            smtp.envelope(sender, rcpt)


def test_sink_without_pipelining_does_not_offer_it(tmp_path: Path) -> None:
    port = free_port()
    controller = smtp_sink.start("127.0.0.1", port, tmp_path, pipelining=False)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as conn:
            conn.ehlo()
            assert conn.does_esmtp and not smtp.pipelines(conn)
            message = b"Subject: x\r\n\r\nhi"
            assert conn.sendmail("news@herald.example", ["r@example.com"], message) == {}
    finally:
        controller.stop()
    assert [p.name.split("-", 1)[1] for p in tmp_path.glob("*.eml")] == ["r@example.com.eml"]
