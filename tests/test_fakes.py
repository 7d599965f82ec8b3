"""The chaos benchmark's fake X, driven by Herald's real X client (tweepy) through the
HERALD_X_API_BASE override, and the fault-injecting SMTP handler driven by smtplib."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller

from bench.fakes import ChaosSMTPHandler, FakeX, Faults
from local.stack import free_port
from shared.channels.outcomes import NotSent, RateLimited, UnknownOutcome
from shared.settings import Settings, SettingsError
from shared.x.client import TweepyX


def _client(fake: FakeX, user: str = "42") -> TweepyX:
    return TweepyX(
        "ck", "cs", f"at-{user}", "ats", user, sleep=lambda _s: None, api_base=fake.base_url
    )


def _always(kind: str) -> Faults:
    probabilities = {"server_error": 0.0, "rate_limited": 0.0, "lost_answer": 0.0, kind: 1.0}
    return Faults(**probabilities)  # type: ignore[arg-type]


def test_accepts_and_lists_recent_posts_without_dedup() -> None:
    fake = FakeX(Faults(0, 0, 0))
    try:
        x = _client(fake)
        first = x.create_post("hello", None, [], "k1")
        second = x.create_post("hello", None, [], "k1")  # X has no idempotency key
        assert first.id != second.id
        assert len(fake.state.accepted["hello"]) == 2
        recent = x.recent_posts(datetime.now(UTC) - timedelta(minutes=1))
        assert [p["text"] for p in recent] == ["hello", "hello"]
    finally:
        fake.stop()


@pytest.mark.parametrize(
    ("kind", "error", "accepted"),
    [
        ("server_error", NotSent, 0),
        ("rate_limited", RateLimited, 0),
        ("lost_answer", UnknownOutcome, 1),
    ],
)
def test_first_attempt_faults_map_to_the_clients_errors(
    kind: str, error: type[Exception], accepted: int
) -> None:
    fake = FakeX(_always(kind))
    try:
        with pytest.raises(error):
            _client(fake).create_post("post", None, [], "k")
        assert len(fake.state.accepted["post"]) == accepted
        assert _client(fake).create_post("post", None, [], "k").id  # the retry succeeds
    finally:
        fake.stop()


def test_api_base_must_be_https_in_production() -> None:
    with pytest.raises(SettingsError, match="HERALD_X_API_BASE"):
        Settings.from_env({"HERALD_ENV": "production", "HERALD_X_API_BASE": "http://x"})
    assert Settings.from_env({"HERALD_X_API_BASE": "http://127.0.0.1:9/"}).x_api_base == (
        "http://127.0.0.1:9"
    )


def test_chaos_smtp_faults() -> None:
    handler = ChaosSMTPHandler(drop_every_sessions=0)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            refused = smtp.sendmail("a@x.org", ["ok@x.org", "hard@x.org", "soft@x.org"], b"Hi")
            assert refused["hard@x.org"][0] == 550 and refused["soft@x.org"][0] == 451
            assert smtp.sendmail("a@x.org", ["soft@x.org"], b"Hi") == {}
        with (
            smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp,
            pytest.raises(smtplib.SMTPServerDisconnected),
        ):
            smtp.sendmail("a@x.org", ["cut@x.org"], b"Hi")
        assert handler.accepted == {"ok@x.org": 1, "soft@x.org": 1, "cut@x.org": 1}
    finally:
        controller.stop()


def test_reconciliation_finds_a_post_beyond_the_first_page() -> None:
    """A busy account: the unanswered post is older than the newest 100 (regression: the
    worker read one page, missed it, and posted it again)."""
    fake = FakeX(Faults(0, 0, 0))
    try:
        x = _client(fake)
        since = datetime.now(UTC) - timedelta(minutes=1)
        x.create_post("the one that lost its answer", None, [], "k0")
        for i in range(150):
            fake.accept(f"busy {i}", None)
        recent = x.recent_posts(since)
        assert len(recent) == 151
        assert recent[0]["text"] == "busy 149"  # newest first, as X answers
        assert recent[-1]["text"] == "the one that lost its answer"
    finally:
        fake.stop()


def test_timelines_are_per_user() -> None:
    fake = FakeX(Faults(0, 0, 0))
    try:
        since = datetime.now(UTC) - timedelta(minutes=1)
        _client(fake, "alice").create_post("from alice", None, [], "k1")
        _client(fake, "bob").create_post("from bob", None, [], "k2")
        assert [p["text"] for p in _client(fake, "alice").recent_posts(since)] == ["from alice"]
    finally:
        fake.stop()
