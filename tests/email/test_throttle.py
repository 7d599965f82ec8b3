"""One quota for every batch, the adaptive rate and the stop on a refused login, against
a real SMTP server (aiosmtpd with STARTTLS and AUTH) on the test's frozen clock."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from shared.email import pace, service, worker
from shared.email.model import CAMPAIGNS, PACE, QUOTAS
from tests.email.conftest import WS, Handler, audience, campaign, dispatch, smtp_body

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


class RateLimited(Handler):
    """Answers SES's "454 Throttling failure" to recipients above `per_minute` per
    minute of the test's clock."""

    clock: Any = None
    per_minute: int = 10**9
    accepted: Counter[int]
    throttled: int

    def __post_init__(self) -> None:
        self.accepted = Counter()
        self.throttled = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        minute = int(self.clock.now().timestamp()) // 60
        with self.lock:
            if self.accepted[minute] >= self.per_minute:
                self.throttled += 1
                return "454 4.7.0 Throttling failure: Maximum sending rate exceeded."
            self.accepted[minute] += 1
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


def run_tasks(runtime, clock, start: int = 0, limit: int = 500) -> list[dict[str, Any]]:
    """Deliver the recorded email tasks in the order of their due instants (the clock
    moves to each), as Cloud Tasks would; returns (at, batch, result) per delivery."""
    done: set[int] = set()
    log: list[dict[str, Any]] = []
    for _ in range(limit):
        pending = [
            (i, t)
            for i, t in enumerate(runtime.enqueuer.tasks)
            if i >= start and i not in done and t.kind == "emails" and "batch_id" in t.payload
        ]
        if not pending:
            return log
        i, task = min(pending, key=lambda p: (p[1].schedule_time or clock.now(), p[0]))
        if task.schedule_time is not None and task.schedule_time > clock.now():
            clock.set(task.schedule_time)
        done.add(i)
        p = task.payload
        result = worker.send_batch(
            runtime,
            p["batch_id"],
            p["workspace_id"],
            campaign_id=p["campaign_id"],
            emails=p.get("emails"),
        )
        log.append({"at": clock.now(), "batch": p["batch_id"], "result": result})
    raise AssertionError("tasks kept coming")


def _minute(at: datetime) -> int:
    return int(at.timestamp()) // 60


def per_minute_starts(runtime, tasks_from: int = 0) -> Counter[int]:
    """Recipients each minute's tasks may start sending (their schedule_time)."""
    from shared.email.model import BATCHES

    out: Counter[int] = Counter()
    for task in runtime.enqueuer.tasks[tasks_from:]:
        batch = runtime.db.collection(BATCHES).document(task.payload["batch_id"]).get().to_dict()
        out[_minute(task.schedule_time or batch["enqueued_at"])] += len(batch["recipients"])
    return out


@pytest.fixture
def server(smtp_server, clock):
    smtp_server.handler.__class__ = RateLimited
    smtp_server.handler.clock = clock
    smtp_server.handler.__post_init__()
    return smtp_server


# -- bug: resend and retries ignored the per-minute rate -----------------------------------


def test_resend_shares_the_per_minute_quota_with_regular_batches(runtime, clock, server):
    """The issue's case: limited to 40 a minute, a regular batch of 30 and a resend of
    40 went out in the same minute (70). The resend now takes the next minute."""
    service.put_smtp_settings(runtime, WS, smtp_body(server, per_minute_rate=40))
    failing = [f"f{i:02d}@example.com" for i in range(40)]
    for address in failing:
        server.handler.rcpt_replies[address] = ["451 4.3.0 try later"] * 4
    first = campaign(runtime, audience(runtime, failing))
    service.schedule_campaign(runtime, WS, first, clock.now().isoformat())
    dispatch(runtime)
    run_tasks(runtime, clock)  # the ladder: 30 s, 1 min, 1 h, then failed (transient)
    assert service.campaign_progress(runtime, WS, first)["failed"] == 40
    clock.set(clock.now().replace(second=0) + timedelta(minutes=1))
    before = len(runtime.enqueuer.tasks)
    second = campaign(runtime, audience(runtime, [f"r{i:02d}@example.com" for i in range(30)]))
    service.schedule_campaign(runtime, WS, second, clock.now().isoformat())
    dispatch(runtime)
    resent = service.resend_failed(runtime, WS, first)
    assert resent["requeued"] == 40
    starts = per_minute_starts(runtime, before)
    assert sum(starts.values()) == 70
    assert max(starts.values()) <= 40, starts
    run_tasks(runtime, clock, start=before)
    assert Counter(server.handler.count_by_rcpt().values()) == {1: 70}


