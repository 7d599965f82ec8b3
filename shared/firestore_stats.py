"""Counts Firestore document reads and writes with a gRPC client interceptor.

Used by the benchmarks (and tests that assert costs) to measure billed operations
rather than estimate them. Counting follows Firestore's billing: a query bills one
read per document returned (at least one per query), a get one read per document
asked for, a commit one write per write in it; an aggregation one read.
Enabled in function processes by HERALD_FIRESTORE_STATS_DIR: each process then writes
its running totals to `<dir>/<pid>.json`.

Writes per document (the hot-document check of the import benchmark) are counted only
while `<dir>/documents.on` exists: its text names the collections whose documents are
too many to list (their writes are summed per collection, `writes.<collection>`); every
other written document is counted on its own in `<dir>/<pid>.docs.json`.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc

_PREFIX = "/google.firestore.v1.Firestore/"


class FirestoreCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.totals: Counter[str] = Counter()
        self.documents: Counter[str] = Counter()
        # Collections whose writes are summed rather than counted per document; None
        # while writes per document are not being counted.
        self.summed: frozenset[str] | None = None

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.totals[key] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.totals)

    @property
    def reads(self) -> int:
        return self.totals["reads"]

    @property
    def writes(self) -> int:
        return self.totals["writes"]

    def reset(self) -> None:
        with self._lock:
            self.totals.clear()
            self.documents.clear()

    def count_documents(self, summed: frozenset[str] | None) -> None:
        """Count writes per document from now on (None: stop), except in `summed`."""
        with self._lock:
            if summed != self.summed:
                self.documents.clear()
            self.summed = summed

    def add_written(self, names: list[str]) -> None:
        """Documents written by one commit (full resource names)."""
        with self._lock:
            summed = self.summed
            if summed is None:
                return
            for name in names:
                path = name.partition("/documents/")[2]
                collection = path.rpartition("/")[0]
                if collection in summed:
                    self.totals[f"writes.{collection}"] += 1
                else:
                    self.documents[path] += 1

    def documents_snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.documents)


def _failed(response: Any) -> bool:
    """Whether a unary call answered with an error (an interceptor's continuation returns
    the finished call, which raises only when its result is read)."""
    try:
        return response.exception() is not None
    except Exception:  # not a finished call: count it as sent
        return False


class _CountedStream:
    """Wraps a server-streaming call: counts documents as they arrive, delegates the rest."""

    def __init__(self, call: Any, on_item: Callable[[Any], None], on_end: Callable[[], None]):
        self._call = call
        self._on_item = on_item
        self._on_end = on_end
        self._ended = False

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        try:
            item = next(self._call)
        except StopIteration:
            if not self._ended:
                self._ended = True
                self._on_end()
            raise
        self._on_item(item)
        return item

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


def _written_name(write: Any) -> str:
    """The document a Write (proto-plus or protobuf) changes."""
    pb = getattr(type(write), "pb", None)
    raw = pb(write) if callable(pb) else write
    operation = raw.WhichOneof("operation")
    if operation == "update":
        return str(raw.update.name)
    if operation == "transform":
        return str(raw.transform.document)
    return str(raw.delete)


class CountingInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    def __init__(
        self,
        counter: FirestoreCounter,
        on_change: Callable[[], None] | None = None,
        documents_switch: Callable[[], frozenset[str] | None] | None = None,
    ):
        self.counter = counter
        self._on_change = on_change or (lambda: None)
        self._documents_switch = documents_switch

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        method = details.method.removeprefix(_PREFIX)
        response = continuation(details, request)
        self.counter.add(f"calls.{method}")
        if method == "GetDocument":
            self.counter.add("reads")
        elif method in ("Commit", "BatchWrite") and not _failed(response):
            # A refused commit (a precondition, an existing document, an aborted
            # transaction) writes nothing and Firestore bills no write for it.
            self.counter.add("writes", len(request.writes))
            if self._documents_switch is not None:
                self.counter.count_documents(self._documents_switch())
            if self.counter.summed is not None:
                self.counter.add_written([_written_name(w) for w in request.writes])
        self._on_change()
        return response

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        method = details.method.removeprefix(_PREFIX)
        call = continuation(details, request)
        self.counter.add(f"calls.{method}")
        seen = [0]

        def on_item(item: Any) -> None:
            if method == "BatchGetDocuments":
                self.counter.add("reads")
            elif method == "RunQuery" and item.document and item.document.name:
                seen[0] += 1
                self.counter.add("reads")
            elif method == "RunAggregationQuery" and seen[0] == 0:
                seen[0] = 1
                self.counter.add("reads")

        def on_end() -> None:
            if method == "RunQuery" and seen[0] == 0:
                self.counter.add("reads")  # an empty query still bills one read
            self._on_change()

        return _CountedStream(call, on_item, on_end)


COUNTER = FirestoreCounter()


@functools.cache
def _file_flusher(directory: Path) -> Callable[[], None]:
    """One flusher per process and directory (shared by the read/write and task counts)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{os.getpid()}.json"
    lock = threading.Lock()

    def flush() -> None:
        with lock:
            _replace(path, COUNTER.snapshot())
            if COUNTER.summed is not None:
                _replace(directory / f"{os.getpid()}.docs.json", COUNTER.documents_snapshot())

    return flush


def _replace(path: Path, data: dict[str, int]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


DOCUMENTS_SWITCH = "documents.on"


def _documents_switch(directory: Path) -> Callable[[], frozenset[str] | None]:
    """Whether writes per document are being counted (the switch file exists), and the
    collections summed instead (its text, comma-separated)."""
    switch = directory / DOCUMENTS_SWITCH

    def read() -> frozenset[str] | None:
        try:
            text = switch.read_text()
        except OSError:
            return None
        return frozenset(c.strip() for c in text.split(",") if c.strip())

    return read


def interceptor_from_env() -> CountingInterceptor | None:
    directory = os.environ.get("HERALD_FIRESTORE_STATS_DIR")
    if not directory:
        return None
    path = Path(directory)
    return CountingInterceptor(COUNTER, _file_flusher(path), _documents_switch(path))


def record_task(kind: str) -> None:
    """Count a created Cloud Task (the benchmarks' tasks-per-item figures)."""
    directory = os.environ.get("HERALD_FIRESTORE_STATS_DIR")
    if directory:
        COUNTER.add(f"tasks.{kind}")
        _file_flusher(Path(directory))()


def read_totals(directory: Path, pattern: str = "[0-9]*[0-9].json") -> dict[str, int]:
    """Sum the per-process totals written under `directory` (`<pid>.json`; with
    pattern `*.docs.json`, the writes per document)."""
    total: Counter[str] = Counter()
    for path in directory.glob(pattern):
        try:
            total.update(json.loads(path.read_text()))
        except (json.JSONDecodeError, OSError):
            continue
    return dict(total)
