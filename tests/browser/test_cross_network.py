"""A campaign across networks from the admin page, in real Chromium against the local
stack: its channels chosen on the campaign page, drafts generated for all of them (one
row per group with each network's name, the counter on the strictest network's rule),
approved together; a series on Bluesky counted in graphemes, not X's 280; a template's
counter per network."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from local.stack import Stack
from tests.browser.conftest import Account, Admin, Api

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

OVER = re.compile(r"\bover\b")
LINK = "https://example.org/notes/" + "long-path-" * 12  # 146 characters; X counts 23


def test_a_campaign_drafts_for_three_networks_and_series_count_their_own_way(
    admin: Admin, fresh_owner: Account, stack: Stack
) -> None:
    page = admin.page
    tag = uuid.uuid4().hex[:6]
    api = Api(stack, fresh_owner)
    handles = {"x": f"x_{tag}", "bluesky": f"sky-{tag}.bsky.social", "mastodon": f"toot_{tag}"}
    ids = {
        n: api.ok("POST", "/x/accounts/sandbox", {"handle": h, "network": n})["id"]
        for n, h in handles.items()
    }
    admin.login(fresh_owner)

    # The campaign posts to X and also to Bluesky and Mastodon.
    admin.nav("campaigns", "#campaign-create")
    name = f"Everywhere {tag}"
    page.fill("#campaign-create [name=name]", name)
    page.fill("#campaign-create [name=description]", "Notes on self-custody for builders")
    page.select_option("#campaign-create [name=account_id]", label=f"X @{handles['x']} (sandbox)")
    picker = page.locator("#campaign-create-channels")
    expect(picker.locator("input[data-network=x]")).to_have_count(0)  # its own account
    picker.locator("input[data-network=bluesky]").check()
    picker.locator("input[data-network=mastodon]").check()
    page.click("#campaign-create button[type=submit]")
    row = page.locator("#campaign-list tr", has_text=name)
    expect(row.locator(".campaign-channels")).to_contain_text(f"Bluesky @{handles['bluesky']}")
    expect(row.locator(".campaign-channels")).to_contain_text(f"Mastodon @{handles['mastodon']}")
    admin.check("campaigns-channels")
    [campaign] = [c for c in api.ok("GET", "/campaigns")["items"] if c["name"] == name]
    assert sorted(campaign["channels"]) == sorted([ids["bluesky"], ids["mastodon"]])

    # Drafts: the campaign's channels are chosen already; one row per group.
    admin.nav("drafts", "#drafts-generate")
    page.select_option("#drafts-campaign", label=name)
    chosen = page.locator("#drafts-channels input:checked")
    expect(chosen).to_have_count(2)
    page.fill("#drafts-count", "1")
    page.click("#drafts-generate")
    expect(page.locator("#drafts-result")).to_contain_text("1 draft(s) written", timeout=30_000)
    expect(page.locator("#drafts-result")).to_contain_text("for 3 channels")
    group = page.locator("#drafts-list tr[data-group]:not([data-group=''])")
    expect(group).to_have_count(1)
    badges = group.locator(".draft-networks .badge")
    expect(badges).to_have_count(3)
    for network in ("x", "bluesky", "mastodon"):
        expect(group.locator(f".draft-networks .badge[data-network={network}]")).to_be_visible()
    admin.check("drafts-networks")
    # A long link: X counts it 23, Bluesky every character: Bluesky decides.
    text = f"Self-custody notes {tag}: " + "keys, backups and more. " * 6 + LINK
    group.locator("textarea").fill(text)
    counter = group.locator(".counter")
    expect(counter).to_have_attribute("data-network", "bluesky")
    expect(counter).to_contain_text("/ 300 graphemes (Bluesky, the strictest)")
    expect(counter).to_have_class(OVER)
    group.locator("textarea").fill(f"Self-custody notes {tag}: keys first. {LINK}")
    expect(counter).not_to_have_class(OVER)
    group.locator("button", has_text="Approve").click()
    expect(page.locator("#toasts")).to_contain_text("Draft approved for 3 networks")
    expect(group).to_have_count(0)
    approved = api.ok("GET", "/posts?status=approved&limit=50")["items"]
    assert sorted(p["network"] for p in approved if tag in p["text"]) == [
        "bluesky",
        "mastodon",
        "x",
    ]

    # A series on Bluesky: its variants are counted in graphemes against 300.
    admin.nav("series", "#series-form")
    page.select_option("#series-account", label=f"Bluesky @{handles['bluesky']} (sandbox)")
    page.fill("#series-name", f"Weekly {tag}")
    page.fill("#series-texts", "Weekly notes on self-custody. " * 5 + LINK)
    expect(page.locator("#series-counters")).to_contain_text("text 1: 296 / 300 graphemes")
    page.locator("#series-channels input[data-network=mastodon]").check()
    page.click("#series-create")
    expect(page.locator("#toasts")).to_contain_text(f"Series “Weekly {tag}” created")
    entry = page.locator("#series-list tr", has_text=f"Weekly {tag}")
    expect(entry.locator(".series-channels")).to_contain_text(f"Mastodon @{handles['mastodon']}")
    admin.check("series-networks")

    # A template is counted on every network the workspace posts to.
    admin.nav("templates", "#template-form")
    page.fill("#template-text", "Read {title} at " + LINK)
    expect(page.locator("#template-counter")).to_contain_text("Bluesky 162 / 300 graphemes")
    expect(page.locator("#template-counter")).to_contain_text("X 39 / 280")
