"""Bluesky and Mastodon connected from Settings, and a post group handled as one, in real
Chromium against the whole local stack. The stack's api reaches the stand-ins over real
HTTP on free loopback ports (tests/channels/fake_servers.py): the PDS of tests/channels
(a wrong app password refused, the right one accepted) and a Mastodon instance whose
authorization page approves, or denies, at once. A group of three networks is dragged
to another day in the calendar (every network's post moves), read with each network's
result in History, and cancelled on every network, one network having gone out already."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from local.stack import Stack
from shared.x.models import POSTS
from tests.browser.conftest import Account, Admin, Api
from tests.channels.fake_pds import APP_PASSWORD, HANDLE
from tests.channels.fake_servers import FakeMastodon
from tests.e2e._x_helpers import stack_runtime

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_connect_bluesky_with_an_app_password_and_mastodon_by_oauth(
    admin: Admin,
    fresh_owner: Account,
    stack: Stack,
    served_pds: str,
    served_mastodon: tuple[FakeMastodon, str],
) -> None:
    page = admin.page
    admin.allow(400)  # the wrong app password, on purpose
    admin.login(fresh_owner)
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
    # The same account connected again (a new app password, say) is the same account.
    page.fill("#bsky-identifier", HANDLE)
    password.fill(APP_PASSWORD)
    page.fill("#bsky-service", served_pds)
    page.click("#bsky-connect")
    expect(page.locator("#toasts")).to_contain_text(f"Bluesky account @{HANDLE} reconnected")
    expect(accounts.locator(".badge[data-network=bluesky]")).to_have_count(1)

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

    made = Api(stack, fresh_owner).ok("GET", "/x/accounts")["items"]
    assert sorted((a["network"], a["handle"], a["status"]) for a in made) == [
        ("bluesky", HANDLE, "active"),
        ("mastodon", f"herald@{host}", "active"),
    ]


def _group(api: Api, due: datetime) -> dict[str, Any]:
    accounts = [
        api.ok("POST", "/x/accounts/sandbox", {"handle": f"{n}-group", "network": n})
        for n in ("x", "bluesky", "mastodon")
    ]
    body = {
        "text": "One post, three networks, moved and cancelled as one",
        "channels": [{"account_id": a["id"]} for a in accounts],
        "due_at": due.isoformat(),
        "timezone": "UTC",
        "schedule": True,
    }
    group: dict[str, Any] = api.ok("POST", "/post-groups", body)
    assert group["status"] == "scheduled", group
    return group


def test_a_post_group_dragged_in_the_calendar_then_cancelled_on_every_network(
    admin: Admin, fresh_owner: Account, stack: Stack
) -> None:
    page = admin.page
    api = Api(stack, fresh_owner)
    due = (datetime.now(UTC) + timedelta(days=2)).replace(hour=10, minute=37, second=17)
    due = due.replace(microsecond=0)
    group = _group(api, due)
    gid = group["group_id"]
    admin.login(fresh_owner)

    # Calendar: the group is one item; dragged one day, every network's post moves.
    admin.nav(f"calendar?date={due.date().isoformat()}", "#calendar-grid .cal-day")
    item = page.locator(f".cal-item[data-group='{gid}']")
    expect(item.locator(".cal-network")).to_have_count(3)
    target = due.date() + timedelta(days=1)
    if page.locator(f".cal-day[data-day='{target.isoformat()}']").count() == 0:
        target = due.date() - timedelta(days=1)
    item.drag_to(page.locator(f".cal-day[data-day='{target.isoformat()}']"))
    moved = page.locator(f".cal-day[data-day='{target.isoformat()}'] .cal-item[data-group='{gid}']")
    expect(moved).to_be_visible()
    after = api.ok("GET", f"/post-groups/{gid}")
    shifted = due + (target - due.date())
    assert len(after["posts"]) == 3
    for p in after["posts"]:
        assert datetime.fromisoformat(p["due_at"]) == shifted, p
        assert p["status"] == "scheduled", p

    # X's post has gone out meanwhile (set in Firestore: the sandbox would take a minute).
    by_network = {p["network"]: p for p in after["posts"]}
    stack_runtime(stack).db.collection(POSTS).document(by_network["x"]["id"]).update(
        {"status": "published", "published_at": datetime.now(UTC), "x_ids": ["sandbox-1"]}
    )

    # History: the group's panel shows each network's result.
    admin.nav("history", "#history-table")
    page.locator(f"#history-table .group-open[data-group='{gid}']").first.click()
    panel = page.locator(f"#post-group[data-group='{gid}']")
    expect(panel.locator("tbody tr")).to_have_count(3)
    expect(panel.locator("tr[data-network=x] .badge[data-status]")).to_have_text("published")
    for network in ("bluesky", "mastodon"):
        row = panel.locator(f"tr[data-network={network}]")
        expect(row.locator(".badge[data-status]")).to_have_text("scheduled")
        expect(row).to_contain_text(f"@{network}-group")

    # Cancel on every network (it asks first): X keeps its post, and the answer says so.
    cancel = page.locator("#post-group-cancel")
    cancel.click()
    expect(cancel).to_have_text("Confirm: cancel on every network")
    cancel.click()
    expect(page.locator("#toasts")).to_contain_text("Post group cancelled")
    outcome = page.locator("#post-group-outcome")
    expect(outcome).to_contain_text("X: already published, not cancelled")
    for network in ("bluesky", "mastodon"):
        status = panel.locator(f"tr[data-network={network}] .badge[data-status]")
        expect(status).to_have_text("cancelled")
        expect(outcome).not_to_contain_text(network.capitalize())
    expect(page.locator("#post-group-cancel")).to_have_count(0)  # nothing left to cancel
    expect(panel).not_to_contain_text("null")
    admin.check("history-group")

    final = {p["network"]: p["status"] for p in api.ok("GET", f"/post-groups/{gid}")["posts"]}
    assert final == {"x": "published", "bluesky": "cancelled", "mastodon": "cancelled"}
