"""Which composite indexes a Firestore query needs, and whether infra/ declares them.

A query recorded here is the StructuredQuery the client sends (collection, filters,
orders). Firestore serves it from single-field indexes when it has only equality
filters (merged), or a single field it filters by range and/or orders by, optionally
with one array-contains. Anything else (equality + order/range on another field, range
or order on two fields, array-contains with an order) needs a composite index:
equality fields first (any order), then array-contains, then the order fields.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

EQUALITY = {"EQUAL", "IN", "IS_NULL", "IS_NAN"}
ARRAY = {"ARRAY_CONTAINS", "ARRAY_CONTAINS_ANY"}
NAME = "__name__"


@dataclass(frozen=True)
class Shape:
    collection: str
    equality: tuple[str, ...]  # sorted
    array: tuple[str, ...]  # sorted
    order: tuple[tuple[str, str], ...]  # (field, ASCENDING|DESCENDING) in query order
    all_descendants: bool = False

    def to_json(self) -> str:
        return json.dumps(
            {
                "collection": self.collection,
                "equality": list(self.equality),
                "array": list(self.array),
                "order": [list(o) for o in self.order],
                "all_descendants": self.all_descendants,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Shape:
        d = json.loads(text)
        return cls(
            d["collection"],
            tuple(d["equality"]),
            tuple(d["array"]),
            tuple((f, o) for f, o in d["order"]),
            d.get("all_descendants", False),
        )

    def needs_composite(self) -> bool:
        if not self.order and len(self.array) <= 1 and not (self.array and self.equality):
            return False  # equality-only (merged single-field indexes), or one array-contains
        # Otherwise only one field filtered by range and/or ordered is served without one.
        return bool(self.equality or self.array or len(self.order) > 1)

    def index_fields(self) -> list[str]:
        """The index in infra/firestore.tf notation: "field", "field desc", "field contains"."""
        fields = list(self.equality) + [f"{a} contains" for a in self.array]
        fields += [f if d == "ASCENDING" else f"{f} desc" for f, d in self.order]
        return fields

    def served_by(self, collection: str, fields: list[str]) -> bool:
        if collection != self.collection:
            return False
        head = len(self.equality) + len(self.array)
        want_head = set(self.equality) | {f"{a} contains" for a in self.array}
        # An equality field may be indexed in either direction.
        got_head = {re.sub(r" desc$", "", f) for f in fields[:head]}
        tail = [f for f in fields[head:] if not f.startswith(NAME)]
        want_tail = self.index_fields()[head:]
        return got_head == want_head and tail == want_tail

    def describe(self) -> str:
        return f"{self.collection}: {', '.join(self.index_fields())}"


def _field_filters(pb_filter: Any, out: list[tuple[str, str]]) -> None:
    kind = pb_filter.WhichOneof("filter_type")
    if kind == "composite_filter":
        for sub in pb_filter.composite_filter.filters:
            _field_filters(sub, out)
    elif kind == "field_filter":
        f = pb_filter.field_filter
        out.append((f.field.field_path, type(f).Operator.Name(f.op)))
    elif kind == "unary_filter":
        f = pb_filter.unary_filter
        out.append((f.field.field_path, type(f).Operator.Name(f.op)))


def shape_of(structured_query: Any) -> Shape:
    """Shape of a firestore_v1 StructuredQuery (proto-plus or raw protobuf)."""
    pb = (
        type(structured_query).pb(structured_query)
        if hasattr(type(structured_query), "pb")
        else structured_query
    )
    collection = pb.from_[0].collection_id if len(pb.from_) else ""
    descendants = bool(len(pb.from_) and pb.from_[0].all_descendants)
    filters: list[tuple[str, str]] = []
    if pb.HasField("where"):
        _field_filters(pb.where, filters)
    equality = sorted({f for f, op in filters if op in EQUALITY})
    array = sorted({f for f, op in filters if op in ARRAY})
    ranges = [f for f, op in filters if op not in EQUALITY | ARRAY]
    order: list[tuple[str, str]] = []
    for o in pb.order_by:
        field = o.field.field_path
        if field == NAME or field in equality or any(field == f for f, _ in order):
            continue
        order.append((field, type(pb).Direction.Name(o.direction)))
    for (
        field
    ) in ranges:  # an inequality field is implicitly ordered (ascending) after explicit orders
        if field not in {f for f, _ in order}:
            order.append((field, "ASCENDING"))
    return Shape(collection, tuple(equality), tuple(array), tuple(order), descendants)


def declared_indexes() -> list[tuple[str, list[str]]]:
    from tests.infra import hcl

    return [(ix["collection"], list(ix["fields"])) for ix in hcl.locals_()["firestore_indexes"]]


def app_collections() -> set[str]:
    """Collections the application code opens (`.collection(X)`, X a literal or a
    module constant): a query on any other collection is a test's scratch data."""
    import ast

    from tests.infra import codemap

    constants: dict[str, set[str]] = {}
    args: list[ast.expr] = []
    for path in codemap.all_code():
        tree = codemap._tree(path)
        for name, value in codemap._constants([path]).items():
            constants.setdefault(name, set()).add(value)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "collection"
                and node.args
            ):
                args.append(node.args[0])
    names: set[str] = set()
    for arg in args:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            names.add(arg.value)
        elif isinstance(arg, ast.Name):
            names |= constants.get(arg.id, set())
        elif isinstance(arg, ast.Attribute):
            names |= constants.get(arg.attr, set())
    return names


def missing(shapes: set[Shape]) -> list[Shape]:
    indexes = declared_indexes()
    known = app_collections()
    return sorted(
        (
            s
            for s in shapes
            if s.collection in known
            and s.needs_composite()
            and not any(s.served_by(c, f) for c, f in indexes)
        ),
        key=lambda s: s.describe(),
    )
