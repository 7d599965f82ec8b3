"""The Terraform configuration in infra/, parsed with python-hcl2 for the tests."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MODULE_DIRS = (INFRA, *sorted(p for p in (INFRA / "modules").iterdir() if p.is_dir()))
OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False)


@dataclass(frozen=True)
class Block:
    """A resource or data block: kind ('resource'|'data'), type, name, body, file."""

    kind: str
    type: str
    name: str
    body: dict[str, Any]
    file: Path

    @property
    def address(self) -> str:
        rel = self.file.relative_to(INFRA)
        prefix = "data." if self.kind == "data" else ""
        return f"{rel}: {prefix}{self.type}.{self.name}"


@functools.cache
def parse(path: Path) -> dict[str, Any]:
    with path.open() as fh:
        return hcl2.load(fh, serialization_options=OPTIONS)  # type: ignore[no-any-return]


def tf_files(directory: Path | None = None) -> list[Path]:
    dirs = [directory] if directory else list(MODULE_DIRS)
    return [f for d in dirs for f in sorted(d.glob("*.tf"))]


def blocks(directory: Path | None = None, kind: str = "resource") -> Iterator[Block]:
    for path in tf_files(directory):
        for entry in parse(path).get(kind, []):
            for rtype, named in entry.items():
                for name, body in named.items():
                    yield Block(kind, rtype, name, body, path)


def resources(rtype: str, directory: Path | None = None) -> list[Block]:
    return [b for b in blocks(directory) if b.type == rtype]


def _merged(kind: str, directory: Path) -> dict[str, Any]:
    """Top-level `locals` / `variable` / `module` entries of a module, by name."""
    out: dict[str, Any] = {}
    for path in tf_files(directory):
        for entry in parse(path).get(kind, []):
            out.update({k: v for k, v in entry.items() if not k.startswith("__")})
    return out


def locals_(directory: Path = INFRA) -> dict[str, Any]:
    return _merged("locals", directory)


def queues() -> dict[str, dict[str, Any]]:
    """local.queues: infra/queues.json, which queues.tf decodes and local/tasks reads."""
    expression = locals_()["queues"]
    assert expression == '${jsondecode(file("${path.module}/queues.json"))}', expression
    return json.loads((INFRA / "queues.json").read_text())  # type: ignore[no-any-return]


def variables(directory: Path = INFRA) -> dict[str, dict[str, Any]]:
    return _merged("variable", directory)


def module_calls(directory: Path = INFRA) -> dict[str, dict[str, Any]]:
    return _merged("module", directory)


def walk(body: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in a block body, nested blocks included."""
    if isinstance(body, dict):
        for key, value in body.items():
            yield key, value
            yield from walk(value)
    elif isinstance(body, list):
        for item in body:
            yield from walk(item)


def strings(body: Any) -> Iterator[str]:
    if isinstance(body, str):
        yield body
    elif isinstance(body, dict):
        for value in body.values():
            yield from strings(value)
    elif isinstance(body, list):
        for value in body:
            yield from strings(value)


REF = re.compile(r"(?<![\w.])(var|local|module|data)\.([A-Za-z_][\w-]*)(?:\.([A-Za-z_][\w-]*))?")


def raw_text(directory: Path) -> str:
    return "\n".join(p.read_text() for p in tf_files(directory))
