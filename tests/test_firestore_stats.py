"""The read/write counter the benchmarks rely on counts what Firestore bills."""

from typing import Any

import pytest
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.firestore import counting_client
from shared.firestore_stats import CountingInterceptor, FirestoreCounter


def test_counts_reads_and_writes(settings) -> None:  # type: ignore[no-untyped-def]
    counter = FirestoreCounter()
    db = counting_client(settings.project_id, CountingInterceptor(counter))
    batch = db.batch()
    for i in range(7):
        batch.set(db.collection("items").document(f"i{i}"), {"n": i, "ws": "a"})
    batch.commit()
    assert counter.writes == 7 and counter.reads == 0
    db.collection("items").document("i1").get()
    db.collection("items").document("nope").get()  # a missing document still bills a read
    assert counter.reads == 2
    docs = list(db.collection("items").where(filter=FieldFilter("n", ">=", 3)).stream())
    assert len(docs) == 4 and counter.reads == 6
    list(db.collection("items").where(filter=FieldFilter("n", ">", 99)).stream())
    assert counter.reads == 7  # an empty query bills one read
    list(db.get_all([db.collection("items").document("i2"), db.collection("items").document("i3")]))
    assert counter.reads == 9
    db.collection("items").document("i1").update({"n": 10})
    assert counter.writes == 8


def _rows(settings: Any, counter: FirestoreCounter) -> tuple[Any, Any]:
    """25 rows of one workspace, their declaration and a counting client."""
    from shared.queries import Order, QuerySpec

    rows = QuerySpec("test.rows", "rows", equals=("ws",), order=(Order("key"),), paged=True)
    db = counting_client(settings.project_id, CountingInterceptor(counter))
    batch = db.batch()
    for i in range(25):
        batch.set(db.collection("rows").document(f"r{i:03d}"), {"key": f"k{i:03d}", "ws": "a"})
    batch.commit()
    counter.reset()
    return db, rows


def test_pages_walk_every_document_once(settings) -> None:  # type: ignore[no-untyped-def]
    from shared.queries import pages

    counter = FirestoreCounter()
    db, rows = _rows(settings, counter)
    found = list(pages(db, rows, page_size=10, ws="a"))
    keys = [d.get("key") for page in found for d in page]
    assert [len(p) for p in found] == [10, 10, 5]
    assert keys == sorted(keys) and len(set(keys)) == 25
    assert counter.reads == 25


def test_counts_writes_per_document_while_switched_on(settings) -> None:  # type: ignore[no-untyped-def]
    counter = FirestoreCounter()
    state: list[frozenset[str] | None] = [None]
    db = counting_client(
        settings.project_id, CountingInterceptor(counter, documents_switch=lambda: state[0])
    )
    db.collection("pages").document("p1").set({"n": 0})
    assert counter.documents_snapshot() == {}  # off: nothing is counted per document
    state[0] = frozenset({"contacts"})
    for n in range(3):
        batch = db.batch()
        batch.set(db.collection("pages").document("p1"), {"n": n})
        batch.set(db.collection("contacts").document(f"c{n}"), {"n": n})
        batch.commit()
    db.collection("pages").document("p2").delete()
    assert counter.documents_snapshot() == {"pages/p1": 3, "pages/p2": 1}
    assert counter.snapshot()["writes.contacts"] == 3


def test_a_refused_commit_counts_no_write(settings) -> None:  # type: ignore[no-untyped-def]
    """A commit Firestore refuses (a precondition that failed, a create of an existing
    document) writes nothing and is billed nothing: the hot-document counts skip it."""
    from google.api_core.exceptions import AlreadyExists, FailedPrecondition

    counter = FirestoreCounter()
    db = counting_client(
        settings.project_id,
        CountingInterceptor(counter, documents_switch=frozenset),
    )
    ref = db.collection("pages").document("refused")
    ref.set({"n": 0})
    stale = ref.get().update_time
    ref.set({"n": 1})
    with pytest.raises(FailedPrecondition):
        ref.update({"n": 2}, option=db.write_option(last_update_time=stale))
    with pytest.raises(AlreadyExists):
        ref.create({"n": 3})
    assert counter.documents_snapshot() == {"pages/refused": 2}
    assert counter.writes == 2


def test_pages_hand_on_chunks_as_they_stream(settings) -> None:  # type: ignore[no-untyped-def]
    from shared.queries import pages

    counter = FirestoreCounter()
    db, rows = _rows(settings, counter)
    found = list(pages(db, rows, page_size=10, chunk=4, ws="a"))
    keys = [d.get("key") for chunk in found for d in chunk]
    # Chunks never span two pages: a page's last chunk is handed on when it ends.
    assert [len(c) for c in found] == [4, 4, 2, 4, 4, 2, 4, 1]
    assert keys == [f"k{i:03d}" for i in range(25)]
    assert counter.reads == 25 and counter.snapshot()["calls.RunQuery"] == 3
