"""The hot-path functions must not load heavy SDKs at import (cold start)."""

from pathlib import Path

import pytest

from bench.cold_start import HEAVY, LEAN_FUNCTIONS, import_probe
from local.stack import ROOT
from shared.settings import FUNCTION_NAMES


@pytest.mark.parametrize("name", LEAN_FUNCTIONS)
def test_lean_function_imports_no_heavy_sdk(name: str) -> None:
    probe = import_probe(str(ROOT / "functions" / name / "main.py"))
    assert probe["heavy"] == [], f"{name} loads {probe['heavy']} at import"


def test_probe_detects_a_heavy_import(tmp_path: Path) -> None:
    # The probe itself must be able to fail: a main that imports matplotlib is caught.
    main = tmp_path / "main.py"
    main.write_text("import matplotlib\n")
    assert import_probe(str(main))["heavy"] == ["matplotlib"]
    assert "matplotlib" in HEAVY


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_every_function_imports_cleanly(name: str) -> None:
    probe = import_probe(str(ROOT / "functions" / name / "main.py"))
    assert float(probe["s"]) > 0
