"""Every Firestore query Herald runs, declared as data (see spec.py for the why).

One module per domain holds that domain's declarations; `catalogue()` lists them all
for tests/infra, which checks every shape they can produce against infra/firestore.tf.
"""

from __future__ import annotations

from shared.queries.spec import (
    MAX_AGGREGATIONS,
    MAX_DISJUNCTIONS,
    MAX_IN_VALUES,
    Aggregation,
    Order,
    QueryError,
    QuerySpec,
    aggregate,
    aggregate_together,
    build,
    effective_order,
    pages,
)

DOMAINS = ("core", "x", "generate", "email", "metrics", "jobs")

__all__ = [
    "DOMAINS",
    "MAX_AGGREGATIONS",
    "MAX_DISJUNCTIONS",
    "MAX_IN_VALUES",
    "Aggregation",
    "Order",
    "QueryError",
    "QuerySpec",
    "aggregate",
    "aggregate_together",
    "build",
    "catalogue",
    "effective_order",
    "pages",
]


def catalogue() -> dict[str, QuerySpec]:
    """Every declaration of every domain module, by name (names are unique)."""
    import importlib

    found: dict[str, QuerySpec] = {}
    for domain in DOMAINS:
        module = importlib.import_module(f"shared.queries.{domain}")
        for value in vars(module).values():
            if isinstance(value, dict):
                members = tuple(value.values())
            else:
                members = value if isinstance(value, tuple) else (value,)
            for spec in members:
                if isinstance(spec, QuerySpec) and found.setdefault(spec.name, spec) is not spec:
                    raise QueryError(f"two declarations are named {spec.name}")
    return found
