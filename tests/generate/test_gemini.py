"""Generation through google-genai against a scripted Gemini API (httpx2 MockTransport)."""

from __future__ import annotations

import pytest

from shared.errors import ProviderError, RateLimited
from shared.generate.service import GenerateRequest, generate
from shared.generate.usage import get_usage
from shared.text import weighted_length
from shared.x import service as xs
from tests.generate.conftest import World
from tests.generate.gemini_fake import FakeGemini, error_answer, posts_answer


def _posts_for(body: dict) -> tuple[int, object]:
    """Answers whatever topics the prompt lists, one post each."""
    prompt = body["contents"][0]["parts"][0]["text"]
    keys = [line.split("'")[1] for line in prompt.splitlines() if "topic key '" in line]
    return posts_answer(
        [
            {
                "topic": key,
                "text": f"A fresh thought about {key} number {i} with self-custody in mind.",
                "hashtags": ["#Bitcoin", "Sats", "#Extra"],
                "headline": f"On {key}",
            }
            for i, key in enumerate(keys)
        ]
    )


def test_prompt_carries_the_brief_and_schema_is_parsed(world: World) -> None:
    cid = world.campaign()
    fake = FakeGemini([_posts_for])
    out = generate(world.runtime, GenerateRequest(world.workspace_id, cid, count=3), fake.writer())

    assert len(fake.requests) == 1
    assert fake.urls[0].endswith("/models/gemini-2.5-flash:generateContent")
    assert fake.headers[0]["x-goog-api-key"] == "test-key"
    prompt, system = fake.prompt(), fake.system()
    for piece in (
        "Sats Daily",
        "Plain-language notes on Bitcoin, Lightning and Nostr.",
        "curious builders",
        "self-custody, zaps, relays",
        "Follow for a daily note.",
        "https://example.org/learn",
        "#Bitcoin #Lightning #Nostr",
        "exactly 2 hashtags",
        "280 weighted characters",
    ):
        assert piece in prompt, piece
    assert "English" in system and "calm, concrete" in system
    # Topics in rotation order: Bitcoin (priority 2) first, then the others.
    assert "topic key 'bitcoin'" in prompt and "topic key 'nostr'" in prompt
    config = fake.requests[0]["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    item = config["responseSchema"]["properties"]["posts"]["items"]
    assert set(item["required"]) == {"topic", "text"}

    assert out.generator == "gemini" and len(out.drafts) == 3
    for draft in out.drafts:
        assert draft["generator"] == "gemini" and draft["model"] == "gemini-2.5-flash"
        assert draft["source"] == "generated" and draft["status"] == "draft"
        assert draft["text"].endswith("#Bitcoin #Sats")  # 2 hashtags kept of 3
        assert draft["headline"].startswith("On ")
    assert get_usage(world.runtime.db, world.workspace_id) == {
        "requests": 1,
        "prompt_tokens": 120,
        "output_tokens": 80,
        "total_tokens": 200,
    }


def test_over_length_answer_is_asked_again_then_trimmed(world: World) -> None:
    cid = world.campaign(topics=["Bitcoin"], topic_priorities={})
    long_text = "Bitcoin " * 60 + "https://example.org/learn"
    fake = FakeGemini(
        [
            posts_answer([{"topic": "bitcoin", "text": long_text, "hashtags": ["#Bitcoin"]}]),
            posts_answer(
                [
                    {
                        "topic": "bitcoin",
                        "hashtags": ["#Bitcoin"],
                        "text": "Short: self-custody first. https://example.org/learn",
                    }
                ]
            ),
            posts_answer(
                [
                    {
                        "topic": "bitcoin",
                        "text": "Lightning " * 50 + "https://example.org/x",
                        "hashtags": ["#Lightning"],
                    }
                ]
            ),
            posts_answer([{"topic": "bitcoin", "text": "Zaps " * 70, "hashtags": ["#Zaps"]}]),
        ]
    )
    writer = fake.writer()
    first = generate(world.runtime, GenerateRequest(world.workspace_id, cid), writer)
    assert len(fake.requests) == 2
    assert "the limit is 280" in fake.prompt(1) and "Rewrite it shorter" in fake.prompt(1)
    assert (
        first.drafts[0]["text"]
        == "Short: self-custody first. https://example.org/learn\n\n#Bitcoin"
    )

    # The second answer is long and its rewrite drops the link: the original is trimmed,
    # never stored over the limit, and the link survives.
    second = generate(world.runtime, GenerateRequest(world.workspace_id, cid), writer)
    text = second.drafts[0]["text"]
    assert weighted_length(text) <= 280 and "https://example.org/x" in text and "…" in text
    assert get_usage(world.runtime.db, world.workspace_id)["requests"] == 4


def test_429_is_retried_with_backoff(world: World) -> None:
    cid = world.campaign()
    fake = FakeGemini([error_answer(429), error_answer(503), _posts_for])
    out = generate(world.runtime, GenerateRequest(world.workspace_id, cid, count=2), fake.writer())
    assert len(fake.requests) == 3 and len(out.drafts) == 2
    assert fake.requests[0] == fake.requests[2]  # the same request, sent again


def test_persistent_429_is_a_clear_rate_limit_and_nothing_is_stored(world: World) -> None:
    cid = world.campaign()
    fake = FakeGemini([error_answer(429)] * 3)
    with pytest.raises(RateLimited, match="rate limiting"):
        generate(world.runtime, GenerateRequest(world.workspace_id, cid), fake.writer(attempts=3))
    assert len(fake.requests) == 3
    assert xs.list_posts(world.runtime, world.workspace_id)["items"] == []


def test_non_json_answer_is_a_provider_error(world: World) -> None:
    cid = world.campaign()
    bad = (200, {"candidates": [{"content": {"role": "model", "parts": [{"text": "Sure! Here"}]}}]})
    fake = FakeGemini([bad])
    with pytest.raises(ProviderError, match="requested JSON"):
        generate(world.runtime, GenerateRequest(world.workspace_id, cid), fake.writer())


def test_near_duplicate_answers_are_rejected_and_asked_again(world: World) -> None:
    cid = world.campaign(topics=["Bitcoin"], topic_priorities={})
    xs.create_post(
        world.runtime,
        world.workspace_id,
        account_id=world.account_id,
        text="Self-custody means you hold the keys, so nobody can freeze your savings. #Bitcoin",
    )
    same = {
        "topic": "bitcoin",
        "hashtags": ["#Sats"],
        "text": "Self-custody means YOU hold the keys, so nobody can freeze your savings!",
    }
    fresh = {
        "topic": "bitcoin",
        "hashtags": ["#Sats"],
        "text": "Blocks arrive about every ten minutes; patience is part of the design.",
    }
    fake = FakeGemini([posts_answer([same]), posts_answer([fresh])])
    out = generate(world.runtime, GenerateRequest(world.workspace_id, cid), fake.writer())
    assert [r["reason"] for r in out.rejected] == ["near_duplicate"]
    assert out.rejected[0]["similarity"] >= 0.5
    assert len(out.drafts) == 1 and out.drafts[0]["text"].startswith("Blocks arrive")
    assert "Self-custody means you hold the keys" in fake.prompt(1)  # shown as recent
