"""Fitting drafts to X's weighted length, near-duplicates, and the offline writer."""

from __future__ import annotations

import random

from shared.generate.brief import Brief
from shared.generate.dedupe import DuplicateIndex, jaccard, shingles
from shared.generate.drafting import Candidate, Slot, WriteContext, fit
from shared.generate.offline import OfflineWriter
from shared.text import validate_tweet, weighted_length

LINK = "https://example.org/a/very/long/path/that/x/counts/as/twenty-three"


def test_fit_drops_surplus_hashtags_before_words() -> None:
    body = "word " * 45 + LINK  # 45*5 + 23 = 248
    tags = ["#One", "#Two", "#Three", "#Four", "#Five", "#Six", "#Seven"]
    text = fit(Candidate("t", body.strip(), tags), 280)
    assert text is not None and weighted_length(text) <= 280
    assert text.startswith(body.strip()) and LINK in text  # body intact
    assert "#One" in text and "#Seven" not in text


def test_fit_cuts_words_but_never_links() -> None:
    body = "Lightning " * 40 + LINK + " and more words after the link"
    text = fit(Candidate("t", body, ["#Lightning"]), 280)
    assert text is not None and weighted_length(text) <= 280
    assert LINK in text and "…" in text and text.endswith("#Lightning")


def test_fit_gives_up_when_only_links_remain() -> None:
    links = " ".join([LINK] * 13)  # 13 links * 23 + spaces > 280
    assert fit(Candidate("t", links, []), 280) is None


def test_cjk_and_emoji_are_counted_as_x_counts_them() -> None:
    body = "比特币" * 100  # 300 CJK characters weigh 600
    text = fit(Candidate("t", body + " tail", ["#比特币"]), 280)
    assert text is not None and weighted_length(text) <= 280 and validate_tweet(text) is None


def test_near_duplicates_are_found_whatever_the_hashtags_links_and_case() -> None:
    original = "Lightning payments settle in seconds, and fees stay tiny. Try a wallet today."
    index = DuplicateIndex([original])
    assert index.is_duplicate(
        "lightning payments settle in SECONDS, and fees stay tiny! Try a wallet today "
        "#Bitcoin https://example.org"
    )
    assert not index.is_duplicate("Nostr relays carry notes between people without a company.")
    assert jaccard(shingles("a b c d"), shingles("a b c d")) == 1.0


def _brief(**extra: object) -> Brief:
    return Brief.from_campaign(
        {
            "id": "camp-1",
            "workspace_id": "w",
            "name": "Sats Daily",
            "keywords": ["self-custody", "zaps", "relays"],
            "hashtags": ["#Bitcoin", "#Lightning", "#Nostr"],
            "topics": ["Bitcoin", "Lightning Network", "Nostr"],
            "audience": "curious builders",
            "call_to_action": "Follow for a daily note.",
            "links": [LINK],
            **extra,
        }
    )


def test_offline_writer_is_deterministic_labelled_and_within_length() -> None:
    brief = _brief()
    writer = OfflineWriter()
    slots = [Slot(t, seq, 3 * seq + i) for seq in range(12) for i, t in enumerate(brief.topics)]
    first = writer.write(brief, slots, WriteContext(280)).candidates
    again = OfflineWriter().write(brief, slots, WriteContext(280)).candidates
    assert [c.text() for c in first] == [c.text() for c in again]
    assert writer.name == "offline"
    for c in first:
        text = fit(c, 280)
        assert text is not None and validate_tweet(text, 280) is None
        assert len(c.hashtags) == 2  # the default
    # Eight successive drafts never repeat each other; over 36 the templates may
    # collide now and then (the service rejects those and asks again).
    index = DuplicateIndex(boilerplate=[brief.call_to_action])
    collisions = 0
    for i, c in enumerate(first):
        if i % 8 == 0:
            index = DuplicateIndex(boilerplate=[brief.call_to_action])
        collisions += index.is_duplicate(c.text())
        index.add(c.text())
    assert collisions == 0


def test_offline_writer_honours_hashtag_count_and_language() -> None:
    brief = _brief(hashtags_per_post=3, language="fr")
    cand = OfflineWriter().write(brief, [Slot(brief.topics[2], 0)], WriteContext(280)).candidates[0]
    assert len(cand.hashtags) == 3 and cand.hashtags[0] == "#Nostr"
    assert any(w in cand.body for w in ("Nostr :", "Nostr ?", "sur Nostr", "Où va Nostr"))


def test_offline_drafts_fit_a_tight_limit_for_random_briefs() -> None:
    rng = random.Random(7)
    for i in range(30):
        words = [rng.choice(["alpha", "βeta", "ガンマ", "delta", "🙂"]) for _ in range(8)]
        brief = _brief(
            call_to_action=" ".join(words * rng.randint(1, 6)), hashtags_per_post=rng.randint(0, 6)
        )
        for c in (
            OfflineWriter()
            .write(brief, [Slot(brief.topics[i % 3], i)], WriteContext(200))
            .candidates
        ):
            text = fit(c, 200, min_hashtags=1 if brief.hashtags_per_post else 0)
            assert text is not None and weighted_length(text) <= 200
