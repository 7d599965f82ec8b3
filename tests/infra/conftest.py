"""Fixtures for the infra tests: the parsed configuration and the code's needs."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.infra import codemap, hcl


def _functions() -> dict[str, dict[str, Any]]:
    return hcl.locals_()["functions"]  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def functions() -> dict[str, dict[str, Any]]:
    return _functions()


@pytest.fixture(scope="session")
def infra_locals() -> dict[str, Any]:
    return hcl.locals_()


def is_stub(function: str) -> bool:
    """A function whose main.py still only answers 501 (its pipeline has not landed)."""
    main = codemap.FUNCTIONS / function / "main.py"
    if not main.exists():
        return True
    return bool(re.search(r"not_implemented|is not implemented yet", main.read_text()))


@pytest.fixture(scope="session")
def queues() -> dict[str, dict[str, Any]]:
    return hcl.queues()
