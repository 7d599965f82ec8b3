"""The admin page in real Chromium against the whole local stack."""

from __future__ import annotations

import io
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta
from datetime import time as dt_time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from local.stack import Stack
from tests.browser.conftest import PASSWORD, Account, Admin, Api, herald_user_add

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
    invite = page.locator("#invite-list li", has_text="Acme Corp")
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
    admin.nav("dashboard", "#stat-sent")
    expect(page.locator("#stat-sent")).to_have_text(re.compile(r"^\d+$"))
    admin.shot("dashboard")


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 36), (13, 110, 253)).save(out, format="PNG")
    return out.getvalue()


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
    second = "続きはこちら: thread part two with #hashtag"  # CJK weighs 2
    page.fill("#part-1", second)
    assert parse_tweet(second).weightedLength == len(second) + len("続きはこちら")
    expect(page.locator("#counter-1")).to_have_text(f"{parse_tweet(second).weightedLength} / 280")
    expect(page.locator("#cost-estimate")).to_contain_text("$")

    # An image: uploaded to the API, previewed from a blob: URL (the CSP allows blob:).
    page.set_input_files(
        "#media-0", files=[{"name": "card.png", "mimeType": "image/png", "buffer": _png()}]
    )
    thumb = page.locator("#tweet-preview img.thumb")
    expect(thumb).to_have_count(1)
    expect(thumb).to_have_attribute("src", re.compile(r"^blob:"))
    assert (
        page.evaluate("() => document.querySelector('#tweet-preview img.thumb').naturalWidth") == 64
    )
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


def _messages_to(mail_dir: Path, addresses: set[str]) -> dict[str, EmailMessage]:
    found: dict[str, EmailMessage] = {}
    for path in mail_dir.glob("**/*.eml"):
        msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        to = str(msg["To"] or "")
        for address in addresses:
            if address in to:
                found[address] = msg  # type: ignore[assignment]
    return found


def test_import_contacts_and_send_an_email_campaign_to_the_sink(
    admin: Admin, owner: Account
) -> None:
    page = admin.page
    tag = uuid.uuid4().hex[:8]
    good = {f"ana.{tag}@example.com", f"bo.{tag}@example.org", f"cy.{tag}@example.net"}
    a, b, c = sorted(good)
    csv = (
        "email,first_name,last_name,city\n"
        f"{a},Ana,Silva,Lisbon\n"
        f"{b},Bo,Berg,Oslo\n"
        f"not-an-address-{tag},Nope,Nope,Nowhere\n"
        f"{c},Cy,Chen,Taipei\n"
        f"{a.upper()},Ana,Again,Lisbon\n"
    )
    admin.login(owner)

    # SMTP: the local sink preset, clearly labelled as sandbox.
    admin.nav("email/smtp", "#smtp-form")
    page.select_option("#smtp-preset", "local-sink")
    expect(page.locator("#smtp-sandbox")).to_be_visible()
    page.click("#smtp-save")
    expect(page.locator("#smtp-form")).to_contain_text("configured")
    page.fill("#smtp-test-to", f"test.{tag}@example.com")
    page.click("#smtp-test")
    expect(page.locator("#smtp-test-result .alert-success")).to_be_visible()
    admin.shot("email-smtp")

    # Contacts: import with the validation report (1 invalid address, 1 duplicate).
    admin.nav("email/contacts", "#contacts-form")
    page.set_input_files(
        "#contacts-file",
        files=[{"name": "contacts.csv", "mimeType": "text/csv", "buffer": csv.encode()}],
    )
    expect(page.locator("#contacts-mapping")).to_contain_text("first_name")
    page.fill("#contacts-list", f"Newsletter {tag}")
    page.click("#contacts-import")
    report = page.locator("#import-report")
    expect(report.locator("[data-count=imported]")).to_have_text("Imported: 3")
    expect(report.locator("[data-count=rejected]")).to_have_text("Rejected: 2")
    expect(report).to_contain_text(f"not-an-address-{tag}")
    admin.shot("email-contacts")

    # Compose with HTML preview (sandboxed iframe) and text part; send now.
    admin.nav("email/campaigns", "#email-composer")
    page.fill("#email-name", f"November news {tag}")
    page.fill("#email-subject", "Hello {{ first_name }}")
    option = page.locator("#email-list option", has_text=f"Newsletter {tag}")
    page.select_option("#email-list", value=option.get_attribute("value"))
    page.fill("#email-html", "<h1>Hi {{ first_name }}</h1><p>News from <b>Herald</b>.</p>")
    page.fill("#email-text", "Hi {{ first_name }}, news from Herald.")
    frame = page.frame_locator("#email-html-preview")
    expect(frame.locator("h1")).to_have_text("Hi {{ first_name }}")
    assert page.get_attribute("#email-html-preview", "sandbox") == ""
    expect(page.locator("#email-text-preview")).to_have_text(
        "Hi {{ first_name }}, news from Herald."
    )
    admin.shot("email-compose")
    page.click("#email-send")

    # Live progress reaches 100 % (polled every 2 s) and the sink has every message.
    progress = page.locator("#email-progress")
    expect(progress).to_have_attribute("data-pct", "100", timeout=60_000)
    expect(page.locator("#email-progress-counts")).to_contain_text("3 sent")
    for address in good:  # each recipient's outcome with the SMTP reply
        expect(page.locator("#email-recipients tr", has_text=address)).to_contain_text("250")
    admin.shot("email-progress")
    deadline = time.monotonic() + 10
    found: dict[str, EmailMessage] = {}
    wanted = {*good, f"test.{tag}@example.com"}  # the campaign and the SMTP test message
    while time.monotonic() < deadline and len(found) < len(wanted):
        found = _messages_to(admin.stack.mail_dir, wanted)
        time.sleep(0.2)
    assert set(found) == wanted
    assert found[a]["Subject"] == "Hello Ana"

    # The dashboard counts today's sends and lists the campaign among the top ones.
    admin.nav("dashboard", "#top-campaigns")
    expect(page.locator("#top-campaigns")).to_contain_text(f"November news {tag}")
    expect(page.locator("#stat-sent")).not_to_have_text("0")
    expect(page.locator("#scheduler-state")).to_contain_text("scheduler running")
    admin.shot("dashboard-activity")


