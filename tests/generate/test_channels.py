"""Generation for several channels: each draft fits every selected network as that
network counts it (the strictest decides, and which one is strictest depends on the
text), and is stored as a post group, one post per channel."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.channels.rules import graphemes, mastodon_length
from shared.generate.brief import Brief
from shared.generate.drafting import Candidate, Slot, WriteContext, WriteResult
from shared.generate.service import GenerateRequest, generate
from shared.text import weighted_length
from shared.x import service as xs
from tests.generate.conftest import World

LINK = "https://example.org/learn/" + "deep-dive-" * 15  # 175 characters: X counts 23
PROSE = " ".join(["Lightning channels settle instantly and cost a fraction of a cent."] * 4)


@dataclass
class FixedWriter:
    """Proposes the same long body for every slot; cannot shorten (so the text is cut)."""

    body: str
    name: str = "offline"
    limits_seen: list[int] = field(default_factory=list)

    def write(self, brief: Brief, slots: list[Slot], ctx: WriteContext) -> WriteResult:
        self.limits_seen.append(ctx.limit)
        return WriteResult([Candidate(s.topic.key, self.body, ["#Lightning"]) for s in slots])

    def shorten(
        self, brief: Brief, candidate: Candidate, length: int, ctx: WriteContext
    ) -> WriteResult:
        return WriteResult([])


def _account(world: World, network: str) -> str:
    account = xs.create_sandbox_account(
        world.runtime, world.workspace_id, handle=f"gen-{network}", network=network
    )
    return str(account["id"])


def test_a_long_link_makes_bluesky_the_strictest_and_each_channel_gets_the_draft(
    world: World,
) -> None:
    """X counts the link as 23, Bluesky every one of its 175 graphemes: the draft is cut
    to Bluesky's 300 although X alone would have taken a longer one."""
    sky, toot = _account(world, "bluesky"), _account(world, "mastodon")
    cid = world.campaign(approval_required=False)
    writer = FixedWriter(f"{PROSE} {LINK}")
    req = GenerateRequest(world.workspace_id, cid, count=1, channels=(sky, toot))
    out = generate(world.runtime, req, writer)
    assert writer.limits_seen == [280]  # the smallest limit is what the writer is told
    [draft] = out.drafts
    text = draft["text"]
    assert LINK in text  # never cut
    assert graphemes(text) <= 300 < graphemes(text) + len(PROSE) // 4
    assert weighted_length(text) <= 280 and mastodon_length(text) <= 500
    channels = {p["network"]: p for p in draft["channels"]}
    assert set(channels) == {"x", "bluesky", "mastodon"}
    assert {p["group_id"] for p in channels.values()} == {draft["group_id"]}
    assert all(p["text"] == text and p["status"] == "approved" for p in channels.values())
    for p in channels.values():
        assert xs.validate_post(world.runtime, world.workspace_id, p["id"])["ok"]


def test_emoji_make_x_the_strictest(world: World) -> None:
    """Emoji weigh 2 on X and one grapheme on Bluesky: X's 280 decides."""
    sky = _account(world, "bluesky")
    cid = world.campaign()
    writer = FixedWriter("Zaps ⚡ " * 60)
    out = generate(
        world.runtime, GenerateRequest(world.workspace_id, cid, count=1, channels=(sky,)), writer
    )
    [draft] = out.drafts
    assert weighted_length(draft["text"]) <= 280
    assert graphemes(draft["text"]) < 280  # within Bluesky's 300 with room to spare
    assert [p["status"] for p in draft["channels"]] == ["draft", "draft"]


def test_one_channel_writes_to_its_own_network_limit(world: World) -> None:
    """A campaign on a Mastodon account alone: its 500, not X's 280."""
    toot = _account(world, "mastodon")
    cid = world.campaign(account_id=toot)
    writer = FixedWriter(PROSE + " " + PROSE)
    out = generate(world.runtime, GenerateRequest(world.workspace_id, cid, count=1), writer)
    assert writer.limits_seen == [500]
    [draft] = out.drafts
    assert 280 < mastodon_length(draft["text"]) <= 500
    assert "group_id" not in draft or draft["group_id"] is None
