"""The admin page's X features in real Chromium against the whole local stack: OAuth 2.0
connect and reconnect (the stack's X is tests/x/fake_x.py), the budget and the month's
spend, alt text, video upload, "link in first reply", and a held thread."""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from local.stack import Stack
from tests.browser.conftest import Account, Admin, Api
from tests.e2e._x_helpers import stack_runtime, wait_for_status
from tests.images import mp4

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 32), (25, 135, 84)).save(out, format="PNG")
    return out.getvalue()


def test_connect_with_oauth2_and_reconnect_a_lost_account(
    admin: Admin, fresh_owner: Account, stack: Stack
) -> None:
    page = admin.page
    admin.login(fresh_owner)
    admin.nav("settings", "#x-accounts")
    # X's consent page (the stack's stand-in approves at once) sends the browser back
    # with ?state=…&code=…; the page finishes the connection.
    page.click("#x-connect-oauth2")
    expect(page.locator("#toasts")).to_contain_text("X account connected")
    row = page.locator("#x-accounts tr", has_text="@herald_oauth2")
    expect(row).to_contain_text("OAuth 2.0")
    expect(row.locator(".badge[data-status]")).to_have_attribute("data-status", "active")
    assert "code=" not in page.url and "state=" not in page.url
    account_id = row.get_attribute("data-id")
    admin.check("settings-oauth2")

    # Its token lineage is lost (X refused the refresh token): the page says so.
    runtime = stack_runtime(stack)
    runtime.db.collection("x_accounts").document(account_id).update(
        {
            "status": "reconnect_needed",
            "status_reason": "X refused the account's refresh token; reconnect the account",
        }
    )
    admin.nav("dashboard", "#stat-sent")
    admin.nav("settings", "#x-accounts")
    row = page.locator(f"#x-accounts tr[data-id='{account_id}']")
    expect(row).to_contain_text("reconnect needed")
    expect(row.locator(".status-reason")).to_contain_text("refresh token")
    admin.shot("settings-reconnect")
    row.locator(".x-reconnect").click()
    expect(page.locator("#toasts")).to_contain_text("X account connected")
    row = page.locator(f"#x-accounts tr[data-id='{account_id}']")
    expect(row.locator(".badge[data-status]")).to_have_attribute("data-status", "active")
    assert page.locator("#x-accounts tr", has_text="@herald_oauth2").count() == 1


def test_compose_with_alt_text_video_link_in_reply_past_the_budget(
    admin: Admin, fresh_owner: Account, stack: Stack
) -> None:
    page = admin.page
    api = Api(stack, fresh_owner)
    api.ok("POST", "/x/accounts/sandbox", {"handle": "budgeted"})
    admin.login(fresh_owner)

    # The workspace's monthly X budget: ask before going past $0.10.
    admin.nav("settings", "#x-budget-form")
    page.fill("#x-budget-usd", "0.10")
    page.select_option("#x-budget-policy", "confirm")
    page.click("#x-budget-save")
    expect(page.locator("#x-budget-spend")).to_contain_text("budget $0.10")
    # The account's own budget too (a looser one: the workspace's asks first).
    account_row = page.locator("#x-accounts tr", has_text="@budgeted")
    account_row.locator("input.account-budget").fill("5")
    account_row.locator(".account-budget-save").click()
    expect(page.locator("#toasts")).to_contain_text("Budget saved")

    admin.nav("compose", "#part-0")
    expect(page.locator("#spend-panel")).to_contain_text("budget $0.10")
    text = "Our launch notes are out: https://example.com/notes — read them!"
    page.fill("#part-0", text)
    page.check("#link-in-reply")
    previews = page.locator("#tweet-preview .tweet-preview")
    expect(previews).to_have_count(2)
    expect(previews.nth(0)).not_to_contain_text("https://example.com")
    expect(previews.nth(1)).to_contain_text("https://example.com/notes")
    expect(page.locator(".link-reply-badge")).to_be_visible()
    expect(page.locator("#cost-estimate")).to_contain_text("$0.215")

    # An image and a video, each with its alt text.
    page.set_input_files(
        "#media-0", files=[{"name": "card.png", "mimeType": "image/png", "buffer": _png()}]
    )
    expect(page.locator("#alt-0")).to_be_visible()
    page.fill("#alt-0", "A green square, our logo's colour")
    clip = mp4(2072)
    page.set_input_files(
        "#media-0", files=[{"name": "clip.mp4", "mimeType": "video/mp4", "buffer": clip}]
    )
    expect(page.locator(".media-item[data-kind=video]")).to_have_count(1)
    page.fill("#alt-1", "Ten seconds of the launch stage")
    admin.shot("compose-media")

    # $0.215 takes the month past $0.10: the page asks, then schedules it.
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    if tomorrow.month != datetime.now(UTC).month:
        tomorrow = datetime.now(UTC) + timedelta(hours=2)
    page.fill("#schedule-at", tomorrow.strftime("%Y-%m-%dT%H:%M"))
    admin.allow(409)  # the API's "past the budget" answer, which the page turns into a question
    page.click("#schedule-post")
    prompt = page.locator("#compose-errors .over-budget")
    expect(prompt).to_contain_text("past the workspace's budget")
    admin.check("compose-over-budget")
    page.click("#confirm-over-budget")
    page.wait_for_selector("#history-table")
    items: list[dict[str, Any]] = api.ok("GET", "/posts?status=scheduled")["items"]
    post = next(p for p in items if p["text"] == text)
    assert post["link_in_reply"] is True
    assert post["media_alt"] == [
        "A green square, our logo's colour",
        "Ten seconds of the launch stage",
    ]
    assert len(post["media"]) == 2

    # The scheduler shows the month's committed spend against the budget.
    admin.nav("calendar", "#calendar-grid .cal-day")
    spend = page.locator("#calendar-spend [data-scope=workspace]")
    expect(spend).to_contain_text(re.compile(r"committed \$0\.2[12]"))
    expect(spend).to_have_attribute("data-over", "1")


