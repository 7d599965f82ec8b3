"""A batch task names its campaign and the batch's addresses, so the worker starts the
take of the batch, the read of campaign and settings, the suppression queries and the
SMTP connection all at once. These tests pin what the take and the read then keep and
what they undo."""

from __future__ import annotations

import threading
import time

import pytest

from shared.email import early, service, smtp, worker
from shared.email.model import BATCHES
from shared.email.suppression import suppress
from tests.email.conftest import WS, audience, campaign, smtp_body, start_campaign

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def configured(runtime, smtp_server):
    service.put_smtp_settings(runtime, WS, smtp_body(smtp_server))
    return smtp_server


def _deliver(runtime, batch_id: str, **overrides):
    """send_batch as the send_email function calls it, with the task's payload."""
    [task] = [t for t in runtime.enqueuer.tasks if t.payload["batch_id"] == batch_id]
    payload = {**task.payload, **overrides}
    return worker.send_batch(
        runtime,
        batch_id,
        WS,
        campaign_id=payload["campaign_id"],
        emails=payload.get("emails"),
    )


def _one_batch(runtime, addresses: list[str], **extra) -> str:
    [bid] = start_campaign(runtime, campaign(runtime, audience(runtime, addresses), **extra))
    return bid


def _taken(db, batch_id: str) -> bool:
    return db.collection(BATCHES).document(batch_id).get().get("run_gen") > 0


def test_the_task_carries_the_batch_addresses_normalized(runtime, configured):
    bid = _one_batch(runtime, ["Ann@Example.COM", "bob@example.org"])
    [task] = [t for t in runtime.enqueuer.tasks if t.payload["batch_id"] == bid]
    assert sorted(task.payload["emails"]) == ["ann@example.com", "bob@example.org"]


def test_take_lookups_and_connection_start_before_the_read_answers(
    runtime, db, configured, monkeypatch
):
    # A first batch teaches this instance the workspace's sender.
    assert _deliver(runtime, _one_batch(runtime, ["first@example.com"]))["counts"] == {"sent": 1}
    bid = _one_batch(runtime, ["a@example.com", "b@example.com"])
    connecting, looking_up = threading.Event(), threading.Event()
    real_connect, real_lookup = smtp.connect, early.suppressed_in
    monkeypatch.setattr(smtp, "connect", lambda cfg: connecting.set() or real_connect(cfg))
    monkeypatch.setattr(early, "suppressed_in", lambda *a: looking_up.set() or real_lookup(*a))
    seen: dict[str, bool] = {}
    real_get_all = db.get_all

    def get_all(refs, *args, **kwargs):
        # The read is held until the early work shows up (or 5 s pass).
        seen["connect"] = connecting.wait(5)
        seen["lookup"] = looking_up.wait(5)
        deadline = time.monotonic() + 5
        while not (taken := _taken(db, bid)) and time.monotonic() < deadline:
            time.sleep(0.01)
        seen["take"] = taken
        return real_get_all(refs, *args, **kwargs)

    monkeypatch.setattr(db, "get_all", get_all)
    assert _deliver(runtime, bid)["counts"] == {"sent": 2}
    assert seen == {"connect": True, "lookup": True, "take": True}
    # The early connection was the batch's connection: one login per batch.
    assert configured.handler.logins == 2


def test_changed_settings_discard_the_connection_opened_with_the_old_sender(runtime, configured):
    assert _deliver(runtime, _one_batch(runtime, ["first@example.com"]))["counts"] == {"sent": 1}
    service.put_smtp_settings(runtime, WS, smtp_body(configured, from_name="Renamed Team"))
    assert _deliver(runtime, _one_batch(runtime, ["next@example.com"]))["counts"] == {"sent": 1}
    [msg] = configured.handler.to("next@example.com")
    assert msg["From"].addresses[0].display_name == "Renamed Team"
    # Batch 1, the discarded early connection of batch 2, and batch 2's own.
    assert configured.handler.logins == 3


def test_a_failed_read_releases_the_batch_taken_beside_it(runtime, db, configured, monkeypatch):
    addresses = [f"r{i}@example.com" for i in range(5)]
    bid = _one_batch(runtime, addresses)
    real_get_all = db.get_all

    def unavailable(refs, *args, **kwargs):
        deadline = time.monotonic() + 5  # let the take land first
        while not _taken(db, bid) and time.monotonic() < deadline:
            time.sleep(0.01)
        raise ConnectionError("firestore unavailable")

    monkeypatch.setattr(db, "get_all", unavailable)
    with pytest.raises(ConnectionError):
        _deliver(runtime, bid)
    released = db.collection(BATCHES).document(bid).get().to_dict()
    # Held, it would wait out its lease and then put its write-ahead in doubt.
    assert (released["status"], released["inflight"], released["run_gen"]) == ("queued", [], 1)
    monkeypatch.setattr(db, "get_all", real_get_all)
    # Cloud Tasks' retry sends everything at once: nothing held, nothing in doubt.
    assert _deliver(runtime, bid)["counts"] == {"sent": 5}
    assert configured.handler.count_by_rcpt() == dict.fromkeys(addresses, 1)


def test_a_done_batch_redelivered_writes_nothing_and_closes_its_connection(runtime, db, configured):
    bid = _one_batch(runtime, ["once@example.com"])
    assert _deliver(runtime, bid)["counts"] == {"sent": 1}
    logins = configured.handler.logins
    done = db.collection(BATCHES).document(bid).get()
    assert _deliver(runtime, bid) == {"status": "already_done"}
    assert configured.handler.count_by_rcpt() == {"once@example.com": 1}
    assert db.collection(BATCHES).document(bid).get().update_time == done.update_time
    # Its early connection (the sender was known) was opened and closed, not used.
    assert configured.handler.logins == logins + 1


def test_addresses_that_do_not_match_the_batch_are_only_a_hint(runtime, db, configured):
    """A payload naming other addresses (stale, or altered) changes nothing: the
    suppression list is asked about the batch's real recipients and the take writes
    ahead the batch's own recipients."""
    addresses = ["keep@example.com", "gone@example.com", "also@example.com"]
    bid = _one_batch(runtime, addresses)
    suppress(db, WS, "gone@example.com", "unsubscribe", runtime.clock.now())
    result = _deliver(runtime, bid, emails=["keep@example.com", "someone@else.example"])
    assert result["counts"] == {"sent": 2, "suppressed": 1}
    assert configured.handler.count_by_rcpt() == {"keep@example.com": 1, "also@example.com": 1}
    assert len(db.collection(BATCHES).document(bid).get().get("outcomes")) == 3