def test_retry_batch_takes_its_slot_in_the_shared_quota(runtime, clock, enqueuer, server):
    """4xx retries were queued "due now + rung" without a reservation: 20 deferred of a
    batch of 40 came back 30 s later, in a minute the rate had already filled."""
    service.put_smtp_settings(runtime, WS, smtp_body(server, per_minute_rate=40))
    addresses = [f"a{i:02d}@example.com" for i in range(40)]
    for address in addresses[:20]:
        server.handler.rcpt_replies[address] = ["451 4.2.1 mailbox busy"]
    cid = campaign(runtime, audience(runtime, addresses))
    service.schedule_campaign(runtime, WS, cid, clock.now().isoformat())
    dispatch(runtime)
    [bid] = [t.payload["batch_id"] for t in enqueuer.tasks]
    result = worker.send_batch(runtime, bid, WS)
    retry = enqueuer.tasks[-1]
    assert retry.payload["batch_id"] == result["retry_batch"]
    # Its rung (30 s) falls in the minute the first 40 filled: the next minute it is.
    assert retry.schedule_time == clock.now() + timedelta(minutes=1)
    minutes = runtime.db.collection(QUOTAS).document(WS).get().get("minutes")
    assert sorted(minutes.values()) == [20, 40]
    run_tasks(runtime, clock)
    assert service.campaign_progress(runtime, WS, cid)["sent"] == 40


# -- bug: no alert when SMTP authentication fails -------------------------------------------


def test_refused_login_holds_the_batch_pauses_the_campaign_and_alerts(
    runtime, db, clock, enqueuer, server, capsys
):
    service.put_smtp_settings(runtime, WS, smtp_body(server, password="wrong password"))
    addresses = [f"u{i:02d}@example.com" for i in range(40)]
    cid = campaign(runtime, audience(runtime, addresses))
    service.schedule_campaign(runtime, WS, cid, clock.now().isoformat())
    dispatch(runtime)
    [task] = enqueuer.tasks
    result = worker.send_batch(runtime, task.payload["batch_id"], WS)
    assert result["status"] == "held"
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    alerts = [e for e in entries if e.get("alert")]
    assert [(a["alert"], a["severity"]) for a in alerts] == [("email_config", "ERROR")]
    assert "535" in alerts[0]["reason"] and alerts[0]["campaign_id"] == cid
    view = service.get_campaign(runtime, WS, cid)
    assert view["status"] == "paused"
    assert view["stop_reason"]["kind"] == "smtp_login"
    assert "rejected the username or password" in view["stop_reason"]["message"]
    progress = view["progress"]
    assert (progress["failed"], progress["pending"]) == (0, 40)  # nothing lost
    assert server.handler.messages == []
    # Fixed settings and a resume send every held recipient, once.
    service.put_smtp_settings(runtime, WS, smtp_body(server))
    resumed = service.resume_campaign(runtime, WS, cid)
    assert resumed["status"] == "sending" and "stop_reason" not in resumed
    run_tasks(runtime, clock, start=1)
    assert Counter(server.handler.count_by_rcpt().values()) == {1: 40}
    dispatch(runtime)
    assert db.collection(CAMPAIGNS).document(cid).get().get("status") == "done"


def test_hard_bounces_and_unconfirmed_messages_are_logged_as_warnings(
    runtime, clock, server, capsys
):
    server.handler.rcpt_replies["gone@example.com"] = ["550 5.1.1 no such user"]
    server.handler.drop_after_data.add("drop@example.com")
    service.put_smtp_settings(runtime, WS, smtp_body(server))
    cid = campaign(
        runtime, audience(runtime, ["gone@example.com", "drop@example.com", "ok@example.com"])
    )
    service.schedule_campaign(runtime, WS, cid, clock.now().isoformat())
    dispatch(runtime)
    run_tasks(runtime, clock)
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    warnings = {e["message"]: e for e in entries if e["severity"] == "WARNING"}
    assert warnings["hard bounces: addresses suppressed"]["hard_bounces"] == 1
    doubt = warnings["messages in doubt (unconfirmed): never re-sent"]
    assert doubt["unconfirmed"] == 1 and "dropped" in doubt["reasons"][0]


# -- adaptive rate ------------------------------------------------------------------------


def _throttled_campaign(runtime, clock, server, n: int) -> tuple[str, list[dict[str, Any]]]:
    server.handler.per_minute = 50
    service.put_smtp_settings(runtime, WS, smtp_body(server, per_minute_rate=200))
    addresses = [f"t{i:03d}@example.com" for i in range(n)]
    cid = campaign(runtime, audience(runtime, addresses))
    service.schedule_campaign(runtime, WS, cid, clock.now().isoformat())
    dispatch(runtime)
    return cid, run_tasks(runtime, clock)


