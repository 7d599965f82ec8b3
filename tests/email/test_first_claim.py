"""A task carrying its batch's `size` claims the batch's first run beside the first
read (shared.email.worker.send_batch); every way that claim can be unused leaves none."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from shared.claims import CLAIMS, try_claim
from shared.email import service, worker
from shared.email.model import BATCHES
from shared.email.worker import send_batch
from shared.runtime import set_runtime
from tests.email.conftest import WS, audience, campaign, smtp_body, start_campaign

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def configured(runtime, smtp_server):
    service.put_smtp_settings(runtime, WS, smtp_body(smtp_server))
    return smtp_server


def _claim(db, bid: str, gen: int = 0) -> dict | None:
    snap = db.collection(CLAIMS).document(f"email-batch:{bid}:{gen}").get()
    return snap.to_dict() if snap.exists else None


def _started(runtime, prefix: str, n: int) -> tuple[str, list[str]]:
    addresses = [f"{prefix}{i:02d}@example.com" for i in range(n)]
    [bid] = start_campaign(runtime, campaign(runtime, audience(runtime, addresses)))
    return bid, addresses


def test_task_carries_size_and_the_claim_is_made_while_the_batch_is_read(
    runtime, db, enqueuer, configured, monkeypatch
):
    """Through the function: the dispatcher's task names the batch's size, and the
    claim is created before the batch read returns (read and claim overlap)."""
    import functions_framework

    bid, addresses = _started(runtime, "p", 7)
    [task] = [t for t in enqueuer.of_kind("emails") if t.payload.get("batch_id") == bid]
    assert task.payload["size"] == 7
    claim_made = threading.Event()
    real_claim, real_get_all = worker.try_claim, db.get_all

    def spy_claim(*args, **kwargs):
        won = real_claim(*args, **kwargs)
        claim_made.set()
        return won

    seen: list[bool] = []

    def waiting_get_all(refs, *args, **kwargs):
        # Bounded wait, not a timing assertion: on the claim-after-read path the
        # claim cannot happen while this waits, however long it waits.
        seen.append(claim_made.wait(5))
        return real_get_all(refs, *args, **kwargs)

    monkeypatch.setattr(worker, "try_claim", spy_claim)
    monkeypatch.setattr(db, "get_all", waiting_get_all)
    source = str(ROOT / "functions" / "send_email" / "main.py")
    set_runtime(runtime)
    try:
        client = functions_framework.create_app("send_email", source, signature_type="http")
        response = client.test_client().post("/", json=task.payload)
    finally:
        set_runtime(None)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["counts"] == {"sent": 7}
    assert seen[0] is True
    assert _claim(db, bid)["inflight"] == list(range(7))
    assert configured.handler.count_by_rcpt() == dict.fromkeys(addresses, 1)


def test_paused_campaign_with_a_size_carrying_task_leaves_no_claim(
    runtime, db, enqueuer, configured
):
    bid, addresses = _started(runtime, "h", 3)
    cid = db.collection(BATCHES).document(bid).get().get("campaign_id")
    service.pause_campaign(runtime, WS, cid)
    assert send_batch(runtime, bid, WS, campaign_id=cid, size=3) == {"status": "held"}
    assert _claim(db, bid) is None
    service.resume_campaign(runtime, WS, cid)
    # Delivered at once, not held for a lease; nothing marked unconfirmed.
    assert send_batch(runtime, bid, WS, campaign_id=cid, size=3)["counts"] == {"sent": 3}
    assert configured.handler.count_by_rcpt() == dict.fromkeys(addresses, 1)


@pytest.mark.parametrize("workspace", ["ws-other", WS])
def test_missing_batch_or_other_workspace_leaves_no_claim(runtime, db, configured, workspace):
    bid = "no-such-batch"
    if workspace != WS:
        bid, _ = _started(runtime, "o", 2)
    assert send_batch(runtime, bid, workspace, size=2) == {"status": "missing"}
    assert _claim(db, bid) is None
    assert configured.handler.messages == []


def test_done_batch_keeps_its_claim_and_a_lost_claim_takes_the_ordinary_path(
    runtime, db, clock, configured
):
    bid, addresses = _started(runtime, "d", 4)
    assert send_batch(runtime, bid, WS, size=4)["counts"] == {"sent": 4}
    held = _claim(db, bid)
    clock.advance(minutes=1)
    assert send_batch(runtime, bid, WS, size=4) == {"status": "already_done"}
    assert _claim(db, bid) == held  # the finished run's claim is not another run's to drop
    assert configured.handler.count_by_rcpt() == dict.fromkeys(addresses, 1)


def test_claim_won_for_a_batch_that_already_ran_is_dropped_and_the_batch_resumes(
    runtime, db, configured
):
    """A first run released the batch (gen 1); its gen-0 claim is gone (expired). A
    size-carrying delivery wins gen 0 again, sees the batch is not fresh, deletes that
    claim and resumes through the ordinary path: the unsent ones, each once."""
    bid, addresses = _started(runtime, "n", 10)

    def fail_after_4(i: int) -> None:
        if len(configured.handler.messages) == 4:
            raise RuntimeError("firestore hiccup")

    with pytest.raises(RuntimeError):
        send_batch(runtime, bid, WS, on_message=fail_after_4)
    db.collection(CLAIMS).document(f"email-batch:{bid}:0").delete()
    result = send_batch(runtime, bid, WS, size=10)
    assert result["counts"] == {"sent": 10}
    assert _claim(db, bid) is None
    assert _claim(db, bid, 1) is not None
    assert configured.handler.count_by_rcpt() == dict.fromkeys(addresses, 1)


@pytest.mark.parametrize("size", [3, 9])
def test_a_wrong_size_never_becomes_the_runs_write_ahead(runtime, db, configured, size):
    bid, addresses = _started(runtime, "w", 6)
    assert send_batch(runtime, bid, WS, size=size)["counts"] == {"sent": 6}
    # The claim in place is the ordinary one, naming exactly the batch's recipients.
    assert _claim(db, bid)["inflight"] == list(range(6))
    assert configured.handler.count_by_rcpt() == dict.fromkeys(addresses, 1)


def test_takeover_ignores_in_flight_indices_past_the_batch(runtime, db, clock, configured):
    bid, _ = _started(runtime, "t", 3)
    now = clock.now()
    assert try_claim(
        db,
        f"email-batch:{bid}:0",
        owner="send_email",
        now=now,
        workspace_id=WS,
        lease_until=now,
        inflight=list(range(50)),
    )
    clock.advance(minutes=1)
    assert send_batch(runtime, bid, WS)["counts"] == {"unconfirmed": 3}
    outcomes = db.collection(BATCHES).document(bid).get().get("outcomes")
    assert sorted(outcomes, key=int) == ["0", "1", "2"]
    assert configured.handler.messages == []


def test_duplicate_concurrent_deliveries_with_size_send_each_recipient_once(runtime, configured):
    bid, addresses = _started(runtime, "c", 12)
    results: list[dict] = []

    def deliver(size: int | None) -> None:
        results.append(send_batch(runtime, bid, WS, size=size))

    threads = [threading.Thread(target=deliver, args=(s,)) for s in (12, 12, 12, None, 12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 5
    assert [r["status"] for r in results].count("done") == 1
    assert {r["status"] for r in results} <= {"done", "busy", "already_done"}
    assert send_batch(runtime, bid, WS, size=12) == {"status": "already_done"}
    assert configured.handler.count_by_rcpt() == dict.fromkeys(addresses, 1)


def _fails_once(real, message: str):
    calls: list[int] = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError(message)
        return real(*args, **kwargs)

    return flaky


def test_read_error_after_the_claim_is_won_drops_the_claim(runtime, db, configured, monkeypatch):
    bid, addresses = _started(runtime, "r", 5)
    monkeypatch.setattr(db, "get_all", _fails_once(db.get_all, "read timed out"))
    with pytest.raises(RuntimeError):
        send_batch(runtime, bid, WS, size=5)
    assert _claim(db, bid) is None
    assert send_batch(runtime, bid, WS, size=5)["counts"] == {"sent": 5}
    assert configured.handler.count_by_rcpt() == dict.fromkeys(addresses, 1)


def test_error_resolving_the_sender_after_the_claim_drops_it(runtime, db, configured, monkeypatch):
    from shared.email import smtp_settings

    bid, addresses = _started(runtime, "x", 5)
    flaky = _fails_once(smtp_settings.sender_for, "secret store unavailable")
    monkeypatch.setattr(smtp_settings, "sender_for", flaky)
    with pytest.raises(RuntimeError):
        send_batch(runtime, bid, WS, size=5)
    assert _claim(db, bid) is None
    assert send_batch(runtime, bid, WS, size=5)["counts"] == {"sent": 5}
    assert configured.handler.count_by_rcpt() == dict.fromkeys(addresses, 1)