XSS = '<img src=x onerror="window.__xss=1;alert(1)"><script>window.__xss=2;alert(2)</script>'


def test_an_xss_payload_in_a_campaign_name_stays_text(admin: Admin, owner: Account) -> None:
    page = admin.page
    admin.login(owner)
    admin.nav("campaigns", "#campaign-create")
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
    admin.shot("xss")


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
    admin.shot("viewer")

    # The server refuses too, whatever the page shows.
    token = page.evaluate("() => sessionStorage.getItem('herald.token')")
    status, body = _api(
        admin.stack, "POST", f"/workspaces/{owner.workspace_id}/campaigns", token, {"name": "x"}
    )
    assert status == 403, body
    assert body["error"]["code"] == "forbidden"


def test_calendar_drag_reschedules_a_post(
    admin: Admin, owner: Account, owner_api: Api, sandbox_account: dict
) -> None:
    page = admin.page
    tz = ZoneInfo("Europe/Paris")  # the workspace's zone (see the owner fixture)
    tomorrow = datetime.now(tz).date() + timedelta(days=1)
    due = datetime.combine(tomorrow, dt_time(23, 0), tz)
    post = owner_api.ok(
        "POST",
        "/posts",
        {"account_id": sandbox_account["id"], "text": f"Calendar {uuid.uuid4().hex[:6]}"},
    )
    owner_api.ok("POST", f"/posts/{post['id']}/schedule", {"due_at": due.isoformat()})

    admin.login(owner)
    admin.nav("calendar", "#calendar-grid .cal-day")
    item = page.locator(f".cal-item[data-id='{post['id']}']")
    expect(item).to_be_visible()
    admin.shot("calendar-month")
    target = tomorrow + timedelta(days=1)
    if page.locator(f".cal-day[data-day='{target.isoformat()}']").count() == 0:
        target = tomorrow - timedelta(days=1)  # tomorrow is the grid's last cell
    item.drag_to(page.locator(f".cal-day[data-day='{target.isoformat()}']"))
    moved = page.locator(
        f".cal-day[data-day='{target.isoformat()}'] .cal-item[data-id='{post['id']}']"
    )
    expect(moved).to_be_visible()
    after = owner_api.ok("GET", f"/posts/{post['id']}")
    moved_due = datetime.fromisoformat(after["due_at"]).astimezone(tz)
    assert (moved_due.date(), moved_due.time()) == (target, dt_time(23, 0))
    page.click("#cal-week")
    expect(page.locator("#calendar-grid .cal-week")).to_be_visible()
    admin.shot("calendar-week")


