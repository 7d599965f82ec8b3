"""Series on any network and on several at once: each text is checked against every
channel's own rules (Bluesky's 300 graphemes, a Mastodon instance's limit), and every
occurrence is one post group; a channel that can no longer post is left out of later
occurrences with the reason on the series, the others still go out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.errors import ValidationError
from shared.x import service
from shared.x.models import POSTS

LINK = "https://example.org/notes/" + "long-path-" * 12  # 146 characters; 23 on X/Mastodon


def _series(runtime, clock, account_id: str, texts: list[str], **kw: object) -> dict:
    return service.create_series(
        runtime,
        "ws1",
        name="notes",
        account_id=account_id,
        texts=texts,
        start_at=clock.now() + timedelta(hours=1),
        every="daily",
        end_at=clock.now() + timedelta(days=3),
        **kw,  # type: ignore[arg-type]
    )


def test_a_series_text_is_checked_against_every_channel(runtime, clock) -> None:
    x = service.create_sandbox_account(runtime, "ws1", handle="notes")
    sky = service.create_sandbox_account(runtime, "ws1", handle="notes.bsky", network="bluesky")
    toot = service.create_sandbox_account(
        runtime, "ws1", handle="notes@social", network="mastodon", limits={"weighted_length": 400}
    )
    prose = "Weekly notes on self-custody. " * 5  # 150 characters
    ok_on_x = prose + LINK  # X counts 173; Bluesky 296 graphemes
    too_long = prose + "More on it: " + LINK  # X 185; Bluesky over 300
    with pytest.raises(ValidationError, match=r"text 2 \(Bluesky @notes.bsky\)") as err:
        _series(runtime, clock, x["id"], [ok_on_x, too_long], channels=[sky["id"], toot["id"]])
    assert err.value.details["account_id"] == sky["id"]
    # Alone on X it is fine; on a Mastodon instance of 400 a 450-character text is not.
    _series(runtime, clock, x["id"], [too_long])
    with pytest.raises(ValidationError, match="limit is 400"):
        _series(runtime, clock, toot["id"], ["word " * 90])
    assert [s["account_id"] for s in service.list_series(runtime, "ws1")["items"]] == [x["id"]]


def test_each_occurrence_is_a_group_and_a_disconnected_channel_is_left_out(runtime, clock) -> None:
    from shared.x.series import materialize_due

    sky = service.create_sandbox_account(runtime, "ws1", handle="notes.bsky", network="bluesky")
    toot = service.create_sandbox_account(runtime, "ws1", handle="notes@s", network="mastodon")
    series = _series(
        runtime, clock, sky["id"], ["Tip one", "Tip two"], channels=[toot["id"], sky["id"]]
    )
    assert series["channels"] == [toot["id"]]
    [first, second] = series["posts"]  # the first occurrence, on both networks
    assert first["group_id"] == second["group_id"] is not None
    assert {first["network"], second["network"]} == {"bluesky", "mastodon"}
    assert {first["status"], second["status"]} <= {"scheduled", "queued"}
    service.delete_account(runtime, "ws1", toot["id"])
    clock.advance(days=1)
    materialize_due(runtime)
    posts = [s.to_dict() for s in runtime.db.collection(POSTS).stream()]
    later = [p for p in posts if p["group_id"] != first["group_id"]]
    assert [p["network"] for p in later] == ["bluesky"] and later[0]["status"] in (
        "scheduled",
        "queued",
    )
    stored = service.get_series(runtime, "ws1", series["id"])
    assert "@notes@s is disconnected: left out" in stored["last_error"]["reason"]
