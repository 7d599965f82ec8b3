"""Counts Firestore document reads and writes with a gRPC client interceptor.

Used by the benchmarks (and tests that assert costs) to measure billed operations
rather than estimate them. Counting follows Firestore's billing: a query bills one
read per document returned (at least one per query), a get one read per document
asked for, a commit one write per write in it; an aggregation one read.
Enabled in function processes by HERALD_FIRESTORE_STATS_DIR: each process then writes
its running totals to `<dir>/<pid>.json`.
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


class CountingInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    def __init__(self, counter: FirestoreCounter, on_change: Callable[[], None] | None = None):
        self.counter = counter
        self._on_change = on_change or (lambda: None)

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        method = details.method.removeprefix(_PREFIX)
        response = continuation(details, request)
        self.counter.add(f"calls.{method}")
        if method == "GetDocument":
            self.counter.add("reads")
        elif method in ("Commit", "BatchWrite"):
            self.counter.add("writes", len(request.writes))
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
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(COUNTER.snapshot()))
            tmp.replace(path)

    return flush


def interceptor_from_env() -> CountingInterceptor | None:
    directory = os.environ.get("HERALD_FIRESTORE_STATS_DIR")
    if not directory:
        return None
    return CountingInterceptor(COUNTER, _file_flusher(Path(directory)))


def record_task(kind: str) -> None:
    """Count a created Cloud Task (the benchmarks' tasks-per-item figures)."""
    directory = os.environ.get("HERALD_FIRESTORE_STATS_DIR")
    if directory:
        COUNTER.add(f"tasks.{kind}")
        _file_flusher(Path(directory))()


def read_totals(directory: Path) -> dict[str, int]:
    """Sum the per-process totals written under `directory`."""
    total: Counter[str] = Counter()
    for path in directory.glob("*.json"):
        try:
            total.update(json.loads(path.read_text()))
        except (json.JSONDecodeError, OSError):
            continue
    return dict(total)
