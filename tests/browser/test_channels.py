"""One post to X, Bluesky and Mastodon from the admin page, in real Chromium against the
whole local stack: sandbox accounts of each network added in Settings, one counter per
network with its own rules, a variant for one network, a preview per network, scheduled a
few seconds ahead, and each network's result in History and the calendar."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from local.stack import Stack
from tests.browser.conftest import Account, Admin, Api

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

URL = "https://example.com/" + "a" * 60  # 80 characters: X and Mastodon count 23
TEXT = "Launch 🎉 " + URL  # the emoji weighs 2 on X, one grapheme on Bluesky and Mastodon
LIMITS = {"x": "33 / 280", "bluesky": "89 / 300 graphemes", "mastodon": "32 / 500"}


def _add_sandbox(admin: Admin, network: str, handle: str) -> None:
    page = admin.page
    page.select_option("#sandbox-network", network)
    page.fill("#sandbox-handle", handle)
    page.click("#x-sandbox")
    row = page.locator("#x-accounts tr", has_text=f"@{handle}")
    expect(row.locator(f".badge[data-network={network}]")).to_contain_text("sandbox")


def test_one_post_to_three_networks_each_with_its_counter_preview_and_result(
    admin: Admin, fresh_owner: Account, stack: Stack
) -> None:
    page = admin.page
    tag = uuid.uuid4().hex[:6]
    admin.login(fresh_owner)

    # Settings: a sandbox account on each network.
    admin.nav("settings", "#x-accounts")
    _add_sandbox(admin, "x", f"x_{tag}")
    _add_sandbox(admin, "bluesky", f"sky-{tag}.bsky.social")
    _add_sandbox(admin, "mastodon", f"toot_{tag}")
    admin.check("settings-channels")

    # Compose on X, also to Bluesky and Mastodon: one counter per network, its own rules.
    admin.nav("compose", "#part-0")
    # The post's own counter counts by the chosen channel's network.
    page.select_option("#compose-account", label=f"Bluesky @sky-{tag}.bsky.social (sandbox)")
    page.fill("#part-0", TEXT)
    expect(page.locator("#counter-0")).to_have_text(LIMITS["bluesky"])
    page.select_option("#compose-account", label=f"Mastodon @toot_{tag} (sandbox)")
    expect(page.locator("#counter-0")).to_have_text(LIMITS["mastodon"])
    page.select_option("#compose-account", label=f"X @x_{tag} (sandbox)")
    expect(page.locator("#counter-0")).to_have_text(LIMITS["x"])
    channels = page.locator("#compose-channels")
    sky = channels.locator("input[data-network=bluesky]")
    toot = channels.locator("input[data-network=mastodon]")
    sky.check()
    toot.check()
    counters = page.locator("#network-counters .net-counter")
    expect(counters).to_have_count(3)
    for network, shown in LIMITS.items():
        counter = page.locator(f"#network-counters .net-counter[data-network={network}]")
        expect(counter).to_contain_text(shown)
        expect(counter).to_have_attribute("data-valid", "1")

    # Mastodon gets a longer variant: past X's and Bluesky's limits, within its 500.
    variant = f"The long story for Mastodon {tag}: " + "words and more words " * 19 + URL
    toot_variant = page.locator(f"#variant-{toot.get_attribute('id').removeprefix('channel-')}")
    toot_variant.fill(variant)
    mastodon = page.locator("#network-counters .net-counter[data-network=mastodon]")
    expected = len(variant) - len(URL) + 23
    assert 300 < expected <= 500
    expect(mastodon).to_contain_text(f"{expected} / 500")
    expect(mastodon).to_have_attribute("data-valid", "1")
    # The same text on Bluesky would be too long: its counter says so, then it goes back.
    sky_variant = page.locator(f"#variant-{sky.get_attribute('id').removeprefix('channel-')}")
    sky_variant.fill(variant)
    bluesky = page.locator("#network-counters .net-counter[data-network=bluesky]")
    expect(bluesky).to_have_attribute("data-valid", "0")
    expect(bluesky).to_contain_text("too long")
    sky_variant.fill("")
    expect(bluesky).to_contain_text(LIMITS["bluesky"])
    expect(bluesky).to_have_attribute("data-valid", "1")

    # A preview per network: each as that network shows it, the variant on Mastodon's.
    previews = page.locator("#tweet-preview .network-preview")
    expect(previews).to_have_count(3)
    for network in ("x", "bluesky", "mastodon"):
        preview = page.locator(f"#tweet-preview .network-preview[data-network={network}]")
        expect(preview).to_be_visible()
    expect(page.locator("#tweet-preview .network-preview[data-network=x]")).to_contain_text(
        f"@x_{tag}"
    )
    expect(page.locator("#tweet-preview .network-preview[data-network=bluesky]")).to_contain_text(
        "Launch"
    )
    toot_preview = page.locator("#tweet-preview .network-preview[data-network=mastodon]")
    expect(toot_preview).to_contain_text(f"The long story for Mastodon {tag}")
    # Mastodon's web app shows a link without its scheme, cut at 30 characters.
    expect(toot_preview.locator(".ent").last).to_have_text("example.com/" + "a" * 18 + "…")
    expect(toot_preview.locator(".preview-count")).to_have_text(f"{expected} / 500")
    sky_preview = page.locator("#tweet-preview .network-preview[data-network=bluesky]")
    expect(sky_preview.locator(".preview-count")).to_have_text(LIMITS["bluesky"])
    admin.check("compose-channels")

    # A few seconds ahead, in the workspace's zone (UTC).
    due = datetime.now(UTC) + timedelta(seconds=8)
    page.fill("#schedule-at", due.strftime("%Y-%m-%dT%H:%M:%S"))
    page.click("#schedule-post")
    expect(page.locator("#toasts")).to_contain_text("on 3 channels")
    page.wait_for_selector("#history-table")

    # History: one row per network, each published by its sandbox.
    for network in ("x", "bluesky", "mastodon"):
        row = page.locator(
            "#history-table tr", has=page.locator(f".network-badge[data-network={network}]")
        ).filter(has_text=tag if network == "mastodon" else "Launch")
        expect(row).to_have_count(1)
        expect(row.locator(".badge[data-status]")).to_have_attribute(
            "data-status", "published", timeout=45_000
        )
        expect(row).to_contain_text("sandbox")
    admin.check("history-channels")

    api = Api(stack, fresh_owner)
    items: list[dict[str, Any]] = api.ok("GET", "/posts?status=published")["items"]
    grouped = [p for p in items if p.get("group_id")]
    assert {p["network"] for p in grouped} == {"x", "bluesky", "mastodon"}
    assert len({p["group_id"] for p in grouped}) == 1
    by_network = {p["network"]: p for p in grouped}
    assert by_network["mastodon"]["text"] == variant
    assert by_network["x"]["text"] == by_network["bluesky"]["text"] == TEXT
    for p in grouped:
        assert len(p["x_ids"]) == 1, p

    # The calendar: the group as one item with a badge per network and its result.
    admin.nav("calendar", "#calendar-grid .cal-day")
    group = page.locator(f".cal-item[data-group='{grouped[0]['group_id']}']")
    expect(group).to_have_count(1)
    for network in ("x", "bluesky", "mastodon"):
        badge = group.locator(f".cal-network[data-network={network}]")
        expect(badge).to_have_attribute("data-status", "published")
    admin.check("calendar-channels")
