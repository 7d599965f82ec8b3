"""The README's first minute, in Chromium: `herald user add you@example.com` (the default
workspace, in UTC), sign in, and every timezone-bearing screen works; forms come back to
their real defaults after a create (issue 18)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from local.stack import Stack
from tests.browser.conftest import (
    DESKTOP,
    PASSWORD,
    PHONE,
    README_USER,
    Account,
    Admin,
    new_owner,
)

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def assert_an_hour_from_now(value: str) -> None:
    """A picker's default: an hour from now in UTC, to the second (Chromium's value
    leaves out the seconds when they are :00, so no pattern on the text)."""
    default = datetime.fromisoformat(value).replace(tzinfo=UTC)
    assert abs((default - datetime.now(UTC)).total_seconds() - 3600) < 120, value


def test_the_readme_user_signs_in_to_a_utc_workspace_that_works(
    admin: Admin, owner: Account
) -> None:
    page = admin.page
    assert owner.username == README_USER
    admin.goto()
    page.wait_for_selector("#login-view:not(.d-none)")
    admin.check("login")
    admin.login(owner)
    expect(page.locator("#whoami")).to_have_text(README_USER)
    expect(page.locator("#stat-sent")).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator("#stat-clicks")).to_have_text(re.compile(r"^\d+$"))

    # Settings: the workspace is in UTC, and the zone list is the server's: UTC first,
    # India as Asia/Kolkata (Chromium's own list has neither).
    admin.nav("settings", "#ws-timezone")
    expect(page.locator("#ws-timezone")).to_have_value("UTC")
    options = page.locator("#ws-timezone option")
    assert options.first.get_attribute("value") == "UTC"
    assert page.locator("#ws-timezone option[value='Asia/Kolkata']").count() == 1
    assert page.locator("#ws-timezone option[value='Asia/Calcutta']").count() == 0
    page.click("#workspace-form button[type=submit]")  # saved as it is: UTC stays UTC
    expect(page.locator("#toasts")).to_contain_text("Workspace saved")
    expect(page.locator("#ws-timezone")).to_have_value("UTC")

    # Compose and Email open without "Invalid time zone specified", in UTC, to the second.
    admin.nav("compose", "#schedule-at")
    expect(page.locator("#schedule-tz")).to_have_value("UTC")
    assert page.get_attribute("#schedule-at", "step") == "1"
    assert_an_hour_from_now(page.input_value("#schedule-at"))
    page.select_option("#schedule-tz", "Asia/Kolkata")
    page.fill("#schedule-at", "2031-05-06T09:30:15")
    expect(page.locator("#schedule-utc")).to_contain_text("2031-05-06T04:00:15Z")
    admin.nav("email/campaigns", "#email-composer")
    expect(page.locator("#email-tz")).to_have_value("UTC")
    assert page.get_attribute("#email-at", "step") == "1"
    assert_an_hour_from_now(page.input_value("#email-at"))
    assert page.locator("#view .api-error").count() == 0

    # On a phone the sections fold into a menu in the top bar.
    page.set_viewport_size(PHONE)
    expect(page.locator("#app-sections")).to_be_hidden()
    page.click("#nav-toggle")
    expect(page.locator("#app-sections")).to_be_visible()
    admin.shot("phone-menu")
    page.click("#app-sections a[data-route=dashboard]")
    expect(page.locator("#stat-sent")).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator("#app-sections")).to_be_hidden()
    admin.shot("phone-dashboard")
    page.set_viewport_size(DESKTOP)


def test_a_second_campaign_keeps_the_real_defaults(admin: Admin, owner: Account) -> None:
    """After a create, the form comes back to the workspace's zone and `active`, not to
    the first option (Africa/Abidjan) and `draft`."""
    page = admin.page
    admin.login(owner)
    admin.nav("campaigns", "#campaign-create")
    tag = uuid.uuid4().hex[:6]
    for name in (f"Spring {tag}", f"Summer {tag}"):
        expect(page.locator("#campaign-create [name=timezone]")).to_have_value("UTC")
        expect(page.locator("#campaign-create [name=status]")).to_have_value("active")
        page.fill("#campaign-create [name=name]", name)
        page.click("#campaign-create button[type=submit]")
        expect(page.locator("#campaign-list")).to_contain_text(name)
        expect(page.locator("#campaign-create [name=name]")).to_have_value("")
    rows = page.locator("#campaign-list tr", has_text=f"Summer {tag}")
    expect(rows.locator(".badge[data-status]")).to_have_attribute("data-status", "active")
    rows.locator("a.campaign-link").click()
    expect(page.locator("#campaign-edit [name=timezone]")).to_have_value("UTC")


def test_change_my_password_and_open_a_second_workspace(admin: Admin, stack: Stack) -> None:
    """The account's own capabilities: a new password (the old one stops working) and
    a workspace of one's own, switched to from the top bar."""
    page = admin.page
    account = new_owner(stack, "pw")
    name = account.username
    admin.login(account)
    admin.nav("settings", "#password-form")
    page.fill("#pw-current", PASSWORD)
    page.fill("#pw-new", "an even longer passphrase")
    page.fill("#pw-again", "an even longer passphrase")
    page.click("#pw-save")
    expect(page.locator("#toasts")).to_contain_text("Password changed")
    page.fill("#new-ws-name", f"Second brand {name}")
    page.select_option("#new-ws-tz", "Asia/Kolkata")
    page.click("#new-ws-create")
    page.wait_for_selector("#view-settings")
    expect(page.locator("#workspace-select option:checked")).to_have_text(f"Second brand {name}")
    expect(page.locator("#ws-timezone")).to_have_value("Asia/Kolkata")
    expect(page.locator("#workspace-select option")).to_have_count(2)
    page.click("#logout")
    admin.allow(401)  # the old password, refused
    page.fill("#login-username", name)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_be_visible()
    page.fill("#login-password", "an even longer passphrase")
    page.click("#login-submit")
    page.wait_for_selector("#app-view:not(.d-none)")
    expect(page.locator("#whoami")).to_have_text(name)
