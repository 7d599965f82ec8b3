"""Autopilot: slot planning, the dispatch source, and the generate task it enqueues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared import dispatch
from shared.generate import autopilot
from shared.generate.brief import Autopilot
from shared.generate.dispatch import SOURCE
from shared.x import service as xs
from tests.generate.conftest import World

AUTO = {"enabled": True, "days_ahead": 3, "posts_per_day": 2, "post_times": ["09:00", "18:00"]}


def test_slots_fill_empty_times_in_the_campaign_timezone() -> None:
    now = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # 09:00 in Paris: today's 09:00 is gone
    plan = Autopilot(enabled=True, days_ahead=3, posts_per_day=2, post_times=("09:00", "18:00"))
    existing = [
        {"due_at": datetime(2026, 1, 6, 8, 0, tzinfo=UTC), "status": "scheduled"},  # Tue 09:00
        {"due_at": datetime(2026, 1, 6, 12, 0, tzinfo=UTC), "status": "cancelled"},  # frees
    ]
    slots = autopilot.plan_slots(plan, "Europe/Paris", now, existing)
    assert slots == [
        datetime(2026, 1, 5, 17, 0, tzinfo=UTC),  # Mon 18:00 Paris
        datetime(2026, 1, 6, 17, 0, tzinfo=UTC),  # Tue 18:00 (09:00 taken)
        datetime(2026, 1, 7, 8, 0, tzinfo=UTC),
        datetime(2026, 1, 7, 17, 0, tzinfo=UTC),
    ]
    # A day already full stays untouched; the campaign's end cuts the plan.
    full = [*existing, {"due_at": datetime(2026, 1, 6, 15, 0, tzinfo=UTC), "status": "draft"}]
    end = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)
    assert autopilot.plan_slots(plan, "Europe/Paris", now, full, end) == [
        datetime(2026, 1, 5, 17, 0, tzinfo=UTC),
        datetime(2026, 1, 7, 8, 0, tzinfo=UTC),
    ]


def _auto_campaign(world: World, **overrides: Any) -> str:
    values = {"autopilot": AUTO, **overrides}
    return world.campaign(**values)


def test_dispatch_enqueues_one_generate_task_per_campaign_and_hour(world: World) -> None:
    runtime = world.runtime
    cid = _auto_campaign(world)
    _auto_campaign(world, status="paused")
    world.campaign()  # no autopilot
    report = dispatch.tick(runtime, sources=[SOURCE])
    assert report.counts["generate_autopilot"] == {"campaigns": 2, "enqueued": 1}  # active
    tasks = runtime.enqueuer.of_kind("generate")  # type: ignore[attr-defined]
    assert len(tasks) == 1 and tasks[0].target == "generate"
    assert tasks[0].payload == {
        "mode": "autopilot",
        "workspace_id": world.workspace_id,
        "campaign_id": cid,
        "run_key": "20260105T09",
    }
    runtime.clock.advance(seconds=60)  # type: ignore[attr-defined]
    again = dispatch.tick(runtime, sources=[SOURCE])  # same hour, nothing changed
    assert again.counts["generate_autopilot"] == {"campaigns": 0, "enqueued": 0}
    # A campaign switched on mid-hour is picked up on the next tick, not the next hour.
    late = world.campaign()
    xs.update_campaign(runtime, world.workspace_id, late, {"autopilot": AUTO})
    runtime.clock.advance(seconds=60)  # type: ignore[attr-defined]
    soon = dispatch.tick(runtime, sources=[SOURCE])
    assert soon.counts["generate_autopilot"] == {"campaigns": 1, "enqueued": 1}
    runtime.clock.advance(minutes=61)  # type: ignore[attr-defined]
    dispatch.tick(runtime, sources=[SOURCE])
    runs = [
        (t.payload["campaign_id"], t.payload["run_key"])
        for t in runtime.enqueuer.of_kind("generate")  # type: ignore[attr-defined]
    ]
    assert runs == [
        (cid, "20260105T09"),
        (late, "20260105T09"),
        (cid, "20260105T10"),
        (late, "20260105T10"),
    ]


def test_dispatch_source_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, shared.generate.dispatch;"
        "heavy=[m for m in ('google.genai','PIL','matplotlib','tweepy') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_autopilot_run_plans_the_next_days_once(world: World) -> None:
    runtime = world.runtime
    cid = _auto_campaign(world, approval_required=False)
    result = autopilot.run(runtime, world.workspace_id, cid, "20260105T09")
    # Now is Mon 10:00 Paris: Mon 18:00, Tue and Wed 09:00 + 18:00 = 5 slots.
    assert result["status"] == "planned" and result["slots"] == 5
    drafts = result["drafts"]
    assert len(drafts) == 5 and {d["status"] for d in drafts} == {"scheduled"}
    assert sorted(d["due_at"] for d in drafts) == [d["due_at"] for d in drafts]
    assert drafts[0]["due_at"] == datetime(2026, 1, 5, 17, 0, tzinfo=UTC)
    # A repeated delivery of the same task does nothing.
    again = autopilot.run(runtime, world.workspace_id, cid, "20260105T09")
    assert again["status"] == "skipped"
    # Next hour: everything is planned already.
    runtime.clock.advance(hours=1)  # type: ignore[attr-defined]
    later = autopilot.run(runtime, world.workspace_id, cid, "20260105T10")
    assert later["slots"] == 0 and later["drafts"] == []
    note = runtime.db.collection("campaigns").document(cid).get().to_dict()["autopilot_last_run"]
    assert note["status"] == "planned" and note["run_key"] == "20260105T10"
    # A day later, one new day enters the window.
    runtime.clock.advance(days=1)  # type: ignore[attr-defined]
    nextday = autopilot.run(runtime, world.workspace_id, cid, "20260106T10")
    assert nextday["slots"] == 2


def test_autopilot_with_approval_leaves_drafts_with_their_slot(world: World) -> None:
    cid = _auto_campaign(world)
    result = autopilot.run(world.runtime, world.workspace_id, cid, "k1")
    assert {d["status"] for d in result["drafts"]} == {"draft"}
    assert all(d["due_at"] is not None for d in result["drafts"])


def test_autopilot_with_a_broken_brief_records_why_and_does_not_retry(world: World) -> None:
    cid = _auto_campaign(world, account_id=None)
    result = autopilot.run(world.runtime, world.workspace_id, cid, "k1")
    assert result["status"] == "failed" and "no account" in result["reason"]
    note = world.runtime.db.collection("campaigns").document(cid).get().to_dict()
    assert note["autopilot_last_run"]["status"] == "failed"


def test_autopilot_releases_its_claim_when_generation_fails(world: World, monkeypatch) -> None:
    from shared.errors import ProviderError
    from shared.generate import service

    cid = _auto_campaign(world)

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise ProviderError("Gemini request failed: 503")

    monkeypatch.setattr(service, "generate", boom)
    try:
        autopilot.run(world.runtime, world.workspace_id, cid, "k2")
    except ProviderError:
        pass
    else:  # pragma: no cover
        raise AssertionError("the failure must reach Cloud Tasks for a retry")
    monkeypatch.undo()
    assert autopilot.run(world.runtime, world.workspace_id, cid, "k2")["status"] == "planned"


def test_run_key_is_the_utc_hour() -> None:
    assert autopilot.run_key(datetime(2026, 3, 1, 23, 59, tzinfo=UTC) + timedelta(minutes=2)) == (
        "20260302T00"
    )
