"""The reputation guard: complaint and bounce rates over the messages really sent
(aiosmtpd), against the lines; an alert near a line, a pause of every sending or
scheduled campaign before it is crossed, and the warm-up plan held."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from shared.email import deliverability, feedback, reputation, service
from shared.email.model import BATCHES, CAMPAIGNS
from shared.email.reports import Report
from shared.email.verp import Ref
from tests.email.conftest import WS, audience, campaign, dispatch, smtp_body
from tests.email.test_feedback import send

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

N = 200


@pytest.fixture
def sent(runtime, db, clock, smtp_server) -> list[Ref]:
    """N messages sent; each recipient's place (batch, index), in address order."""
    service.put_smtp_settings(runtime, WS, smtp_body(smtp_server))
    cid = send(runtime, clock, [f"r{i:03d}@example.com" for i in range(N)])
    dispatch(runtime)  # every recipient has its outcome: the campaign is done
    assert db.collection(CAMPAIGNS).document(cid).get().get("status") == "done"
    refs = []
    for doc in db.collection(BATCHES).stream():
        for i, rcpt in enumerate(doc.get("recipients")):
            refs.append((rcpt["email"], Ref(doc.id, i)))
    return [ref for _, ref in sorted(refs)]


def report(kind: str, ref: Ref) -> Report:
    return Report(kind, ref, None, "5.1.1" if kind == "hard" else "abuse", "", "dsn", "k")  # type: ignore[arg-type]


def alerts(capsys) -> list[dict]:
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return [e for e in entries if e.get("alert") == "email_reputation"]


def waiting_campaign(runtime, clock) -> str:
    cid = campaign(runtime, audience(runtime, ["later@example.com"]))
    service.schedule_campaign(runtime, WS, cid, (clock.now() + timedelta(days=1)).isoformat())
    return cid


def test_bounce_rate_alerts_near_the_line_then_pauses_before_crossing(
    runtime, db, clock, sent, capsys
):
    later = waiting_campaign(runtime, clock)
    deliverability.put_warmup(runtime, WS, {"curve": [50, 100, 200]})
    capsys.readouterr()
    for ref in sent[:5]:  # 2.5 %: over the 2 % alert line
        assert feedback.apply(runtime, report("hard", ref)) == "applied"
    result = reputation.check(runtime, WS)
    assert result["state"] == "alert" and "clean the list" in result["reason"]
    whole = result["workspace"]
    assert (whole["sent"], whole["hard_bounces"], whole["bounce_rate"]) == (N, 5, 0.025)
    assert result["sending_domain"]["domain"] == "herald.example"
    assert result["sending_domain"]["sent"] == N
    (alert,) = alerts(capsys)
    assert "bounce rate 2.5%" in alert["message"]
    assert db.collection(CAMPAIGNS).document(later).get().get("status") == "scheduled"
    plan = deliverability.load(runtime, WS)["warmup"]
    assert plan["hold_reason"] and "bounce rate" in plan["hold_reason"]
    reputation.check(runtime, WS)
    assert alerts(capsys) == [], "one alert a day while the rate stays near the line"

    for ref in sent[5:8]:  # 4 %: the pause line, before SES's 5 % review
        feedback.apply(runtime, report("hard", ref))
    result = reputation.check(runtime, WS)
    assert result["state"] == "pause"
    stopped = db.collection(CAMPAIGNS).document(later).get().to_dict()
    assert stopped["status"] == "paused" and stopped["stop_reason"]["kind"] == "reputation"
    assert "bounce rate 4.0%" in stopped["stop_reason"]["message"]
    (alert,) = alerts(capsys)
    assert alert["campaigns_paused"] == 1 and "sending paused" in alert["message"]
    # The owner resumes; the guard pauses again only if more bounces arrive.
    service.resume_campaign(runtime, WS, later)
    reputation.check(runtime, WS)
    assert db.collection(CAMPAIGNS).document(later).get().get("status") == "scheduled"
    clock.advance(minutes=2)
    feedback.apply(runtime, report("hard", sent[8]))  # applying checks (once a minute)
    assert db.collection(CAMPAIGNS).document(later).get().get("status") == "paused"


def test_two_complaints_in_200_pause_before_gmails_line(runtime, db, clock, sent, capsys):
    later = waiting_campaign(runtime, clock)
    capsys.readouterr()
    feedback.apply(runtime, report("complaint", sent[0]))
    assert reputation.check(runtime, WS)["state"] == "ok", "one complaint is not a rate yet"
    clock.advance(minutes=2)
    feedback.apply(runtime, report("complaint", sent[1]))  # 1 %: the check runs on applying
    assert db.collection(CAMPAIGNS).document(later).get().get("status") == "paused"
    rep = reputation.report(runtime, WS)
    assert rep["workspace"]["complaints"] == 2 and rep["workspace"]["complaint_rate"] == 0.01
    assert rep["lines"]["complaint_keep_under"] == 0.001
    assert rep["lines"]["complaint_never_reach"] == 0.003
    assert rep["lines"]["complaint_pause"] < rep["lines"]["complaint_never_reach"]
    (alert,) = alerts(capsys)
    assert "Gmail: never reach 0.3%" in alert["reason"]


def test_under_the_minimum_volume_the_guard_only_shows_figures(runtime, db, clock, sent):
    for ref in sent[:3]:
        feedback.apply(runtime, report("hard", ref))
    clock.advance(days=8)  # out of the 7-day window
    result = reputation.check(runtime, WS)
    assert result["state"] == "ok" and result["workspace"]["sent"] == 0
