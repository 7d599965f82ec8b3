"""The index-need rules of firestore_queries, on queries built with the real client
(the recorder plugin applies them to every query the test session runs)."""

from __future__ import annotations

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from tests.infra.firestore_queries import declared_indexes, missing, shape_of


@pytest.fixture(scope="module")
def client() -> firestore.Client:
    return firestore.Client(project="herald-index-test", credentials=AnonymousCredentials())


def shape(query):  # type: ignore[no-untyped-def]
    return shape_of(query._to_protobuf())


def test_equality_only_is_served_by_single_field_indexes(client: firestore.Client) -> None:
    q = (
        client.collection("posts")
        .where(filter=FieldFilter("workspace_id", "==", "w"))
        .where(filter=FieldFilter("status", "==", "queued"))
    )
    assert not shape(q).needs_composite()
    assert not shape(client.collection("posts").order_by("due_at")).needs_composite()
    assert not shape(
        client.collection("posts").where(filter=FieldFilter("due_at", ">", 1)).order_by("due_at")
    ).needs_composite()


def test_equality_plus_order_needs_a_composite_index(client: firestore.Client) -> None:
    q = (
        client.collection("posts")
        .where(filter=FieldFilter("workspace_id", "==", "w"))
        .where(filter=FieldFilter("due_key", ">", "k"))
        .order_by("due_key")
        .limit(10)
    )
    s = shape(q)
    assert s.needs_composite()
    assert s.index_fields() == ["workspace_id", "due_key"]
    assert s.served_by("posts", ["workspace_id", "due_key"])
    assert not s.served_by("posts", ["workspace_id", "due_key desc"])
    assert not s.served_by("emails", ["workspace_id", "due_key"])


def test_range_and_order_on_two_fields(client: firestore.Client) -> None:
    q = (
        client.collection("events")
        .where(filter=FieldFilter("at", ">=", 1))
        .order_by("count", direction=firestore.Query.DESCENDING)
    )
    s = shape(q)
    assert s.needs_composite()
    assert s.index_fields() == ["count desc", "at"]


def test_array_contains_with_equality(client: firestore.Client) -> None:
    q = (
        client.collection("contacts")
        .where(filter=FieldFilter("lists", "array_contains", "l"))
        .where(filter=FieldFilter("workspace_id", "==", "w"))
    )
    s = shape(q)
    assert s.needs_composite()
    assert s.index_fields() == ["workspace_id", "lists contains"]


def test_count_aggregation_is_recorded_through_its_query(client: firestore.Client) -> None:
    q = (
        client.collection("posts")
        .where(filter=FieldFilter("workspace_id", "==", "w"))
        .order_by("at")
    )
    agg = q.count()
    assert shape_of(agg._nested_query._to_protobuf()).needs_composite()


def test_missing_reports_undeclared_shapes(client: firestore.Client) -> None:
    q = client.collection("claims").where(filter=FieldFilter("zz_a", "==", 1)).order_by("zz_b")
    assert [s.describe() for s in missing({shape(q)})] == ["claims: zz_a, zz_b"]
    scratch = (
        client.collection("scratch_rows").where(filter=FieldFilter("a", "==", 1)).order_by("b")
    )
    assert missing({shape(scratch)}) == []  # a collection only a test uses
    for collection, fields in declared_indexes():
        assert collection and len(fields) >= 2


def test_function_processes_report_their_queries(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The stack's function processes inherit PYTHONPATH/HERALD_QUERY_LOG from the session:
    a child building a query appends its shape to the log."""
    import os
    import subprocess
    import sys

    from tests.infra.firestore_queries import Shape

    if not os.environ.get("HERALD_QUERY_LOG"):
        pytest.skip("child-process query logging is off (HERALD_QUERY_LOG_CHILDREN=0)")
    log = tmp_path / "queries.jsonl"
    code = (
        "from google.auth.credentials import AnonymousCredentials\n"
        "from google.cloud import firestore\n"
        "from google.cloud.firestore_v1.base_query import FieldFilter\n"
        "db = firestore.Client(project='p', credentials=AnonymousCredentials())\n"
        "q = db.collection('posts').where(filter=FieldFilter('workspace_id', '==', 'w'))\n"
        "q.order_by('due_key')._to_protobuf()\n"
    )
    env = {**os.environ, "HERALD_QUERY_LOG": str(log)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60, cwd=tmp_path)
    shapes = [Shape.from_json(line) for line in log.read_text().splitlines()]
    assert [s.describe() for s in shapes] == ["posts: workspace_id, due_key"]
