"""Job ads from the page alone: openings (the apply URL marked required; the currency
keeps its default for the next one), an ad campaign with dates and targeting under the
employment rules, a publish refused until the opening is open (the refusal links to
where to fix it), candidates and segments."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Account, Admin

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_openings_ads_with_targeting_candidates_and_segments(admin: Admin, owner: Account) -> None:
    page = admin.page
    tag = uuid.uuid4().hex[:6]
    admin.login(owner)

    admin.nav("jobs/openings", "#openings-form")
    expect(page.locator("label[for=openings-apply_url]")).to_contain_text("(required)")
    expect(page.locator("#openings-salary_currency")).to_have_value("EUR")
    for title in (f"Backend engineer {tag}", f"Data engineer {tag}"):
        page.fill("#openings-title", title)
        page.fill("#openings-company", "Acme Corp")
        page.fill("#openings-city", "Lyon")
        page.fill("#openings-country", "FR")
        page.fill("#openings-salary_min", "50000")
        page.fill("#openings-salary_max", "65000")
        page.fill("#openings-apply_url", f"https://jobs.example.com/{tag}")
        page.click("#openings-form button[type=submit]")
        expect(page.locator("#openings-list")).to_contain_text(title)
        # Back to the real defaults: EUR, not empty ("a salary needs salary_currency").
        expect(page.locator("#openings-salary_currency")).to_have_value("EUR")
    expect(page.locator("#openings-list")).to_contain_text("Lyon, FR")
    expect(page.locator("#openings-list")).to_contain_text("EUR/year")
    admin.check("jobs-openings")
    page.fill("#openings-title", f"Mistake {tag}")
    page.fill("#openings-company", "Acme Corp")
    page.fill("#openings-country", "FR")
    page.fill("#openings-apply_url", f"https://jobs.example.com/{tag}/x")
    page.click("#openings-form button[type=submit]")
    mistake = page.locator("#openings-list tr", has_text=f"Mistake {tag}")
    mistake.locator("button", has_text="Delete").click()
    mistake.locator("button", has_text="Confirm delete").click()
    expect(page.locator("#openings-list tr", has_text=f"Mistake {tag}")).to_have_count(0)

    # Candidates and their segments.
    rows = ["name,email,skills,years_experience,location,education,source"]
    rows += [
        f"Dev {i},dev{i}.{tag}@example.com,python;sql;docker,{2 + i % 3},Paris,bachelor,site"
        for i in range(6)
    ]
    rows += [
        f"Nurse {i},rn{i}.{tag}@example.com,nursing;triage,{12 + i % 4},Lyon,master,fair"
        for i in range(6)
    ]
    rows.append(f"Dev 0,dev0.{tag}@example.com,python;sql;docker,2,Paris,bachelor,site")  # twice
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
    expect(page.locator("#candidate-imports")).to_contain_text("people.csv")
    admin.check("jobs-candidates")
    admin.nav("jobs/segments", "#segments-run")
    page.fill("#segments-k", "2")
    page.click("#segments-run")
    expect(page.locator("#segments-run-state")).to_contain_text("done", timeout=60_000)
    expect(page.locator("#segments-list tr[data-id]")).to_have_count(2)
    expect(page.locator("#segments-list")).to_contain_text("nursing")
    # A segment's whole profile: what ad targeting can use from it.
    page.locator("#segments-list tr[data-id] button", has_text="Details").first.click()
    expect(page.locator("#segments-list .segment-details").first).to_contain_text("Ad keywords")
    expect(page.locator("#segment-runs .badge[data-status=done]").first).to_be_visible()
    admin.check("jobs-segments")

    # An ad campaign: dates, targeting checked against the employment rules first.
    admin.nav("jobs/ads", "#ads-form")
    expect(page.locator("tr[data-platform=meta]")).to_contain_text("sandbox")
    page.select_option("#ads-opening_id", label=f"Backend engineer {tag} (draft)")
    expect(page.locator("#ads-countries")).to_have_value("FR")
    page.fill("#ads-cities", "Lyon, 5")
    admin.allow(400)
    page.click("#ads-check")
    expect(page.locator("#ads-targeting-result")).to_contain_text("at least 15 miles")
    page.fill("#ads-cities", "Lyon, 25")
    page.fill("#ads-keywords", "python, backend")
    page.click("#ads-check")
    expect(page.locator("#ads-targeting-result")).to_contain_text("Allowed")
    # It starts shortly: scheduled when published, then active (so it can be paused).
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=25)
    page.fill("#ads-start", start.strftime("%Y-%m-%dT%H:%M:%S"))
    page.fill("#ads-end", (start + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M:%S"))
    page.fill("#ads-name", f"Ad for backend {tag}")
    page.select_option("#ads-platforms", "meta")
    page.fill("#ads-daily_budget", "25")
    page.click("#ads-form button[type=submit]")
    row = page.locator("#ads-list tr", has_text=f"Ad for backend {tag}")
    expect(row.locator(".badge[data-status]")).to_have_attribute("data-status", "draft")
    expect(row).to_contain_text("Lyon 25 mi")
    # A draft's budget is edited in place.
    budget = row.locator("input.budget-input")
    budget.fill("30")
    budget.press("Tab")
    expect(page.locator("#toasts")).to_contain_text("30 EUR/day")
    expect(row.locator("input.budget-input")).to_have_value("30")
    # A second draft, deleted (it asks twice).
    page.fill("#ads-name", f"Ad by mistake {tag}")
    page.fill("#ads-daily_budget", "10")
    page.click("#ads-form button[type=submit]")
    extra = page.locator("#ads-list tr", has_text=f"Ad by mistake {tag}")
    extra.locator("button", has_text="Delete").click()
    extra.locator("button", has_text="Confirm delete").click()
    expect(page.locator("#ads-list tr", has_text=f"Ad by mistake {tag}")).to_have_count(0)

    # Publishing waits for an open opening: the refusal says so and links to the openings.
    admin.allow(409)
    row.locator("button", has_text="Publish").click()
    refusal = page.locator("#ads-errors .api-error[data-status='409']")
    expect(refusal).to_contain_text("set the job opening's status to open")
    refusal.locator("a", has_text="job openings").click()
    page.wait_for_selector("#openings-list")
    opening = page.locator("#openings-list tr", has_text=f"Backend engineer {tag}")
    opening.locator("select").select_option("open")
    expect(page.locator("#toasts")).to_contain_text("Opening open")
    admin.nav("jobs/ads", "#ads-list")
    row = page.locator("#ads-list tr", has_text=f"Ad for backend {tag}")
    row.locator("button", has_text="Publish").click()
    expect(row.locator(".badge[data-status]")).to_have_attribute(
        "data-status", re.compile("scheduled|publishing|active"), timeout=30_000
    )
    admin.check("jobs-ads")
    # Once it runs: paused, resumed, archived.
    badge = row.locator(".badge[data-status]")
    expect(badge).to_have_attribute("data-status", "active", timeout=60_000)
    row.locator("button", has_text="Pause").click()
    expect(badge).to_have_attribute("data-status", "paused")
    row.locator("button", has_text="Resume").click()
    expect(badge).to_have_attribute("data-status", "active")
    row.locator("button", has_text="Archive").click()
    expect(row.locator(".badge[data-status]")).to_have_attribute(
        "data-status", "archived", timeout=30_000
    )

    # Credentials for Meta, kept in the secrets store, then removed again.
    meta = page.locator("tr[data-platform=meta]")
    meta.locator("input[name=account_id]").fill("1234567890")
    meta.locator("input[name=page_id]").fill("987654321")
    meta.locator("input[name=access_token]").fill("EAAB-not-a-real-token")
    meta.locator("button", has_text="Connect").click()
    expect(meta).to_contain_text("connected 1234567890")
    meta.locator("button", has_text="Remove credentials").click()
    meta.locator("button", has_text="Confirm: remove").click()
    expect(meta).to_contain_text("sandbox: recorded, not published")
