"""Every operation of the API is used from the page: the browser tests record each
request the page makes (conftest.PAGE_CALLS), and this module, which runs after them,
matches those against the OpenAPI document the api serves. The operations the page
does not use (or that no browser test can reach) are listed, with why, in docs/admin.md
("API operations the browser tests do not use from the page"); that list may hold
nothing the page did use, nor anything the API lacks.

It runs only in a session that ran every browser test (otherwise it skips)."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from local.stack import Stack
from tests.browser.conftest import PAGE_CALLS, ROOT

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
METHODS = ("get", "post", "put", "patch", "delete")
EXCLUDED = re.compile(r"^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \| (.+) \|$")


def operations(stack: Stack) -> set[tuple[str, str]]:
    with urllib.request.urlopen(f"{stack.url('api')}/api/v1/openapi.json", timeout=20) as r:
        doc: dict[str, Any] = json.load(r)
    return {
        (method.upper(), path.removeprefix("/api/v1"))  # as docs/api.md writes them
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }


def template_of(method: str, path: str, ops: set[tuple[str, str]]) -> str | None:
    """The operation a concrete request is (the most literal template that matches)."""
    matches = []
    for op_method, template in ops:
        pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
        if op_method == method and re.match(pattern, path):
            matches.append((template.count("{"), template))
    return min(matches)[1] if matches else None


def excluded() -> dict[tuple[str, str], str]:
    text = (ROOT / "docs" / "admin.md").read_text()
    section = text.split("## API operations the browser tests do not use from the page", 1)[
        1
    ].split("\n## ", 1)[0]
    out = {}
    for line in section.splitlines():
        m = EXCLUDED.match(line.strip())
        if m:
            out[(m.group(1), m.group(2))] = m.group(3)
    return out


def test_every_api_operation_is_used_from_the_page(
    request: pytest.FixtureRequest, stack: Stack
) -> None:
    here = Path(__file__).resolve()
    modules = {
        p.resolve()
        for p in here.parent.glob("test_*.py")
        if p != here and "pytest.mark.browser" in p.read_text()
    }
    ran = {Path(str(item.fspath)).resolve() for item in request.session.items}
    if not modules <= ran:
        pytest.skip("checked only when the whole browser suite runs in this session")
    ops = operations(stack)
    used = {
        (method, template)
        for method, path in PAGE_CALLS
        if (template := template_of(method, path, ops)) is not None
    }
    left_out = excluded()
    assert not set(left_out) - ops, (
        f"docs/admin.md lists operations the API lacks: {sorted(set(left_out) - ops)}"
    )
    both = sorted(set(left_out) & used)
    assert not both, f"docs/admin.md says the page does not use these, but it does: {both}"
    missing = sorted(ops - used - set(left_out))
    assert not missing, (
        "API operations no browser test used from the page (build them into the page, or "
        "list them with why in docs/admin.md, 'API operations the browser tests do not use "
        "from the page'):\n" + "\n".join(f"  {m} {p}" for m, p in missing)
    )
