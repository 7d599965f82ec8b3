"""Count Firestore document reads the way billing does, at the RPC level.

The client's GAPIC stub is wrapped for the duration of a `with` block: every document
a BatchGetDocuments answer carries (found or missing) is one read, every document a
RunQuery answer streams is one read (a query that matches nothing still costs one),
and an aggregation costs one read per started 1,000 index entries (counted as one
here: the tests stay far below 1,000). Writes are the documents of each Commit
(a create that loses to AlreadyExists still counts: it was attempted).
"""

from __future__ import annotations

from typing import Any


class _Counted:
    """Proxies a server stream, calling `on_item` for each response."""

    def __init__(self, inner: Any, on_item: Any, on_end: Any = None) -> None:
        self._inner = iter(inner)
        self._raw = inner
        self._on_item = on_item
        self._on_end = on_end

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> Any:
        try:
            item = next(self._inner)
        except StopIteration:
            if self._on_end:
                self._on_end()
                self._on_end = None
            raise
        self._on_item(item)
        return item

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class ReadCounter:
    def __init__(self, db: Any) -> None:
        self._api = db._firestore_api
        self.reads = 0
        self.writes = 0
        self.calls: dict[str, int] = {"batch_get": 0, "query": 0, "aggregation": 0}

    def __enter__(self) -> ReadCounter:
        api = self._api
        batch_get, run_query, run_agg, commit = (
            api.batch_get_documents,
            api.run_query,
            api.run_aggregation_query,
            api.commit,
        )

        def counted_commit(*args: Any, **kwargs: Any) -> Any:
            request = kwargs.get("request") or {}
            writes = request.get("writes", []) if isinstance(request, dict) else request.writes
            self.writes += len(writes)
            return commit(*args, **kwargs)

        def counted_batch_get(*args: Any, **kwargs: Any) -> Any:
            self.calls["batch_get"] += 1

            def item(resp: Any) -> None:
                if resp._pb.HasField("found") or resp._pb.HasField("missing"):
                    self.reads += 1

            return _Counted(batch_get(*args, **kwargs), item)

        def counted_query(*args: Any, **kwargs: Any) -> Any:
            self.calls["query"] += 1
            seen = [0]

            def item(resp: Any) -> None:
                if resp._pb.HasField("document"):
                    seen[0] += 1
                    self.reads += 1

            def end() -> None:
                if not seen[0]:
                    self.reads += 1  # an empty result is billed one read

            return _Counted(run_query(*args, **kwargs), item, end)

        def counted_agg(*args: Any, **kwargs: Any) -> Any:
            self.calls["aggregation"] += 1
            self.reads += 1
            return run_agg(*args, **kwargs)

        api.batch_get_documents = counted_batch_get
        api.run_query = counted_query
        api.run_aggregation_query = counted_agg
        api.commit = counted_commit
        return self

    def __exit__(self, *exc: Any) -> None:
        for name in ("batch_get_documents", "run_query", "run_aggregation_query", "commit"):
            self._api.__dict__.pop(name, None)
