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
