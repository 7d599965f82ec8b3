"""Google Ads publishing through the real google-ads SDK against a local TLS gRPC server."""

from __future__ import annotations

import os

import grpc
import pytest

from shared.ads import service
from shared.ads.google import GoogleAdapter
from shared.ads.worker import handle_task
from tests.ads.conftest import WS, make_campaign, task_ctx
from tests.ads.google_server import Failure, FakeGoogleAds, self_signed_cert, start

CUSTOMER = "1234567890"


@pytest.fixture(scope="module")
def google(tmp_path_factory):
    """One server and one client for the module: the SDK's first get_service is slow."""
    from google.ads.googleads.client import GoogleAdsClient
    from google.oauth2.credentials import Credentials

    key, cert, path = self_signed_cert(tmp_path_factory.mktemp("tls"))
    previous = os.environ.get("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH")
    os.environ["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] = str(path)
    # A token without expiry is valid as is: no OAuth refresh leaves the machine.
    messages = GoogleAdsClient(credentials=Credentials(token="t"), use_proto_plus=True)
    fake = FakeGoogleAds(messages)
    server, port = start(fake, key, cert)
    client = GoogleAdsClient(
        credentials=Credentials(token="test-token"),
        developer_token="dev-token",
        endpoint=f"localhost:{port}",
        use_proto_plus=True,
    )
    try:
        yield fake, client
    finally:
        server.stop(None)
        if previous is None:
            os.environ.pop("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", None)
        else:
            os.environ["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] = previous


@pytest.fixture
def fake(google, runtime):
    fake, _ = google
    fake.reset()
    service.set_credentials(
        runtime, WS, "google",
        {"account_id": CUSTOMER, "developer_token": "d", "client_id": "c", "client_secret": "s",
         "refresh_token": "r"},
    )  # fmt: skip
    return fake


@pytest.fixture
def factory(google):
    _, client = google

    def make(runtime, platform, account):
        assert platform == "google" and account["account_id"] == CUSTOMER
        return GoogleAdapter(client, account["account_id"])

    return make


def run(runtime, factory, payload, retry=0):
    return handle_task(runtime, payload, task_ctx(retry), adapter_factory=factory)


def test_mutate_chain(runtime, opening, fake, factory):
    cid = make_campaign(runtime, opening, ["google"])
    payload = runtime.enqueuer.tasks[-1].payload
    result, status = run(runtime, factory, payload)
    assert (status, result["outcome"]) == (200, "published"), result

    budget = fake.mutations("MutateCampaignBudgets")[0]
    assert budget.customer_id == CUSTOMER
    assert budget.operations[0].create.amount_micros == 40_000_000
    campaign = fake.mutations("MutateCampaigns")[0].operations[0].create
    assert campaign.campaign_budget.startswith(f"customers/{CUSTOMER}/campaignBudgets/")
    assert campaign.advertising_channel_type.name == "SEARCH"
    assert campaign.status.name == "PAUSED"
    assert (
        campaign.contains_eu_political_advertising.name
        == "DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING"
    )
    criteria = fake.mutations("MutateCampaignCriteria")[0].operations
    # Location only: no age, gender, parental status, income or postal-code criteria.
    assert [op.create.location.geo_target_constant for op in criteria] == [
        "geoTargetConstants/1026201"
    ]
    assert all(op.create._pb.WhichOneof("criterion") == "location" for op in criteria)
    keywords = fake.mutations("MutateAdGroupCriteria")[0].operations
    assert sorted(op.create.keyword.text for op in keywords) == ["data engineer jobs", "spark jobs"]
    assert {op.create.keyword.match_type.name for op in keywords} == {"PHRASE"}
    ad = fake.mutations("MutateAdGroupAds")[0].operations[0].create
    assert ad.ad.final_urls == ["https://jobs.example.com/de"]
    rsa = ad.ad.responsive_search_ad
    assert len(rsa.headlines) >= 3 and all(len(h.text) <= 30 for h in rsa.headlines)
    assert len(rsa.descriptions) >= 2
    # Enabled last, once every object exists.
    enable = fake.mutations("MutateCampaigns")[-1].operations[0]
    assert enable.update.status.name == "ENABLED" and list(enable.update_mask.paths) == ["status"]

    got = service.get_campaign(runtime, WS, cid)
    assert got["status"] == "active"
    pub = got["publications"]["google"]
    assert pub["ext_campaign"].startswith(f"customers/{CUSTOMER}/campaigns/")
    assert pub["ext_ad"].startswith(f"customers/{CUSTOMER}/adGroupAds/")


def test_resource_exhausted_defers_with_the_retry_delay(runtime, opening, fake, factory, clock):
    cid = make_campaign(runtime, opening, ["google"])
    payload = runtime.enqueuer.tasks[-1].payload
    fake.fail_next("MutateAdGroups", Failure(grpc.StatusCode.RESOURCE_EXHAUSTED, retry_seconds=42))
    result, status = run(runtime, factory, payload)
    assert (status, result["outcome"]) == (200, "deferred")
    retry = runtime.enqueuer.tasks[-1]
    assert (retry.schedule_time - clock.now()).total_seconds() == 42
    assert retry.payload == payload
    pub = service.get_campaign(runtime, WS, cid)["publications"]["google"]
    assert pub["status"] == "deferred" and "ext_ad_group" not in pub and pub["ext_geo"]

    clock.advance(42)
    result, _ = run(runtime, factory, retry.payload)
    assert result["outcome"] == "published"
    assert len(fake.mutations("MutateCampaignBudgets")) == 1
    assert len([m for m in fake.mutations("MutateCampaigns") if m.operations[0].create.name]) == 1
    assert len(fake.mutations("MutateAdGroups")) == 2  # the refused one and the retry


def test_resume_after_unknown_outcome_creates_no_second_campaign(runtime, opening, fake, factory):
    cid = make_campaign(runtime, opening, ["google"])
    payload = runtime.enqueuer.tasks[-1].payload
    # The campaign is created on Google but the answer is lost (connection dropped).
    fake.fail_next("MutateCampaigns", Failure(grpc.StatusCode.UNAVAILABLE, after_apply=True))
    result, status = run(runtime, factory, payload)
    assert status == 503 and result["retry"]
    pub = service.get_campaign(runtime, WS, cid)["publications"]["google"]
    assert pub["ext_budget"] and "ext_campaign" not in pub

    result, status = run(runtime, factory, payload, retry=1)
    assert (status, result["outcome"]) == (200, "published"), result
    creates = [m for m in fake.mutations("MutateCampaigns") if m.operations[0].create.name]
    assert len(creates) == 1  # looked up by its deterministic name instead
    searches = [r.query for m, r in fake.calls if m == "Search"]
    assert any("FROM campaign WHERE campaign.name = " in q for q in searches)
    live = [rn for rn, o in fake.objects.items() if o["collection"] == "campaigns"]
    assert (
        service.get_campaign(runtime, WS, cid)["publications"]["google"]["ext_campaign"] == live[0]
    )


def test_pause_archive_and_insights(runtime, opening, fake, factory):
    from shared.metrics.ads_tasks import insights_payload

    cid = make_campaign(runtime, opening, ["google"])
    run(runtime, factory, runtime.enqueuer.tasks[-1].payload)
    service.pause_campaign(runtime, WS, cid)
    result, _ = run(runtime, factory, runtime.enqueuer.tasks[-1].payload)
    assert result["outcome"] == "synced"
    assert fake.mutations("MutateCampaigns")[-1].operations[0].update.status.name == "PAUSED"
    result, _ = run(runtime, factory, insights_payload(WS, cid, "2026-01-04"))
    assert result["rows"] == 1
    doc = runtime.db.collection("ad_insights").document(f"{cid}__google__2026-01-04").get()
    assert doc.get("impressions") == 2000 and doc.get("spend") == 37.5
    query = next(r.query for m, r in fake.calls if m == "Search" and "metrics." in r.query)
    assert "segments.date BETWEEN '2026-01-04' AND '2026-01-04'" in query
    service.archive_campaign(runtime, WS, cid)
    run(runtime, factory, runtime.enqueuer.tasks[-1].payload)
    removed = fake.mutations("MutateCampaigns")[-1].operations[0]
    assert (
        removed.remove
        == service.get_campaign(runtime, WS, cid)["publications"]["google"]["ext_campaign"]
    )
