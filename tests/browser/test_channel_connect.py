"""Bluesky and Mastodon connected from Settings, and a post group handled as one, in real
Chromium against the whole local stack. The stack's api reaches the stand-ins over real
HTTP on free loopback ports (tests/channels/fake_servers.py): the PDS of tests/channels
(a wrong app password refused, the right one accepted) and a Mastodon instance whose
authorization page approves, or denies, at once."""

from __future__ import annotations

import uuid
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from local.stack import Stack
from tests.browser.conftest import PASSWORD, Account, Admin, Api, herald_user_add
from tests.channels.fake_pds import APP_PASSWORD, HANDLE
from tests.channels.fake_servers import FakeMastodon

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture
def readme_owner(stack: Stack) -> Account:
    """`herald user add NAME`, no options: a workspace of its own, in UTC."""
    name = f"connect-{uuid.uuid4().hex[:6]}@example.com"
    ids = herald_user_add(stack, name)
    return Account(name, PASSWORD, ids["user_id"], ids["workspace_id"])


def test_connect_bluesky_with_an_app_password_and_mastodon_by_oauth(
    admin: Admin,
    readme_owner: Account,
    stack: Stack,
    served_pds: str,
    served_mastodon: tuple[FakeMastodon, str],
) -> None:
    page = admin.page
    admin.allow(400)  # the wrong app password, on purpose
    admin.login(readme_owner)
    admin.nav("settings", "#bsky-form")
    accounts = page.locator("#x-accounts")

    # Bluesky: the app password is a password field the browser does not fill, and the
    # form says where a person makes one.
    password = page.locator("#bsky-app-password")
    expect(password).to_have_attribute("type", "password")
    expect(password).to_have_attribute("autocomplete", "off")
    link = page.locator("#bsky-app-password-link")
    expect(link).to_have_attribute("href", "https://bsky.app/settings/app-passwords")
    expect(page.locator("#bsky-service")).to_have_attribute("placeholder", "https://bsky.social")
    page.fill("#bsky-identifier", "@" + HANDLE)
    password.fill("not-the-app-password")
    page.fill("#bsky-service", served_pds)
    page.click("#bsky-connect")
    refused = page.locator("#bsky-errors .api-error")
    expect(refused).to_contain_text("refused this handle and app password")
    expect(refused).to_contain_text("Invalid identifier or password")
    expect(accounts.locator(".badge[data-network=bluesky]")).to_have_count(0)
    password.fill(APP_PASSWORD)
    page.click("#bsky-connect")
    expect(page.locator("#toasts")).to_contain_text(f"Bluesky account @{HANDLE} connected")
    expect(refused).to_have_count(0)
    sky = accounts.locator("tr", has_text=f"@{HANDLE}")
    expect(sky.locator(".badge[data-network=bluesky]")).to_have_text("Bluesky")
    expect(sky).to_contain_text("300 graphemes a post")
    expect(password).to_have_value("")  # the app password stays in no field

    # Mastodon, denied on the instance: it sends the browser back with an error; the page
    # says so next to the form and nothing is made.
    fake, url = served_mastodon
    fake.deny = True
    page.fill("#mastodon-instance", url)
    page.click("#mastodon-connect")
    denied = page.locator("#mastodon-errors .api-error")
    expect(denied).to_contain_text("did not authorize Herald")
    expect(denied).to_contain_text("denied the request")
    assert "error=" not in page.url and "state=" not in page.url
    expect(accounts.locator(".badge[data-network=mastodon]")).to_have_count(0)

    # Approved: back with ?connect=mastodon&code&state, the page completes it.
    fake.deny = False
    page.fill("#mastodon-instance", url)
    page.click("#mastodon-connect")
    host = urlparse(url).netloc
    expect(page.locator("#toasts")).to_contain_text(f"Mastodon account @herald@{host} connected")
    toot = accounts.locator("tr", has_text=f"@herald@{host}")
    expect(toot.locator(".badge[data-network=mastodon]")).to_have_text("Mastodon")
    expect(toot).to_contain_text("1000 characters a post")  # the instance's own limit
    assert "code=" not in page.url and "state=" not in page.url
    expect(page.locator("#mastodon-errors .api-error")).to_have_count(0)
    admin.check("settings-connect")

    made = Api(stack, readme_owner).ok("GET", "/x/accounts")["items"]
    assert sorted((a["network"], a["handle"], a["status"]) for a in made) == [
        ("bluesky", HANDLE, "active"),
        ("mastodon", f"herald@{host}", "active"),
    ]
