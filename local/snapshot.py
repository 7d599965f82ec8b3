"""Restore a Firestore emulator snapshot (the emulator's own `state.toJSON()` output).

The emulator keeps data in memory only; `make dev` saves its state on stop and this
module writes it back on the next start, so a demo survives a restart.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def _value(db: Any, field: dict[str, Any]) -> Any:
    kind, value = field["type"], field.get("value")
    if kind in ("string_value", "boolean_value", "double_value"):
        return value
    if kind == "integer_value":
        return int(value)  # type: ignore[arg-type]
    if kind == "null_value":
        return None
    if kind == "timestamp_value":
        assert isinstance(value, dict)
        return datetime.fromtimestamp(int(value.get("seconds", 0)), UTC) + timedelta(
            microseconds=int(value.get("nanos", 0)) // 1000
        )
    if kind == "bytes_value":
        if isinstance(value, dict):  # a Uint8Array serializes as {"0": b0, "1": b1, ...}
            return bytes(value[k] for k in sorted(value, key=int))
        return bytes(value or [])
    if kind == "reference_value":
        assert isinstance(value, str)
        return db.document(value.split("/documents/", 1)[1])
    if kind == "geo_point_value":
        from google.cloud.firestore import GeoPoint

        assert isinstance(value, dict)
        return GeoPoint(value["latitude"], value["longitude"])
    if kind == "array_value":
        return [_value(db, v) for v in value or []]
    if kind == "map_value":
        return {k: _value(db, v) for k, v in (value or {}).items()}
    raise ValueError(f"unknown field type {kind!r} in snapshot")


def _documents(node: dict[str, Any]) -> Any:
    for collection in node.get("collections", {}).values():
        for doc in collection.get("documents", {}).values():
            yield doc
            yield from _documents(doc)


def restore(snapshot: Path, project_id: str, make_client: Any) -> int:
    """Write every document of `project_id` found in the snapshot; returns how many."""
    state = json.loads(snapshot.read_text())
    project = state.get("projects", {}).get(project_id)
    if not project:
        return 0
    written = 0
    for db_name, database in project.get("databases", {}).items():
        db = make_client(db_name)
        batch = db.batch()
        pending = 0
        for doc in _documents(database):
            if not doc.get("fields") and doc.get("collections"):
                continue  # a parent that only holds subcollections
            path = doc["path"].split("/documents/", 1)[1]
            batch.set(db.document(path), {k: _value(db, v) for k, v in doc["fields"].items()})
            pending += 1
            written += 1
            if pending == 400:
                batch.commit()
                batch, pending = db.batch(), 0
        if pending:
            batch.commit()
    return written
