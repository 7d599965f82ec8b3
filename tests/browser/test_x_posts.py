"""X posts from the page alone: a sandbox account, a campaign with its X account and
autopilot, drafts generated and edited while the list refreshes, a template, the
composer (template, image upload and library, a schedule to the second), a series,
the calendar drag, the history with images, analytics and a CSV export."""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Account, Admin, Api

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def _png(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 36), colour).save(out, format="PNG")
    return out.getvalue()


def test_campaign_drafts_templates_composer_series_calendar_history_analytics(
    admin: Admin, owner: Account, owner_api: Api
) -> None:
    from twitter_text import parse_tweet

    page = admin.page
    tag = uuid.uuid4().hex[:6]
    handle = f"herald_{tag}"
    admin.login(owner)

    # Settings: a labelled sandbox X account.
    admin.nav("settings", "#x-accounts")
    expect(page.locator("#sandbox-badge")).to_be_visible()
    page.fill("#sandbox-handle", handle)
    page.click("#x-sandbox")
    expect(page.locator("#x-accounts")).to_contain_text(f"@{handle}")
    admin.check("settings")
    # A second account: its tier saved, then disconnected.
    page.fill("#sandbox-handle", f"spare_{tag}")
    page.click("#x-sandbox")
    spare = page.locator("#x-accounts tr", has_text=f"@spare_{tag}")
    spare.locator("input[aria-label=post_usd]").fill("0.02")
    spare.locator("button", has_text="Save").click()
    expect(page.locator("#toasts")).to_contain_text("Account saved")
    spare.locator("button", has_text="Disconnect").click()
    # Its tokens are gone; the row stays, so the history keeps its handle.
    expect(spare.locator(".badge[data-status]")).to_have_attribute("data-status", "disconnected")

    # A campaign whose posts go to that account; its brief asks for approval, autopilot on.
    admin.nav("campaigns", "#campaign-create")
    name = f"Launch {tag}"
    page.fill("#campaign-create [name=name]", name)
    page.fill("#campaign-create [name=description]", "Herald schedules posts for small teams")
    page.select_option("#campaign-create [name=account_id]", label=f"X @{handle} (sandbox)")
    page.click("#campaign-create button[type=submit]")
    expect(page.locator("#campaign-list")).to_contain_text(f"@{handle}")
    admin.check("campaigns")
    # A campaign made by mistake goes again.
    page.fill("#campaign-create [name=name]", f"Mistake {tag}")
    page.click("#campaign-create button[type=submit]")
    page.locator("#campaign-list a.campaign-link", has_text=f"Mistake {tag}").click()
    page.wait_for_selector("#campaign-edit")
    page.locator("button", has_text="Delete").click()
    page.locator("button", has_text="Confirm delete").click()
    page.wait_for_selector("#campaign-list")
    expect(page.locator("#campaign-list")).not_to_contain_text(f"Mistake {tag}")
    page.locator("#campaign-list a.campaign-link", has_text=name).click()
    page.wait_for_selector("#brief-form")
    expect(page.locator("#brief-approval")).to_be_checked()
    page.check("#brief-autopilot")
    page.fill("#brief-days", "3")
    page.fill("#brief-per-day", "2")
    page.fill("#brief-times", "09:00 18:00")
    page.click("#brief-save")
    expect(page.locator("#toasts")).to_contain_text("Generation settings saved")
    page.reload()
    page.wait_for_selector("#brief-form")
    expect(page.locator("#brief-autopilot")).to_be_checked()
    expect(page.locator("#brief-times")).to_have_value("09:00 18:00")
    admin.check("campaign")

    # A posting plan for the campaign: its next slots, read again on demand.
    admin.nav("settings", "#plan-campaign")
    page.select_option("#plan-campaign", label=f"{name} (UTC)")
    page.select_option("#plan-account", label=f"@{handle} (sandbox)")
    page.fill("#plan-per-day", "4")
    page.locator("#plan-per-day").press("Enter")
    result = page.locator("#posting-plan-result")
    expect(result).to_contain_text("4 posts a day")
    page.click("#plan-refresh")
    expect(page.locator("#plan-refresh")).to_be_enabled()
    expect(result).to_contain_text("Next slots")

    # Drafts: generated for the campaign's account; an edit survives the 5 s refresh.
    admin.nav("drafts", "#drafts-generate")
    page.select_option("#drafts-campaign", label=name)
    expect(page.locator("#drafts-account-hint")).to_be_empty()
    page.fill("#drafts-count", "2")
    page.click("#drafts-generate")
    expect(page.locator("#drafts-result")).to_contain_text("2 draft(s) written", timeout=30_000)
    rows = page.locator("#drafts-list tr[data-id]")  # with the autopilot's own, by now
    expect(rows.first).to_be_visible()
    first = rows.first.get_attribute("data-id")
    box = page.locator(f"#drafts-list tr[data-id='{first}'] textarea")
    edited = f"Edited by hand {tag}: scheduling for small teams"
    box.fill(edited)
    page.wait_for_timeout(6_500)  # more than one refresh
    expect(box).to_have_value(edited)
    expect(box).to_be_focused()
    admin.check("drafts")
    page.locator(f"#drafts-list tr[data-id='{first}'] button", has_text="Approve").click()
    expect(page.locator(f"#drafts-list tr[data-id='{first}']")).to_have_count(0)
    second = rows.first.get_attribute("data-id")
    page.locator(f"#drafts-list tr[data-id='{second}'] button", has_text="Reject").click()
    expect(page.locator(f"#drafts-list tr[data-id='{second}']")).to_have_count(0)

    # A post template with placeholders.
    admin.nav("templates", "#template-form")
    page.fill("#template-name", f"Feature {tag}")
    page.fill("#template-text", "New in Herald: {feature} 🚀 read {link}")
    page.click("#template-save")
    expect(page.locator("#templates-list")).to_contain_text("{feature} {link}")
    admin.check("templates")
    # Another one, edited, then deleted.
    page.fill("#template-name", f"Scratch {tag}")
    page.fill("#template-text", "Draft of {thing}")
    page.click("#template-save")
    scratch = page.locator("#templates-list tr", has_text=f"Scratch {tag}")
    scratch.locator("button", has_text="Edit").click()
    page.fill("#template-text", "Second draft of {thing} for {whom}")
    page.click("#template-save")
    expect(scratch).to_contain_text("{thing} {whom}")
    scratch.locator("button", has_text="Delete").click()
    expect(page.locator("#templates-list tr", has_text=f"Scratch {tag}")).to_have_count(0)

    # Compose from the template; the counter is twitter-text's weighted length.
    admin.nav("compose", "#part-0")
    page.select_option("#compose-campaign", label=name)
    page.select_option("#compose-account", label=f"X @{handle} (sandbox)")
    page.select_option("#compose-template", label=f"Feature {tag}")
    page.fill("#tpl-feature", "calendar drag")
    page.fill("#tpl-link", "https://example.com/releases/2026/autumn-edition?ref=herald")
    page.click("#compose-template-insert")
    text = "New in Herald: calendar drag 🚀 read https://example.com/releases/2026/autumn-edition?ref=herald"
    expect(page.locator("#part-0")).to_have_value(text)
    expect(page.locator("#counter-0")).to_have_text(f"{parse_tweet(text).weightedLength} / 280")
    # The preview shows the handle once (no display name: not "herald_x @herald_x").
    head = page.locator("#tweet-preview .preview-head").first
    expect(head).to_contain_text(f"@{handle}")
    assert head.inner_text().count(handle) == 1
    page.click("#add-part")
    page.fill("#part-1", "続きはこちら: thread part two with #hashtag")  # CJK weighs 2
    page.set_input_files(
        "#media-0",
        files=[{"name": "card.png", "mimeType": "image/png", "buffer": _png((13, 110, 253))}],
    )
    expect(page.locator("#tweet-preview img.thumb")).to_have_count(1)
    admin.check("compose")
    # Saved as a draft, the server says whether X would take it.
    page.click("#save-draft")
    page.wait_for_selector("#compose-validate")
    page.click("#compose-validate")
    expect(page.locator("#compose-check")).to_contain_text("Ready for X")
    expect(page.locator("#tweet-preview img.thumb")).to_have_count(1)

    # Scheduled at a second of its own, in UTC: the post keeps the second.
    due = (datetime.now(UTC) + timedelta(minutes=30)).replace(second=37, microsecond=0)
    page.fill("#schedule-at", due.strftime("%Y-%m-%dT%H:%M:%S"))
    expect(page.locator("#schedule-utc")).to_contain_text(due.strftime("%Y-%m-%dT%H:%M:37Z"))
    page.click("#schedule-post")
    page.wait_for_selector("#history-table")
    row = page.locator("#history-table tr", has_text="calendar drag").first
    expect(row.locator(".badge[data-status]")).to_have_attribute("data-status", "scheduled")
    scheduled_id = row.get_attribute("data-id")
    stored = owner_api.ok("GET", f"/posts/{scheduled_id}")
    assert datetime.fromisoformat(stored["due_at"]) == due

    # The library: the uploaded image is there, and a new post picks it from there.
    admin.nav("media", "#media-grid")
    expect(page.locator("#media-grid .media-tile")).not_to_have_count(0)
    admin.check("media")
    admin.nav("compose", "#part-0")
    page.select_option("#compose-account", label=f"X @{handle} (sandbox)")
    page.fill("#part-0", f"Posted now with a library image {tag}")
    page.click("#library-open")
    page.locator("#library-grid .media-tile").first.click()
    expect(page.locator("#tweet-preview img.thumb")).to_have_count(1)

    # …and a series from it: the composer hands its text and account to the series form.
    page.click("#compose-to-series")
    page.wait_for_selector("#series-form")
    expect(page.locator("#series-texts")).to_have_value(f"Posted now with a library image {tag}")
    page.fill("#series-texts", f"Weekly tip {tag} #1\n---\nWeekly tip {tag} #2")
    page.fill("#series-name", f"Tips {tag}")
    page.select_option("#series-account", label=f"X @{handle} (sandbox)")
    page.select_option("#series-every", "weekly")
    page.click("#series-create")
    series_row = page.locator("#series-list tr", has_text=f"Tips {tag}")
    expect(series_row).to_contain_text("weekly")
    expect(series_row.locator(".badge[data-status]")).to_have_attribute("data-status", "active")
    admin.check("series")
    series_row.locator("button", has_text="Schedule next 24 h").click()
    expect(page.locator("#toasts")).to_contain_text("post(s) scheduled")
    series_row.locator("button", has_text="Stop").click()
    expect(page.locator("#toasts")).to_contain_text("Series stopped")

    # Post now (sandbox): published, with its image, in the history.
    admin.nav("compose", "#part-0")
    page.select_option("#compose-account", label=f"X @{handle} (sandbox)")
    page.fill("#part-0", f"Posted now {tag}")
    page.click("#library-open")
    page.locator("#library-grid .media-tile").first.click()
    page.check("#when-now")
    page.click("#schedule-post")
    page.wait_for_selector("#history-table")
    now_row = page.locator("#history-table tr", has_text=f"Posted now {tag}").first
    expect(now_row.locator(".badge[data-status]")).to_have_attribute(
        "data-status", "published", timeout=45_000
    )
    expect(now_row.locator(".post-images img")).to_have_attribute("src", re.compile(r"^blob:"))
    now_row.locator("button[aria-label='Metrics over time']").click()
    expect(page.locator("#post-growth")).to_be_visible()
    expect(page.locator("#post-growth-title")).to_contain_text(f"Posted now {tag}")
    admin.check("history")
    # A draft nobody wants: deleted from the history (it asks twice).
    page.select_option("#history-status", "draft")
    # The filtered list has replaced the whole one (a row armed before would be redrawn).
    expect(page.locator("#history-table tr[data-id]:not([data-status=draft])")).to_have_count(0)
    draft = page.locator("#history-table tr[data-status=draft]").first
    draft_id = draft.get_attribute("data-id")
    draft.locator("button", has_text="Delete").click()
    chosen = page.locator(f"#history-table tr[data-id='{draft_id}']")
    chosen.locator("button", has_text="Confirm delete").click()
    expect(chosen).to_have_count(0)
    page.select_option("#history-status", "")

    # Calendar: the scheduled post, dragged one day, keeps its wall-clock time to the second.
    admin.nav("calendar", "#calendar-grid .cal-day")
    item = page.locator(f".cal-item[data-id='{scheduled_id}']")
    expect(item).to_be_visible()
    admin.check("calendar")
    target = due.date() + timedelta(days=1)
    if page.locator(f".cal-day[data-day='{target.isoformat()}']").count() == 0:
        target = due.date() - timedelta(days=1)
    item.drag_to(page.locator(f".cal-day[data-day='{target.isoformat()}']"))
    moved = page.locator(
        f".cal-day[data-day='{target.isoformat()}'] .cal-item[data-id='{scheduled_id}']"
    )
    expect(moved).to_be_visible()
    after = datetime.fromisoformat(owner_api.ok("GET", f"/posts/{scheduled_id}")["due_at"])
    assert after == due + (target - due.date())
    page.click("#cal-week")
    expect(page.locator("#calendar-grid .cal-week")).to_be_visible()
    admin.check("calendar-week")

    # Analytics: the overview, best time, read budget; every table exports as CSV.
    admin.nav("analytics", "#exports")
    expect(page.locator("#read-budget")).to_contain_text("of")
    expect(page.locator("#analytics-totals")).to_contain_text("Open rate")
    expect(page.locator("#generation-usage")).to_contain_text("Requests")
    admin.check("analytics")
    with page.expect_download() as download:
        page.click("#exports .export-csv[data-table='posts']")
    assert re.fullmatch(r"herald-posts-\d{4}-\d\d-\d\d\.csv", download.value.suggested_filename)
    csv_text = open(download.value.path(), encoding="utf-8-sig").read()  # noqa: SIM115
    assert "Posted now" in csv_text and csv_text.startswith("id,account_id,campaign_id")
