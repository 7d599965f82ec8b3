"""Declared Firestore queries, and the one builder that turns a declaration into a query.

Every query Herald runs is a `QuerySpec` in one of the catalogue modules beside this one
(shared/queries/<domain>.py). A declaration is data: the collection, the equality
filters always applied, the optional ones (applied when the caller passes a value), an
`in` filter with its largest value list, an array-contains filter, the one range field,
the order, and the aggregations. `build` can only produce the shapes its declaration
allows, so tests/infra can enumerate every shape the code can send and check each
against the composite indexes in infra/firestore.tf and Firestore's limits; nothing
outside this package calls `.where`, `.order_by` or builds an aggregation
(tests/infra/test_query_catalogue.py enforces it).

Callers keep the client's own query object: `.limit()`, `.select()`, `.stream()`,
`.get(transaction=...)`, cursors. `pages` reads a declaration page by page with real
cursors (`start_after` the last snapshot, ordered by the declared order then
`__name__`), so an order value shared by many documents is neither skipped nor repeated.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

# Firestore's limits (https://firebase.google.com/docs/firestore/quotas#queries).
MAX_AGGREGATIONS = 5  # aggregations in one aggregation query
MAX_IN_VALUES = 30  # values of one `in` filter
MAX_DISJUNCTIONS = 30  # disjunctions of a query in disjunctive normal form

NAME = "__name__"
RANGE_OPS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


class QueryError(ValueError):
    """A caller asked a declaration for a shape it does not allow (a programming error)."""


@dataclass(frozen=True)
class Order:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class Aggregation:
    kind: Literal["count", "sum", "avg"]
    alias: str
    field: str | None = None  # None for count


def asc(name: str) -> Order:
    return Order(name)


def desc(name: str) -> Order:
    return Order(name, descending=True)


def count(alias: str = "count") -> Aggregation:
    return Aggregation("count", alias)


def total(name: str, alias: str | None = None) -> Aggregation:
    return Aggregation("sum", alias or name, name)


@dataclass(frozen=True)
class QuerySpec:
    """One query Herald runs. Fields are named as the documents name them.

    equals: equality filters always applied (the caller must pass a value).
    optional: equality filters applied when the caller passes a non-None value; any
        subset of them may occur, and each subset is a shape of its own.
    within: `in` filters always applied, as (field, largest number of values).
    contains: an array-contains filter always applied.
    range: the one field filtered by `gt`/`ge`/`lt`/`le` (optional unless
        `range_required`); the order, when declared, must start with it.
    order: the sort; `reversible` lets the caller flip every direction.
    paged: the order ends with `__name__` (in the last field's direction), so cursors
        (`start_after` a snapshot or values) are exact; required by `pages`.
    aggregations: count/sum over the filtered documents (at most MAX_AGGREGATIONS).
    """

    name: str
    collection: str
    equals: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    within: tuple[tuple[str, int], ...] = ()
    contains: str | None = None
    range: str | None = None
    range_required: bool = False
    order: tuple[Order, ...] = ()
    reversible: bool = False
    paged: bool = False
    aggregations: tuple[Aggregation, ...] = ()
    group: bool = False  # a collection-group query
    why: str = field(default="", compare=False)

    @property
    def filter_fields(self) -> tuple[str, ...]:
        return (
            *self.equals,
            *self.optional,
            *(f for f, _ in self.within),
            *((self.contains,) if self.contains else ()),
        )


def build(db: Any, spec: QuerySpec, *, reverse: bool = False, **values: Any) -> Any:
    """The client query for `spec` with the caller's values.

    `values` holds one entry per equality / `in` / array-contains field (optional ones
    may be None or absent) and, for the range field, any of gt=, ge=, lt=, le=.
    """
    from google.cloud.firestore_v1.base_query import FieldFilter

    bounds = {op: values.pop(op) for op in list(RANGE_OPS) if op in values}
    unknown = set(values) - set(spec.filter_fields)
    if unknown:
        raise QueryError(f"{spec.name}: no filter on {sorted(unknown)}")
    if reverse and not spec.reversible:
        raise QueryError(f"{spec.name}: its order is not reversible")
    root = db.collection_group(spec.collection) if spec.group else db.collection(spec.collection)
    query = root

    def where(name: str, op: str, value: Any) -> None:
        nonlocal query
        query = query.where(filter=FieldFilter(name, op, value))

    for name in spec.equals:
        if values.get(name) is None:
            raise QueryError(f"{spec.name}: {name} is required")
        where(name, "==", values[name])
    for name in spec.optional:
        if values.get(name) is not None:
            where(name, "==", values[name])
    for name, most in spec.within:
        chosen = list(values.get(name) or ())
        if not chosen or len(chosen) > min(most, MAX_IN_VALUES):
            raise QueryError(f"{spec.name}: {name} takes 1 to {most} values, got {len(chosen)}")
        where(name, "in", chosen)
    if spec.contains is not None:
        if values.get(spec.contains) is None:
            raise QueryError(f"{spec.name}: {spec.contains} is required")
        where(spec.contains, "array_contains", values[spec.contains])
    bounds = {op: v for op, v in bounds.items() if v is not None}
    if bounds and spec.range is None:
        raise QueryError(f"{spec.name}: declares no range filter")
    if spec.range_required and not bounds:
        raise QueryError(f"{spec.name}: needs a bound on {spec.range}")
    if len({"gt", "ge"} & set(bounds)) > 1 or len({"lt", "le"} & set(bounds)) > 1:
        raise QueryError(f"{spec.name}: at most one lower and one upper bound")
    for op, value in bounds.items():
        where(spec.range or "", RANGE_OPS[op], value)
    for order in effective_order(spec, reverse):
        direction = "DESCENDING" if order.descending else "ASCENDING"
        query = query.order_by(order.field, direction=direction)
    return query


def effective_order(spec: QuerySpec, reverse: bool = False) -> tuple[Order, ...]:
    """The orders `build` sends: the declared ones (the range field alone when none is
    declared and the query pages), then `__name__` for a paged declaration."""
    orders = list(spec.order)
    if not orders and spec.paged and spec.range:
        orders = [Order(spec.range)]
    if reverse:
        orders = [Order(o.field, not o.descending) for o in orders]
    if spec.paged:
        orders.append(Order(NAME, orders[-1].descending if orders else False))
    return tuple(orders)


def pages(
    db: Any,
    spec: QuerySpec,
    *,
    page_size: int = 300,
    after: Sequence[Any] | None = None,
    fields: Sequence[str] | None = None,
    chunk: int | None = None,
    **values: Any,
) -> Iterator[list[Any]]:
    """Every document of the declaration, `page_size` at a time, in its order.

    `after` resumes after a position given as order values (a prefix is enough: after
    every document with that value). `fields` projects the documents (`select`); the
    order fields are added so the next page can start after the last snapshot.
    `chunk` hands the documents on `chunk` at a time as they arrive, while the rest of
    the page is still streaming: a caller can act on the first of a large page
    (one query instead of many) before its last has been read.
    """
    if not spec.paged:
        raise QueryError(f"{spec.name}: declare paged=True to read it page by page")
    query = build(db, spec, **values)
    if fields is not None:
        keep = {*fields, *(o.field for o in spec.order)} - {NAME}
        query = query.select(sorted(keep))
    size = min(chunk or page_size, page_size)
    cursor: Any = list(after) if after is not None else None
    while True:
        page_query = query.limit(page_size)
        if cursor is not None:
            page_query = page_query.start_after(cursor)
        read, docs = 0, []
        for doc in page_query.stream():
            read += 1
            cursor = doc
            docs.append(doc)
            if len(docs) == size:
                yield docs
                docs = []
        if docs:
            yield docs
        if read < page_size:
            return


def aggregate(
    db: Any, spec: QuerySpec, *, transaction: Any = None, **values: Any
) -> dict[str, int | float]:
    """The declared aggregations over the declaration's documents (alias -> value)."""
    from google.cloud.firestore_v1.aggregation import AggregationQuery

    if not spec.aggregations:
        raise QueryError(f"{spec.name}: declares no aggregation")
    if len(spec.aggregations) > MAX_AGGREGATIONS:
        raise QueryError(f"{spec.name}: more than {MAX_AGGREGATIONS} aggregations")
    agg = AggregationQuery(build(db, spec, **values))
    for a in spec.aggregations:
        if a.kind == "count":
            agg.count(alias=a.alias)
        elif a.kind == "sum":
            agg.sum(a.field or "", alias=a.alias)
        else:
            agg.avg(a.field or "", alias=a.alias)
    rows: list[list[Any]] = list(agg.get(transaction=transaction))  # type: ignore[arg-type]
    out: dict[str, int | float] = {}
    for row in rows:
        for result in row:
            value = result.value
            out[result.alias] = value if isinstance(value, float) else int(value or 0)
    return out


def aggregate_together(
    db: Any, parts: Sequence[tuple[QuerySpec, Mapping[str, Any]]]
) -> dict[str, int | float]:
    """Several declarations' aggregations read from one snapshot (a read-only
    transaction): a caller deciding "done" from them never mixes a before and an after."""
    if len(parts) == 1:
        spec, values = parts[0]
        return aggregate(db, spec, **values)
    from google.cloud import firestore

    out: dict[str, int | float] = {}

    @firestore.transactional
    def read_all(transaction: Any) -> None:
        out.clear()
        for spec, values in parts:
            out.update(aggregate(db, spec, transaction=transaction, **values))

    read_all(db.transaction(read_only=True))
    return out
