"""The admin page in real Chromium against the whole local stack."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid

import pytest
from playwright.sync_api import expect

from local.stack import Stack
from tests.browser.conftest import PASSWORD, Account, Admin, herald_user_add

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_login_and_a_wrong_password_is_refused(admin: Admin, owner: Account) -> None:
    page = admin.page
    admin.allow(401)  # the wrong password
    admin.goto()
    page.fill("#login-username", owner.username)
    page.fill("#login-password", "not the password")
    page.click("#login-submit")
    error = page.locator("#login-error")
    error.wait_for(state="visible")
    assert "password" in error.inner_text().lower()
    admin.login(owner)
    assert page.inner_text("#whoami") == owner.username
    assert page.inner_text("#role-badge") == "owner"

    # Owners invite by username; the invitee joins by accepting, then the owner can
    # change their role.
    member = f"editor-{uuid.uuid4().hex[:6]}"
    admin.nav("settings", "#member-form")
    page.fill("#member-username", member)
    page.select_option("#member-role", "editor")
    page.click("#member-form button[type=submit]")
    expect(page.locator("#invitations tr", has_text=member)).to_be_visible()
    assert page.locator("#members tr", has_text=member).count() == 0  # not without consent
    herald_user_add(admin.stack, member, "--no-workspace")  # the operator makes the account
    page.click("#logout")
    page.fill("#login-username", member)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    invite = page.locator("#invite-list li", has_text="My workspace")
    expect(invite).to_contain_text("as editor")
    admin.shot("invitation")
    invite.locator("[data-action=accept]").click()
    page.wait_for_selector("#app-view:not(.d-none)")
    expect(page.locator("#role-badge")).to_have_text("editor")
    page.click("#logout")
    admin.login(owner)
    admin.nav("settings", "#member-form")
    row = page.locator("#members tr", has_text=member)
    expect(row.locator("select")).to_have_value("editor")
    row.locator("select").select_option("viewer")
    expect(page.locator("#toasts")).to_contain_text(f"{member} is now viewer")
    row.locator("button", has_text="Remove").click()
    expect(page.locator("#members tr", has_text=member)).to_have_count(0)

    # An invitation revoked before it is answered, and one the invitee declines.
    revoked, declining = f"revoked-{uuid.uuid4().hex[:6]}", f"declines-{uuid.uuid4().hex[:6]}"
    for name in (revoked, declining):
        page.fill("#member-username", name)
        page.click("#member-form button[type=submit]")
        expect(page.locator("#invitations tr", has_text=name)).to_be_visible()
    page.locator("#invitations tr", has_text=revoked).locator("button", has_text="Revoke").click()
    expect(page.locator("#invitations tr", has_text=revoked)).to_have_count(0)
    herald_user_add(admin.stack, declining, "--no-workspace")
    page.click("#logout")
    page.fill("#login-username", declining)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    invite = page.locator("#invite-list li", has_text="My workspace")
    invite.locator("[data-action=decline]").click()
    expect(page.locator("#login-error")).to_contain_text("not a member of any workspace")
    admin.login(owner)
    admin.nav("dashboard", "#stat-sent")
    expect(page.locator("#stat-sent")).to_have_text(re.compile(r"^\d+$"))


def test_a_file_download_refused_for_an_ended_session_asks_to_sign_in_again(
    admin: Admin, owner: Account
) -> None:
    """Files (CSV exports, media bytes) come through the same 401 handling as JSON calls."""
    page = admin.page
    admin.allow(401)  # the ended session, on purpose
    admin.login(owner)
    admin.nav("calendar", "button.export-csv")
    # The session ends on the server's side: the page still holds a token the API refuses.
    page.evaluate(
        "async () => { (await import(new URL('js/api.js', document.baseURI).href))"
        ".session.token = 'ended'; }"
    )
    page.click("button.export-csv")
    expect(page.locator("#login-error")).to_contain_text("Your session has ended")


def test_settings_opened_before_the_system_answer_still_offers_the_sandbox_account(
    admin: Admin, owner: Account
) -> None:
    """The sandbox flag comes from /system; a view rendered before it answered used to
    leave out the sandbox account form for good (a flaky failure of the test below)."""
    page = admin.page
    # The page's own fetch answers /system 1.5 s late; everything else as usual.
    page.add_init_script(
        """
        const realFetch = window.fetch;
        window.fetch = async (...args) => {
          const answer = await realFetch(...args);
          const url = String(args[0] && args[0].url ? args[0].url : args[0]);
          if (/\\/system(\\?|$)/.test(url)) await new Promise((r) => setTimeout(r, 1500));
          return answer;
        };
        """
    )
    admin.login(owner)
    admin.nav("settings", "#x-accounts")
    expect(page.locator("#sandbox-badge")).to_be_visible()
    expect(page.locator("#sandbox-handle")).to_be_visible()


XSS = '<img src=x onerror="window.__xss=1;alert(1)"><script>window.__xss=2;alert(2)</script>'


def test_an_xss_payload_in_a_campaign_name_stays_text(admin: Admin, owner: Account) -> None:
    page = admin.page
    admin.login(owner)
    admin.nav("campaigns", "#campaign-create")
    admin.allow(400)  # the nameless campaign below
    # A refused request shows the API's message for a person, with the field it is about.
    page.click("#campaign-create button[type=submit]")
    error = page.locator("#campaign-create .api-error .error-message")
    expect(error).to_contain_text("name")
    page.fill("#campaign-create [name=name]", XSS)
    page.click("#campaign-create button[type=submit]")
    link = page.locator("#campaign-list a.campaign-link", has_text="<script>")
    expect(link).to_have_text(XSS)
    expect(error).to_have_count(0)  # a successful retry clears the message
    # The same name in the composer's campaign picker and the campaign page.
    admin.nav("compose", "#part-0")
    expect(page.locator("#compose-campaign option", has_text="onerror")).to_have_count(1)
    admin.nav("campaigns", "#campaign-list")
    page.locator("#campaign-list a.campaign-link", has_text="<script>").click()
    expect(page.locator(".campaign-name")).to_have_text(XSS)
    page.wait_for_timeout(300)  # give an injected handler the chance to run (it must not)
    assert page.locator("#view img[src=x], #view script").count() == 0
    assert page.evaluate("() => window.__xss === undefined")
    assert admin.dialogs == []


def _api(stack: Stack, method: str, path: str, token: str, body: object) -> tuple[int, dict]:
    req = urllib.request.Request(
        f"{stack.url('api')}/api/v1{path}",
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_a_viewer_sees_but_cannot_edit(admin: Admin, owner: Account, viewer: Account) -> None:
    page = admin.page
    admin.login(viewer)
    expect(page.locator("#role-badge")).to_have_text("viewer")
    assert page.get_attribute("body", "data-role") == "viewer"

    admin.nav("campaigns", "#campaign-list")
    expect(page.locator(".viewer-notice")).to_be_visible()
    assert page.locator("#campaign-create").count() == 0

    admin.nav("compose", "#part-0")
    expect(page.locator("#part-0")).to_be_disabled()  # inside the viewer's disabled fieldset
    expect(page.locator("#schedule-post")).to_be_hidden()
    expect(page.locator("#save-draft")).to_be_hidden()
    expect(page.locator("#add-part")).to_be_hidden()

    admin.nav("settings", "#members")
    assert page.locator("#member-form").count() == 0
    assert page.locator("#members select").first.is_disabled()

    admin.nav("email/smtp", "#smtp-form")
    expect(page.locator("#smtp-host")).to_be_disabled()
    expect(page.locator("#smtp-save")).to_be_hidden()

    # The server refuses too, whatever the page shows.
    token = page.evaluate("() => sessionStorage.getItem('herald.token')")
    status, body = _api(
        admin.stack, "POST", f"/workspaces/{owner.workspace_id}/campaigns", token, {"name": "x"}
    )
    assert status == 403, body
    assert body["error"]["code"] == "forbidden"


def test_deliverability_generates_a_dkim_key_and_shows_its_record_and_reputation(
    admin: Admin, owner: Account
) -> None:
    page = admin.page
    admin.login(owner)
    admin.nav("email/smtp", "#smtp-form")
    page.select_option("#smtp-preset", "local-sink")
    page.click("#smtp-save")
    expect(page.locator("#smtp-form")).to_contain_text("configured")
    admin.nav("email/deliverability", "#deliverability")
    expect(page.locator("#reputation-state [data-state=ok]")).to_be_visible()
    expect(page.locator("[data-provider=sendgrid]")).to_contain_text("/hooks/sendgrid/")
    page.fill("#dkim-selector", "page1")
    page.click("#dkim-generate")
    expect(page.locator("#dkim-record-name")).to_have_text("page1._domainkey.localhost.localdomain")
    expect(page.locator("#dkim-record-value")).to_contain_text("v=DKIM1; k=rsa; p=MII")
    page.click("#dkim-toggle")
    expect(page.locator("#dkim-toggle")).to_have_text("Turn signing on")
    # The pre-flight answers for each record, with advice (nothing is published here).
    page.click("#preflight-run")
    expect(page.locator("#preflight-results tr[data-check]")).to_have_count(3, timeout=30_000)
    # The bounce mailbox, a provider's webhook key, the soft-bounce limit, a warm-up; each
    # save draws the page again (the next form is filled once it has).
    box = page.locator("#deliverability")

    def save(button: str) -> None:
        before = box.get_attribute("data-drawn") or ""
        page.click(button)
        expect(box).not_to_have_attribute("data-drawn", before)

    page.fill("#mailbox-host", "imap.example.com")
    page.fill("#mailbox-username", "bounces")
    page.fill("#mailbox-password", "an app password")
    page.fill("#mailbox-address", "bounces@example.com")
    save("#mailbox-form button[type=submit]")
    expect(page.locator("#mailbox-state")).to_contain_text(
        "bounces@example.com on imap.example.com"
    )
    mailgun = page.locator("#deliverability tr[data-provider=mailgun]")
    mailgun.locator("input[name=key]").fill("key-3ax6xnjp29jd6fds4gc373sgvjxteol0")
    save("#deliverability tr[data-provider=mailgun] button[type=submit]")
    expect(page.locator("#deliverability tr[data-provider=mailgun]")).to_contain_text("configured")
    page.fill("#soft-bounce-limit", "5")
    save("#policy-form button[type=submit]")
    expect(page.locator("#soft-bounce-limit")).to_have_value("5")
    page.fill("#warmup-curve", "50, 100, 200")
    save("#warmup-form button[type=submit]")
    expect(page.locator("#warmup-state")).to_contain_text("of 3: at most 50 today")
    admin.check("email-deliverability")
