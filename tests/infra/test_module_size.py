"""Modules stay small; one that grows past ~400 lines says at its top why."""

from __future__ import annotations

import ast

from tests.infra.codemap import ROOT

LIMIT = 400
FOLDERS = ("shared", "functions", "local", "bench")


def test_a_module_over_400_lines_says_why() -> None:
    silent = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "node_modules" in path.parts:
                continue
            text = path.read_text()
            if text.count("\n") <= LIMIT:
                continue
            doc = ast.get_docstring(ast.parse(text)) or ""
            if "Over 400 lines" not in doc:
                silent.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    assert silent == [], "say why at the top (Over 400 lines because ...), or split it"
