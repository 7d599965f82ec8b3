"""Fixtures for the admin page tests: Debian's Chromium driven by Playwright, against
the session `stack` (every function, the scheduler on a 1 s tick, the SMTP sink and the
admin page on free ports, sandbox on): one stack and one browser for every test.

The owner is made exactly as the README's first screen says: `herald user add
you@example.com`, no options, so the workspace is the default one, in UTC. Each test
signs in on a fresh browser context (own storage, so its own token) and fails on any
console error, page error or CSP violation it did not expect; `Admin.check` runs axe-core
on a screen (no serious or critical violation), checks it does not scroll sideways at
390 px, and saves its screenshot into docs/screens/ for the README.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local.stack import Stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PASSWORD = "correct horse battery"
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("HERALD_SCREENSHOTS", str(ROOT / "docs" / "screens")))
README_USER = "you@example.com"  # the README's own example
DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
# "Failed to load resource: the server responded with a status of 409 (CONFLICT)"
HTTP_ERROR = re.compile(r"status of (\d{3})")
OVERFLOW = """() => {
  const doc = document.documentElement;
  const page = Math.max(doc.scrollWidth, document.body.scrollWidth);
  const edge = window.innerWidth + 0.5;
  if (page <= window.innerWidth) return [];
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const right = el.getBoundingClientRect().right;
    const parent = el.parentElement ? el.parentElement.getBoundingClientRect().right : 0;
    const scroller = el.parentElement && el.parentElement.closest(".table-responsive, .text-part");
    if (right > edge && parent <= edge && el.offsetParent !== null && !scroller) {
      const cls = String(el.className).split(" ").slice(0, 3).join(".");
      out.push(`${el.tagName.toLowerCase()}#${el.id}.${cls} right=${Math.round(right)}`);
    }
  }
  return out.length ? out.slice(0, 8) : [`page ${page}px`];
}"""
AXE = """async () => {
  const r = await axe.run(document, { iframes: false, resultTypes: ["violations"] });
  return r.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 6)
      .map((n) => n.target.join(" ") + " :: " + (n.failureSummary || "")) }));
}"""


# Every API request a page made in this session, as (method, path after /api/v1): what
# test_zz_api_coverage.py checks against the OpenAPI document.
PAGE_CALLS: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    user_id: str
    workspace_id: str


def herald_user_add(stack: Stack, username: str, *extra: str) -> dict[str, str]:
    env = {**os.environ, **stack.env(), "HERALD_NEW_PASSWORD": PASSWORD}
    out = subprocess.run(
        [sys.executable, "-m", "local.cli", "user", "add", username, *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, str] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="session")
def owner(stack: Stack) -> Account:
    """The README's first user: `herald user add you@example.com`, nothing more (UTC)."""
    ids = herald_user_add(stack, README_USER)
    return Account(README_USER, PASSWORD, ids["user_id"], ids["workspace_id"])


