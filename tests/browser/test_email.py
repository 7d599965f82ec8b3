"""Email from the page alone: the postal address the law requires (refused without it,
with a link to fix it), the local sink, contacts (two imports into one list, counts,
search, edit, manual unsubscribe, delete), an email template, a campaign from it sent
with the visible unsubscribe footer, and its opens, clicks and unsubscribes on the
campaign page and the dashboard within a tick of the scheduler."""

from __future__ import annotations

import re
import time
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Account, Admin

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
ADDRESS = "Acme Corp\n1 Rue de la Paix\n75002 Paris, France"


def _messages_to(mail_dir: Path, addresses: set[str]) -> dict[str, EmailMessage]:
    found: dict[str, EmailMessage] = {}
    for path in mail_dir.glob("**/*.eml"):
        msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        to = str(msg["To"] or "")
        for address in addresses:
            if address in to:
                found[address] = msg  # type: ignore[assignment]
    return found


def _wait_for_messages(mail_dir: Path, wanted: set[str]) -> dict[str, EmailMessage]:
    deadline = time.monotonic() + 20
    found: dict[str, EmailMessage] = {}
    while time.monotonic() < deadline and len(found) < len(wanted):
        found = _messages_to(mail_dir, wanted)
        time.sleep(0.2)
    assert set(found) == wanted
    return found


# A person's mail app (Thunderbird); Python's own agent is a link scanner's.
MAIL_APP = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.3.0"


