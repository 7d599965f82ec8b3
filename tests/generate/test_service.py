"""Generation end to end on Firestore: offline drafts, approval, images, trends, and a
generated image that goes out through post_tweet's X media upload."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
import responses
from PIL import Image

from shared import media
from shared.errors import NotFound, ValidationError
from shared.generate.service import GenerateRequest, generate
from shared.generate.usage import get_usage
from shared.text import weighted_length
from shared.x import service as xs
from shared.x import worker
from tests.generate.conftest import World
from tests.generate.gemini_fake import FakeGemini, posts_answer

MEDIA_API = "https://api.x.com/2/media/upload"
TWEETS = "https://api.twitter.com/2/tweets"


def test_offline_week_of_drafts_is_labelled_diverse_and_fits(world: World) -> None:
    cid = world.campaign()
    out = generate(world.runtime, GenerateRequest(world.workspace_id, cid, count=7))
    assert out.generator == "offline" and out.usage.requests == 0
    assert len(out.drafts) == 7
    topics = [d["topic"] for d in out.drafts]
    # Priorities Bitcoin 2, Lightning 1, Nostr 1: 7 posts -> 3 / 2 / 2, no topic twice
    # in a row while another of its weight waits.
    assert sorted(topics) == sorted(["Bitcoin"] * 3 + ["Lightning Network"] * 2 + ["Nostr"] * 2)
    for d in out.drafts:
        assert d["generator"] == "offline" and d["source"] == "generated"
        assert d["status"] == "draft" and d["campaign_id"] == cid
        assert weighted_length(d["text"]) <= 280 and d["text"].count("#") == 2
        assert d["media"] == [] and d["sandbox"] is True
    # Stored for the X pipeline to validate: every draft passes its checks.
    for d in out.drafts:
        assert xs.validate_post(world.runtime, world.workspace_id, d["id"])["ok"]
    # Offline writes cost nothing: no usage is counted.
    assert get_usage(world.runtime.db, world.workspace_id)["requests"] == 0


def test_offline_generation_is_deterministic_and_never_repeats_itself(
    world: World, runtime: Any
) -> None:
    cid = world.campaign()
    texts = []
    for _ in range(6):
        texts += [
            d["text"]
            for d in generate(runtime, GenerateRequest(world.workspace_id, cid, count=5)).drafts
        ]
    assert len(texts) == 30 and len(set(texts)) == 30


def test_campaign_without_approval_gets_approved_drafts(world: World) -> None:
    cid = world.campaign(approval_required=False)
    out = generate(world.runtime, GenerateRequest(world.workspace_id, cid, count=2))
    assert [d["status"] for d in out.drafts] == ["approved", "approved"]


def test_hashtags_per_post_is_configurable(world: World) -> None:
    cid = world.campaign(hashtags_per_post=4, hashtags=["#A1", "#B2", "#C3", "#D4", "#E5"])
    out = generate(world.runtime, GenerateRequest(world.workspace_id, cid, count=3))
    assert all(d["text"].split("\n\n")[-1].count("#") == 4 for d in out.drafts)


def test_requests_are_checked(world: World) -> None:
    with pytest.raises(ValidationError) as err:
        GenerateRequest.parse({"workspace_id": "w", "count": 99, "images": "yes"})
    assert set(err.value.details) == {"campaign_id", "count", "images"}
    with pytest.raises(NotFound):
        generate(world.runtime, GenerateRequest("other-ws", world.campaign()))
    no_account = xs.create_campaign(world.runtime, world.workspace_id, name="Loose")
    with pytest.raises(ValidationError, match="has no account"):
        generate(world.runtime, GenerateRequest(world.workspace_id, no_account["id"]))
    with pytest.raises(ValidationError, match="no topic"):
        generate(world.runtime, GenerateRequest(world.workspace_id, world.campaign(), topic="Golf"))


def test_images_are_rendered_stored_and_referenced(world: World) -> None:
    cid = world.campaign(image={"enabled": True, "size": "square", "brand_text": "Sats Daily"})
    out = generate(world.runtime, GenerateRequest(world.workspace_id, cid, count=2))
    for d in out.drafts:
        assert d["image_kind"] == "card" and len(d["media"]) == 1
        data, ctype = media.read(world.runtime, world.workspace_id, d["media"][0])
        image = Image.open(io.BytesIO(data))
        assert ctype == "image/png" and image.format == "PNG" and image.size == (1080, 1080)
        assert len(data) < 5 * 1024 * 1024
    # images=false in the request overrides the campaign.
    out = generate(world.runtime, GenerateRequest(world.workspace_id, cid, images=False))
    assert out.drafts[0]["media"] == []


def test_chart_answer_becomes_a_chart_image(world: World) -> None:
    cid = world.campaign(image={"enabled": True, "kind": "auto"}, topics=["Fees"])
    chart = {"title": "Median fee", "labels": ["Mon", "Tue"], "values": [12, 30]}
    fake = FakeGemini(
        [posts_answer([{"topic": "fees", "text": "Fees fell 60% midweek.", "chart": chart}])]
    )
    out = generate(world.runtime, GenerateRequest(world.workspace_id, cid), fake.writer())
    assert out.drafts[0]["image_kind"] == "chart"
    data, _ = media.read(world.runtime, world.workspace_id, out.drafts[0]["media"][0])
    assert Image.open(io.BytesIO(data)).size == (1600, 900)


def _x_account(runtime: Any, workspace_id: str, monkeypatch: pytest.MonkeyPatch, tier: str) -> str:
    from tests.x.conftest import add_x_account

    monkeypatch.setenv("HERALD_SECRET_X_CONSUMER_KEY", "ck-test")
    monkeypatch.setenv("HERALD_SECRET_X_CONSUMER_SECRET", "cs-test")
    return add_x_account(runtime, workspace_id, tier=tier).id


def test_trends_are_fetched_per_region_cached_and_offered(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = _x_account(world.runtime, world.workspace_id, monkeypatch, "pro")
    cid = world.campaign(account_id=account_id, region="FR")
    fake = FakeGemini(
        [
            posts_answer([{"topic": "bitcoin", "text": "Bonjour, voici les frais du jour."}]),
            posts_answer([{"topic": "bitcoin", "text": "Un bloc toutes les dix minutes."}]),
        ]
    )
    with responses.RequestsMock() as x:
        x.add(
            responses.GET,
            "https://api.twitter.com/2/trends/by/woeid/23424819",
            json={
                "data": [{"trend_name": "#Bitcoin", "tweet_count": 5000}, {"trend_name": "Paris"}]
            },
        )
        generate(world.runtime, GenerateRequest(world.workspace_id, cid), fake.writer())
        generate(world.runtime, GenerateRequest(world.workspace_id, cid), fake.writer())
        assert len(x.calls) == 1  # the second generation used the cache
        assert 'oauth_token="at-test"' in str(x.calls[0].request.headers["Authorization"])
    assert "Trending now in the account's region" in fake.prompt(0)
    assert "#Bitcoin, Paris" in fake.prompt(1)
    cached = world.runtime.db.collection("x_trends").document(account_id).get().to_dict()
    assert cached["status"] == "ok" and cached["woeid"] == 23424819
    assert cached["fetched_at"] == world.runtime.clock.now()


def test_absent_trends_are_not_an_error(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Sandbox account: skipped without a request.
    cid = world.campaign()
    fake = FakeGemini(
        [posts_answer([{"topic": "bitcoin", "text": t}]) for t in ("One", "Two", "Three")]
    )
    generate(world.runtime, GenerateRequest(world.workspace_id, cid), fake.writer())
    doc = world.runtime.db.collection("x_trends").document(world.account_id).get().to_dict()
    assert doc["status"] == "skipped" and "sandbox" in doc["reason"]
    # Basic tier: no trends endpoint, skipped. Pro tier with X failing: recorded, drafts go on.
    basic = _x_account(world.runtime, world.workspace_id, monkeypatch, "basic")
    pro = _x_account(world.runtime, world.workspace_id, monkeypatch, "pro")
    with responses.RequestsMock() as x:
        x.add(responses.GET, "https://api.twitter.com/2/trends/by/woeid/1", status=503, json={})
        out_basic = generate(
            world.runtime,
            GenerateRequest(world.workspace_id, world.campaign(account_id=basic)),
            fake.writer(),
        )
        out_pro = generate(
            world.runtime,
            GenerateRequest(world.workspace_id, world.campaign(account_id=pro)),
            fake.writer(),
        )
        assert len(x.calls) == 1
    assert len(out_basic.drafts) == 1 and len(out_pro.drafts) == 1 and out_pro.trends == []
    docs = world.runtime.db.collection("x_trends")
    assert "tier (basic)" in docs.document(basic).get().to_dict()["reason"]
    failed = docs.document(pro).get().to_dict()
    assert failed["status"] == "error" and "503" in failed["reason"]


def test_generated_image_is_uploaded_through_the_x_media_flow(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.x.client import TweepyX

    runtime = world.runtime
    account_id = _x_account(runtime, world.workspace_id, monkeypatch, "pay_per_use")
    cid = world.campaign(account_id=account_id, approval_required=False, image={"enabled": True})
    draft = generate(runtime, GenerateRequest(world.workspace_id, cid)).drafts[0]
    assert draft["status"] == "approved" and len(draft["media"]) == 1
    png, _ = media.read(runtime, world.workspace_id, draft["media"][0])

    xs.schedule_post(
        runtime, world.workspace_id, draft["id"], due_at=runtime.clock.now() + timedelta(seconds=5)
    )
    task = [t for t in runtime.enqueuer.tasks if t.payload.get("post_id") == draft["id"]][-1]  # type: ignore[attr-defined]
    runtime.clock.advance(5)  # type: ignore[attr-defined]
    with responses.RequestsMock() as x:
        x.add(responses.POST, f"{MEDIA_API}/initialize", json={"data": {"id": "m9"}})
        x.add(responses.POST, f"{MEDIA_API}/m9/append", status=204)
        x.add(responses.POST, f"{MEDIA_API}/m9/finalize", json={"data": {"id": "m9"}})
        x.add(responses.POST, TWEETS, status=201, json={"data": {"id": "77", "text": "ok"}})
        result = worker.handle(
            runtime,
            task.payload,
            api_factory=lambda rt, acct: TweepyX(
                "ck-test", "cs-test", "at-test", "ats-test", acct.x_user_id
            ),
        )
        assert result["result"] == "published"
        init = json.loads(x.calls[0].request.body)
        assert init["media_type"] == "image/png" and init["total_bytes"] == len(png)
        assert png in x.calls[1].request.body  # the PNG itself went up
        tweet = json.loads(x.calls[3].request.body)
    assert tweet == {"text": draft["text"], "media": {"media_ids": ["m9"]}}
