"""Single-field index exemptions (infra/firestore.tf `index_exemptions`) match what the
code declares (`UNINDEXED_FIELDS` in shared/), and no query filters, orders or sums on an
exempted field: Firestore would refuse it (no index) in production, while the emulator,
which needs no index, would not."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Any

from tests.infra import codemap, query_recorder

# Calls that name a queried field, and the position of the field argument.
QUERY_CALLS = {
    "FieldFilter": 0,
    "order_by": 0,
    "where": 0,
    "_where": 1,
    "keyset_pages": 1,
    "field_pages": 1,
}


def _shared_modules() -> list[Path]:
    return sorted(p for p in codemap.SHARED.rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(codemap.ROOT).with_suffix("").parts)


def declared() -> dict[str, set[str]]:
    """collection -> fields, from every module-level UNINDEXED_FIELDS in shared/."""
    out: dict[str, set[str]] = {}
    for path in _shared_modules():
        tree = ast.parse(path.read_text())
        if not any(
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "UNINDEXED_FIELDS" for t in node.targets)
            for node in tree.body
        ):
            continue
        table = importlib.import_module(_module_name(path)).UNINDEXED_FIELDS
        for collection, fields in table.items():
            assert not set(fields) & out.get(collection, set()), f"{collection}: twice"
            out.setdefault(collection, set()).update(fields)
    return out


def _string(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def queried_fields(paths: list[Path] | None = None) -> dict[str, str]:
    """Field paths the code filters, orders, pages or sums on (string literals) -> where."""
    out: dict[str, str] = {}
    for path in paths if paths is not None else _shared_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            where = f"{path.name}:{node.lineno}"
            if name in QUERY_CALLS and len(node.args) > QUERY_CALLS[name]:
                field = _string(node.args[QUERY_CALLS[name]])
                if field:
                    out.setdefault(field, where)
            if name == "sum_fields" and len(node.args) > 1 and isinstance(node.args[1], ast.Dict):
                for value in node.args[1].values:
                    if (field := _string(value)) is not None:
                        out.setdefault(field, where)
    return out


def _exempt(infra_locals: dict[str, Any]) -> dict[str, set[str]]:
    return {c: set(f) for c, f in infra_locals["index_exemptions"].items()}


def _covers(field: str, path: str) -> bool:
    return path == field or path.startswith(f"{field}.")


def test_exemptions_are_what_the_code_declares(infra_locals: dict[str, Any]) -> None:
    assert _exempt(infra_locals) == declared(), (
        "infra/firestore.tf index_exemptions must list exactly the UNINDEXED_FIELDS of shared/"
    )


def test_no_query_uses_an_exempted_field(infra_locals: dict[str, Any]) -> None:
    exempt = {f for fields in _exempt(infra_locals).values() for f in fields}
    used = {
        path: where
        for path, where in queried_fields().items()
        if any(_covers(f, path) for f in exempt)
    }
    assert not used, f"queries on fields exempted from indexing: {used}"
    # Every query this session ran so far (the suites collected before tests/infra):
    # fields passed in variables are seen here.
    for shape, where in dict(query_recorder._seen).items():
        fields = [*shape.equality, *shape.array, *(f for f, _ in shape.order)]
        for field in _exempt(infra_locals).get(shape.collection, ()):
            hits = [f for f in fields if _covers(field, f)]
            assert not hits, f"{shape.describe()} (query at {where}) uses exempted {field}"


def test_exemptions_name_fields_the_code_writes(infra_locals: dict[str, Any]) -> None:
    code = "\n".join(p.read_text() for p in codemap.all_code())
    for collection, fields in _exempt(infra_locals).items():
        for field in fields:
            assert f'"{field}"' in code, f"{collection}.{field} is exempted but never written"


def test_exemptions_and_ttl_policies_are_separate_fields(infra_locals: dict[str, Any]) -> None:
    # One google_firestore_field per (collection, field): two would fight over it.
    for collection, field in infra_locals["ttl_policies"].items():
        assert field not in _exempt(infra_locals).get(collection, set()), (collection, field)


def test_the_check_sees_a_query_on_an_exempted_field(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "q = db.collection('email_batches').where(filter=FieldFilter('outcomes.3', '==', 1))\n"
        "p = keyset_pages(q, 'members', page_size=2)\n"
        "t = sum_fields(q, {'sent': 'n_sent'})\n"
    )
    assert set(queried_fields([probe])) == {"outcomes.3", "members", "n_sent"}
    assert _covers("outcomes", "outcomes.3") and not _covers("outcomes", "outcomes_total")
