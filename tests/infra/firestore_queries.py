"""Which composite indexes a Firestore query needs, and whether infra/ declares them.

Two sources of shapes: every shape a declaration of shared/queries can produce
(`spec_shapes`, computed from the declaration alone), and the StructuredQuery the
client sends (`shape_of`, used by the run-time recorder as a cross-check of the builder).

Firestore serves a query from single-field indexes when it has only equality
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
        direction = type(pb).Direction.Name(o.direction)
        if field == NAME:
            # Every index ends with __name__ in its last field's direction; another
            # direction is a field of its own.
            last = order[-1][1] if order else "ASCENDING"
            if direction != last:
                order.append((field, direction))
            continue
        if field in equality or any(field == f for f, _ in order):
            continue
        order.append((field, direction))
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


# -- the declarations of shared/queries ---------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One way a declaration can be built: which optional filters, reversed, ranged."""

    spec: str
    optional: tuple[str, ...]
    reverse: bool
    ranged: bool

    def describe(self) -> str:
        parts = [f"with {', '.join(self.optional)}" if self.optional else "no optional filter"]
        if self.reverse:
            parts.append("reversed")
        if self.ranged:
            parts.append("with its range")
        return f"{self.spec} ({'; '.join(parts)})"


def spec_shapes(spec: Any) -> dict[Variant, Shape]:
    """Every shape `shared.queries.build` can produce for `spec`, from the declaration
    alone: each subset of its optional filters x each direction x with/without its range.
    A cursor (`start_after`/`end_before`) does not change a shape: a paged declaration
    always orders by `__name__` last, in the last field's direction."""
    from itertools import combinations

    from shared.queries import effective_order

    subsets = [c for n in range(len(spec.optional) + 1) for c in combinations(spec.optional, n)]
    directions = [False, True] if spec.reversible else [False]
    rangings = [True] if spec.range_required else ([False, True] if spec.range else [False])
    out: dict[Variant, Shape] = {}
    for subset in subsets:
        equality = sorted({*spec.equals, *subset, *(f for f, _ in spec.within)})
        array = (spec.contains,) if spec.contains else ()
        for reverse in directions:
            for ranged in rangings:
                order: list[tuple[str, str]] = []
                for o in effective_order(spec, reverse):
                    direction = "DESCENDING" if o.descending else "ASCENDING"
                    if o.field == NAME:
                        if direction != (order[-1][1] if order else "ASCENDING"):
                            order.append((o.field, direction))
                        continue
                    if o.field not in equality and o.field not in {f for f, _ in order}:
                        order.append((o.field, direction))
                if ranged and spec.range not in {f for f, _ in order}:
                    order.append((spec.range, "ASCENDING"))
                shape = Shape(spec.collection, tuple(equality), array, tuple(order), spec.group)
                out[Variant(spec.name, subset, reverse, ranged)] = shape
    return out


def limit_problems(spec: Any) -> list[str]:
    """What in `spec` Firestore would refuse, whatever the values."""
    from math import prod

    from shared.queries import MAX_AGGREGATIONS, MAX_DISJUNCTIONS, MAX_IN_VALUES

    problems = []
    if len(spec.aggregations) > MAX_AGGREGATIONS:
        problems.append(
            f"{len(spec.aggregations)} aggregations; Firestore runs at most "
            f"{MAX_AGGREGATIONS} in one query (split it into several declarations read "
            "together with shared.queries.aggregate_together)"
        )
    for name, most in spec.within:
        if most > MAX_IN_VALUES:
            problems.append(f"`in` on {name} allows {most} values; Firestore takes {MAX_IN_VALUES}")
    if prod(most for _, most in spec.within) > MAX_DISJUNCTIONS:
        problems.append(f"more than {MAX_DISJUNCTIONS} disjunctions (product of its `in` sizes)")
    if spec.range and spec.order and spec.order[0].field != spec.range:
        problems.append(
            f"ranges over {spec.range} but orders by {spec.order[0].field} first; the range "
            "field must be the first order"
        )
    filtered = set(spec.filter_fields)
    if spec.range in filtered:
        problems.append(f"{spec.range} is both an equality and a range filter")
    if any(o.field in filtered for o in spec.order):
        problems.append("orders by a field it filters by equality")
    if spec.paged and not (spec.order or spec.range):
        problems.append("paged without an order")
    if spec.group:
        problems.append("a collection-group query: infra declares no COLLECTION_GROUP index")
    return problems


def index_line(shape: Shape) -> str:
    fields = ", ".join(f'"{f}"' for f in shape.index_fields())
    return f'{{ collection = "{shape.collection}", fields = [{fields}] }},'


def catalogue_shapes() -> dict[Variant, Shape]:
    from shared.queries import catalogue

    out: dict[Variant, Shape] = {}
    for spec in catalogue().values():
        out.update(spec_shapes(spec))
    return out
