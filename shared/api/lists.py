"""Listing a workspace's documents a page at a time, in the API's list shape."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from shared.api.paging import page

if TYPE_CHECKING:
    from shared.api.context import Ctx

# Fields never sent to the browser, whatever collection they are in.
HIDDEN = frozenset({"workspace_id", "password_hash"})


def doc_out(snap: Any) -> dict[str, Any]:
    data = snap.to_dict() or {}
    return {"id": snap.id, **{k: v for k, v in data.items() if k not in HIDDEN}}


def list_page(
    ctx: Ctx,
    collection: str,
    *,
    order: str,
    descending: bool = False,
    filters: Iterable[tuple[str, str, Any]] = (),
    serialize: Callable[[Any], dict[str, Any]] = doc_out,
) -> dict[str, Any]:
    """`{"items": [...], "next_cursor": ...}` of this workspace's documents.

    Needs a composite index (workspace_id, <filter fields>, order) on real Firestore.
    """
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = ctx.db.collection(collection).where(filter=FieldFilter("workspace_id", "==", ctx.ws))
    for field, op, value in filters:
        if value is not None:
            query = query.where(filter=FieldFilter(field, op, value))
    q = ctx.query
    result = page(query, order, cursor=q.cursor, limit=q.limit, descending=descending)
    return {"items": [serialize(d) for d in result.docs], "next_cursor": result.next_cursor}


def after_key(ctx: Ctx) -> Any:
    """The keyset value a service's `after=` wants, from the opaque `cursor`."""
    from shared.api.paging import decode_cursor

    cursor = ctx.query.cursor
    return decode_cursor(cursor)[0] if cursor else None


def service_page(result: dict[str, Any]) -> dict[str, Any]:
    """A service's `{"items", "next": <key>}` in the API's shape with an opaque cursor."""
    from shared.api.paging import encode_cursor

    nxt = result.get("next")
    return {
        "items": result.get("items", []),
        "next_cursor": None if nxt is None else encode_cursor(nxt, []),
    }
