"""The admin page in real Chromium against the whole local stack."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Account, Admin

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_login_and_a_wrong_password_is_refused(admin: Admin, owner: Account) -> None:
    page = admin.page
    admin.goto()
    page.fill("#login-username", owner.username)
    page.fill("#login-password", "not the password")
    page.click("#login-submit")
    error = page.locator("#login-error")
    error.wait_for(state="visible")
    assert "password" in error.inner_text().lower()
    admin.shot("login")
    admin.login(owner)
    assert page.inner_text("#whoami") == owner.username
    assert page.inner_text("#role-badge") == "owner"
    expect(page.locator("#stat-sent")).to_have_text(re.compile(r"^\d+$"))
    admin.shot("dashboard")


def test_campaign_compose_schedule_and_see_it_published_by_the_sandbox(
    admin: Admin, owner: Account
) -> None:
    from twitter_text import parse_tweet

    page = admin.page
    admin.login(owner)

    # A labelled sandbox X account (the local stack runs with sandbox on).
    admin.nav("settings", "#x-accounts")
    expect(page.locator("#sandbox-badge")).to_be_visible()
    page.fill("#sandbox-handle", "herald_e2e")
    page.click("#x-sandbox")
    expect(page.locator("#x-accounts")).to_contain_text("@herald_e2e")
    expect(page.locator("#x-accounts")).to_contain_text("sandbox")
    admin.shot("settings")

    # A campaign.
    admin.nav("campaigns", "#campaign-create")
    page.fill("#campaign-create [name=name]", "Autumn launch")
    page.fill("#campaign-create [name=description]", "New release of the product")
    page.click("#campaign-create button[type=submit]")
    expect(page.locator("#campaign-list")).to_contain_text("Autumn launch")
    admin.shot("campaigns")

    # Compose: the live counter is twitter-text's weighted length (URL 23, emoji 2),
    # the same number the server's twitter-text-parser computes.
    admin.nav("compose", "#part-0")
    page.select_option("#compose-campaign", label="Autumn launch")
    text = "Launch day 🚀 read https://example.com/releases/2026/autumn-edition?ref=herald 🎉"
    page.fill("#part-0", text)
    expected = parse_tweet(text).weightedLength
    assert expected == len("Launch day ") + 2 + len(" read ") + 23 + 1 + 2
    expect(page.locator("#counter-0")).to_have_text(f"{expected} / 280")
    expect(page.locator("#tweet-preview")).to_contain_text("https://example.com/releases")
    page.click("#add-part")
    page.fill("#part-1", "Second post of the thread, with #hashtag")
    expect(page.locator("#counter-1")).to_have_text(
        f"{parse_tweet('Second post of the thread, with #hashtag').weightedLength} / 280"
    )
    expect(page.locator("#cost-estimate")).to_contain_text("$")
    admin.shot("compose")

    # Schedule as soon as possible; the scheduler (1 s tick) hands it to the sandbox.
    page.check("#when-now")
    page.click("#schedule-post")
    page.wait_for_selector("#history-table")
    row = page.locator("#history-table tr", has_text="Launch day").first
    badge = row.locator(".badge[data-status]")
    expect(badge).to_have_attribute("data-status", "published", timeout=45_000)
    expect(row).to_contain_text("sandbox")
    expect(row.locator(".post-id")).to_have_text(re.compile(r"^#\S+"))
    admin.shot("history")
