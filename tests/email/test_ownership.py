"""Batch ownership: the generation taken and checked in transactions, the short lease
kept alive while a run makes progress, and the takeover of a run that stopped, against
the real emulator and a real SMTP server.

Most tests here run on the system clock with a 2-second lease (HERALD_EMAIL_LEASE_S),
so leases end by themselves while runs really stall; the schedule test runs
production's lease and recovery cadence on a frozen clock."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from shared.clock import FrozenClock, SystemClock
from shared.dispatch import DispatchContext
from shared.email import ownership, service, worker
from shared.email.dispatch import EmailSource
from shared.email.model import BATCHES
from shared.runtime import Runtime
from shared.secrets import Secrets
from shared.tasks import RecordingEnqueuer
from tests.conftest import make_settings
from tests.email.conftest import WS, audience, campaign, smtp_body, start_campaign

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

LEASE_S = 2


@pytest.fixture
def live(emulators, tmp_path) -> Runtime:
    """A runtime on the system clock whose batch lease is LEASE_S seconds."""
    settings = make_settings(emulators, tmp_path, email_lease_s=LEASE_S)
    return Runtime(
        settings=settings,
        clock=SystemClock(),
        _enqueuer=RecordingEnqueuer(),
        _secrets=Secrets(settings),
    )


@pytest.fixture
def server(live, smtp_server):
    service.put_smtp_settings(live, WS, smtp_body(smtp_server))
    return smtp_server


@pytest.fixture
def chunks_of_25(monkeypatch):
    """Every batch behaves as a slow one: the take writes ahead 25, a checkpoint every 25."""
    monkeypatch.setattr(worker, "TAKE_COVERS", worker.CHECKPOINT_EVERY)
    monkeypatch.setattr(worker, "SLOW_AFTER_S", 0.0)


def _batch(runtime: Runtime, n: int, prefix: str) -> tuple[str, list[str]]:
    addresses = [f"{prefix}{i:02d}@example.com" for i in range(n)]
    [bid] = start_campaign(runtime, campaign(runtime, audience(runtime, addresses)))
    return bid, addresses


def _doc(runtime: Runtime, bid: str) -> dict[str, Any]:
    return runtime.db.collection(BATCHES).document(bid).get().to_dict()


def _take_over(runtime: Runtime, bid: str, within_s: float = 30.0) -> dict[str, Any]:
    """Deliver the batch's task again until a run takes it (the stalled run's lease
    must end first)."""
    deadline = time.monotonic() + within_s
    while True:
        result = worker.send_batch(runtime, bid, WS)
        if result["status"] != "busy" or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


class Stall:
    """Holds the server's reply to one recipient's message (the body is in; the 250 is
    not sent) until released, without blocking the server's other sessions."""

    def __init__(self, handler: Any, address: str) -> None:
        self.reached, self.release = threading.Event(), threading.Event()
        original = handler.handle_DATA

        async def handle_DATA(server, session, envelope):  # type: ignore[no-untyped-def]
            if envelope.rcpt_tos == [address] and not self.reached.is_set():
                self.reached.set()
                while not self.release.is_set():
                    await asyncio.sleep(0.01)
            return await original(server, session, envelope)

        handler.handle_DATA = handle_DATA


