"""Every google resource's argument and block names exist in the provider's schema
(hashicorp/google 6.50.0, from the CDKTF bindings: see google_schema.py)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from tests.infra import hcl

SCHEMA = hcl.ROOT / ".venv-checkov" / "google-provider-schema.json"
META = {"count", "for_each", "depends_on", "lifecycle", "provider", "provisioner", "connection"}
# Providers other than google used in infra/: names from their documentation.
OTHER = {
    ("data", "archive_file"): {
        "args": [
            "type",
            "output_path",
            "source_dir",
            "source_file",
            "source_content",
            "source_content_filename",
            "excludes",
            "output_file_mode",
            "exclude_symlink_directories",
        ],
        "blocks": {"source": {"args": ["content", "filename"], "blocks": {}}},
    },
    ("resource", "terraform_data"): {"args": ["input", "triggers_replace"], "blocks": {}},
    ("resource", "time_sleep"): {
        "args": ["create_duration", "destroy_duration", "triggers"],
        "blocks": {},
    },
}


@cache
def schema() -> dict[str, Any]:
    if not SCHEMA.exists():
        pytest.skip(f"{SCHEMA} missing: run `make test` (it builds .venv-checkov)")
    return json.loads(SCHEMA.read_text())  # type: ignore[no-any-return]


def _check(body: dict[str, Any], spec: dict[str, Any], where: str, top: bool) -> list[str]:
    problems = []
    for key, value in body.items():
        if key.startswith("__") or (top and key in META):
            continue
        if key == "dynamic":
            for dyn in value:
                for name, dbody in dyn.items():
                    if name not in spec["blocks"]:
                        problems.append(f"{where}: dynamic block {name!r} is not a block here")
                        continue
                    for content in dbody.get("content", []):
                        problems += _check(content, spec["blocks"][name], f"{where}.{name}", False)
            continue
        if key in spec["blocks"]:
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, dict):
                    problems += _check(item, spec["blocks"][key], f"{where}.{key}", False)
        elif key not in spec["args"]:
            problems.append(f"{where}: unknown argument {key!r}")
    return problems


def test_schema_is_the_pinned_provider() -> None:
    assert schema()["provider_version"] == "6.50.0"
    versions = hcl.parse(hcl.INFRA / "versions.tf")["terraform"][0]["required_providers"][0]
    assert versions["google"]["version"] == "~> 6.50"


@pytest.mark.parametrize("kind", ["resource", "data"])
def test_arguments_exist_in_provider_schema(kind: str) -> None:
    checked = 0
    problems: list[str] = []
    for block in hcl.blocks(kind=kind):
        if block.type.startswith("google_"):
            spec = schema()[kind].get(block.type)
            if spec is None:
                problems.append(f"{block.address}: no such {kind} type in google 6.50.0")
                continue
        else:
            spec = OTHER.get((kind, block.type))
            assert spec, f"{block.address}: add the schema of {block.type} to OTHER"
        problems += _check(block.body, spec, block.address, True)
        checked += 1
    assert checked > (20 if kind == "resource" else 1)
    assert not problems, "\n".join(problems)


def test_checker_catches_a_misspelt_argument() -> None:
    spec = schema()["resource"]["google_cloud_tasks_queue"]
    body = {"name": "q", "rate_limits": [{"max_dispatches_per_sec": 1}], "retry_config": [{}]}
    assert _check(body, spec, "q", True) == [
        "q.rate_limits: unknown argument 'max_dispatches_per_sec'"
    ]
