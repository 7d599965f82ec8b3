"""Ad campaigns through the service layer: validation, publish, scheduling, status sync."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.ads import service
from shared.errors import Conflict, ValidationError
from shared.jobs import service as jobs
from tests.ads.conftest import WS, opening_body


def make_opening(runtime, **extra):
    return jobs.create_opening(runtime, WS, opening_body(**extra))


def make_segment(runtime, seg_id="run1-0", keywords=("python", "sql")):
    runtime.db.collection("segments").document(seg_id).set(
        {"workspace_id": WS, "run_id": "run1", "index": 0, "size": 10, "keywords": list(keywords)}
    )
    return seg_id


def test_create_derives_targeting_and_creative(runtime):
    opening = make_opening(runtime)
    seg = make_segment(runtime)
    c = service.create_campaign(
        runtime,
        WS,
        {"opening_id": opening["id"], "segment_ids": [seg], "platforms": ["meta", "google"],
         "daily_budget": 25},
    )  # fmt: skip
    assert c["status"] == "draft"
    assert c["daily_budget_minor"] == 2500 and c["currency"] == "USD"
    assert c["targeting"] == {
        "countries": ["US"],
        "cities": [{"name": "Austin", "radius_miles": 25}],
        "keywords": ["python", "sql"],
        "interests": [],
    }
    cr = c["creative"]
    assert cr["link_url"] == "https://jobs.example.com/de"
    assert all(len(h) <= 30 for h in cr["headlines"]) and len(cr["headlines"]) >= 3
    assert all(len(d) <= 90 for d in cr["descriptions"]) and len(cr["descriptions"]) >= 2
    assert "100k-130k USD/year" in cr["primary_text"]


def test_forbidden_targeting_is_refused_with_the_rule(runtime):
    opening = make_opening(runtime)
    base = {"opening_id": opening["id"], "platforms": ["meta"], "daily_budget": 10}
    with pytest.raises(ValidationError, match="cannot target by age") as err:
        service.create_campaign(
            runtime, WS, {**base, "targeting": {"countries": ["US"], "age_min": 25}}
        )
    assert err.value.details["rule"] == "employment"
    with pytest.raises(ValidationError, match="at least 15 miles"):
        city = {"name": "Austin", "radius_miles": 10}
        service.create_campaign(
            runtime, WS, {**base, "targeting": {"countries": ["US"], "cities": [city]}}
        )
    assert service.list_campaigns(runtime, WS)["items"] == []


def test_publish_now_enqueues_one_task_per_platform(runtime, enqueuer):
    opening = make_opening(runtime)
    c = service.create_campaign(
        runtime,
        WS,
        {"opening_id": opening["id"], "platforms": ["meta", "google"], "daily_budget": 10},
    )
    published = service.publish_campaign(runtime, WS, c["id"])
    assert published["status"] == "publishing"
    tasks = enqueuer.of_kind("ads")
    assert sorted(t.payload["platform"] for t in tasks) == ["google", "meta"]
    assert all(t.target == "publish_ads" and t.payload["action"] == "publish" for t in tasks)
    with pytest.raises(Conflict):
        service.publish_campaign(runtime, WS, c["id"])
    with pytest.raises(Conflict, match="cannot be edited"):
        service.update_campaign(runtime, WS, c["id"], {"daily_budget": 20})


def test_publish_later_is_scheduled_and_closed_openings_refused(runtime, clock, enqueuer):
    opening = make_opening(runtime)
    start = clock.now() + timedelta(days=2)
    c = service.create_campaign(
        runtime, WS,
        {"opening_id": opening["id"], "platforms": ["google"], "daily_budget": 10,
         "start_at": start.isoformat()},
    )  # fmt: skip
    assert service.publish_campaign(runtime, WS, c["id"])["status"] == "scheduled"
    assert enqueuer.tasks == []
    draft = make_opening(runtime, status="draft")
    c2 = service.create_campaign(
        runtime, WS, {"opening_id": draft["id"], "platforms": ["google"], "daily_budget": 10}
    )
    with pytest.raises(Conflict, match="status to open"):
        service.publish_campaign(runtime, WS, c2["id"])


def test_pause_resume_archive_enqueue_status_sync(runtime, enqueuer):
    opening = make_opening(runtime)
    c = service.create_campaign(
        runtime, WS, {"opening_id": opening["id"], "platforms": ["meta"], "daily_budget": 10}
    )
    service.publish_campaign(runtime, WS, c["id"])
    runtime.db.collection("ad_publications").document(f"{c['id']}__meta").set(
        {"workspace_id": WS, "campaign_id": c["id"], "platform": "meta", "status": "live"}
    )
    runtime.db.collection("ad_campaigns").document(c["id"]).update({"status": "active"})
    assert service.pause_campaign(runtime, WS, c["id"])["status"] == "paused"
    assert service.resume_campaign(runtime, WS, c["id"])["status"] == "active"
    assert service.archive_campaign(runtime, WS, c["id"])["status"] == "archived"
    status_tasks = [t for t in enqueuer.tasks if t.payload["action"] == "set_status"]
    assert len(status_tasks) == 3 and len({t.task_id for t in status_tasks}) == 3
    with pytest.raises(Conflict):
        service.resume_campaign(runtime, WS, c["id"])


def test_generated_text_keeps_the_facts(runtime):
    opening = make_opening(runtime)
    c = service.create_campaign(
        runtime, WS,
        {"opening_id": opening["id"], "platforms": ["meta"], "daily_budget": 10,
         "creative": {"generate_text": True}},
    )  # fmt: skip
    cr = c["creative"]
    assert cr["source"] == "generated text (offline)"  # no Gemini key in tests
    assert "Data Engineer" in cr["primary_text"].split("\n\n")[0]
    assert cr["primary_text"].endswith(
        "Acme is hiring: Data Engineer in Austin, US. Pay: 100k-130k USD/year. "
        "Pipelines and warehouses."
    )
