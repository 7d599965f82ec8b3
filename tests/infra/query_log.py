"""Hook into the Firestore client that reports each structured query it sends.

Used in the test process (query_recorder) and, through site/sitecustomize.py, in the
function processes of the local stack when HERALD_QUERY_LOG names a file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any


def install(record: Callable[[Any], None]) -> None:
    from google.cloud.firestore_v1 import base_query

    original = base_query.BaseQuery._to_protobuf
    if getattr(original, "_herald_recorded", False):
        return

    def _to_protobuf(self: Any) -> Any:
        query = original(self)
        with contextlib.suppress(Exception):  # recording must never break a query
            record(query)
        return query

    _to_protobuf._herald_recorded = True  # type: ignore[attr-defined]
    base_query.BaseQuery._to_protobuf = _to_protobuf  # type: ignore[method-assign]


def install_file_log(path: str) -> None:
    import threading

    from tests.infra.firestore_queries import shape_of

    lock = threading.Lock()
    written: set[str] = set()

    def record(query: Any) -> None:
        line = shape_of(query).to_json()
        with lock:
            if line in written:
                return
            written.add(line)
            with open(path, "a") as fh:  # one short line per append: safe across processes
                fh.write(line + "\n")

    install(record)
