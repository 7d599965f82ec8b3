"""Opaque cursor paging over a declared query (shared.queries), with Firestore cursors.

A cursor is base64url(JSON) of the last row's sort value and its document id; the next
page starts after (value, id) in the declaration's order, which ends with `__name__`.
So any sort field works, unique or not, and a page reads only its own rows. Cursors of
the earlier format (the value and the ids returned at that value) still work: the last
of those ids in the order is where the next page starts.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.errors import ValidationError

if TYPE_CHECKING:
    from shared.queries import QuerySpec

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class Page:
    docs: list[Any]  # DocumentSnapshots
    next_cursor: str | None


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot page on a value of type {type(value).__name__}")


def _decode_value(raw: Any) -> Any:
    if isinstance(raw, dict) and set(raw) == {"t"}:
        return datetime.fromisoformat(str(raw["t"]))
    if raw is not None and not isinstance(raw, str | int | float | bool):
        raise ValueError("a cursor holds one sort value")  # what encode_cursor writes
    return raw


def encode_cursor(value: Any, ids: list[str]) -> str:
    raw = json.dumps({"v": _encode_value(value), "ids": ids}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, list[str]]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        ids = data["ids"]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ValueError("ids")
        return _decode_value(data["v"]), ids
    except (
        ValueError,
        KeyError,
        TypeError,
        binascii.Error,
        UnicodeDecodeError,
        RecursionError,
    ) as exc:
        raise ValidationError(
            "the cursor is not valid (it must come from a previous page's next_cursor); "
            "start again without it",
            details=[{"field": "cursor", "message": "invalid"}],
        ) from exc


def page(
    db: Any,
    spec: QuerySpec,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    descending: bool = False,
    **values: Any,
) -> Page:
    """One page of the declaration (ordered by one field, paged); `next_cursor` is None
    on the last page. `values` are the declaration's filter values."""
    from shared.queries import build

    (order,) = spec.order
    query = build(db, spec, reverse=descending, **values)
    if cursor:
        value, ids = decode_cursor(cursor)
        position = [value, min(ids) if descending else max(ids)] if ids else [value]
        query = query.start_after(position)
    docs = list(query.limit(limit + 1).stream())
    rows, more = docs[:limit], len(docs) > limit
    if not more or not rows:
        return Page(rows, None)
    return Page(rows, encode_cursor(rows[-1].get(order.field), [rows[-1].id]))
