"""Keyset paging on any orderable field, unique or not, without cursors or `__name__`.

`shared.firestore.keyset_pages` needs a unique field. Events and rollups are ordered by
instants or dates that repeat (a send batch writes its events with one `at`), and the
emulator neither honours cursors nor filters on `__name__`. So a page is: the next
`page_size` documents with `field >= lower` (or `> lower`), minus the run of documents
that share the page's last value, plus that whole run fetched by an equality query;
the next page starts strictly after that value. Nothing is skipped or repeated, and
only a run of equal values (small: one batch's events) is read in one piece.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def field_pages(
    query: Any,
    field: str,
    *,
    start: Any = None,
    end: Any = None,
    page_size: int = 500,
    unique: bool = False,
) -> Iterator[list[Any]]:
    """Pages of `query` (equality filters only) over `start <= field < end`, in `field`
    order. `unique=True` skips the equality query when `field` never repeats."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    op, lower = ">=", start
    bounded = query if end is None else query.where(filter=FieldFilter(field, "<", end))
    while True:
        q = bounded if lower is None else bounded.where(filter=FieldFilter(field, op, lower))
        docs = list(q.order_by(field).limit(page_size).stream())
        if len(docs) < page_size:
            if docs:
                yield docs
            return
        boundary = docs[-1].get(field)
        if unique:
            yield docs
        else:
            head = [d for d in docs if d.get(field) != boundary]
            run = list(query.where(filter=FieldFilter(field, "==", boundary)).stream())
            yield head + sorted(run, key=lambda d: d.id)
        op, lower = ">", boundary
