"""Every query the code can build is declared in shared/queries, served by an index
declared in infra/firestore.tf, and within Firestore's limits.

The declarations are the only place queries are built (test_no_query_outside_the_catalogue),
so enumerating their shapes covers every query the code can send, not only those the
tests happen to run. The run-time recorder (query_recorder) checks the other way round:
every shape the session actually ran is one of these.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from shared.queries import QueryError, QuerySpec, build, catalogue
from tests.infra import codemap
from tests.infra.firestore_queries import (
    app_collections,
    catalogue_shapes,
    declared_indexes,
    index_line,
    limit_problems,
    shape_of,
    spec_shapes,
)

CATALOGUE = codemap.SHARED / "queries"
# What builds or runs a query: filters, orders, collection groups, aggregations.
QUERY_METHODS = {"where", "order_by", "collection_group", "count", "sum", "avg"}
QUERY_NAMES = {"FieldFilter", "AggregationQuery", "Or", "And", "BaseCompositeFilter"}


def _code() -> list[Path]:
    roots = [codemap.SHARED, codemap.FUNCTIONS, codemap.ROOT / "local"]
    return sorted(
        p
        for root in roots
        for p in root.rglob("*.py")
        if not p.is_relative_to(CATALOGUE) and "__pycache__" not in p.parts
    )


def query_calls(path: Path) -> list[str]:
    """`file:line: call` for every query construction in the file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if isinstance(func, ast.Attribute) and name in QUERY_METHODS:
            # str.count("x") / list.count(x) take a positional argument; the client's
            # aggregation count() takes none (alias= only), sum/avg take a field path.
            if name == "count" and (
                node.args or (isinstance(func.value, ast.Name) and func.value.id == "itertools")
            ):
                continue  # itertools.count() makes a counter
            if name in ("sum", "avg") and isinstance(func.value, ast.Name):
                continue  # builtins and modules, e.g. math.fsum never; sum(...) is a Name
        elif name not in QUERY_NAMES:
            continue
        call = f".{name}(...)" if isinstance(func, ast.Attribute) else f"{name}(...)"
        where = path.relative_to(codemap.ROOT) if path.is_relative_to(codemap.ROOT) else path
        found.append((node.lineno, f"{where}:{node.lineno}: {call}"))
    return [hit for _, hit in sorted(found)]


def test_no_query_outside_the_catalogue() -> None:
    stray = [hit for path in _code() for hit in query_calls(path)]
    assert not stray, (
        "queries built outside shared/queries (declare them there and use "
        "shared.queries.build / pages / aggregate):\n" + "\n".join(stray)
    )


def test_the_scan_finds_raw_queries(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from google.cloud.firestore_v1.base_query import FieldFilter\n"
        "q = db.collection('posts').where(filter=FieldFilter('a', '==', 1))\n"
        "q = q.order_by('b')\n"
        "n = q.count().get()\n"
        "g = db.collection_group('x')\n"
        "ok = 'a.b'.count('.')\n"
    )
    assert [h.split(": ", 1)[1] for h in query_calls(sample)] == [
        ".where(...)",
        "FieldFilter(...)",
        ".order_by(...)",
        ".count(...)",
        ".collection_group(...)",
    ]


def test_declarations_stay_within_firestore_limits() -> None:
    problems = [
        f"{name}: {problem}"
        for name, spec in catalogue().items()
        for problem in limit_problems(spec)
    ]
    assert not problems, "declarations Firestore would refuse:\n" + "\n".join(problems)


def test_declarations_query_the_app_collections() -> None:
    known = app_collections()
    strays = [f"{n}: {s.collection}" for n, s in catalogue().items() if s.collection not in known]
    assert not strays, f"declarations on collections the code never opens: {strays}"


def test_every_shape_has_its_index() -> None:
    indexes = declared_indexes()
    lacking: dict[str, list[str]] = {}
    for variant, shape in catalogue_shapes().items():
        if shape.needs_composite() and not any(shape.served_by(c, f) for c, f in indexes):
            lacking.setdefault(index_line(shape), []).append(variant.describe())
    assert not lacking, "query shapes without a composite index; add to infra/firestore.tf " + (
        "firestore_indexes:\n"
        + "\n".join(f"  {line}    # {'; '.join(uses)}" for line, uses in sorted(lacking.items()))
    )


def test_every_index_serves_a_declared_shape() -> None:
    shapes = [s for s in catalogue_shapes().values() if s.needs_composite()]
    stale = [
        f'{{ collection = "{c}", fields = {f} }}'.replace("'", '"')
        for c, f in declared_indexes()
        if not any(s.served_by(c, f) for s in shapes)
    ]
    assert not stale, (
        "indexes no declared query uses (remove them from infra/firestore.tf, or declare "
        "the query in shared/queries):\n" + "\n".join(stale)
    )


def test_the_enumeration_matches_what_build_sends() -> None:
    """Each enumerated variant, built with placeholder values, sends exactly its shape."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import firestore

    db = firestore.Client(project="herald-catalogue", credentials=AnonymousCredentials())
    count = 0
    for spec in catalogue().values():
        for variant, shape in spec_shapes(spec).items():
            values: dict[str, object] = {f: "v" for f in (*spec.equals, *variant.optional)}
            values |= {f: ["v"] * most for f, most in spec.within}
            if spec.contains:
                values[spec.contains] = "v"
            if variant.ranged:
                values["ge"] = "v"
            query = build(db, spec, reverse=variant.reverse, **values)
            assert shape_of(query._to_protobuf()) == shape, variant.describe()
            count += 1
    assert count == len(catalogue_shapes())


def test_build_refuses_what_its_declaration_does_not_allow() -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import firestore

    db = firestore.Client(project="herald-catalogue", credentials=AnonymousCredentials())
    spec = QuerySpec(
        "test.sample",
        "posts",
        equals=("workspace_id",),
        optional=("status",),
        within=(("account_id", 2),),
        range="due_key",
        order=(),
    )
    ok = {"workspace_id": "w", "account_id": ["a"]}
    build(db, spec, **ok, status="s", ge="k", lt="m")
    for bad in (
        {"account_id": ["a"]},  # a required equality left out
        {**ok, "campaign_id": "c"},  # an undeclared filter
        {**ok, "account_id": ["a", "b", "c"]},  # more `in` values than declared
        {**ok, "gt": "a", "ge": "b"},  # two lower bounds
    ):
        with pytest.raises(QueryError):
            build(db, spec, **bad)
    with pytest.raises(QueryError):
        build(db, spec, reverse=True, **ok)
    with pytest.raises(QueryError):
        build(db, QuerySpec("test.plain", "posts"), ge=1)


def test_the_checks_catch_a_missing_index_and_a_sixth_aggregation() -> None:
    """What the two checks above report when a declaration outgrows the indexes/limits."""
    from shared.queries.spec import asc, total

    spec = QuerySpec(
        "test.unindexed",
        "posts",
        equals=("workspace_id",),
        optional=("zz_flag",),
        order=(asc("due_key"),),
    )
    shapes = spec_shapes(spec)
    indexes = declared_indexes()
    unserved = [s for s in shapes.values() if not any(s.served_by(c, f) for c, f in indexes)]
    assert [index_line(s) for s in unserved] == [
        '{ collection = "posts", fields = ["workspace_id", "zz_flag", "due_key"] },'
    ]
    six = QuerySpec(
        "test.six", "email_batches", equals=("campaign_id",),
        aggregations=tuple(total(f"n{i}") for i in range(6)),
    )  # fmt: skip
    assert any("6 aggregations" in p for p in limit_problems(six))
