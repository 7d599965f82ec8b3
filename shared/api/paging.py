"""Opaque cursor paging over keyset queries.

A cursor is base64url(JSON) of the last row's sort value plus the ids already returned
at that value; the next page is `where(field >= value)` (or `<=` descending), which
re-reads only the ties and skips them by id. So any sort field works, unique or not,
and Firestore cursors/offsets are never used (the emulator ignores them).
Sort on fields that are unique or nearly so (ids, addresses, instants): a run of ties
larger than a page would make the cursor carry that many ids.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.errors import ValidationError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_TIES = 500


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
    query: Any,
    field: str,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    descending: bool = False,
) -> Page:
    """One page of `query` sorted by `field`; `next_cursor` is None on the last page."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    direction = "DESCENDING" if descending else "ASCENDING"
    seen: list[str] = []
    last: Any = None
    q = query
    if cursor:
        last, seen = decode_cursor(cursor)
        q = q.where(filter=FieldFilter(field, "<=" if descending else ">=", last))
    docs = list(q.order_by(field, direction=direction).limit(limit + len(seen) + 1).stream())
    skip = set(seen)
    if cursor:
        docs = [d for d in docs if not (d.id in skip and d.get(field) == last)]
    rows, more = docs[:limit], len(docs) > limit
    if not more or not rows:
        return Page(rows, None)
    value = rows[-1].get(field)
    ties = [d.id for d in rows if d.get(field) == value]
    if cursor and value == last:
        ties = seen + ties
    if len(ties) > MAX_TIES:
        raise ValidationError(
            f"more than {MAX_TIES} rows share the same {field}; this list cannot be paged "
            "further in this order"
        )
    return Page(rows, encode_cursor(value, ties))
