"""No email document takes a write per batch: progress is summed from the batches, so
neither concurrent workers nor cancelling a campaign of many held batches write the
campaign document once per batch (Firestore sustains about one write a second per
document)."""

from __future__ import annotations

import pytest

from shared.email import service
from shared.email.model import BATCHES, TALLY_FIELDS
from tests.email.conftest import WS, audience, campaign, start_campaign
from tests.writecount import WriteCounter


@pytest.fixture(autouse=True)
def _sender(monkeypatch):
    # Scheduling needs a sender; nothing is sent here (the local sink's address will do).
    monkeypatch.setenv("HERALD_LOCAL_SMTP", "127.0.0.1:2525")


def test_cancelling_many_held_batches_writes_the_campaign_once(runtime, db) -> None:
    addresses = [f"r{i:04d}@example.com" for i in range(200)]
    cid = campaign(runtime, audience(runtime, addresses))
    batches = start_campaign(runtime, cid)
    assert len(batches) == 200 // runtime.settings.email_batch_size
    service.pause_campaign(runtime, WS, cid)
    for bid in batches:  # what the worker does with a paused campaign's batch
        db.collection(BATCHES).document(bid).update({"status": "held"})
    with WriteCounter(db) as writes:
        service.cancel_campaign(runtime, WS, cid)
    assert writes.of("email_campaigns") == {cid: 1}  # was 1 + one per held batch
    assert set(writes.of(BATCHES).values()) == {1}
    progress = service.campaign_progress(runtime, WS, cid)
    assert progress["status"] == "cancelled"
    assert progress["cancelled"] == progress["total"] == 200
    assert progress["batches_done"] == progress["batches_total"] == len(batches)
    assert progress["pending"] == 0


def test_a_held_retry_batch_leaves_deferred_when_cancelled(runtime, db) -> None:
    """A retry batch's recipients were counted deferred by their first batch: cancelled,
    they move from deferred to cancelled, and the retry is not a batch of its own."""
    cid = campaign(runtime, audience(runtime, ["a@example.com", "b@example.com"]))
    [bid] = start_campaign(runtime, cid)
    first = db.collection(BATCHES).document(bid).get().to_dict()
    service.pause_campaign(runtime, WS, cid)
    db.collection(BATCHES).document(bid).update(
        {
            "status": "done",
            "outcomes": {"0": {"status": "sent"}, "1": {"status": "deferred"}},
            # As the worker finishes a batch: every tally field (an aggregation of several
            # sums counts only documents that have all of them).
            **dict.fromkeys(TALLY_FIELDS.values(), 0),
            "n_sent": 1,
            "n_deferred": 1,
            "n_batches_done": 1,
        }
    )
    db.collection(BATCHES).document(f"{bid}__r1").set(
        {
            "workspace_id": WS,
            "campaign_id": cid,
            "key": f"{bid}__r1",
            "kind": "retry",
            "attempt": 1,
            "status": "held",
            "recipients": [first["recipients"][1]],
            "outcomes": {},
        }
    )
    assert service.campaign_progress(runtime, WS, cid)["deferred"] == 1
    service.cancel_campaign(runtime, WS, cid)
    progress = service.campaign_progress(runtime, WS, cid)
    assert (progress["sent"], progress["cancelled"], progress["deferred"]) == (1, 1, 0)
    assert progress["batches_done"] == progress["batches_total"] == 1
    assert progress["pending"] == 0
