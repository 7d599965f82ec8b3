"""Listing a workspace's documents a page at a time, in the API's list shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shared.api.paging import page

if TYPE_CHECKING:
    from shared.api.context import Ctx
    from shared.queries import QuerySpec

# Fields never sent to the browser, whatever collection they are in.
HIDDEN = frozenset({"workspace_id", "password_hash"})


def doc_out(snap: Any) -> dict[str, Any]:
    data = snap.to_dict() or {}
    return {"id": snap.id, **{k: v for k, v in data.items() if k not in HIDDEN}}


def list_page(
    ctx: Ctx,
    spec: QuerySpec,
    *,
    descending: bool = False,
    serialize: Callable[[Any], dict[str, Any]] = doc_out,
    **values: Any,
) -> dict[str, Any]:
    """`{"items": [...], "next_cursor": ...}` of this workspace's documents of `spec`
    (which filters on workspace_id); `values` are its other filters."""
    q = ctx.query
    result = page(
        ctx.db, spec, cursor=q.cursor, limit=q.limit, descending=descending,
        workspace_id=ctx.ws, **values,
    )  # fmt: skip
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