def test_454_above_a_rate_cuts_the_workspace_rate_and_successes_raise_it(
    runtime, db, clock, server, capsys
):
    cid, deliveries = _throttled_campaign(runtime, clock, server, 300)
    assert Counter(server.handler.count_by_rcpt().values()) == {1: 300}
    progress = service.campaign_progress(runtime, WS, cid)
    assert (progress["sent"], progress["failed"], progress["deferred"]) == (300, 0, 0)
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    cuts = [e for e in entries if e["message"] == "the provider defers: sending rate cut"]
    raises = [e for e in entries if e["message"] == "sending rate raised"]
    assert cuts and "454" in cuts[0]["reason"] and cuts[0]["rate_per_minute"] == 100
    assert raises, "clean batches raise the rate again"
    assert any(d["result"]["status"] == "paced" for d in deliveries)
    # Paced batches are spaced at the cut rate, not the configured 200 a minute.
    sent_per_minute = Counter(
        _minute(d["at"])
        for d in deliveries
        for _ in range(d["result"].get("counts", {}).get("sent", 0))
    )
    assert max(sent_per_minute.values()) <= 50
    # The provider stopped refusing: the rate climbs back to the configured one.
    server.handler.per_minute = 10**9
    clock.advance(minutes=5)
    more = campaign(runtime, audience(runtime, [f"m{i:03d}@example.com" for i in range(600)]))
    service.schedule_campaign(runtime, WS, more, clock.now().isoformat())
    before = len(runtime.enqueuer.tasks)
    dispatch(runtime)
    run_tasks(runtime, clock, start=before)
    assert not db.collection(PACE).document(WS).get().exists


def test_adaptive_rate_meets_fewer_refusals_than_none(runtime, clock, server, monkeypatch):
    _throttled_campaign(runtime, clock, server, 300)
    adaptive = server.handler.throttled
    monkeypatch.setattr(pace, "record", lambda *a, **k: None)
    server.handler.accepted.clear()
    server.handler.throttled = 0
    server.handler.messages.clear()
    clock.advance(hours=3)
    runtime.db.collection(PACE).document(WS).delete()
    more = campaign(runtime, audience(runtime, [f"n{i:03d}@example.com" for i in range(300)]))
    service.schedule_campaign(runtime, WS, more, clock.now().isoformat())
    before = len(runtime.enqueuer.tasks)
    dispatch(runtime)
    run_tasks(runtime, clock, start=before)
    fixed = server.handler.throttled
    progress = service.campaign_progress(runtime, WS, more)
    delivered = server.handler.count_by_rcpt()
    assert set(Counter(delivered.values())) == {1}  # never twice
    # At a fixed rate the provider refuses more, and recipients run out of rungs.
    assert adaptive < fixed, (adaptive, fixed)
    assert progress["failed"] == 300 - len(delivered) > 0


# -- warm-up ------------------------------------------------------------------------------


def test_warm_up_caps_each_day_by_the_plan(runtime, clock, enqueuer, server):
    from shared.email import deliverability

    service.put_smtp_settings(runtime, WS, smtp_body(server))
    deliverability.put_warmup(runtime, WS, {"curve": [50, 100]})
    cid = campaign(runtime, audience(runtime, [f"w{i:03d}@example.com" for i in range(250)]))
    service.schedule_campaign(runtime, WS, cid, clock.now().isoformat())
    dispatch(runtime)
    per_day = Counter(
        (t.schedule_time or clock.now()).date() for t in enqueuer.tasks for _ in range(50)
    )
    today = clock.now().date()
    assert per_day == {
        today: 50,
        today + timedelta(days=1): 100,
        today + timedelta(days=2): 100,  # the curve is over: no warm-up cap, the rest
    }


def test_concurrent_reservations_all_get_a_slot_within_the_rate(runtime, clock):
    """Six batches reserving at once on one workspace's quota document: each gets a slot
    (contended transactions retry with a jittered pause instead of failing after the
    client's five immediate attempts), and no minute holds more than the rate."""
    from concurrent.futures import ThreadPoolExecutor

    from shared.email import quota

    now = clock.now()
    limits = quota.Limits(per_minute=100, daily=10_000)

    def reserve(_: int) -> datetime:
        return quota.reserve(runtime.db, "ws-contended", [(50, now)], limits, now)[0]

    with ThreadPoolExecutor(6) as pool:
        slots = list(pool.map(reserve, range(6)))
    per_minute = Counter(s.replace(second=0, microsecond=0) for s in slots)
    assert len(slots) == 6
    assert max(per_minute.values()) <= 2  # 2 x 50 = the rate of 100 a minute
    assert max(slots) - min(slots) >= timedelta(minutes=2)
