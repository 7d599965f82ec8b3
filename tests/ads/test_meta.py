"""Meta publishing through the real facebook-business SDK over intercepted HTTP."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest
import requests
import responses

from shared.ads import service
from shared.ads.worker import handle_task
from tests.ads.conftest import WS, make_campaign, task_ctx

GRAPH = "https://graph.facebook.com/v26.0"
ACT = f"{GRAPH}/act_1234"


@pytest.fixture
def meta_account(runtime):
    return service.set_credentials(
        runtime, WS, "meta", {"account_id": "act_1234", "page_id": "5678", "access_token": "EAAtok"}
    )


def form(call) -> dict:
    """The SDK posts form fields, JSON-encoding nested values."""
    fields = {k: v[0] for k, v in parse_qs(call.request.body).items()}
    out = {}
    for key, value in fields.items():
        out[key] = json.loads(value) if value[:1] in "[{" else value
    return out


def posts(rsps, url):
    return [
        c for c in rsps.calls if c.request.method == "POST" and c.request.url.split("?")[0] == url
    ]


def add_success_chain(rsps, campaign_id="120001"):
    rsps.add(responses.POST, f"{ACT}/campaigns", json={"id": campaign_id})
    rsps.add(responses.POST, f"{ACT}/adsets", json={"id": "120002"})
    rsps.add(responses.POST, f"{ACT}/adcreatives", json={"id": "120003"})
    rsps.add(responses.POST, f"{ACT}/ads", json={"id": "120004"})
    rsps.add(responses.POST, f"{GRAPH}/{campaign_id}/", json={"success": True})


def publish_payload(runtime):
    task = runtime.enqueuer.tasks[-1]
    assert task.target == "publish_ads" and task.kind == "ads"
    return task.payload


def test_create_chain_is_an_employment_campaign(runtime, opening, meta_account):
    cid = make_campaign(runtime, opening, ["meta"])
    payload = publish_payload(runtime)
    with responses.RequestsMock() as rsps:
        add_success_chain(rsps)
        result, status = handle_task(runtime, payload, task_ctx())
        assert (status, result["outcome"]) == (200, "published"), result
        campaign_body = form(posts(rsps, f"{ACT}/campaigns")[0])
        assert campaign_body["special_ad_categories"] == ["EMPLOYMENT"]
        assert campaign_body["special_ad_category_country"] == ["US"]
        assert campaign_body["status"] == "PAUSED"
        assert "access_token=EAAtok" in posts(rsps, f"{ACT}/campaigns")[0].request.url
        adset = form(posts(rsps, f"{ACT}/adsets")[0])
        assert adset["campaign_id"] == "120001" and adset["daily_budget"] == "4000"
        targeting = adset["targeting"]
        assert targeting == {
            "geo_locations": {"cities": [{"key": "2430536", "radius": 25, "distance_unit": "mile"}]}
        }
        flat = json.dumps(adset)
        for forbidden in ("age_", "genders", "zips", "exclu", "postal"):
            assert forbidden not in flat
        creative = form(posts(rsps, f"{ACT}/adcreatives")[0])
        link = creative["object_story_spec"]["link_data"]
        assert creative["object_story_spec"]["page_id"] == "5678"
        assert link["link"] == "https://jobs.example.com/de"
        assert link["call_to_action"]["type"] == "APPLY_NOW"
        ad = form(posts(rsps, f"{ACT}/ads")[0])
        assert ad["adset_id"] == "120002" and ad["creative"] == {"creative_id": "120003"}
        assert form(posts(rsps, f"{GRAPH}/120001/")[0])["status"] == "ACTIVE"
    got = service.get_campaign(runtime, WS, cid)
    assert got["status"] == "active"
    pub = got["publications"]["meta"]
    assert pub["status"] == "live" and pub["sandbox"] is False
    assert (pub["ext_campaign"], pub["ext_adset"], pub["ext_creative"], pub["ext_ad"]) == (
        "120001", "120002", "120003", "120004"
    )  # fmt: skip

    # A repeated delivery of the same task sends nothing.
    with responses.RequestsMock() as rsps:
        result, _ = handle_task(runtime, payload, task_ctx(1))
        assert result["outcome"] == "already" and len(rsps.calls) == 0


def test_rate_limit_defers_then_resumes_without_a_second_campaign(
    runtime, opening, meta_account, clock
):
    cid = make_campaign(runtime, opening, ["meta"])
    payload = publish_payload(runtime)
    usage = {"1234": [{"type": "ads_management", "call_count": 100, "total_cputime": 30,
                       "total_time": 40, "estimated_time_to_regain_access": 7}]}  # fmt: skip
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{ACT}/campaigns", json={"id": "120001"})
        rsps.add(
            responses.POST,
            f"{ACT}/adsets",
            status=400,
            json={"error": {"message": "User request limit reached", "type": "OAuthException",
                            "code": 17, "error_subcode": 2446079}},
            headers={"x-business-use-case-usage": json.dumps(usage)},
        )  # fmt: skip
        result, status = handle_task(runtime, payload, task_ctx())
    assert (status, result["outcome"]) == (200, "deferred")
    retry = runtime.enqueuer.tasks[-1]
    assert retry.payload == payload
    assert (retry.schedule_time - clock.now()).total_seconds() == 7 * 60
    pub = service.get_campaign(runtime, WS, cid)["publications"]["meta"]
    assert pub["status"] == "deferred" and pub["ext_campaign"] == "120001"
    assert "rate limit" in pub["last_error"]
    assert service.get_campaign(runtime, WS, cid)["status"] == "publishing"

    clock.advance(7 * 60)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        add_success_chain(rsps)
        result, _ = handle_task(runtime, retry.payload, task_ctx())
        assert result["outcome"] == "published"
        assert posts(rsps, f"{ACT}/campaigns") == []  # resumed at the ad set
        assert len(posts(rsps, f"{ACT}/adsets")) == 1


def test_app_usage_header_and_code_613(runtime, opening, meta_account, clock):
    make_campaign(runtime, opening, ["meta"])
    payload = publish_payload(runtime)
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST, f"{ACT}/campaigns", status=400,
            json={"error": {"message": "Calls within one hour exceeded", "code": 613}},
            headers={"x-app-usage": json.dumps({"call_count": 100, "total_time": 25})},
        )  # fmt: skip
        result, _ = handle_task(runtime, payload, task_ctx())
    assert result["outcome"] == "deferred"
    # No regain estimate in the headers: the default wait applies.
    assert (runtime.enqueuer.tasks[-1].schedule_time - clock.now()).total_seconds() == 300


def test_resume_after_partial_failure_creates_no_second_campaign(runtime, opening, meta_account):
    cid = make_campaign(runtime, opening, ["meta"])
    payload = publish_payload(runtime)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{ACT}/campaigns", json={"id": "120001"})
        rsps.add(responses.POST, f"{ACT}/adsets", json={"id": "120002"})
        rsps.add(responses.POST, f"{ACT}/adcreatives", body=requests.ConnectionError("reset"))
        result, status = handle_task(runtime, payload, task_ctx())
    assert status == 503 and result["retry"] is True
    pub = service.get_campaign(runtime, WS, cid)["publications"]["meta"]
    assert (pub["ext_campaign"], pub["ext_adset"]) == (
        "120001",
        "120002",
    ) and "ext_creative" not in pub

    # The creative's outcome is unknown: the retry looks it up by name first. Here the
    # first POST had in fact succeeded, so it is reused and not created again.
    name = f"{service.get_campaign(runtime, WS, cid)['name']} · creative · herald:{cid}"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        add_success_chain(rsps)
        rsps.add(
            responses.GET, f"{ACT}/adcreatives", json={"data": [{"id": "120009", "name": name}]}
        )
        result, status = handle_task(runtime, payload, task_ctx(1))
        assert (status, result["outcome"]) == (200, "published"), result
        assert posts(rsps, f"{ACT}/campaigns") == [] and posts(rsps, f"{ACT}/adsets") == []
        assert posts(rsps, f"{ACT}/adcreatives") == []
        lookup = next(c for c in rsps.calls if c.request.method == "GET")
        assert "filtering" in lookup.request.url
        assert form(posts(rsps, f"{ACT}/ads")[0])["creative"] == {"creative_id": "120009"}
    assert service.get_campaign(runtime, WS, cid)["status"] == "active"


def test_refused_request_fails_with_the_reason(runtime, opening, meta_account):
    cid = make_campaign(runtime, opening, ["meta"])
    payload = publish_payload(runtime)
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST, f"{ACT}/campaigns", status=400,
            json={"error": {"message": "Invalid parameter", "code": 100,
                            "error_user_msg": "Special ad category country is required"}},
        )  # fmt: skip
        result, status = handle_task(runtime, payload, task_ctx())
    assert (status, result["outcome"]) == (200, "failed")
    got = service.get_campaign(runtime, WS, cid)
    assert got["status"] == "failed"
    assert "Special ad category country is required" in got["publications"]["meta"]["error"]


def test_forbidden_targeting_in_storage_is_refused_before_sending(runtime, opening, meta_account):
    cid = make_campaign(runtime, opening, ["meta"])
    payload = publish_payload(runtime)
    # A document edited behind the API's back: the publisher re-checks before sending.
    runtime.db.collection("ad_campaigns").document(cid).update(
        {"targeting": {"countries": ["US"], "genders": [1]}}
    )
    with responses.RequestsMock() as rsps:
        result, _ = handle_task(runtime, payload, task_ctx())
        assert len(rsps.calls) == 0
    assert result["outcome"] == "failed"
    assert "cannot target by gender" in result["error"]


def test_pause_resume_archive_sync(runtime, opening, meta_account):
    cid = make_campaign(runtime, opening, ["meta"])
    payload = publish_payload(runtime)
    with responses.RequestsMock() as rsps:
        add_success_chain(rsps)
        handle_task(runtime, payload, task_ctx())
    for action, expected in (
        (service.pause_campaign, "PAUSED"),
        (service.resume_campaign, "ACTIVE"),
        (service.archive_campaign, "ARCHIVED"),
    ):
        action(runtime, WS, cid)
        task = runtime.enqueuer.tasks[-1]
        assert task.payload["action"] == "set_status"
        with responses.RequestsMock() as rsps:
            rsps.add(responses.POST, f"{GRAPH}/120001/", json={"success": True})
            result, _ = handle_task(runtime, task.payload, task_ctx())
            assert result["outcome"] == "synced"
            assert form(rsps.calls[0])["status"] == expected
    assert service.get_campaign(runtime, WS, cid)["publications"]["meta"]["status"] == "archived"


def test_pause_during_publish_is_applied_at_the_end(runtime, opening, meta_account):
    cid = make_campaign(runtime, opening, ["meta"])
    payload = publish_payload(runtime)
    service.pause_campaign(runtime, WS, cid)  # nothing on Meta yet: no status task
    assert runtime.enqueuer.tasks[-1].payload["action"] == "publish"
    with responses.RequestsMock() as rsps:
        add_success_chain(rsps)
        handle_task(runtime, payload, task_ctx())
        assert form(posts(rsps, f"{GRAPH}/120001/")[0])["status"] == "PAUSED"
    got = service.get_campaign(runtime, WS, cid)
    assert got["status"] == "paused" and got["publications"]["meta"]["status"] == "paused"


def test_insights_written_in_the_metrics_contract(runtime, opening, meta_account):
    from shared.metrics.ads_tasks import insights_payload

    cid = make_campaign(runtime, opening, ["meta"])
    with responses.RequestsMock() as rsps:
        add_success_chain(rsps)
        handle_task(runtime, publish_payload(runtime), task_ctx())
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.GET,
            f"{GRAPH}/120001/insights",
            json={"data": [{"date_start": "2026-01-04", "date_stop": "2026-01-04",
                            "impressions": "1200", "clicks": "30", "spend": "12.50",
                            "ctr": "2.5", "cpc": "0.416667"}]},
        )  # fmt: skip
        result, _ = handle_task(runtime, insights_payload(WS, cid, "2026-01-04"), task_ctx())
        assert "time_increment=1" in rsps.calls[0].request.url
    assert result == {"ok": True, "outcome": "insights", "rows": 1}
    doc = runtime.db.collection("ad_insights").document(f"{cid}__meta__2026-01-04").get().to_dict()
    assert doc["impressions"] == 1200 and doc["clicks"] == 30 and doc["spend"] == 12.5
    assert doc["workspace_id"] == WS and doc["currency"] == "USD"
    perf = service.performance(runtime, WS, cid)
    assert perf["totals"]["ctr"] == 0.025 and perf["totals"]["cpc"] == round(12.5 / 30, 4)


def test_generated_image_is_uploaded_and_used_by_the_creative(runtime, opening, meta_account):
    import base64
    import io

    from PIL import Image

    cid = make_campaign(runtime, opening, ["meta"], creative={"generate_image": True})
    creative = service.get_campaign(runtime, WS, cid)["creative"]
    from shared import media

    assert media.find(runtime, WS, creative["image_ref"]) is not None  # a media id of WS
    assert creative["source"] == "generated image"
    with responses.RequestsMock() as rsps:
        add_success_chain(rsps)
        rsps.add(
            responses.POST, f"{ACT}/adimages",
            json={"images": {"card": {"hash": "9f3a1c", "url": "https://scontent.example/9f3a1c"}}},
        )  # fmt: skip
        result, _ = handle_task(runtime, publish_payload(runtime), task_ctx())
        assert result["outcome"] == "published", result
        upload = form(posts(rsps, f"{ACT}/adimages")[0])
        png = Image.open(io.BytesIO(base64.b64decode(upload["bytes"])))
        assert png.format == "PNG" and png.size == (1080, 1080)
        link = form(posts(rsps, f"{ACT}/adcreatives")[0])["object_story_spec"]["link_data"]
        assert link["image_hash"] == "9f3a1c" and "picture" not in link
    pub = service.get_campaign(runtime, WS, cid)["publications"]["meta"]
    assert pub["ext_image"] == "9f3a1c"


def test_archived_while_deferred_creates_nothing_more(runtime, opening, meta_account, clock):
    cid = make_campaign(runtime, opening, ["meta"])
    payload = publish_payload(runtime)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{ACT}/campaigns", json={"id": "120001"})
        rsps.add(responses.POST, f"{ACT}/adsets", status=400,
                 json={"error": {"message": "Too many calls", "code": 80004}})  # fmt: skip
        assert handle_task(runtime, payload, task_ctx())[0]["outcome"] == "deferred"
    retry = runtime.enqueuer.tasks[-1]
    service.archive_campaign(runtime, WS, cid)
    status_task = runtime.enqueuer.tasks[-1]
    with responses.RequestsMock() as rsps:  # the status task waits for the publish run
        assert handle_task(runtime, status_task.payload, task_ctx())[0]["outcome"] == (
            "pending_publish"
        )
    clock.advance(300)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{GRAPH}/120001/", json={"success": True})
        result, _ = handle_task(runtime, retry.payload, task_ctx())
        assert result["status"] == "archived"
        assert [c.request.url.split("?")[0] for c in rsps.calls] == [f"{GRAPH}/120001/"]
        assert form(rsps.calls[0])["status"] == "ARCHIVED"
    assert service.get_campaign(runtime, WS, cid)["publications"]["meta"]["status"] == "archived"


def test_sandbox_publication_stays_in_the_sandbox(runtime, opening):
    cid = make_campaign(runtime, opening, ["meta"])
    handle_task(runtime, publish_payload(runtime), task_ctx())
    service.set_credentials(
        runtime, WS, "meta", {"account_id": "1234", "page_id": "5678", "access_token": "t"}
    )
    service.pause_campaign(runtime, WS, cid)
    with responses.RequestsMock() as rsps:  # nothing may reach Meta for sandbox ids
        result, _ = handle_task(runtime, runtime.enqueuer.tasks[-1].payload, task_ctx())
        assert result["outcome"] == "synced" and len(rsps.calls) == 0
    record = runtime.db.collection("ad_sandbox_records").document(f"{cid}__meta__status").get()
    assert record.get("status") == "paused"


def test_repeated_rate_limits_never_fail_the_campaign(runtime, opening, meta_account, clock):
    cid = make_campaign(runtime, opening, ["meta"])
    payload = publish_payload(runtime)
    limited = {"error": {"message": "Application request limit reached", "code": 4}}
    for _ in range(7):
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            rsps.add(responses.POST, f"{ACT}/campaigns", json={"id": "120001"})
            rsps.add(responses.POST, f"{ACT}/adsets", status=400, json=limited)
            assert handle_task(runtime, payload, task_ctx())[0]["outcome"] == "deferred"
        clock.advance(300)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        add_success_chain(rsps)
        assert handle_task(runtime, payload, task_ctx())[0]["outcome"] == "published"
        assert rsps.calls[0].request.url.startswith(f"{ACT}/adsets")  # no lookup needed
    assert service.get_campaign(runtime, WS, cid)["publications"]["meta"]["defer_count"] == 7
