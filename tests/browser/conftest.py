"""Fixtures for the admin page tests: Debian's Chromium driven by Playwright, against
the session `stack` (every function, the scheduler on a 1 s tick, the SMTP sink and the
admin page on free ports, sandbox on).

Users are created with `herald user add` against `stack.env()`, as an operator would.
Each test signs in on a fresh browser context (own storage, so its own token).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
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
SCREENSHOTS = Path(os.environ.get("HERALD_SCREENSHOTS", "/tmp"))


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
    name = f"owner-{uuid.uuid4().hex[:6]}"
    ids = herald_user_add(stack, name, "--workspace", "Acme Corp", "--timezone", "Europe/Paris")
    return Account(name, PASSWORD, ids["user_id"], ids["workspace_id"])


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
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.console_errors.append(f"pageerror: {exc}"))

        def _dialog(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", _dialog)

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
        self.page.screenshot(path=str(SCREENSHOTS / f"admin-{name}.png"), full_page=True)


@pytest.fixture
def admin(browser: Any, stack: Stack) -> Iterator[Admin]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    helper = Admin(page, stack)
    try:
        yield helper
        assert helper.csp_violations == [], helper.csp_violations
        # Uncaught exceptions or rejections in the page's own code (not HTTP errors,
        # which the page shows to the user).
        uncaught = [e for e in helper.console_errors if "pageerror" in e or "Uncaught" in e]
        assert uncaught == [], uncaught
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