def new_owner(stack: Stack, prefix: str) -> Account:
    """A fresh owner made exactly as the README says, `herald user add NAME` with no
    options: a workspace of its own, in UTC (what a test sets there touches no other)."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}@example.com"
    ids = herald_user_add(stack, name)
    return Account(name, PASSWORD, ids["user_id"], ids["workspace_id"])


@pytest.fixture
def fresh_owner(stack: Stack, request: pytest.FixtureRequest) -> Account:
    """new_owner, named after the test module (test_channels.py: channels-…@example.com)."""
    return new_owner(stack, request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_"))


@pytest.fixture(scope="session")
def viewer(stack: Stack, owner: Account) -> Account:
    name = f"viewer-{uuid.uuid4().hex[:6]}"
    ids = herald_user_add(stack, name, "--workspace-id", owner.workspace_id, "--role", "viewer")
    return Account(name, PASSWORD, ids["user_id"], ids["workspace_id"])


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (`make system` installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Admin:
    """A signed-in (or signing-in) page, with the checks every test wants."""

    def __init__(self, page: Any, stack: Stack) -> None:
        self.page = page
        self.stack = stack
        self.console_errors: list[str] = []
        self.csp_violations: list[str] = []
        self.dialogs: list[str] = []
        self.allowed_statuses: set[int] = set()
        self.axe_results: dict[str, list[Any]] = {}
        self._api = f"{stack.url('api')}/api/v1"
        page.on("request", self._request)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.console_errors.append(f"pageerror: {exc}"))

        def _dialog(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", _dialog)

    def _request(self, request: Any) -> None:
        url = str(request.url)
        if url.startswith(self._api + "/"):
            PAGE_CALLS.add((str(request.method), urllib.parse.urlsplit(url).path[len("/api/v1") :]))

    def _console(self, msg: Any) -> None:
        text = msg.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.csp_violations.append(text)
        elif msg.type == "error":
            self.console_errors.append(text)

    def goto(self, route: str = "") -> None:
        self.page.goto(f"{self.stack.admin_url}/#/{route}")
        # Attribute selectors, not wait_for_function: the page's CSP forbids eval.
        self.page.wait_for_selector("html[data-ready='1']", state="attached")

    def login(self, account: Account) -> None:
        self.goto("dashboard")
        self.page.fill("#login-username", account.username)
        self.page.fill("#login-password", account.password)
        self.page.click("#login-submit")
        self.page.wait_for_selector("#app-view:not(.d-none)")
        self.page.wait_for_selector("#view-dashboard")

    def nav(self, route: str, ready: str) -> None:
        self.page.evaluate("r => { location.hash = '#/' + r; }", route)
        self.page.wait_for_selector(ready)

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def allow(self, *statuses: int) -> None:
        """HTTP error answers this test provokes on purpose (the browser logs each)."""
        self.allowed_statuses.update(statuses)

    def unexpected_errors(self) -> list[str]:
        out = []
        for text in self.console_errors:
            m = HTTP_ERROR.search(text)
            if m and int(m.group(1)) in self.allowed_statuses:
                continue
            out.append(text)
        return out

    def axe(self) -> list[Any]:
        """axe-core's serious and critical violations on the page as it is now."""
        if not self.page.evaluate("() => Boolean(window.axe)"):
            # From the page's own origin: the CSP allows it (an inline script it would not).
            self.page.add_script_tag(url=f"{self.stack.admin_url}/vendor/axe-core/axe.min.js")
        result: list[Any] = self.page.evaluate(AXE)
        return result

    def overflow_at_phone_width(self) -> list[str]:
        """What sticks out on the right at 390 px wide, making the page scroll sideways
        (empty is right): the outermost elements past the edge."""
        self.page.set_viewport_size(PHONE)
        try:
            self.page.wait_for_timeout(150)  # charts and grids settle on resize
            culprits: list[str] = self.page.evaluate(OVERFLOW)
            return culprits
        finally:
            self.page.set_viewport_size(DESKTOP)

    def check(self, name: str) -> None:
        """A screen as a user sees it: no serious or critical axe violation, no sideways
        scroll on a desktop or a phone, no error shown; its screenshot goes to
        docs/screens/."""
        self.page.wait_for_selector("html[data-ready='1']", state="attached")
        # A refusal the test provoked on purpose (admin.allow(409)) may stay on screen.
        kept = ":not([data-status='409'])" if 409 in self.allowed_statuses else ""
        shown = self.page.locator(f"#view .api-error{kept}")
        assert shown.count() == 0, f"{name}: {shown.first.inner_text()}"
        # The pointer off every control: a hover colour mid-transition is not the page's.
        self.page.mouse.move(0, 0)
        self.page.wait_for_timeout(200)
        violations = self.axe()
        self.axe_results[name] = violations
        assert violations == [], f"{name}: {json.dumps(violations, indent=1)}"
        wide: list[str] = self.page.evaluate(OVERFLOW)
        assert wide == [], f"{name} scrolls sideways at {DESKTOP['width']} px: {wide}"
        wide = self.overflow_at_phone_width()
        assert wide == [], f"{name} scrolls sideways at 390 px: {wide}"
        # The screenshot is for the README: without the toasts of the steps before.
        self.page.evaluate("() => document.getElementById('toasts').replaceChildren()")
        self.shot(name)


@pytest.fixture
def admin(browser: Any, stack: Stack) -> Iterator[Admin]:
    context = browser.new_context(viewport=DESKTOP, locale="en-GB", accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    helper = Admin(page, stack)
    try:
        yield helper
        assert helper.csp_violations == [], helper.csp_violations
        # Any console error or page error fails the test, but for the HTTP error answers
        # the test provoked on purpose (declared with `allow`).
        assert helper.unexpected_errors() == [], helper.unexpected_errors()
    finally:
        context.close()


class Api:
    """The admin API with an account's bearer token, for arranging data and checking it."""

    def __init__(self, stack: Stack, account: Account) -> None:
        self.base = f"{stack.url('api')}/api/v1"
        self.ws = f"/workspaces/{account.workspace_id}"
        status, body = self.call(
            "POST",
            "/auth/login",
            {"username": account.username, "password": account.password},
            token=None,
        )
        assert status == 200, body
        self.token = body["token"]

    def call(
        self, method: str, path: str, body: object = None, token: str | None = ""
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        bearer = self.token if token == "" else token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        req = urllib.request.Request(
            self.base + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers=headers,
        )
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None

    def ok(self, method: str, path: str, body: object = None) -> Any:
        status, data = self.call(method, self.ws + path, body)
        assert 200 <= status < 300, (method, path, status, data)
        return data


@pytest.fixture(scope="session")
def owner_api(stack: Stack, owner: Account) -> Api:
    return Api(stack, owner)


@pytest.fixture(scope="session")
def sandbox_account(owner_api: Api) -> dict[str, Any]:
    account: dict[str, Any] = owner_api.ok(
        "POST", "/x/accounts/sandbox", {"handle": "herald_fixture"}
    )
    return account
