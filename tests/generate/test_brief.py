"""The brief as generation reads it: defaults, validation, topic priorities."""

from __future__ import annotations

import pytest

from shared.errors import ValidationError
from shared.generate.brief import DEFAULT_HASHTAGS_PER_POST, Brief, normalize_hashtag


def test_defaults_follow_what_works_on_x() -> None:
    brief = Brief.from_campaign({"id": "c", "workspace_id": "w", "name": "Launch"})
    assert brief.hashtags_per_post == DEFAULT_HASHTAGS_PER_POST == 2
    assert brief.approval_required is True
    assert [t.name for t in brief.topics] == ["Launch"]  # no topics: the name is one
    assert brief.image.enabled is False and brief.image.dimensions == (1600, 900)


def test_topics_priorities_hashtags_and_autopilot_are_read() -> None:
    brief = Brief.from_campaign(
        {
            "id": "c",
            "workspace_id": "w",
            "name": "Sats",
            "topics": ["Bitcoin", {"name": "Nostr", "priority": 3}, "bitcoin"],
            "topic_priorities": {"Bitcoin": 5},
            "hashtags": ["bitcoin", "#Light ning", "#2024", ""],
            "hashtags_per_post": 15,
            "approval_required": False,
            "autopilot": {"enabled": True, "days_ahead": 3, "posts_per_day": 2},
            "image": {
                "enabled": True,
                "size": "square",
                "palette": ["#000000", "#FFFFFF", "#FF9900"],
            },
        }
    )
    assert [(t.name, t.priority) for t in brief.topics] == [("Bitcoin", 5), ("Nostr", 3)]
    assert brief.hashtags == ("#bitcoin", "#Lightning")
    assert brief.hashtags_per_post == 15 and brief.approval_required is False
    assert brief.autopilot.times() == ("09:00", "21:00")
    assert brief.image.dimensions == (1080, 1080) and brief.image.brand_text == "Sats"


def test_unusable_briefs_are_refused_with_each_problem() -> None:
    with pytest.raises(ValidationError) as err:
        Brief.from_campaign(
            {
                "name": "",
                "hashtags_per_post": 99,
                "links": ["ftp://x"],
                "autopilot": {"post_times": ["25:00"]},
                "image": {"palette": ["red"]},
            }
        )
    assert set(err.value.details) == {
        "name",
        "hashtags_per_post",
        "links",
        "autopilot.post_times",
        "image.palette",
    }


def test_hashtag_normalization() -> None:
    assert normalize_hashtag(" #Bit coin ") == "#Bitcoin"
    assert normalize_hashtag("日本") == "#日本"
    assert normalize_hashtag("#123") == ""
