"""Keyset paging on (field, document id), for fields that are not unique (event times).

`shared.firestore.keyset_pages` needs a unique field. Events share instants, so a page
boundary inside a run of equal `at` values would skip or repeat rows. Here the key is
the pair (value, document id): first the rest of the current value's run
(`field == last`, `__name__ > last_id`), then everything after it (`field > last`).
Cursors are never used (the emulator ignores them).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def _doc_id_path() -> Any:
    from google.cloud.firestore_v1.field_path import FieldPath

    return FieldPath.document_id()


def id_pages(query: Any, page_size: int = 500) -> Iterator[list[Any]]:
    """Page `query` (equality filters only) by document id."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    last_ref: Any = None
    while True:
        q = query
        if last_ref is not None:
            q = q.where(filter=FieldFilter(_doc_id_path(), ">", last_ref))
        docs = list(q.order_by(_doc_id_path()).limit(page_size).stream())
        if docs:
            yield docs
        if len(docs) < page_size:
            return
        last_ref = docs[-1].reference


def pair_pages(
    query: Any, field: str, start: Any, end: Any, page_size: int = 500
) -> Iterator[list[Any]]:
    """Page `query` (equality filters only) over `start <= field < end`, ordered by
    (`field`, document id)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    doc_id = _doc_id_path()
    last_value: Any = None
    last_ref: Any = None
    while True:
        if last_ref is None:
            q = query.where(filter=FieldFilter(field, ">=", start))
            q = q.where(filter=FieldFilter(field, "<", end)).order_by(field).order_by(doc_id)
            docs = list(q.limit(page_size).stream())
        else:
            # The rest of the run of equal values, then what follows it.
            tie = (
                query.where(filter=FieldFilter(field, "==", last_value))
                .where(filter=FieldFilter(doc_id, ">", last_ref))
                .order_by(doc_id)
            )
            docs = list(tie.limit(page_size).stream())
            if len(docs) < page_size:
                after = query.where(filter=FieldFilter(field, ">", last_value))
                after = after.where(filter=FieldFilter(field, "<", end))
                after = after.order_by(field).order_by(doc_id)
                docs += list(after.limit(page_size - len(docs)).stream())
        if docs:
            yield docs
        if len(docs) < page_size:
            return
        last_value = docs[-1].get(field)
        last_ref = docs[-1].reference
