"""Firestore client factory and the small helpers every collection shares.

Data model rules (see README, "Data model"): flat top-level collections with a
`workspace_id` field, queried fields at the top level (no dotted paths), every query
declared in shared/queries (paged with Firestore cursors), and `create()` claim
documents for idempotency.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
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


def transact(db: Any, attempt: Callable[[Any], Any], tries: int = 8) -> tuple[Any, list[Any]]:
    """`attempt(txn)` in a transaction, retried when it aborts (another transaction
    holds what it read); its result and the transaction's write results. Each retry
    waits a random pause first: contenders that abort each other and retry in step would
    abort each other again (the emulator keeps no place in line for a retried one).
    `attempt` does its reads before its writes and nothing irreversible: it may run
    again."""
    from google.api_core.exceptions import Aborted
    from google.cloud import firestore

    run = firestore.transactional(attempt)
    for n in range(tries):
        txn = db.transaction(max_attempts=1)
        try:
            return run(txn), list(txn.write_results or [])
        except ValueError as exc:  # what the client raises for an aborted transaction
            if not isinstance(exc.__cause__, Aborted) or n == tries - 1:
                raise
        time.sleep(random.uniform(0, min(1.0, 0.05 * 2**n)))  # noqa: S311 - a jitter
    raise AssertionError("unreachable")
