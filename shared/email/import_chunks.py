"""Import chunks, the task side: write one, settle the import, show progress, recover.

`contact_import_chunks/{import}__{k:05d}`: workspace_id, import_id, list_id, key, lo, hi
(the hash range it owns: whole member pages of the list), custom (the custom fields the
file maps), payload (its rows, zlib: one `<contact hash> <entry JSON>` line each; emptied
when written), rows, status (queued|done|failed), done (0/1), written, updated_at,
recoveries, error. Staged by shared.email.imports; one task each on the `imports` queue,
handled by the import_contacts function.

A chunk task writes its contacts and their member entries (shared.email.contact_writes):
merges keyed by the contact hash, so running it twice (a duplicate or retried task, a
worker killed midway) writes the same values again: idempotent without a claim. It then
marks the chunk done and drops its payload. Progress is the sum of the chunks' `done`
and `written` (one aggregation read); the import is done when every chunk is, and
whichever chunk run (or the staging request) sees that marks the import record `done`.
Until then the dispatcher holds back campaigns to the list (dispatch.IMPORT_WAIT).

A chunk whose task is lost (a queue that gave up after its last attempt, a restarted
emulator) would hold its import, and campaigns to its list, for that whole wait: the
dispatcher's recovery gives a chunk still `queued` past the grace a new task, up to
MAX_RECOVERIES times. Then the chunk and its import are marked failed with the reason,
so the import says what happened and campaigns stop waiting for it.
"""

from __future__ import annotations

import time
import zlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.email.model import CONTACT_IMPORTS
from shared.errors import NotFound
from shared.log import get_logger
from shared.tasks import TaskSpec, safe_task_id
from shared.tenancy import scoped_get

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("email.imports")

CHUNKS = "contact_import_chunks"
CHUNK_QUEUE = "imports"
CHUNK_WORKER = "import_contacts"
DEADLINE = timedelta(minutes=10)
MAX_RECOVERIES = 5
# Read whole by the chunk's task, never queried (see model.UNINDEXED_FIELDS): the rows
# (up to ~600 KB) and the mapped custom field names.
UNINDEXED_FIELDS = {CHUNKS: ("payload", "custom")}


def encode_rows(rows: list[tuple[str, str]]) -> bytes:
    return zlib.compress("".join(f"{d} {t}\n" for d, t in rows).encode(), 1)


def decode_rows(payload: bytes) -> list[tuple[str, str]]:
    text = zlib.decompress(payload).decode()
    return [(line[:32], line[33:]) for line in text.split("\n") if line]


def chunk_task(chunk_id: str, workspace_id: str, attempt_tag: str | None = None) -> TaskSpec:
    return TaskSpec(
        kind=CHUNK_QUEUE,
        target=CHUNK_WORKER,
        payload={"import_chunk": chunk_id, "workspace_id": workspace_id},
        task_id=safe_task_id("import", chunk_id, *([attempt_tag] if attempt_tag else [])),
        dispatch_deadline=DEADLINE,
    )


def recover_lost_chunks(runtime: Runtime, now: datetime, stale: datetime) -> int:
    """New tasks for chunks still queued since before `stale` (their task was lost);
    a chunk recovered MAX_RECOVERIES times fails, and its import with it. Returns how
    many chunks were handled."""
    from shared.queries import build
    from shared.queries.email import STALE_CHUNKS

    query = (
        build(runtime.db, STALE_CHUNKS, status="queued", lt=stale)
        .select(["import_id", "workspace_id", "recoveries"])  # not the payloads
        .limit(100)
    )
    found = 0
    for snap in query.stream():
        found += 1
        data = snap.to_dict()
        tries = int(data.get("recoveries") or 0)
        if tries >= MAX_RECOVERIES:
            reason = f"chunk {snap.id} was not written after {tries + 1} tasks"
            snap.reference.update({"status": "failed", "error": reason, "updated_at": now})
            runtime.db.collection(CONTACT_IMPORTS).document(data["import_id"]).update(
                {"status": "failed", "error": reason}
            )
            log.alert(
                "email_import_failed",
                reason,
                import_id=data["import_id"],
                workspace_id=data["workspace_id"],
                reason=reason,
            )
            continue
        snap.reference.update({"updated_at": now, "recoveries": tries + 1})
        runtime.enqueuer.enqueue(
            chunk_task(snap.id, data["workspace_id"], f"recover{int(now.timestamp())}")
        )
        log.warning("re-enqueued an import chunk whose task was lost", chunk_id=snap.id)
    return found