def test_generate_drafts_approve_and_create_a_job_opening(
    admin: Admin, owner: Account, owner_api: Api, sandbox_account: dict
) -> None:
    page = admin.page
    name = f"Brief {uuid.uuid4().hex[:6]}"
    owner_api.ok(
        "POST",
        "/campaigns",
        {
            "name": name,
            "description": "Herald schedules posts and emails for small teams",
            "topics": ["scheduling", "email campaigns"],
            "account_id": sandbox_account["id"],
            "approval_required": True,
        },
    )
    admin.login(owner)
    admin.nav("drafts", "#drafts-generate")
    page.select_option("#drafts-campaign", label=name)
    page.fill("#drafts-count", "2")
    page.click("#drafts-generate")
    expect(page.locator("#drafts-result")).to_contain_text("generator")
    rows = page.locator("#drafts-list tr[data-id]")
    expect(rows.first).to_be_visible()
    admin.shot("drafts")
    first = rows.first.get_attribute("data-id")
    rows.first.locator("button", has_text="Approve").click()
    expect(page.locator(f"#drafts-list tr[data-id='{first}']")).to_have_count(0)
    assert owner_api.ok("GET", f"/posts/{first}")["status"] == "approved"

    admin.nav("jobs/openings", "#openings-form")
    page.fill("#openings-title", "Backend engineer")
    page.fill("#openings-company", "Acme Corp")
    page.fill("#openings-city", "Lyon")
    page.fill("#openings-country", "FR")
    page.fill("#openings-apply_url", "https://jobs.example.com/backend")
    page.click("#openings-form button[type=submit]")
    expect(page.locator("#openings-list")).to_contain_text("Backend engineer")
    expect(page.locator("#openings-list")).to_contain_text("Lyon, FR")
    admin.shot("jobs")


def test_an_ad_campaign_for_an_opening_is_published_by_the_sandbox(
    admin: Admin, owner: Account, owner_api: Api
) -> None:
    page = admin.page
    title = f"Data engineer {uuid.uuid4().hex[:6]}"
    owner_api.ok(
        "POST",
        "/jobs/openings",
        {
            "title": title,
            "company": "Acme Corp",
            "location": {"country": "FR", "city": "Paris"},
            "apply_url": "https://jobs.example.com/data",
            "status": "open",
            "salary_min": 50000,
            "salary_max": 65000,
            "salary_currency": "EUR",
            "salary_period": "year",
        },
    )
    admin.login(owner)
    admin.nav("jobs/ads", "#ads-form")
    expect(page.locator("tr[data-platform=meta]")).to_contain_text("sandbox")
    page.fill("#ads-name", f"Ad for {title}")
    page.select_option("#ads-opening_id", label=title)
    page.select_option("#ads-platforms", "meta")
    page.fill("#ads-daily_budget", "25")
    page.click("#ads-form button[type=submit]")
    row = page.locator("#ads-list tr", has_text=f"Ad for {title}")
    expect(row.locator(".badge[data-status]")).to_have_attribute("data-status", "draft")
    row.locator("button", has_text="Publish").click()
    expect(row.locator(".badge[data-status]")).to_have_attribute(
        "data-status", re.compile("publishing|active"), timeout=30_000
    )
    admin.shot("ads")


def test_candidates_import_and_segmentation(admin: Admin, owner: Account) -> None:
    page = admin.page
    tag = uuid.uuid4().hex[:6]
    rows = ["name,email,skills,years_experience,location,education,source"]
    for i in range(6):
        rows.append(
            f"Dev {i},dev{i}.{tag}@example.com,python;sql;docker,{2 + i % 3},Paris,bachelor,site"
        )
    for i in range(6):
        rows.append(
            f"Nurse {i},rn{i}.{tag}@example.com,nursing;triage,{12 + i % 4},Lyon,master,fair"
        )
    rows.append(f"Dev 0,dev0.{tag}@example.com,python;sql;docker,2,Paris,bachelor,site")  # twice
    admin.login(owner)
    admin.nav("jobs/candidates", "#candidates-file")
    page.set_input_files(
        "#candidates-file",
        files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": "\n".join(rows).encode()}],
    )
    page.locator("#candidates-file").locator("xpath=ancestor::form").locator("button").click()
    report = page.locator("#import-report")
    expect(report.locator("[data-count=imported]")).to_have_text("Imported: 12")
    expect(report.locator("[data-count=rejected]")).to_have_text("Rejected: 1")
    expect(report).to_contain_text("duplicate")

    admin.nav("jobs/segments", "#segments-run")
    page.fill("#segments-k", "2")
    page.click("#segments-run")
    expect(page.locator("#segments-run-state")).to_contain_text("done", timeout=60_000)
    expect(page.locator("#segments-list tr[data-id]")).to_have_count(2)
    expect(page.locator("#segments-list")).to_contain_text("nursing")
    admin.shot("segments")


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
    admin.shot("email-deliverability")
