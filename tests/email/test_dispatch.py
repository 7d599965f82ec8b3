"""The dispatcher source: due campaigns -> persisted batches -> one task per batch."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from shared.email import service
from shared.email.model import BATCHES, CAMPAIGNS
from shared.email.worker import send_batch
from tests.email.conftest import MAPPING, WS, audience, campaign, csv_bytes, dispatch


def _use_sink(monkeypatch):
    monkeypatch.setenv("HERALD_LOCAL_SMTP", "127.0.0.1:2525")


def _batches(db):
    return {d.id: d.to_dict() for d in db.collection(BATCHES).stream()}


def test_due_campaign_is_cut_into_batches_enqueued_once(runtime, db, enqueuer, monkeypatch):
    _use_sink(monkeypatch)
    addresses = [f"r{i:03d}@example.com" for i in range(120)]
    cid = campaign(runtime, audience(runtime, addresses))
    at = runtime.clock.now() + timedelta(seconds=30)
    service.schedule_campaign(runtime, WS, cid, at.isoformat(), "Europe/Paris")
    threads = [threading.Thread(target=dispatch, args=(runtime,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dispatch(runtime)
    batches = _batches(db)
    assert sorted(len(b["recipients"]) for b in batches.values()) == [20, 50, 50]
    inline = sorted(r["email"] for b in batches.values() for r in b["recipients"])
    assert inline == addresses  # every recipient exactly once, carried inline
    tasks = enqueuer.of_kind("emails")
    assert sorted(t.payload["batch_id"] for t in tasks) == sorted(batches)
    assert {t.target for t in tasks} == {"send_email"}
    assert all(t.schedule_time == at for t in tasks)
    progress = service.campaign_progress(runtime, WS, cid)
    assert (progress["status"], progress["total"], progress["batches_total"]) == (
        "sending",
        120,
        3,
    )


def test_campaign_becomes_done_when_nothing_is_left(runtime, db, monkeypatch):
    _use_sink(monkeypatch)
    cid = campaign(runtime, audience(runtime, ["a@example.com"]))
    service.schedule_campaign(runtime, WS, cid, runtime.clock.now().isoformat())
    dispatch(runtime)
    # Mark the batch's recipient as sent through a cancel-free path: suppress it, so the
    # worker finishes without SMTP (the sink is not running in this test).
    from shared.email.suppression import suppress

    suppress(db, WS, "a@example.com", "manual", runtime.clock.now())
    [bid] = _batches(db)
    assert send_batch(runtime, bid, WS)["counts"] == {"suppressed": 1}
    dispatch(runtime)
    assert db.collection(CAMPAIGNS).document(cid).get().get("status") == "done"


def test_quota_spreads_batches_over_time(runtime, db, enqueuer, monkeypatch):
    body = {
        "host": "smtp.example.com",
        "port": 587,
        "security": "starttls",
        "from_address": "news@herald.example",
        "daily_quota": 50,
        "per_minute_rate": 20,
        "postal_address": "Herald, 1 Example Street, Springfield",
    }
    service.put_smtp_settings(runtime, WS, body)
    addresses = [f"q{i:02d}@example.com" for i in range(60)]
    cid = campaign(runtime, audience(runtime, addresses))
    now = runtime.clock.now()
    service.schedule_campaign(runtime, WS, cid, now.isoformat())
    dispatch(runtime)
    tasks = sorted(enqueuer.of_kind("emails"), key=lambda t: t.payload["batch_id"])
    sizes = [len(_batches(db)[t.payload["batch_id"]]["recipients"]) for t in tasks]
    assert sizes == [20, 20, 20]  # capped by the per-minute rate
    offsets = [((t.schedule_time or now) - now).total_seconds() for t in tasks]
    # 20 now, 20 the next minute, and the 3rd would pass 50/day: after the window slides.
    assert offsets == [0, 60, 24 * 3600]


def test_lost_tasks_are_enqueued_again(runtime, db, clock, enqueuer, monkeypatch):
    _use_sink(monkeypatch)
    cid = campaign(runtime, audience(runtime, ["a@example.com", "b@example.com"]))
    service.schedule_campaign(runtime, WS, cid, clock.now().isoformat())
    dispatch(runtime)
    [bid] = _batches(db)
    enqueuer.tasks.clear()  # e.g. the Cloud Tasks emulator restarted and forgot them
    clock.advance(minutes=5)
    dispatch(runtime)
    assert enqueuer.tasks == []  # not yet presumed lost
    clock.advance(minutes=6)
    dispatch(runtime)
    assert [t.payload["batch_id"] for t in enqueuer.tasks] == [bid]
    dispatch(runtime)
    assert len(enqueuer.tasks) == 1  # once per grace period, not every tick


def test_local_hour_sends_at_nine_in_each_recipients_zone(runtime, db, clock, monkeypatch):
    _use_sink(monkeypatch)
    lst = service.create_contact_list(runtime, WS, "zones")
    rows = [
        ("tokyo@example.com", "T", "", "Asia/Tokyo", ""),
        ("ny@example.com", "N", "", "America/New_York", ""),
        ("default@example.com", "D", "", "", ""),
    ]
    service.import_contacts(runtime, WS, csv_bytes(rows), "z.csv", MAPPING, lst["id"])
    cid = campaign(runtime, lst["id"])
    service.schedule_campaign(runtime, WS, cid, "2026-01-06T08:00", "Europe/Paris", local_hour=9)
    assert dispatch(runtime)["batches"] == 0  # not due yet
    clock.set(datetime(2026, 1, 5, 19, 0, tzinfo=UTC))  # 9:00 on the 6th at UTC+14
    dispatch(runtime)
    due = {
        b["recipients"][0]["email"]: b["due_at"].astimezone(UTC).strftime("%H:%M")
        for b in _batches(db).values()
    }
    assert due == {
        "tokyo@example.com": "00:00",
        "default@example.com": "08:00",
        "ny@example.com": "14:00",
    }


def test_batches_keep_only_what_the_send_reads(runtime, db, monkeypatch):
    """A batch document is on every batch's path (read by the worker, rewritten with the
    outcomes): each recipient keeps its id, address, and only the names and custom
    fields that are set; the timezone, already spent on the send instant, is dropped."""
    _use_sink(monkeypatch)
    lst = service.create_contact_list(runtime, WS, "slim")
    rows = [
        ("full@example.com", "Ann", "Lee", "Asia/Tokyo", "Acme"),
        ("bare@example.com", "", "", "", ""),
    ]
    service.import_contacts(runtime, WS, csv_bytes(rows), "s.csv", MAPPING, lst["id"])
    cid = campaign(runtime, lst["id"])
    service.schedule_campaign(runtime, WS, cid, runtime.clock.now().isoformat())
    dispatch(runtime)
    [batch] = _batches(db).values()
    by_email = {r["email"]: r for r in batch["recipients"]}
    full, bare = by_email["full@example.com"], by_email["bare@example.com"]
    assert set(full) == {"id", "email", "first_name", "last_name", "fields"}
    assert (full["first_name"], full["last_name"], full["fields"]) == (
        "Ann",
        "Lee",
        {"company": "Acme"},
    )
    assert set(bare) == {"id", "email"}


def _expand_dies_at_enqueue(monkeypatch, n: int) -> None:
    """The dispatcher dies (an exception nothing catches) at its n-th enqueue."""
    from shared.email import dispatch as email_dispatch

    real, calls = email_dispatch.enqueue_batch, [0]

    def enqueue(*args, **kwargs):
        calls[0] += 1
        if calls[0] == n:
            raise KeyboardInterrupt  # stands for the instance going away
        return real(*args, **kwargs)

    monkeypatch.setattr(email_dispatch, "enqueue_batch", enqueue)


def test_batches_are_created_a_group_per_commit_and_a_takeover_makes_the_rest(
    runtime, db, clock, enqueuer, monkeypatch
):
    """Ten batches go in one commit. An expander that dies between creating a group and
    enqueueing all of it loses nothing: the takeover redoes the pages since the last
    save, enqueues only what it makes itself, and recovery enqueues the dead one's
    batches whose task never went out."""
    from shared.email import dispatch as email_dispatch

    _use_sink(monkeypatch)
    monkeypatch.setattr(email_dispatch, "CREATE_GROUP", 4)
    addresses = [f"g{i:03d}@example.com" for i in range(500)]  # 10 batches
    cid = campaign(runtime, audience(runtime, addresses))
    service.schedule_campaign(runtime, WS, cid, clock.now().isoformat())
    commits = []
    real_batch = db.batch
    monkeypatch.setattr(db, "batch", lambda: commits.append(1) or real_batch())
    _expand_dies_at_enqueue(monkeypatch, 7)
    with pytest.raises(KeyboardInterrupt):
        dispatch(runtime)
    made = set(_batches(db))
    assert len(commits) < len(made), "batches are created several per commit"
    monkeypatch.undo()
    _use_sink(monkeypatch)
    enqueued = {t.payload["batch_id"] for t in enqueuer.of_kind("emails")}
    assert enqueued and enqueued < made  # some were made, never enqueued
    clock.advance(minutes=6)  # the dead expander's lease is over
    dispatch(runtime)  # moves the workspace to the next expansion generation
    dispatch(runtime)  # the takeover
    batches = _batches(db)
    assert sorted(r["email"] for b in batches.values() for r in b["recipients"]) == addresses
    tasks = [t.payload["batch_id"] for t in enqueuer.of_kind("emails")]
    # The takeover enqueued exactly the batches it made; the dead one's are not doubled.
    assert sorted(tasks) == sorted(enqueued | (set(batches) - made))
    clock.advance(minutes=11)  # the dead one's unenqueued batches sat past the grace
    dispatch(runtime)
    assert {t.payload["batch_id"] for t in enqueuer.of_kind("emails")} == set(batches)
    assert progress_total(runtime, cid) == (500, 10)


def progress_total(runtime, cid: str) -> tuple[int, int]:
    progress = service.campaign_progress(runtime, WS, cid)
    return progress["total"], progress["batches_total"]


def test_a_failed_commit_writes_none_of_its_documents(db):
    """What _create_batches relies on: Firestore (and Google's emulator) commits are
    atomic, so a create of an existing document third in a commit leaves the first two
    unwritten (the old npm emulator wrote them)."""
    from google.api_core.exceptions import AlreadyExists, Conflict

    col = db.collection("atomic_probe")
    col.document("c").create({"n": 0})
    commit = db.batch()
    for name in ("a", "b", "c"):
        commit.create(col.document(name), {"n": 1})
    with pytest.raises((AlreadyExists, Conflict)):
        commit.commit()
    assert not col.document("a").get().exists and not col.document("b").get().exists


def test_a_group_whose_commit_fails_is_created_one_by_one(
    runtime, db, clock, enqueuer, monkeypatch
):
    """One batch of a group exists already (made by a dead expander): the group's
    commit fails and writes nothing (commits are atomic), each batch is created on its
    own, and this expansion enqueues all it made, and not the dead expander's."""
    from shared.email import dispatch as email_dispatch
    from shared.email.model import batch_id

    _use_sink(monkeypatch)
    monkeypatch.setattr(email_dispatch, "CREATE_GROUP", 4)
    monkeypatch.setattr(email_dispatch, "SAVE_EVERY_PAGES", 10_000)  # one group: 0-3
    cid = campaign(runtime, audience(runtime, [f"h{i:03d}@example.com" for i in range(200)]))
    service.schedule_campaign(runtime, WS, cid, clock.now().isoformat())
    foreign = batch_id(cid, 2)
    db.collection(BATCHES).document(foreign).create(
        {"workspace_id": WS, "campaign_id": cid, "status": "queued", "note": "dead"}
    )
    dispatch(runtime)
    enqueued = sorted(t.payload["batch_id"] for t in enqueuer.of_kind("emails"))
    assert enqueued == [batch_id(cid, s) for s in (0, 1, 3)]
    assert db.collection(BATCHES).document(foreign).get().get("note") == "dead"
