"""Large contact imports in the background: validated once, staged in chunks, written by tasks.

The API request validates the whole file (streamed, as for a small import), then streams
it again and stages the accepted contacts in `contact_import_chunks/{import}__{k:05d}`
documents (workspace_id, import_id, list_id, key, status queued|done, written, done,
updated_at, and `payload`: the contacts as zlib-compressed JSON, since encoding a
thousand maps as Firestore values costs far more CPU than the write) of at most
CHUNK_ROWS contacts or CHUNK_BYTES of JSON, each created
with create() under a deterministic id and given one task on the emails queue (handled
by send_email). Memory stays bounded by one chunk plus the dedupe set of 8-byte digests,
and the request costs one write per chunk instead of one per contact.

A chunk task writes its contacts and list members with merges keyed by the address
hash, so running it twice (a duplicate or retried task, a worker killed midway) writes
the same values again: idempotent without a claim. It then marks the chunk done (and
drops its payload). Progress is the sum of the chunks' `done` and `written`
(one aggregation read); the import is done when every chunk is, and whichever chunk
run (or the staging request) sees that marks the import record `done`. Until then the
dispatcher holds back campaigns to the list (dispatch.IMPORT_WAIT).

A chunk whose task is lost (a queue that gave up after its last attempt, a restarted
emulator) would hold its import, and campaigns to its list, for that whole wait: the
dispatcher's recovery gives a chunk still `queued` past the grace a new task, up to
MAX_RECOVERIES times. Then the chunk and its import are marked failed with the reason,
so the import says what happened and campaigns stop waiting for it.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.email.model import CONTACT_IMPORTS
from shared.errors import NotFound
from shared.firestore import is_already_exists
from shared.log import get_logger
from shared.tasks import TaskSpec, safe_task_id
from shared.tenancy import scoped_get

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("email.imports")

CHUNKS = "contact_import_chunks"
CHUNK_ROWS = 2000
CHUNK_BYTES = 900_000  # of JSON before compression: under Firestore's 1 MiB per document
DEADLINE = timedelta(minutes=10)
MAX_RECOVERIES = 5


def _encode(contact: dict[str, Any]) -> bytes:
    return json.dumps(contact, ensure_ascii=False, separators=(",", ":")).encode()


def stage(
    runtime: Runtime,
    workspace_id: str,
    import_id: str,
    contacts: Iterable[dict[str, Any]],
    list_id: str | None,
) -> tuple[int, int]:
    """Stage the contacts in chunk documents, one task each; returns (chunks, contacts)."""
    chunk: list[bytes] = []
    size = 0
    chunks = staged = 0

    def flush() -> None:
        nonlocal chunk, size, chunks, staged
        _create_chunk(runtime, workspace_id, import_id, chunks, chunk, list_id)
        chunks += 1
        staged += len(chunk)
        chunk, size = [], 0

    for contact in contacts:
        line = _encode(contact)
        chunk.append(line)
        size += len(line) + 1
        if len(chunk) >= CHUNK_ROWS or size >= CHUNK_BYTES:
            flush()
    if chunk:
        flush()
    return chunks, staged


def _create_chunk(
    runtime: Runtime,
    workspace_id: str,
    import_id: str,
    k: int,
    lines: list[bytes],
    list_id: str | None,
) -> None:
    chunk_id = f"{import_id}__{k:05d}"
    try:
        runtime.db.collection(CHUNKS).document(chunk_id).create(
            {
                "workspace_id": workspace_id,
                "import_id": import_id,
                "list_id": list_id,
                "key": chunk_id,
                "payload": zlib.compress(b"\n".join(lines), 6),
                "rows": len(lines),
                "status": "queued",
                "done": 0,
                "written": 0,
                "updated_at": runtime.clock.now(),
            }
        )
    except Exception as exc:
        if not is_already_exists(exc):
            raise
    runtime.enqueuer.enqueue(_chunk_task(chunk_id, workspace_id))


def _chunk_task(chunk_id: str, workspace_id: str, attempt_tag: str | None = None) -> TaskSpec:
    return TaskSpec(
        kind="emails",
        target="send_email",
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

    query = build(runtime.db, STALE_CHUNKS, status="queued", lt=stale).limit(100)
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
            _chunk_task(snap.id, data["workspace_id"], f"recover{int(now.timestamp())}")
        )
        log.warning("re-enqueued an import chunk whose task was lost", chunk_id=snap.id)
    return found


def run_chunk(runtime: Runtime, workspace_id: str, chunk_id: str) -> dict[str, Any]:
    """Write one staged chunk (idempotent); raises on errors Cloud Tasks should retry."""
    from shared.email.contacts import write_contacts

    ref = runtime.db.collection(CHUNKS).document(chunk_id)
    snap = ref.get()
    if not snap.exists or snap.get("workspace_id") != workspace_id:
        log.warning("task for an unknown import chunk", chunk_id=chunk_id)
        return {"status": "missing"}
    data = snap.to_dict()
    if data.get("status") == "done":
        settle(runtime, data["import_id"])  # in case the run that wrote it died before
        return {"status": "already_done"}
    lines = zlib.decompress(data["payload"]).split(b"\n")
    contacts = (json.loads(line) for line in lines if line)
    written = write_contacts(runtime, workspace_id, contacts, data.get("list_id"))
    ref.update(
        {
            "status": "done",
            "done": 1,
            "written": written,
            "payload": b"",
            "updated_at": runtime.clock.now(),
        }
    )
    log.info("import chunk written", chunk_id=chunk_id, written=written)
    settle(runtime, data["import_id"])
    return {"status": "done", "written": written}


def _sums(runtime: Runtime, import_id: str) -> dict[str, int]:
    from shared.queries import aggregate
    from shared.queries.email import IMPORT_SUMS

    sums = aggregate(runtime.db, IMPORT_SUMS, import_id=import_id)
    return {alias: int(value) for alias, value in sums.items()}


def settle(runtime: Runtime, import_id: str) -> None:
    """Mark the import done once every chunk is (any chunk run may be the last one)."""
    ref = runtime.db.collection(CONTACT_IMPORTS).document(import_id)
    record = ref.get()
    total = record.get("chunks_total") if record.exists else None
    if total is None or record.get("status") != "importing":
        return  # still staging (staging settles at its end), or already settled
    sums = _sums(runtime, import_id)
    if sums.get("done", 0) >= total:
        ref.update({"status": "done", "written": sums.get("written", 0)})


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
