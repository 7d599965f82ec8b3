"""Small Firestore helpers shared by the jobs and ads packages.

Every listed collection carries `sort_key` = "<created_at ISO>|<id>": unique and
time-ordered, so a page resumes with a cursor after the previous page's last key (the
`next` the API turns into its opaque cursor) and never skips or repeats a row.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.errors import NotFound, ValidationError
from shared.tenancy import new_id, scoped_get

if TYPE_CHECKING:
    from shared.queries import QuerySpec
    from shared.runtime import Runtime

MAX_PAGE = 200


def sort_key(created_at: datetime, doc_id: str) -> str:
    return f"{created_at.isoformat()}|{doc_id}"


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """A plain JSON-able dict: datetimes as ISO strings, internal keys dropped."""

    def conv(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: conv(v) for k, v in value.items()}
        if isinstance(value, list):
            return [conv(v) for v in value]
        return value

    return {k: conv(v) for k, v in doc.items() if k != "sort_key"}


def get_or_404(
    db: Any, collection: str, workspace_id: str, doc_id: str, what: str
) -> dict[str, Any]:
    doc = scoped_get(db, collection, workspace_id, doc_id)
    if doc is None:
        raise NotFound(f"{what} {doc_id!r} not found", {"id": doc_id})
    return doc


def page(
    db: Any,
    spec: QuerySpec,
    workspace_id: str,
    *,
    after: str | None = None,
    limit: int = 50,
    **values: Any,
) -> dict[str, Any]:
    """One page of the declaration (ordered by sort_key): {"items": [...], "next": the
    last item's sort_key or None}. `values` are its optional filters."""
    from shared.queries import build

    if limit < 1 or limit > MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}")
    query = build(db, spec, workspace_id=workspace_id, **values)
    if after:
        query = query.start_after([after])
    docs = list(query.limit(limit).stream())
    items = [public({**d.to_dict(), "id": d.id}) for d in docs]
    nxt = docs[-1].get("sort_key") if len(docs) == limit else None
    return {"items": items, "next": nxt}


def checked_status(status: str | None, allowed: tuple[str, ...]) -> str | None:
    """An optional status filter, refusing unknown ones."""
    if status is not None and status not in allowed:
        raise ValidationError(f"status must be one of {', '.join(allowed)}")
    return status


def insert(
    runtime: Runtime, collection: str, workspace_id: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """Create a document with a new id, timestamps and sort_key; returns its public form."""
    now = runtime.clock.now()
    doc_id = new_id()
    doc = {
        **fields,
        "workspace_id": workspace_id,
        "created_at": now,
        "updated_at": now,
        "sort_key": sort_key(now, doc_id),
    }
    runtime.db.collection(collection).document(doc_id).set(doc)
    return public({**doc, "id": doc_id})


class Batch:
    """Writes in batches of at most `size` (Firestore allows 500 per commit)."""

    def __init__(self, db: Any, size: int = 400) -> None:
        self._db, self._size = db, size
        self._batch, self._pending = db.batch(), 0

    def _count(self) -> None:
        self._pending += 1
        if self._pending == self._size:
            self.commit()

    def set(self, ref: Any, doc: dict[str, Any], merge: bool = False) -> None:
        self._batch.set(ref, doc, merge=merge)
        self._count()

    def update(self, ref: Any, changes: dict[str, Any]) -> None:
        self._batch.update(ref, changes)
        self._count()

    def commit(self) -> None:
        if self._pending:
            self._batch.commit()
            self._batch, self._pending = self._db.batch(), 0