def run_chunk(runtime: Runtime, workspace_id: str, chunk_id: str) -> dict[str, Any]:
    """Write one staged chunk (idempotent); raises on errors Cloud Tasks should retry."""
    from shared.email.contact_writes import write_rows

    started = time.perf_counter()
    ref = runtime.db.collection(CHUNKS).document(chunk_id)
    snap = ref.get()
    if not snap.exists or snap.get("workspace_id") != workspace_id:
        log.warning("task for an unknown import chunk", chunk_id=chunk_id)
        return {"status": "missing"}
    data = snap.to_dict()
    if data.get("status") != "queued":
        settle(runtime, data["import_id"])  # in case the run that wrote it died before
        return {"status": f"already_{data.get('status')}"}
    read = time.perf_counter()
    written = write_rows(
        runtime.db,
        workspace_id,
        decode_rows(data["payload"]),
        data.get("list_id"),
        data.get("custom") or [],
        runtime.clock.now(),
        lo=data["lo"],
        hi=data["hi"],
    )
    wrote = time.perf_counter()
    ref.update(
        {
            "status": "done",
            "done": 1,
            "written": written,
            "payload": b"",
            "updated_at": runtime.clock.now(),
        }
    )
    settle(runtime, data["import_id"])
    timing = {"read": read - started, "write": wrote - read, "settle": time.perf_counter() - wrote}
    log.info(
        "import chunk written",
        chunk_id=chunk_id,
        written=written,
        timing_ms={k: round(1000 * v, 1) for k, v in timing.items()},
    )
    return {"status": "done", "written": written}


def _sums(runtime: Runtime, import_id: str) -> dict[str, int]:
    from shared.queries import aggregate
    from shared.queries.email import IMPORT_SUMS

    sums = aggregate(runtime.db, IMPORT_SUMS, import_id=import_id)
    return {alias: int(value) for alias, value in sums.items()}


def settle(runtime: Runtime, import_id: str) -> None:
    """Mark the import done once every chunk is (any chunk run may be the last one)."""
    from shared.queries import build
    from shared.queries.email import QUEUED_CHUNK

    # While a chunk is still queued the import cannot be done: one index read says so,
    # where the record and the sums would take two reads and an aggregation per chunk.
    queued = build(runtime.db, QUEUED_CHUNK, import_id=import_id, status="queued")
    queued = queued.select(["status"]).limit(1)
    if list(queued.stream()):
        return
    ref = runtime.db.collection(CONTACT_IMPORTS).document(import_id)
    record = ref.get()
    total = record.get("chunks_total") if record.exists else None
    if total is None or record.get("status") != "importing":
        return  # still staging (staging settles at its end), or already settled
    sums = _sums(runtime, import_id)
    if sums.get("done", 0) < total:
        return
    # The last chunks to finish may settle at once: the first write wins and the others,
    # whose record changed since they read it, have nothing to add (the sums are final).
    from google.api_core.exceptions import FailedPrecondition

    try:
        ref.update(
            {"status": "done", "written": sums.get("written", 0)},
            option=runtime.db.write_option(last_update_time=record.update_time),
        )
    except FailedPrecondition:
        log.info("import settled by another chunk run", import_id=import_id)


def get_import(runtime: Runtime, workspace_id: str, import_id: str) -> dict[str, Any]:
    """The import's report and progress (chunks and contacts written so far)."""
    data = scoped_get(runtime.db, CONTACT_IMPORTS, workspace_id, import_id)
    if data is None:
        raise NotFound("no such import")
    out: dict[str, Any] = {
        "import_id": import_id,
        "list_id": data.get("list_id"),
        "filename": data.get("filename"),
        "total_rows": data.get("total_rows", 0),
        "accepted": data.get("accepted", 0),
        "rejected": data.get("rejected") or {},
        "report": data.get("report") or [],
        "status": data.get("status"),
        "imported": int(data.get("written") or 0),
    }
    if data.get("error"):
        out["error"] = data["error"]
    total = data.get("chunks_total")
    if data.get("background"):
        sums = _sums(runtime, import_id)
        out |= {"chunks_total": total, "chunks_done": sums.get("done", 0)}
        out["imported"] = sums.get("written", 0)
        if out["status"] == "importing" and total is not None and sums.get("done") == total:
            out["status"] = "done"
    return out
