"""Each function's zip is built by Cloud Build from its requirements.txt: every
third-party module its reachable code imports (lazily or not) must come from a listed
distribution or one of their dependencies, or the function fails in production with an
ImportError that no local test sees (the local stack runs everything in one venv)."""

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


@pytest.mark.parametrize("function", codemap.function_folders())
def test_requirements_cover_what_the_function_imports(function: str) -> None:
    req = codemap.FUNCTIONS / function / "requirements.txt"
    assert req.exists(), f"functions/{function}/requirements.txt is missing"
    have: set[str] = set()
    for raw in req.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            have |= _closure(re.split(r"[<>=\[; ~!]", line)[0])
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
        f"functions/{function}/requirements.txt lacks the distributions of modules its code "
        f"imports: {missing}"
    )
