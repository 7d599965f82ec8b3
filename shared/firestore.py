"""Firestore client factory and the small helpers every collection shares.

Data model rules (see README, "Data model"): flat top-level collections with a
`workspace_id` field, queried fields at the top level (no dotted paths), keyset paging
(`where(field > last) + order_by + limit`, never cursors), and `create()` claim
documents for idempotency.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.cloud import firestore

    from shared.settings import Settings

_clients: dict[tuple[str, str, str | None], Any] = {}
_lock = threading.Lock()


def client(settings: Settings) -> firestore.Client:
    """A cached Firestore client; honours FIRESTORE_EMULATOR_HOST for the local stack."""
    from google.cloud import firestore

    key = (settings.project_id, settings.firestore_database, settings.firestore_emulator_host)
    with _lock:
        db = _clients.get(key)
        if db is None:
            if settings.firestore_emulator_host:
                # The client reads the variable itself; keep it consistent with settings.
                os.environ["FIRESTORE_EMULATOR_HOST"] = settings.firestore_emulator_host
                from google.auth.credentials import AnonymousCredentials

                db = _emulator_client_class()(
                    project=settings.project_id,
                    database=settings.firestore_database,
                    credentials=AnonymousCredentials(),
                )
            else:
                db = firestore.Client(
                    project=settings.project_id, database=settings.firestore_database
                )
            _clients[key] = db
        return db


def _emulator_client_class() -> Any:
    """The client class for the emulator: counts reads and writes when asked to.

    HERALD_FIRESTORE_STATS_DIR turns on a gRPC interceptor (shared.firestore_stats)
    that the benchmarks read; without it this is the stock client.
    """
    from google.cloud import firestore

    from shared.firestore_stats import interceptor_from_env

    interceptor = interceptor_from_env()
    if interceptor is None:
        return firestore.Client
    return _intercepted_client_class(interceptor)


def _intercepted_client_class(interceptor: Any) -> Any:
    """A Client class whose emulator channel passes through `interceptor`."""
    from google.cloud import firestore

    class CountingClient(firestore.Client):
        def _emulator_channel(self, transport: Any) -> Any:
            import grpc

            return grpc.intercept_channel(super()._emulator_channel(transport), interceptor)

    return CountingClient


def counting_client(project: str, interceptor: Any, database: str = "(default)") -> Any:
    """A client for the emulator whose traffic passes through `interceptor` (tests, bench)."""
    from google.auth.credentials import AnonymousCredentials

    client_class = _intercepted_client_class(interceptor)
    return client_class(project=project, database=database, credentials=AnonymousCredentials())


def keyset_pages(
    query: Any, field: str, page_size: int = 300, start_after: Any = None
) -> Iterator[list[Any]]:
    """Page through `query` ordered by `field` with `where(field > last)`.

    `field` must be unique per document (or end with the document id) so no row is
    skipped; callers usually order by a composite key such as `due_key`.
    Cursors (`start_after`) are not used: the emulator ignores them.
    """
    from google.cloud.firestore_v1.base_query import FieldFilter

    last = start_after
    while True:
        page_query = query
        if last is not None:
            page_query = page_query.where(filter=FieldFilter(field, ">", last))
        docs = list(page_query.order_by(field).limit(page_size).stream())
        if not docs:
            return
        yield docs
        if len(docs) < page_size:
            return
        last = docs[-1].get(field)


# Cloud Firestore refuses an aggregation query with more than 5 aggregations.
MAX_AGGREGATIONS = 5


def sum_fields(query: Any, fields: dict[str, str]) -> dict[str, int]:
    """Sums of `fields` (alias -> field) over the query's documents.

    One aggregation query per 5 fields (Firestore's limit), billed one read per 1,000
    index entries each. More than one runs in a read-only transaction, so every sum
    comes from the same snapshot: a caller deciding "done" from several sums never
    mixes a batch's before and after.
    """
    from google.cloud.firestore_v1.aggregation import AggregationQuery

    items = list(fields.items())
    groups = [items[i : i + MAX_AGGREGATIONS] for i in range(0, len(items), MAX_AGGREGATIONS)]

    def run(group: list[tuple[str, str]], transaction: Any = None) -> dict[str, int]:
        agg = AggregationQuery(query)
        for alias, field in group:
            agg.sum(field, alias=alias)
        rows: list[list[Any]] = list(agg.get(transaction=transaction))  # type: ignore[arg-type]
        return {result.alias: int(result.value or 0) for row in rows for result in row}

    if len(groups) <= 1:
        return run(groups[0]) if groups else {}
    from google.cloud import firestore

    sums: dict[str, int] = {}

    @firestore.transactional
    def read_all(transaction: Any) -> None:
        sums.clear()
        for group in groups:
            sums.update(run(group, transaction))

    read_all(query._client.transaction(read_only=True))
    return sums


def is_already_exists(exc: BaseException) -> bool:
    from google.api_core import exceptions

    return isinstance(exc, exceptions.AlreadyExists | exceptions.Conflict)


MAX_DOC_ID_BYTES = 512  # Firestore allows 1,500; Herald's own ids are far shorter


def is_doc_id(value: object) -> bool:
    """A string Firestore takes as a document id. Ids that come from a request are checked
    first: '/' would name another collection, '.', '..' and `__x__` are refused by the
    server (a 500 if sent), and a very long id only costs a read."""
    return (
        isinstance(value, str)
        and 0 < len(value.encode("utf-8", "replace")) <= MAX_DOC_ID_BYTES
        and "/" not in value
        and value not in (".", "..")
        and not (value.startswith("__") and value.endswith("__"))
    )
