"""Count the writes each Firestore document receives, at the RPC level.

Wraps the client's Commit for the duration of a `with` block (thread-safe, so concurrent
workers sharing the client are counted too): every write of a commit, a set, an update,
a create that loses to AlreadyExists, a transform, is one write to its document. Firestore
sustains about one write a second per document: tests of concurrent writers use this to
show that no document takes a write per worker.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


def _document(write: Any) -> str:
    pb = getattr(write, "_pb", write)
    kind = pb.WhichOneof("operation")
    if kind == "update":
        return str(pb.update.name)
    if kind == "delete":
        return str(pb.delete)
    return str(pb.transform.document)


class WriteCounter:
    def __init__(self, db: Any) -> None:
        self._api = db._firestore_api
        self._lock = threading.Lock()
        self.per_document: Counter[str] = Counter()

    def __enter__(self) -> WriteCounter:
        commit = self._api.commit

        def counted_commit(*args: Any, **kwargs: Any) -> Any:
            request = kwargs.get("request") or {}
            writes = request.get("writes", []) if isinstance(request, dict) else request.writes
            with self._lock:
                self.per_document.update(_document(w) for w in writes)
            return commit(*args, **kwargs)

        self._api.commit = counted_commit
        return self

    def __exit__(self, *exc: Any) -> None:
        self._api.__dict__.pop("commit", None)

    def of(self, collection: str) -> dict[str, int]:
        """Writes per document id of one collection."""
        marker = f"/documents/{collection}/"
        return {
            name.split(marker, 1)[1]: n for name, n in self.per_document.items() if marker in name
        }
