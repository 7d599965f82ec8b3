"""Due ad publishes from the dispatcher, the labelled sandbox adapter, and cold-start hygiene."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from shared import claims
from shared.ads import service
from shared.ads.dispatch import SOURCE, STALE
from shared.ads.worker import handle_task
from shared.dispatch import SOURCE_PATHS, DispatchContext
from shared.metrics.ads_tasks import insights_payload
from tests.ads.conftest import WS, make_campaign, task_ctx

ROOT = Path(__file__).resolve().parents[2]


def tick(runtime):
    now = runtime.clock.now()
    ctx = DispatchContext(runtime=runtime, now=now, horizon=now + timedelta(seconds=90))
    return SOURCE.run(ctx)


def test_registered_with_the_dispatcher():
    assert "shared.ads.dispatch:SOURCE" in SOURCE_PATHS


def test_scheduled_campaign_is_enqueued_once_when_due(runtime, opening, clock, enqueuer):
    start = clock.now() + timedelta(days=1)
    cid = make_campaign(runtime, opening, ["meta", "google"], start_at=start.isoformat())
    assert service.get_campaign(runtime, WS, cid)["status"] == "scheduled"
    assert tick(runtime) == {"due": 0, "enqueued": 0, "skipped": 0}
    clock.set(start - timedelta(seconds=30))
    assert tick(runtime)["enqueued"] == 1
    tasks = enqueuer.of_kind("ads")
    assert sorted(t.payload["platform"] for t in tasks) == ["google", "meta"]
    assert all(t.schedule_time == start for t in tasks)
    assert service.get_campaign(runtime, WS, cid)["status"] == "publishing"
    assert tick(runtime)["due"] == 0  # no longer scheduled: nothing twice


def test_a_tick_that_died_after_claiming_is_retried_once_stale(runtime, opening, clock, enqueuer):
    start = clock.now() + timedelta(days=1)
    cid = make_campaign(runtime, opening, ["meta"], start_at=start.isoformat())
    round_ = service.get_campaign(runtime, WS, cid)["publish_round"]
    key = claims.claim_id("ads", cid, "dispatch", str(round_))
    clock.set(start - timedelta(seconds=30))
    assert claims.try_claim(runtime.db, key, owner="dead tick", now=clock.now())
    assert tick(runtime) == {"due": 1, "enqueued": 0, "skipped": 1}
    clock.advance(STALE.total_seconds() + 1)
    assert tick(runtime)["enqueued"] == 1 and len(enqueuer.tasks) == 1


def test_sandbox_records_what_would_be_published(runtime, opening):
    cid = make_campaign(runtime, opening, ["meta", "google"])
    for task in list(runtime.enqueuer.tasks):
        result, status = handle_task(runtime, task.payload, task_ctx())
        assert (status, result["outcome"]) == (200, "published"), result
    got = service.get_campaign(runtime, WS, cid)
    assert got["status"] == "active"
    assert {p: got["publications"][p]["sandbox"] for p in ("meta", "google")} == {
        "meta": True,
        "google": True,
    }
    assert got["publications"]["meta"]["ext_campaign"].startswith("sandbox-meta-campaign-")
    record = runtime.db.collection("ad_sandbox_records").document(f"{cid}__meta__campaign").get()
    assert record.get("sandbox") is True
    assert record.get("request")["special_ad_categories"] == ["EMPLOYMENT"]
    ad = runtime.db.collection("ad_sandbox_records").document(f"{cid}__google__ad").get()
    assert ad.get("request")["final_urls"] == ["https://jobs.example.com/de"]
    result, _ = handle_task(runtime, insights_payload(WS, cid, "2026-01-04"), task_ctx())
    assert result["rows"] == 2
    perf = service.performance(runtime, WS, cid)
    assert len(perf["days"]) == 2 and perf["totals"]["impressions"] > 0


def test_without_sandbox_a_missing_account_fails_clearly(runtime, opening):
    from dataclasses import replace

    runtime.settings = replace(runtime.settings, sandbox=False)
    cid = make_campaign(runtime, opening, ["google"])
    result, status = handle_task(runtime, runtime.enqueuer.tasks[-1].payload, task_ctx())
    assert (status, result["outcome"]) == (200, "failed")
    got = service.get_campaign(runtime, WS, cid)
    assert got["status"] == "failed"
    assert "no google ad account is connected" in got["error"]


def test_malformed_tasks_are_acknowledged(runtime):
    result, status = handle_task(runtime, {"action": "publish"}, task_ctx())
    assert (status, result["ok"]) == (200, False)
    result, status = handle_task(runtime, {"action": "explode"}, task_ctx())
    assert (status, result["ok"]) == (200, False)


PROBE = """
import json, runpy, sys
sys.path.insert(0, {root!r})
runpy.run_path({main!r})
{extra}
heavy = ("google.ads", "facebook_business", "sklearn", "pandas", "matplotlib", "google.genai")
print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""


def loaded_after(main: str, extra: str = "") -> list[str]:
    code = PROBE.format(root=str(ROOT), main=str(ROOT / main), extra=extra)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_cold_start_imports_no_heavy_sdk():
    assert loaded_after("functions/publish_ads/main.py") == []
    assert loaded_after("functions/segment/main.py") == []
    source = (
        "from shared.dispatch import load_sources; load_sources(['shared.ads.dispatch:SOURCE'])"
    )
    assert loaded_after("functions/dispatch/main.py", source) == []