def test_a_held_thread_goes_on_as_separate_posts(
    admin: Admin, fresh_owner: Account, stack: Stack
) -> None:
    page = admin.page
    api = Api(stack, fresh_owner)
    account = api.ok("POST", "/x/accounts/sandbox", {"handle": "threads"})
    tag = uuid.uuid4().hex[:6]
    post = api.ok(
        "POST",
        "/posts",
        {"account_id": account["id"], "text": f"1/3 held {tag}", "parts": ["2/3", "3/3"]},
    )
    # X took part one and refused part two as a reply (its 2026 reply restriction).
    runtime = stack_runtime(stack)
    reason = "X does not permit this post: Reply to this conversation is not allowed"
    runtime.db.collection("posts").document(post["id"]).update(
        {
            "status": "held",
            "x_ids": ["1890000000000000001"],
            "last_error": {"code": 403, "reason": reason, "at": datetime.now(UTC)},
        }
    )
    admin.login(fresh_owner)
    admin.nav("history", "#history-table")
    row = page.locator(f"#history-table tr[data-id='{post['id']}']")
    expect(row.locator(".badge[data-status]")).to_have_attribute("data-status", "held")
    expect(row).to_contain_text("Reply to this conversation is not allowed")
    expect(row.locator(".held-note")).to_contain_text("1 of its parts are on X")
    admin.check("history-held")
    row.locator(".post-rest").click()
    expect(page.locator("#toasts")).to_contain_text("separate posts")
    done = wait_for_status(runtime, post["id"], {"published", "failed"})
    assert done["status"] == "published" and len(done["x_ids"]) == 3
    assert done["x_ids"][0] == "1890000000000000001"


def test_a_held_thread_can_be_dropped(admin: Admin, fresh_owner: Account, stack: Stack) -> None:
    page = admin.page
    api = Api(stack, fresh_owner)
    account = api.ok("POST", "/x/accounts/sandbox", {"handle": "dropper"})
    post = api.ok(
        "POST", "/posts", {"account_id": account["id"], "text": "1/2 dropped", "parts": ["2/2"]}
    )
    runtime = stack_runtime(stack)
    runtime.db.collection("posts").document(post["id"]).update(
        {
            "status": "held",
            "x_ids": ["1890000000000000002"],
            "last_error": {"code": 403, "reason": "Reply to this conversation is not allowed"},
        }
    )
    admin.login(fresh_owner)
    admin.nav("history", "#history-table")
    row = page.locator(f"#history-table tr[data-id='{post['id']}']")
    row.locator(".drop-rest").click()
    expect(page.locator("#toasts")).to_contain_text("dropped")
    done = wait_for_status(runtime, post["id"], {"failed", "published"})
    assert done["status"] == "failed" and done["x_ids"] == ["1890000000000000002"]
