"""A campaign that posts to several networks: its `channels` decide where generated
drafts and autopilot's plan go (one post group per draft, within the strictest limit),
a group holds one slot of the plan, and an account that cannot post any more is
skipped with the reason noted (a channel) or stops generation with a clear error (the
campaign's own account)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.channels.rules import graphemes
from shared.errors import NotFound, ValidationError
from shared.generate import autopilot
from shared.generate.brief import Autopilot
from shared.generate.service import GenerateRequest, generate
from shared.text import weighted_length
from shared.x import service as xs
from shared.x.models import POSTS
from tests.generate.conftest import World
from tests.generate.gemini_fake import FakeGemini, posts_answer
from tests.generate.test_channels import PROSE, FixedWriter

AUTO = {"enabled": True, "days_ahead": 3, "posts_per_day": 2, "post_times": ["09:00", "18:00"]}


def _account(world: World, network: str, handle: str = "") -> str:
    account = xs.create_sandbox_account(
        world.runtime, world.workspace_id, handle=handle or f"camp-{network}", network=network
    )
    return str(account["id"])


def test_a_group_at_one_slot_is_one_post_of_the_plan() -> None:
    """Three networks' posts of one group at Tuesday 09:00 hold that slot only: Tuesday
    18:00 is still planned (counted per post, the day looked full)."""
    now = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # Mon 09:00 Paris
    plan = Autopilot(enabled=True, days_ahead=2, posts_per_day=2, post_times=("09:00", "18:00"))
    tuesday_9 = datetime(2026, 1, 6, 8, 0, tzinfo=UTC)
    group = [
        {"due_at": tuesday_9, "status": "scheduled", "group_id": "g1", "network": n}
        for n in ("x", "bluesky", "mastodon")
    ]
    slots = autopilot.plan_slots(plan, "Europe/Paris", now, group)
    assert slots == [
        datetime(2026, 1, 5, 17, 0, tzinfo=UTC),
        datetime(2026, 1, 6, 17, 0, tzinfo=UTC),  # Tue 18:00: the group is one post
    ]
    # Two different groups on Tuesday fill it; a cancelled member does not free its slot
    # while the group's other posts stand.
    other = [
        {"due_at": datetime(2026, 1, 6, 17, 0, tzinfo=UTC), "status": "draft", "group_id": "g2"}
    ]
    gone = [{"due_at": tuesday_9, "status": "cancelled", "group_id": "g1"}]
    full = autopilot.plan_slots(plan, "Europe/Paris", now, [*gone, *group, *other])
    assert full == [datetime(2026, 1, 5, 17, 0, tzinfo=UTC)]


def test_the_campaign_channels_are_where_drafts_go_by_default(world: World) -> None:
    sky, toot = _account(world, "bluesky"), _account(world, "mastodon")
    cid = world.campaign(channels=[sky, toot, sky], approval_required=False)
    assert xs.get_campaign(world.runtime, world.workspace_id, cid)["channels"] == [sky, toot]
    writer = FixedWriter("Zaps ⚡ " * 60)
    out = generate(world.runtime, GenerateRequest(world.workspace_id, cid, count=1), writer)
    [draft] = out.drafts
    assert {p["network"] for p in draft["channels"]} == {"x", "bluesky", "mastodon"}
    assert weighted_length(draft["text"]) <= 280
    # The caller may narrow it: [] is the campaign's account alone.
    alone = generate(
        world.runtime,
        GenerateRequest(world.workspace_id, cid, count=1, channels=()),
        FixedWriter(PROSE),
    )
    assert alone.drafts[0].get("group_id") is None and "channels" not in alone.drafts[0]


def test_autopilot_plans_one_group_per_slot_for_every_channel(world: World) -> None:
    runtime = world.runtime
    sky, toot = _account(world, "bluesky"), _account(world, "mastodon")
    cid = world.campaign(autopilot=AUTO, approval_required=False, channels=[sky, toot])
    result = autopilot.run(runtime, world.workspace_id, cid, "20260105T09")
    # Mon 10:00 Paris: Mon 18:00, Tue and Wed 09:00 + 18:00.
    assert result["status"] == "planned" and result["slots"] == 5
    assert len(result["drafts"]) == 5
    for draft in result["drafts"]:
        channels = draft["channels"]
        assert {p["network"] for p in channels} == {"x", "bluesky", "mastodon"}
        assert {p["status"] for p in channels} == {"scheduled"}
        assert {p["due_at"] for p in channels} == {draft["due_at"]}
    posts = [s.to_dict() for s in runtime.db.collection(POSTS).stream()]
    assert len(posts) == 15
    # Next hour: 15 posts, 5 groups, every slot held; nothing more is planned.
    runtime.clock.advance(hours=1)  # type: ignore[attr-defined]
    later = autopilot.run(runtime, world.workspace_id, cid, "20260105T10")
    assert later["slots"] == 0 and later["drafts"] == []


def test_a_disconnected_channel_is_skipped_with_its_reason(world: World) -> None:
    runtime = world.runtime
    sky, toot = _account(world, "bluesky"), _account(world, "mastodon")
    cid = world.campaign(autopilot=AUTO, approval_required=False, channels=[sky, toot])
    xs.delete_account(runtime, world.workspace_id, sky)  # disconnect
    result = autopilot.run(runtime, world.workspace_id, cid, "20260105T09")
    assert result["status"] == "planned" and len(result["drafts"]) == 5
    assert {p["network"] for p in result["drafts"][0]["channels"]} == {"x", "mastodon"}
    note = runtime.db.collection("campaigns").document(cid).get().to_dict()["autopilot_last_run"]
    [skipped] = note["skipped_channels"]
    assert skipped["account_id"] == sky and skipped["network"] == "bluesky"
    assert "disconnected" in skipped["reason"]
    # The campaign keeps the channel (reconnecting brings it back) and still saves.
    xs.update_campaign(runtime, world.workspace_id, cid, {"name": "Sats Weekly"})
    assert xs.get_campaign(runtime, world.workspace_id, cid)["channels"] == [sky, toot]
    # Chosen explicitly, the same account is an error, not a silent omission.
    with pytest.raises(ValidationError, match="disconnected"):
        generate(
            runtime,
            GenerateRequest(world.workspace_id, cid, count=1, channels=(sky,)),
            FixedWriter(PROSE),
        )


def test_a_disconnected_campaign_account_stops_generation_clearly(world: World) -> None:
    runtime = world.runtime
    cid = world.campaign(autopilot=AUTO)
    xs.delete_account(runtime, world.workspace_id, world.account_id)
    with pytest.raises(ValidationError, match="sats_daily is disconnected"):
        generate(runtime, GenerateRequest(world.workspace_id, cid, count=1), FixedWriter(PROSE))
    result = autopilot.run(runtime, world.workspace_id, cid, "k1")
    assert result["status"] == "failed" and "disconnected" in result["reason"]
    assert runtime.db.collection(POSTS).limit(1).get() == []  # no draft that cannot go out


def test_campaign_channels_are_checked_when_saved(world: World) -> None:
    runtime, ws = world.runtime, world.workspace_id
    sky = _account(world, "bluesky")
    cid = world.campaign(channels=[world.account_id, sky])  # its own account is dropped
    assert xs.get_campaign(runtime, ws, cid)["channels"] == [sky]
    with pytest.raises(NotFound):
        xs.update_campaign(runtime, ws, cid, {"channels": ["no-such-account"]})
    many = [_account(world, "mastodon", f"m{i}") for i in range(10)]
    with pytest.raises(ValidationError, match="at most 10 channels"):
        xs.update_campaign(runtime, ws, cid, {"channels": many})
    toot = many[0]
    xs.delete_account(runtime, ws, toot)
    with pytest.raises(ValidationError, match="disconnected: reconnect it"):
        xs.update_campaign(runtime, ws, cid, {"channels": [sky, toot]})
    # Making a channel the campaign's account takes it out of the channels.
    changed = xs.update_campaign(runtime, ws, cid, {"account_id": sky})
    assert changed["account_id"] == sky and changed["channels"] == []


def test_gemini_is_told_each_networks_count_and_its_draft_fits_the_strictest(
    world: World,
) -> None:
    """A Bluesky campaign that also posts to Mastodon: Gemini (scripted, over HTTP) is
    asked for 300 with how each network counts; its answer with a long link is cut to
    Bluesky's graphemes and stored for both networks."""
    sky, toot = _account(world, "bluesky"), _account(world, "mastodon")
    cid = world.campaign(account_id=sky, channels=[toot], topics=["Lightning"])
    link = "https://example.org/learn/" + "deep-dive-" * 15
    long_text = " ".join(["Lightning channels settle instantly."] * 8) + " " + link
    fake = FakeGemini(
        [
            posts_answer([{"topic": "lightning", "text": long_text, "hashtags": ["#Zaps"]}]),
            posts_answer([{"topic": "lightning", "text": long_text, "hashtags": ["#Zaps"]}]),
        ]
    )
    out = generate(world.runtime, GenerateRequest(world.workspace_id, cid), fake.writer())
    prompt = fake.prompt()
    assert "must fit 300 weighted characters" in prompt
    assert "Bluesky allows 300 and counts every character of a link" in prompt
    assert "Mastodon allows 500 and counts every link as 23" in prompt
    assert "X counts" not in prompt  # no X account among the channels
    assert "the limit is 300" in fake.prompt(1)  # the re-ask for a shorter one
    [draft] = out.drafts
    assert link in draft["text"] and graphemes(draft["text"]) <= 300
    assert sorted(p["network"] for p in draft["channels"]) == ["bluesky", "mastodon"]
