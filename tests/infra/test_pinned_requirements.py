"""Cloud Build installs exactly what `make test` tested: every function's requirements.txt
pins every distribution it installs (transitively) to the version in constraints.txt,
the file is what local/function_requirements.py generates from requirements.in today,
and the function's zip carries it."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from local import function_requirements as fr
from tests.infra import codemap

PINS = fr.read_pins(fr.CONSTRAINTS.read_text())
PYTHONS = fr.runtime_pythons()


def _listed(function: str) -> dict[str, Requirement]:
    text = (codemap.FUNCTIONS / function / "requirements.txt").read_text()
    reqs = [Requirement(line) for line in text.splitlines() if line and not line.startswith("#")]
    return {canonicalize_name(r.name): r for r in reqs}


def test_every_function_has_a_requirements_in() -> None:
    assert fr.function_names() == codemap.function_folders()


@pytest.mark.parametrize("function", codemap.function_folders())
def test_requirements_txt_is_generated_from_requirements_in(function: str) -> None:
    path = codemap.FUNCTIONS / function / "requirements.txt"
    assert path.read_text() == fr.render(function, PINS, PYTHONS), (
        f"{path.relative_to(codemap.ROOT)} is stale: run `make requirements`"
    )


@pytest.mark.parametrize("function", codemap.function_folders())
def test_every_pin_is_the_version_make_test_installs(function: str) -> None:
    for key, req in _listed(function).items():
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{function}: {req} is not pinned"
        assert key in PINS, f"{function}: {req.name} is not in constraints.txt"
        assert specs[0].version == PINS[key].version, (
            f"{function}: {req} but constraints.txt pins {PINS[key].version}"
        )
        assert metadata.version(req.name) == specs[0].version, (
            f"{function}: {req} but {metadata.version(req.name)} is installed (`make setup`)"
        )


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("function", codemap.function_folders())
def test_pins_are_closed_under_dependencies(function: str, python: str) -> None:
    """Read from the file alone (not from the generator): whatever a listed distribution
    requires on the runtime, with the extras its dependents ask for, is listed too, so pip
    resolves nothing on its own."""
    env = fr.environment(python)
    listed = {
        k: r for k, r in _listed(function).items() if r.marker is None or r.marker.evaluate(env)
    }
    asked: dict[str, set[str]] = {k: set() for k in listed}
    for req in listed.values():
        for dep in map(Requirement, metadata.requires(req.name) or []):
            if fr.applies(dep, python):
                asked.setdefault(canonicalize_name(dep.name), set()).update(dep.extras)
    unlisted = sorted(set(asked) - set(listed))
    for name, extras in asked.items():
        if name not in listed or not extras:
            continue
        for dep in map(Requirement, metadata.requires(name) or []):
            if (
                dep.marker is not None
                and fr.applies(dep, python, extras)
                and not fr.applies(dep, python)
            ):
                unlisted += [] if canonicalize_name(dep.name) in listed else [dep.name]
    assert not unlisted, f"{function} on Python {python}: dependencies not pinned: {unlisted}"


def test_runtime_pythons_follow_terraform() -> None:
    text = fr.VARIABLES.read_text()
    default = re.search(r'variable "python_runtime".*?default\s*=\s*"python3(\d+)"', text, re.S)
    assert default and f"3.{default.group(1)}" in PYTHONS
    assert fr.runtime_pythons(
        'variable "python_runtime" {\n  validation {\n    condition = contains(["python312", '
        '"python313"], var.python_runtime)\n  }\n}'
    ) == ["3.12", "3.13"]


def test_the_function_zip_carries_requirements_txt(infra_locals: dict[str, object]) -> None:
    calls = (codemap.ROOT / "infra" / "functions.tf").read_text()
    pattern = re.search(
        r'fileset\("\$\{local\.repo_root\}/functions/\$\{each\.key\}", "([^"]+)"\)', calls
    )
    assert pattern, "functions.tf no longer zips functions/<name>/ with fileset()"
    exts = re.fullmatch(r"\*\*/\*\.\{([^}]*)\}", pattern.group(1))
    assert exts and "txt" in exts.group(1).split(","), pattern.group(1)


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A function folder `probe` whose requirements.in the test writes."""
    (tmp_path / "probe").mkdir()
    monkeypatch.setattr(fr, "FUNCTIONS", tmp_path)
    return tmp_path / "probe" / "requirements.in"


def test_a_dependency_not_pinned_is_refused(probe: Path) -> None:
    probe.write_text("# a probe\nrequests>=2\n")
    pins = {k: v for k, v in PINS.items() if k != "urllib3"}
    with pytest.raises(fr.RequirementsError, match=r"urllib3, which constraints\.txt does not pin"):
        fr.render("probe", pins, PYTHONS)
    text = fr.render("probe", PINS, PYTHONS)
    assert "requests==" in text and "urllib3==" in text and "idna==" in text


def test_a_range_the_pin_falls_outside_is_refused(probe: Path) -> None:
    probe.write_text("requests<2\n")
    with pytest.raises(fr.RequirementsError, match="asks for requests<2"):
        fr.render("probe", PINS, PYTHONS)


def test_a_dependency_of_some_runtimes_only_keeps_a_marker(
    probe: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe.write_text("requests\n")
    metadata_of = {  # requests' own metadata, plus a backport only older Pythons need
        "requests": ['idna>=2; python_version < "3.13"', 'certifi ; sys_platform == "win32"'],
        "idna": [],
    }
    monkeypatch.setattr(fr, "requires", lambda name: [Requirement(r) for r in metadata_of[name]])
    lines = fr.render("probe", PINS, ["3.12", "3.13"]).splitlines()[2:]
    assert lines == [
        f'idna=={PINS["idna"].version} ; python_version == "3.12"',
        f"requests=={PINS['requests'].version}",
    ]