def _hit(url: str, data: bytes | None = None, agent: str = MAIL_APP) -> int:
    """What a recipient's mail app does: load the pixel, follow a link, one-click."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    headers = {"User-Agent": agent}
    if data:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        with opener.open(urllib.request.Request(url, data=data, headers=headers), timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_postal_address_contacts_template_campaign_and_engagement(
    admin: Admin, owner: Account
) -> None:
    page = admin.page
    tag = uuid.uuid4().hex[:8]
    ana, bo, cy, dee, eve = (
        f"{n}.{tag}@example.{d}"
        for n, d in (("ana", "com"), ("bo", "org"), ("cy", "net"), ("dee", "com"), ("eve", "org"))
    )
    first_file = (
        "email,first_name,last_name,city\n"
        f"{ana},Ana,Silva,Lisbon\n{bo},Bo,Berg,Oslo\nnot-an-address-{tag},Nope,Nope,Nowhere\n"
        f"{cy},Cy,Chen,Taipei\n{ana.upper()},Ana,Again,Lisbon\n"
    )
    second_file = f"email,first_name\n{dee},Dee\n{eve},Eve\n"
    admin.login(owner)

    # A real SMTP server without the postal address: the composer warns, sending is
    # refused (409) with a link to where the address goes.
    admin.nav("email/smtp", "#smtp-form")
    page.select_option("#smtp-preset", "")
    page.fill("#smtp-host", "smtp.example.com")
    page.fill("#smtp-port", "587")
    page.fill("#smtp-from_address", f"news.{tag}@example.com")
    page.click("#smtp-save")
    expect(page.locator("#toasts")).to_contain_text("SMTP settings saved")
    admin.nav("email/contacts", "#contacts-form")
    page.set_input_files(
        "#contacts-file",
        files=[{"name": "contacts.csv", "mimeType": "text/csv", "buffer": first_file.encode()}],
    )
    expect(page.locator("#contacts-mapping")).to_contain_text("first_name")
    page.fill("#contacts-list", f"Newsletter {tag}")
    page.click("#contacts-import")
    report = page.locator("#import-report")
    expect(report.locator("[data-count=imported]")).to_have_text("Imported: 3")
    expect(report.locator("[data-count=rejected]")).to_have_text("Rejected: 2")
    expect(report).to_contain_text(f"not-an-address-{tag}")
    # The form now points at that list and forgets the name: a second file goes there.
    expect(page.locator("#contacts-list-id")).not_to_have_value("")
    list_id = page.locator("#contacts-list-id").input_value()
    expect(page.locator("#contacts-list")).to_have_value("")
    page.set_input_files(
        "#contacts-file",
        files=[{"name": "more.csv", "mimeType": "text/csv", "buffer": second_file.encode()}],
    )
    page.click("#contacts-import")
    expect(page.locator("#import-report [data-count=imported]")).to_have_text("Imported: 2")
    lists = page.locator("#contact-lists tr", has_text=f"Newsletter {tag}")
    expect(lists).to_have_count(1)
    expect(lists.locator(".list-count")).to_have_text("5")
    row = page.locator("#contacts-table tr", has_text=ana)
    expect(row).to_contain_text(f"Newsletter {tag}")
    expect(row.locator(".badge[data-status]")).to_have_attribute("data-status", "subscribed")

    # Search, edit, a manual unsubscribe and a delete (each asks twice, no dialog).
    page.fill("#contacts-search", f"ana.{tag}")
    expect(page.locator("#contacts-table tr[data-id]")).to_have_count(1)
    page.locator("#contacts-table tr", has_text=ana).locator("button", has_text="Edit").click()
    page.fill("#contact-first", "Ana Maria")
    page.select_option("#contact-tz", "Asia/Kolkata")
    page.click("#contact-save")
    expect(page.locator("#contacts-table tr", has_text=ana)).to_contain_text("Ana Maria")
    expect(page.locator("#contacts-table tr", has_text=ana)).to_contain_text("Asia/Kolkata")
    page.fill("#contacts-search", f"eve.{tag}")
    eve_row = page.locator("#contacts-table tr", has_text=eve)
    eve_row.locator("button", has_text="Unsubscribe").click()
    eve_row.locator("button", has_text="Confirm unsubscribe").click()
    expect(eve_row.locator(".badge[data-status]")).to_have_attribute("data-status", "unsubscribed")
    page.fill("#contacts-search", f"dee.{tag}")
    dee_row = page.locator("#contacts-table tr", has_text=dee)
    dee_row.locator("button", has_text="Delete").click()
    dee_row.locator("button", has_text="Confirm delete").click()
    expect(page.locator("#contacts-table tr", has_text=dee)).to_have_count(0)
    expect(lists.locator(".list-count")).to_have_text("4")
    # Eve (unsubscribed) leaves the list; the contact stays.
    page.fill("#contacts-search", "")
    page.select_option("#contacts-scope", label=f"list: Newsletter {tag}")
    eve_row = page.locator("#contacts-table tr", has_text=eve)
    expect(page.locator("#contacts-table tr[data-id]")).to_have_count(4)  # ana, bo, cy, eve
    eve_row.locator("button", has_text="Remove from list").click()
    eve_row.locator("button", has_text="Confirm remove").click()
    expect(page.locator("#contacts-table tr", has_text=eve)).to_have_count(0)
    expect(lists.locator(".list-count")).to_have_text("3")
    page.select_option("#contacts-scope", label="all contacts")
    expect(page.locator("#contacts-table tr", has_text=eve)).to_have_count(1)
    page.fill("#contacts-search", "")
    expect(page.locator("#contacts-table tr", has_text=cy)).to_be_visible()
    admin.check("email-contacts")

    # An email template with a link; a campaign starts from it.
    admin.nav("email/templates", "#email-template-form")
    page.fill("#etpl-name", f"Welcome {tag}")
    page.fill("#etpl-subject", "Hello {{ first_name }}")
    page.fill(
        "#etpl-html",
        "<h1>Hi {{ first_name }}</h1><p>News from <b>Herald</b>, one more thing.\n"
        '<a href="https://herald.example/news">Read it</a></p>',
    )
    page.fill("#etpl-defaults", "first_name=there")
    page.click("#etpl-save")
    expect(page.locator("#email-templates-list")).to_contain_text(f"Welcome {tag}")
    admin.check("email-templates")
    # Another one, edited, then deleted.
    page.fill("#etpl-name", f"Scratch {tag}")
    page.fill("#etpl-subject", "First subject")
    page.click("#etpl-save")
    scratch = page.locator("#email-templates-list tr", has_text=f"Scratch {tag}")
    scratch.locator("button", has_text="Edit").click()
    page.fill("#etpl-subject", "Second subject")
    page.click("#etpl-save")
    expect(scratch).to_contain_text("Second subject")
    scratch.locator("button", has_text="Delete").click()
    expect(page.locator("#email-templates-list tr", has_text=f"Scratch {tag}")).to_have_count(0)
    page.locator("#email-templates-list tr", has_text=f"Welcome {tag}").locator(
        "a", has_text="New campaign"
    ).click()
    page.wait_for_selector("#email-composer")
    expect(page.locator("#email-subject")).to_have_value("Hello {{ first_name }}")
    expect(page.locator("#email-postal-warning")).to_contain_text("postal address")
    page.fill("#email-name", f"November news {tag}")
    page.select_option("#email-list", value=list_id)
    page.fill("#email-text", "")
    page.locator("#email-variables summary").click()
    expect(page.locator("#email-variables")).to_contain_text("{{ unsubscribe_url }}")
    admin.allow(409)
    page.click("#email-send")
    refusal = page.locator("#view .api-error[data-status='409']")
    expect(refusal).to_contain_text("postal address")
    # The refused campaign stays a draft: edited from its page, then deleted.
    page.locator("#email-campaigns a", has_text=f"November news {tag}").click()
    page.wait_for_selector("#email-edit")
    page.click("#email-edit")
    expect(page.locator("#email-name")).to_have_value(f"November news {tag}")
    page.fill("#email-subject", "Hello again {{ first_name }}")
    page.click("#email-save")
    page.wait_for_selector("#email-campaign-name")
    expect(page.locator("#view")).to_contain_text("Hello again {{ first_name }}")
    page.locator("button", has_text="Delete").click()
    page.locator("button", has_text="Confirm delete").click()
    page.wait_for_selector("#email-composer")
    expect(page.locator("#email-campaigns")).not_to_contain_text(f"November news {tag}")
    page.click("#email-postal-warning a")

    # The SMTP settings: the local sink (sandbox), with the postal address; a test send.
    page.wait_for_selector("#smtp-form")
    page.select_option("#smtp-preset", "local-sink")
    expect(page.locator("#smtp-sandbox")).to_be_visible()
    page.fill("#smtp-postal_address", ADDRESS)
    page.click("#smtp-save")
    expect(page.locator("#toasts")).to_contain_text("SMTP settings saved")
    page.fill("#smtp-test-to", f"test.{tag}@example.com")
    page.click("#smtp-test")
    expect(page.locator("#smtp-test-result .alert-success")).to_be_visible()
    admin.check("email-smtp")

    # The draft the refusal left, or a new one: send it now.
    admin.nav("email/campaigns", "#email-composer")
    page.select_option("#email-template", label=f"Welcome {tag}")
    page.fill("#email-name", f"November news {tag} (sent)")
    page.select_option("#email-list", value=list_id)
    page.fill("#email-text", "")
    expect(page.locator("#email-footer-preview")).to_contain_text("1 Rue de la Paix")
    frame = page.frame_locator("#email-html-preview")
    expect(frame.locator("h1")).to_have_text("Hi {{ first_name }}")
    assert page.get_attribute("#email-html-preview", "sandbox") == ""
    admin.check("email-compose")
    page.click("#email-send")
    expect(page.locator("#email-progress")).to_have_attribute("data-pct", "100", timeout=60_000)
    expect(page.locator("#email-progress-counts")).to_contain_text("3 sent")  # not eve
    for address in (ana, bo, cy):
        expect(page.locator("#email-recipients tr", has_text=address)).to_contain_text("250")

    # The messages: the unsubscribe link and the address, visible in both parts.
    found = _wait_for_messages(admin.stack.mail_dir, {ana, bo, cy, f"test.{tag}@example.com"})
    assert found[ana]["Subject"] == "Hello Ana Maria"
    html = found[bo].get_body(("html",)).get_content()
    text = found[bo].get_body(("plain",)).get_content()
    header = next(
        u.strip("<>") for u in str(found[bo]["List-Unsubscribe"]).split(", ") if "http" in u
    )
    assert f'href="{header}"' in html and ">Unsubscribe</a>" in html
    assert "Acme Corp, 1 Rue de la Paix, 75002 Paris, France" in html
    assert f"Unsubscribe: {header}" in text and "1 Rue de la Paix" in text
    assert "one more thing. Read it" in text  # the space between blocks is kept

    # The recipients act: Ana opens and clicks, Bo opens and unsubscribes (one click).
    def links(msg: EmailMessage) -> tuple[str, str, str]:
        body = msg.get_body(("html",)).get_content()
        pixel = re.search(r'src="([^"]+/o/[^"]+)"', body)
        click = re.search(r'href="([^"]+/c/[^"]+)"', body)
        assert pixel and click, body
        unsub = next(u.strip("<>") for u in str(msg["List-Unsubscribe"]).split(", ") if "http" in u)
        return pixel.group(1), click.group(1), unsub

    a_open, a_click, _ = links(found[ana])
    b_open, _, b_unsub = links(found[bo])
    assert _hit(a_open) == 200 and _hit(b_open) == 200
    assert _hit(a_click) == 302
    assert _hit(b_unsub, urllib.parse.urlencode({"List-Unsubscribe": "One-Click"}).encode()) == 200
    # A link scanner prefetches Cy's pixel: shown apart, not as Cy's open.
    c_open, _, _ = links(found[cy])
    assert _hit(c_open, agent="python-urllib/3.11") == 200

    # Within a tick: the campaign page and the dashboard show them (rollups, not events).
    expect(page.locator("#open-rate-count")).to_have_text("2 opened", timeout=20_000)
    expect(page.locator("#machine-engagement")).to_contain_text(
        "1 opens and 0 clicks by machines", timeout=20_000
    )
    expect(page.locator("#click-rate-count")).to_have_text("1 clicked", timeout=10_000)
    expect(page.locator("#unsubscribe-rate-count")).to_have_text("1 unsubscribed", timeout=10_000)
    expect(page.locator("#email-top-links")).to_contain_text("https://herald.example/news")
    admin.check("email-campaign")
    page.fill("#email-test-to", f"test.again.{tag}@example.com")
    page.locator("button", has_text="Send me a test").click()
    expect(page.locator("#toasts")).to_contain_text("Test message sent")
    with page.expect_download() as download:
        page.click(".export-csv[data-table='email_recipients']")
    assert bo in open(download.value.path(), encoding="utf-8-sig").read()  # noqa: SIM115

    admin.nav("dashboard", "#top-campaigns")
    expect(page.locator("#top-campaigns")).to_contain_text(f"November news {tag} (sent)")
    expect(page.locator("#stat-clicks")).not_to_have_text("0", timeout=10_000)
    expect(page.locator("#stat-unsubscribes")).not_to_have_text("0")
    expect(page.locator("#scheduler-state")).to_contain_text("scheduler running")
    admin.check("dashboard")

    admin.nav("email/contacts", "#contacts-table")
    page.fill("#contacts-search", f"bo.{tag}")
    expect(
        page.locator("#contacts-table tr", has_text=bo).locator(".badge[data-status]")
    ).to_have_attribute("data-status", "unsubscribed")

    # Another one at 09:00 tomorrow in each recipient's own zone (Ana's is Asia/Kolkata).
    admin.nav("email/campaigns", "#email-composer")
    page.select_option("#email-template", label=f"Welcome {tag}")
    page.fill("#email-name", f"Local morning {tag}")
    page.select_option("#email-list", value=list_id)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    page.fill("#email-at", f"{tomorrow}T09:00:00")
    page.check("#email-local-hour")
    page.click("#email-schedule")
    page.wait_for_selector("#email-campaign-name")
    state = page.locator("#email-status .badge[data-status]")
    expect(state).to_have_attribute("data-status", "scheduled")
    page.click("#email-unschedule")  # back to a draft, then scheduled again
    expect(state).to_have_attribute("data-status", "draft")
    page.click("#email-edit")
    page.wait_for_selector("#email-composer")
    page.click("#email-schedule")
    page.wait_for_selector("#email-campaign-name")
    expect(state).to_have_attribute("data-status", "scheduled")
    page.click("#email-cancel")
    expect(state).to_have_attribute("data-status", "cancelled")
