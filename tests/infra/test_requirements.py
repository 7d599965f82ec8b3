"""Each function's zip is built by Cloud Build from its requirements.txt, generated from
its requirements.in (test_pinned_requirements ties the two): every third-party module its
reachable code imports (lazily or not) must come from a declared distribution or one of
their dependencies, or the function fails in production with an ImportError that no
local test sees (the local stack runs everything in one venv). And nothing is declared
that the code does not import: a heavy SDK only where it is needed."""

from __future__ import annotations

import ast
import functools
import re
import sys
from importlib import metadata

import pytest

from tests.infra import codemap, reach

# Imported only on code paths that never run in production (local stores, the sandbox).
LOCAL_ONLY_MODULES = {
    "cryptography": "EncryptedFileStore: the local secret store (production: Secret Manager)",
}
# Declared though no module of theirs is imported: the runtime itself, and data.
NOT_IMPORTED = {
    "functions-framework": "the Cloud Functions runtime serves main.py with it",
    "tzdata": "IANA time zones for zoneinfo, whatever the image's system database holds",
    "cryptography": "google-auth needs it; local-only in Herald's own code",
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def _closure(dist: str) -> frozenset[str]:
    out = {_norm(dist)}
    try:
        reqs = metadata.requires(dist) or []
    except metadata.PackageNotFoundError:
        return frozenset(out)
    for req in reqs:
        if "extra ==" in req:
            continue
        out |= _closure(re.split(r"[<>=\[; ~!(]", req.strip())[0])
    return frozenset(out)


@functools.cache
def _module_dists() -> dict[str, set[str]]:
    """Importable package path (a/b/c) -> distributions that ship files under it."""
    out: dict[str, set[str]] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        for file in dist.files or []:
            parts = file.parts
            if not parts or parts[0].endswith((".dist-info", ".data")) or ".." in parts:
                continue
            for i in range(1, min(len(parts), 4)):
                out.setdefault("/".join(parts[:i]), set()).add(name)
            if parts[-1].endswith(".py"):
                out.setdefault("/".join([*parts[:-1], parts[-1][:-3]]), set()).add(name)
    return out


def _dists_of(module: str) -> set[str]:
    parts = module.split(".")
    table = _module_dists()
    for i in range(len(parts), 0, -1):
        found = table.get("/".join(parts[:i]))
        if found and not (i == 1 and parts[0] == "google" and len(parts) > 1):
            return found
    return set()


def _imports(function: str) -> set[str]:
    mods: set[str] = set()
    for nodes in reach.reached(function).values():
        for root in nodes:
            for node in ast.walk(root):
                if isinstance(node, ast.Import):
                    mods |= {a.name for a in node.names}
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    # `from google import genai` imports google.genai
                    mods |= {f"{node.module}.{a.name}" for a in node.names} | {node.module}
    return {
        m
        for m in mods
        if m.split(".")[0] not in sys.stdlib_module_names
        and m.split(".")[0] not in ("shared", "__future__")
        and m not in ("google", "google.cloud")
    }


def _declared(function: str) -> list[str]:
    req = codemap.FUNCTIONS / function / "requirements.in"
    assert req.exists(), f"functions/{function}/requirements.in is missing"
    out = []
    for raw in req.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            out.append(_norm(re.split(r"[<>=\[; ~!]", line)[0]))
    return out


@pytest.mark.parametrize("function", codemap.function_folders())
def test_requirements_cover_what_the_function_imports(function: str) -> None:
    have: set[str] = set()
    for name in _declared(function):
        have |= _closure(name)
    needs = codemap.needs_of(function)
    # A reached class counts whole (Runtime.secrets, shared.media): these clients are
    # needed only if the function's code actually reads secrets or media.
    unused = set()
    if not (needs.app_secrets or needs.reads_user_secrets or needs.writes_user_secrets):
        unused.add("google.cloud.secretmanager")
    if not needs.media:
        unused.add("google.cloud.storage")
    missing = {}
    for module in sorted(_imports(function)):
        top = module.split(".")[0]
        dists = _dists_of(module)
        if top in LOCAL_ONLY_MODULES or not dists or module.startswith(tuple(unused)):
            continue  # not installed here: an attribute import (from x import name), or local-only
        if not any(_norm(d) in have for d in dists):
            missing[module] = sorted(dists)
    assert not missing, (
        f"functions/{function}/requirements.in lacks the distributions of modules its code "
        f"imports: {missing}"
    )


@pytest.mark.parametrize("function", codemap.function_folders())
def test_requirements_declare_only_what_the_function_imports(function: str) -> None:
    imported = {_norm(d) for module in _imports(function) for d in _dists_of(module)}
    unused = [d for d in _declared(function) if d not in imported and d not in NOT_IMPORTED]
    assert not unused, (
        f"functions/{function}/requirements.in declares distributions its reachable code "
        f"never imports (they only add to its build and cold start): {unused}"
    )