def _in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(target())
        except BaseException as exc:  # reported by the test
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_two_runs_taking_at_once_make_exactly_one_owner(runtime, db, configured, monkeypatch):
    """Both transactions read the untaken batch before either writes: Firestore aborts
    one, and its retry sees the other's lease. Without the transaction both would win."""
    from google.cloud.firestore_v1.document import DocumentReference

    addresses = [f"t{i}@example.com" for i in range(5)]
    list_id = audience(runtime, addresses)
    [bid] = start_campaign(runtime, campaign(runtime, list_id))
    contenders = 3
    all_read = threading.Barrier(contenders, timeout=10)
    first_read = threading.local()
    real_get = DocumentReference.get

    def get(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        snap = real_get(self, *args, **kwargs)
        if kwargs.get("transaction") is not None and not getattr(first_read, "done", False):
            first_read.done = True
            all_read.wait()  # every contender has read the batch untaken
        return snap

    monkeypatch.setattr(DocumentReference, "get", get)
    now, lease = runtime.clock.now(), timedelta(seconds=60)
    results: list[Any] = []

    def take() -> None:
        results.append(ownership.take(db, bid, WS, now, lease, 50))

    threads = [threading.Thread(target=take) for _ in range(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all_read.n_waiting == 0 and not all_read.broken
    won = [r for r in results if isinstance(r, ownership.Taken)]
    assert len(results) == contenders and len(won) == 1, results
    assert sorted(r.status for r in results if r not in won) == ["busy"] * (contenders - 1)
    stored = db.collection(BATCHES).document(bid).get().to_dict()
    assert (stored["status"], stored["run_gen"], stored["inflight"]) == (
        "sending",
        1,
        [0, 1, 2, 3, 4],
    )


def test_a_run_that_lost_the_batch_sends_nothing_more_and_records_nothing(
    live, server, chunks_of_25, monkeypatch
):
    """Run A stalls between two messages of its first chunk long enough for its lease to
    end (its ticker stops renewing a run that makes no progress); run B takes over,
    marks A's chunk in doubt and finishes. A wakes: before its next message it must
    renew, finds generation 2, and stops: no message, no write."""
    monkeypatch.setattr(ownership, "STUCK_AFTER", timedelta(seconds=0.3))
    bid, addresses = _batch(live, 50, "l")
    awake, stalled = threading.Event(), threading.Event()

    def stall_after_6(i: int) -> None:
        if len(server.handler.messages) == 6 and not stalled.is_set():
            stalled.set()
            awake.wait(30)

    thread, a_result = _in_thread(
        lambda: worker.send_batch(live, bid, WS, on_message=stall_after_6)
    )
    assert stalled.wait(30)
    b_result = _take_over(live, bid)
    after_b = _doc(live, bid)
    sent_by_b = server.handler.count_by_rcpt()
    awake.set()
    thread.join(30)
    assert a_result == [{"status": "lost"}]
    assert b_result["counts"] == {"sent": 25, "unconfirmed": 25}
    # A sent nothing after waking, and wrote nothing over B's records.
    assert server.handler.count_by_rcpt() == sent_by_b
    assert _doc(live, bid) == after_b
    assert after_b["status"] == "done" and after_b["run_gen"] == 2
    assert sent_by_b == dict.fromkeys(addresses[:6] + addresses[25:], 1)
    reasons = {after_b["outcomes"][str(i)].get("reason") for i in range(25)}
    assert reasons == {ownership.UNCONFIRMED_CRASH}


def test_slow_not_dead_a_stalled_run_that_wakes_sends_no_second_copy(
    live, server, chunks_of_25, monkeypatch
):
    """The replay: run A has written ahead its chunk and its server holds one message's
    reply past A's lease; run B takes over and finishes; then the server answers A.
    Every recipient got at most one message; A's in-flight ones are unconfirmed (one
    copy from A, or none), never sent twice; A then stops."""
    monkeypatch.setattr(ownership, "STUCK_AFTER", timedelta(seconds=0.3))
    bid, addresses = _batch(live, 50, "s")
    stall = Stall(server.handler, addresses[30])  # in A's second chunk
    thread, a_result = _in_thread(lambda: worker.send_batch(live, bid, WS))
    assert stall.reached.wait(30)
    b_result = _take_over(live, bid)
    stall.release.set()
    thread.join(30)
    counts = server.handler.count_by_rcpt()
    assert max(counts.values()) == 1, "a recipient got two copies"
    assert a_result == [{"status": "lost"}]
    # Chunk 0 was recorded by A's checkpoint; chunk 1 was A's in flight: B left it
    # unconfirmed, and only A's held message reached the server from it.
    assert b_result["counts"] == {"sent": 25, "unconfirmed": 25}
    assert set(counts) == set(addresses[:31])
    done = _doc(live, bid)
    assert done["status"] == "done" and done["run_gen"] == 2
    assert {done["outcomes"][str(i)]["status"] for i in range(25, 50)} == {"unconfirmed"}


def test_a_slow_server_does_not_cost_a_live_run_its_batch(live, server):
    """Each message takes 0.25 s, 12 of them take longer than the 2 s lease: the ticker
    renews it while the run makes progress, and a second delivery meanwhile is busy."""
    bid, addresses = _batch(live, 12, "w")
    original = server.handler.handle_DATA

    async def slow(srv, session, envelope):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.25)
        return await original(srv, session, envelope)

    server.handler.handle_DATA = slow
    thread, result = _in_thread(lambda: worker.send_batch(live, bid, WS))
    busy = []
    while thread.is_alive():
        time.sleep(0.5)
        if thread.is_alive():
            busy.append(worker.send_batch(live, bid, WS)["status"])
    assert result[0]["counts"] == {"sent": 12}
    assert len(busy) >= 4 and set(busy) <= {"busy", "already_done"}
    assert _doc(live, bid)["run_gen"] == 1, "the live run kept its batch"
    assert server.handler.count_by_rcpt() == dict.fromkeys(addresses, 1)


def test_a_killed_run_resumes_within_two_minutes_with_production_schedule(
    runtime, db, clock: FrozenClock, configured
):
    """Production's lease (60 s) and recovery on Cloud Scheduler's minute, on a frozen
    clock: a run dies right after renewing its lease (the latest lease a kill can
    leave), at several phases of the minute, with the ticks after the first late by up
    to 5 s. The task that recovery enqueues is delivered when it is due and takes the
    batch over: at most LEASE/2 + 60 s + 5 s = 95 s after the kill (a tick exactly
    LEASE/2 after it just misses the stale lease; the next one, late, finds it ended),
    which leaves 25 s of the 2 minutes for Cloud Tasks and a cold instance."""
    assert runtime.settings.email_lease_s == 60
    lease = timedelta(seconds=60)
    resumed_after = {}
    for phase_s, late_s in ((0, 0), (10, 5), (29, 5), (30, 5), (31, 0), (59, 5)):
        clock.advance(hours=1)
        bid, _ = _batch(runtime, 3, f"p{phase_s}-")
        killed_at = clock.now()
        assert isinstance(ownership.take(db, bid, WS, killed_at, lease, 50), ownership.Taken)
        source = EmailSource()  # a dispatch instance of its own
        for k in range(5):
            tick = killed_at + timedelta(seconds=phase_s + 60 * k + (late_s if k else 0))
            clock.set(tick)
            before = len(runtime.enqueuer.tasks)
            source.run(DispatchContext(runtime, tick, tick + timedelta(seconds=90)))
            due = [
                task.schedule_time or tick
                for task in runtime.enqueuer.tasks[before:]
                if task.payload["batch_id"] == bid
            ]
            if due:
                clock.set(max(due[0], tick))
                assert worker.send_batch(runtime, bid, WS)["status"] == "done"
                resumed_after[phase_s] = (clock.now() - killed_at).total_seconds()
                break
    assert resumed_after == {0: 62, 10: 75, 29: 94, 30: 95, 31: 62, 59: 62}


@pytest.fixture
def configured(runtime, smtp_server):
    service.put_smtp_settings(runtime, WS, smtp_body(smtp_server))
    return smtp_server


def test_a_write_by_someone_else_is_not_a_takeover(runtime, db, configured):
    """The fenced write is a compare-and-set on the batch's update time: another
    writer (not a newer run) makes it fail, and the transaction it falls back to finds
    the generation still this run's and writes."""
    bid, _ = _batch(runtime, 3, "f")
    length = timedelta(seconds=60)
    taken = ownership.take(db, bid, WS, runtime.clock.now(), length, 50)
    assert isinstance(taken, ownership.Taken)
    lease = ownership.Lease(db, taken, bid, length, runtime.clock, time.monotonic())
    db.collection(BATCHES).document(bid).update({"note": "written by someone else"})
    lease.write({"inflight": [1, 2]})
    stored = db.collection(BATCHES).document(bid).get().to_dict()
    assert (stored["inflight"], stored["note"], stored["run_gen"]) == (
        [1, 2],
        "written by someone else",
        1,
    )
    lease.write({"inflight": [2]})  # and the next write is a compare-and-set again
    assert db.collection(BATCHES).document(bid).get().get("inflight") == [2]


def test_a_retry_batch_left_by_an_older_worker_does_not_block_the_finish(
    runtime, db, enqueuer, configured
):
    """The final commit creates the retry batch of the deferred recipients; if its id is
    taken (the claim-based worker crashed after making it), the commit is redone as a
    transaction and the retry batch takes the run's generation as a suffix: the old one
    is left be, the deferred recipient is in the new one, and the batch finishes."""
    bid, addresses = _batch(runtime, 2, "r")
    old = {"workspace_id": WS, "status": "queued", "recipients": [], "note": "older worker"}
    db.collection(BATCHES).document(f"{bid}__r1").set(old)
    configured.handler.rcpt_replies[addresses[1]] = ["451 4.7.1 try later"]
    result = worker.send_batch(runtime, bid, WS)
    retry = f"{bid}__r1g1"
    assert result["counts"] == {"sent": 1, "deferred": 1} and result["retry_batch"] == retry
    assert db.collection(BATCHES).document(f"{bid}__r1").get().get("note") == "older worker"
    made = db.collection(BATCHES).document(retry).get().to_dict()
    assert [r["email"] for r in made["recipients"]] == [addresses[1]] and made["key"] == retry
    done = db.collection(BATCHES).document(bid).get().to_dict()
    assert done["status"] == "done" and done["outcomes"]["1"]["retry_batch"] == retry
    assert [t.payload["batch_id"] for t in enqueuer.tasks][-1] == retry
