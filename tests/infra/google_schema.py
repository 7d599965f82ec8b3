"""The google provider's argument and block names, read from the prebuilt CDKTF bindings.

The Terraform registry is out of reach here, so `terraform providers schema` cannot run.
The PyPI wheel `cdktf-cdktf-provider-google` (16.12.1 = hashicorp/google 6.50.0) carries
a JSII assembly describing every resource's configuration struct; each property's docs
link to the registry anchor of its Terraform name (`...#service_account_email`). This
module turns that into a compact JSON tree:

    {"provider_version": "6.50.0",
     "resource": {"google_x": {"args": [...], "blocks": {"name": {...}}}},
     "data": {...}}

Run with the Python of `.venv-checkov` (stdlib only) by the Makefile:
    python tests/infra/google_schema.py WHEEL OUT.json
"""

from __future__ import annotations

import io
import json
import re
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

ANCHOR = re.compile(r"/docs/(?:resources|data-sources)/\w+#(\w+)")
VERSION = re.compile(r"hashicorp/google/(\d+\.\d+\.\d+)/docs")


def _assembly(wheel: Path) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(zf.read(name))) as tf:
            member = tf.extractfile("package/.jsii")
            if member is None:
                raise RuntimeError("no package/.jsii in the bindings")
            return json.load(member)  # type: ignore[no-any-return]


def _struct_fqns(type_ref: Any) -> list[str]:
    """Struct types referenced by a property type (directly, in a list/map, or a union)."""
    found: list[str] = []
    if isinstance(type_ref, dict):
        fqn = type_ref.get("fqn")
        if isinstance(fqn, str) and fqn.startswith("@cdktf/provider-google."):
            found.append(fqn)
        for value in type_ref.values():
            found.extend(_struct_fqns(value))
    elif isinstance(type_ref, list):
        for value in type_ref:
            found.extend(_struct_fqns(value))
    return found


def _tree(types: dict[str, Any], fqn: str, depth: int = 0) -> dict[str, Any]:
    args: list[str] = []
    blocks: dict[str, Any] = {}
    for prop in types[fqn].get("properties", []):
        # The registry link sits in the summary, the remarks or a custom tag.
        match = ANCHOR.search(json.dumps(prop.get("docs", {})))
        if not match:
            continue  # meta-arguments (count, for_each, ...) come from cdktf, not the provider
        name = match.group(1)
        nested = [f for f in _struct_fqns(prop["type"]) if types.get(f, {}).get("datatype")]
        if nested and depth < 12:
            blocks[name] = _tree(types, nested[0], depth + 1)
        else:
            args.append(name)
    return {"args": sorted(args), "blocks": blocks}


def extract(wheel: Path) -> dict[str, Any]:
    assembly = _assembly(wheel)
    types: dict[str, Any] = assembly["types"]
    out: dict[str, Any] = {"provider_version": None, "resource": {}, "data": {}}
    for fqn, spec in types.items():
        if spec.get("kind") != "class":
            continue
        tf_type = next(
            (
                p.get("const") and p
                for p in spec.get("properties", [])
                if p["name"] == "tfResourceType"
            ),
            None,
        )
        if not tf_type:
            continue
        config = fqn + "Config"
        if config not in types:
            continue
        tree = _tree(types, config)
        terraform_type = _tf_type_name(spec, fqn)
        kind = "data" if fqn.split(".")[1].startswith("dataGoogle") else "resource"
        if terraform_type:
            out[kind][terraform_type] = tree
        if out["provider_version"] is None:
            remarks = json.dumps(types[config].get("properties", []))
            version = VERSION.search(remarks)
            out["provider_version"] = version.group(1) if version else None
    return out


def _tf_type_name(spec: dict[str, Any], fqn: str) -> str | None:
    """`google_cloudfunctions2_function` from the class docs' registry link."""
    text = json.dumps(spec.get("docs", {})) + json.dumps(spec.get("initializer", {}))
    match = re.search(r"/docs/(resources|data-sources)/(\w+)", text)
    if not match:
        return None
    return (
        "google_" + match.group(2) if not match.group(2).startswith("google_") else match.group(2)
    )


def main(argv: list[str]) -> int:
    wheel, out = Path(argv[1]), Path(argv[2])
    schema = extract(wheel)
    out.write_text(json.dumps(schema, sort_keys=True))
    print(
        f"{out}: google provider {schema['provider_version']}, "
        f"{len(schema['resource'])} resources, {len(schema['data'])} data sources"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
