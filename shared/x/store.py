"""Document helpers for the X collections: ordered keys, scoped reads, pages of declared queries."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from shared.errors import NotFound, ValidationError
from shared.firestore import is_doc_id
from shared.x.models import Record

if TYPE_CHECKING:
    from shared.queries import QuerySpec

R = TypeVar("R", bound=Record)
T = TypeVar("T")

MAX_PAGE = 200
# Sorts after every ISO instant: drafts without a due instant list last.
NO_INSTANT = "9999-12-31T23:59:59.999999Z"


def new_id() -> str:
    return uuid.uuid4().hex[:20]


def instant_key(instant: datetime) -> str:
    """Fixed-width UTC ISO form: lexicographic order equals time order."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime")
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def month_key(instant: datetime) -> str:
    """The UTC calendar month `YYYY-MM` an instant falls in (spend and budgets)."""
    return instant.astimezone(UTC).strftime("%Y-%m")


def order_key(instant: datetime | None, doc_id: str) -> str:
    """Unique, time-ordered key `<instant>|<id>`: a list's order and its page cursor."""
    return f"{instant_key(instant) if instant else NO_INSTANT}|{doc_id}"


def parse_instant(value: Any, field: str) -> datetime:
    """An aware datetime from a datetime or an ISO 8601 string with an offset."""
    if isinstance(value, datetime):
        instant = value
    elif isinstance(value, str):
        try:
            instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValidationError(f"{field} is not an ISO 8601 instant: {value!r}") from exc
    else:
        raise ValidationError(f"{field} must be an ISO 8601 instant")
    if instant.tzinfo is None:
        raise ValidationError(f"{field} needs a timezone offset (e.g. 2026-01-05T09:00:00Z)")
    return instant.astimezone(UTC)


def load(
    runtime: Any,
    cls: type[R],
    workspace_id: str,
    doc_id: str,
    what: str,
    transaction: Any = None,
) -> R:
    """The workspace's document as a record; NotFound also for another workspace's.
    Inside `transaction` the read is part of it (and locks the document until it ends)."""
    if not is_doc_id(doc_id):
        raise NotFound(f"{what} not found")
    snap = runtime.db.collection(cls.collection).document(doc_id).get(transaction=transaction)
    data = snap.to_dict() if snap.exists else None
    if not data or data.get("workspace_id") != workspace_id:
        raise NotFound(f"{what} {doc_id!r} not found")
    return cls.from_doc(snap.id, data)


def transact(runtime: Any, decide: Callable[[Any], T]) -> T:
    """Run `decide(transaction)` in a Firestore transaction and return what it returns.

    For read-modify-write decisions that race (a cancel against post_tweet, a series
    advanced by two runs): Firestore locks what the transaction read until it commits,
    and retries `decide` from the start if it must. `decide` does all its reads before
    its writes, and nothing irreversible (a task, an X request): it may run twice.
    """
    from shared.firestore import transact as run_transaction

    result: T = run_transaction(runtime.db, decide)[0]
    return result


def page(
    runtime: Any,
    cls: type[R],
    spec: QuerySpec,
    workspace_id: str,
    *,
    limit: int = 50,
    after: str | None = None,
    equals: dict[str, Any] | None = None,
    at_least: str | None = None,
    below: str | None = None,
) -> dict[str, Any]:
    """One page of the declaration: `{"items": [...], "next": <key or None>}`.

    Its order field is unique per document (an `order_key`); `after` is the previous
    page's `next` (a cursor). Filters: the declaration's optional equalities and a
    range on the order field.
    """
    from shared.queries import build

    limit = max(1, min(int(limit), MAX_PAGE))
    (order,) = spec.order
    query = build(
        runtime.db, spec, workspace_id=workspace_id, ge=at_least, lt=below, **(equals or {})
    )
    if after is not None and not isinstance(after, str):
        # Order keys are strings; anything else came from a cursor Herald did not write.
        raise ValidationError("the cursor is not valid; start again without it")
    if after:
        query = query.start_after([after])
    docs = list(query.limit(limit).stream())
    items = [cls.from_doc(d.id, d.to_dict()).to_dict() for d in docs]
    next_key = docs[-1].get(order.field) if len(docs) == limit else None
    return {"items": items, "next": next_key}


def insert(runtime: Any, record: Record) -> dict[str, Any]:
    """Write a new record with its `created_key` (the listing order); returns its dict."""
    from shared.docsize import ensure_fits

    doc = record.to_doc()
    doc["created_key"] = order_key(record.created_at, record.id)
    ensure_fits(f"{record.collection}/{record.id}", doc, type(record).__name__.lower())
    runtime.db.collection(record.collection).document(record.id).set(doc)
    return record.to_dict()
