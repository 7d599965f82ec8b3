"""Contact imports, the request side: validate the whole file, then write it or stage it.

The file is read once (shared.email.contact_rows): a malformed file is refused before
anything is written. The accepted rows are held meanwhile, compressed, in BINS bins by
contact hash (memory: about a quarter of the file, plus the dedupe digests). Then:
- up to SYNC_ROWS accepted rows are written in the request (shared.email.contact_writes);
- a larger import is cut into chunks by contact hash, each a range of whole member pages
  of the list (`plan`; a page that would take more than a chunk is split first), staged
  in `contact_import_chunks` (shared.email.import_chunks) and written by one task each on
  the `imports` queue. So during the import each member page has one writer, however many
  chunk tasks run at once, and the request costs a write per chunk, not per contact.
The `contact_imports` record says how far the writing got if it stops midway.
"""

from __future__ import annotations

import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from shared.email import members
from shared.email.contact_rows import Tally, validate
from shared.email.contact_writes import pool, write_rows
from shared.email.import_chunks import CHUNKS, chunk_task, encode_rows, settle
from shared.email.model import CONTACT_IMPORTS, CONTACT_LISTS
from shared.email.suppression import all_suppressed
from shared.errors import NotFound, ProviderError
from shared.log import get_logger
from shared.tenancy import new_id, scoped_get

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = get_logger("email.imports")

SYNC_ROWS = 2000  # accepted rows written within the request; more run as chunks
CHUNK_ROWS = 4000  # fewer tasks; each still writes in commits of 500, four in flight
CHUNK_BYTES = 600_000  # a chunk's payload, compressed as its bins were: far under 1 MiB
BINS = 256  # by the first two hex digits of the contact hash
BIN_BLOCK = 32_768  # bytes of rows a bin holds before compressing them
_TOP = 1 << 64  # the position of members.END


class Staged:
    """Accepted rows held compressed by contact hash until the file has been read whole."""

    def __init__(self) -> None:
        self._open = [bytearray() for _ in range(BINS)]
        self._blocks: list[list[bytes]] = [[] for _ in range(BINS)]
        self.positions = array("Q")  # each row's hash as a 64-bit number
        self.text_bytes = 0

    def __len__(self) -> int:
        return len(self.positions)

    def stored_bytes(self) -> int:
        """The rows' size as held: compressed blocks, plus the open ends of the bins at
        the blocks' rate (the entries' field names repeat: ~4-6x smaller than as text)."""
        packed = sum(len(x) for blocks in self._blocks for x in blocks)
        raw = self.text_bytes - sum(len(buf) for buf in self._open)
        rate = packed / raw if raw else 1.0
        return packed + int(rate * sum(len(buf) for buf in self._open))

    def add(self, digest: str, text: str) -> None:
        line = f"{digest} {text}\n".encode()
        b = int(digest[:2], 16)
        buf = self._open[b]
        buf += line
        if len(buf) >= BIN_BLOCK:
            self._blocks[b].append(zlib.compress(buf, 1))
            buf.clear()
        self.positions.append(int(digest[:16], 16))
        self.text_bytes += len(line)

    def rows(self, b: int) -> Iterator[tuple[str, str]]:
        """Bin b's rows (hash, entry text), in the order they came."""
        for block in [*(zlib.decompress(x) for x in self._blocks[b]), bytes(self._open[b])]:
            for line in block.decode().split("\n"):
                if line:
                    yield line[:32], line[33:]

    def all_rows(self) -> list[tuple[str, str]]:
        return [row for b in range(BINS) for row in self.rows(b)]


def _position(boundary: str) -> int:
    return _TOP if boundary == members.END else int(boundary[:16], 16)


def plan(
    layout: list[members.Page], positions: array, per_chunk: int
) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """Chunks for rows at `positions` (sorted) over a list's pages: ({page lo: the hashes
    to split it at first}, [(chunk lo, chunk hi)]). A chunk is a run of whole pages
    holding about `per_chunk` rows; a page that would hold more is split at the rows'
    quantiles, so its parts go to different chunks. The chunks cover every page (some
    may get no rows: they are not staged)."""
    splits: dict[str, list[str]] = {}
    pieces: list[tuple[str, str, int]] = []
    for page in layout:
        first = bisect_left(positions, _position(page.lo))
        count = bisect_left(positions, _position(page.hi)) - first
        cuts: list[str] = []
        if count > per_chunk:
            parts = -(-count // per_chunk)
            for j in range(1, parts):
                cut = f"{positions[first + j * count // parts]:016x}" + "0" * 16
                if page.lo < cut < page.hi and (not cuts or cut > cuts[-1]):
                    cuts.append(cut)
            splits[page.lo] = cuts
        for lo, hi in pairwise([page.lo, *cuts, page.hi]):
            n = bisect_left(positions, _position(hi)) - bisect_left(positions, _position(lo))
            pieces.append((lo, hi, n))
    chunks: list[tuple[str, str, int]] = []
    for lo, hi, n in pieces:
        if chunks and chunks[-1][2] + n <= per_chunk:
            start, _, held = chunks[-1]
            chunks[-1] = (start, hi, held + n)
        else:
            chunks.append((lo, hi, n))
    return splits, [(lo, hi) for lo, hi, _ in chunks]


def stage(
    runtime: Runtime,
    workspace_id: str,
    import_id: str,
    staged: Staged,
    list_id: str | None,
    custom: list[str],
) -> int:
    """Stage the rows in chunk documents, one task each; returns how many chunks."""
    db = runtime.db
    per_chunk = max(1, min(CHUNK_ROWS, CHUNK_BYTES * len(staged) // max(1, staged.stored_bytes())))
    positions = array("Q", sorted(staged.positions))
    if list_id:
        splits, ranges = plan(members.layout(db, workspace_id, list_id), positions, per_chunk)
        for lo, cuts in splits.items():
            members.split(db, workspace_id, list_id, lo, at=cuts)
    else:  # no pages to own: any cut of the hash range will do
        whole = [members.Page(None, members.LOW, members.END, 0, 0, None)]
        ranges = plan(whole, positions, per_chunk)[1]
    los = [lo for lo, _ in ranges]
    held: list[list[tuple[str, str]]] = [[] for _ in ranges]
    done = made = 0
    creating = []
    for b in range(BINS):
        for digest, text in staged.rows(b):
            held[bisect_right(los, digest) - 1].append((digest, text))
        # Chunks and bins both run in hash order: those ending below the next bin are whole.
        below = f"{b + 1:02x}" if b + 1 < BINS else members.END
        while done < len(ranges) and ranges[done][1] <= below:
            if held[done]:
                chunk = (import_id, made, ranges[done], held[done], list_id, custom)
                # Created (and enqueued) a few at a time while the sweep goes on.
                creating.append(pool().submit(_create_chunk, runtime, workspace_id, *chunk))
                made += 1
            held[done] = []
            done += 1
    for future in creating:
        future.result()  # re-raises the first failure
    return made


def _create_chunk(
    runtime: Runtime,
    workspace_id: str,
    import_id: str,
    k: int,
    span: tuple[str, str],
    rows: list[tuple[str, str]],
    list_id: str | None,
    custom: list[str],
) -> None:
    chunk_id = f"{import_id}__{k:05d}"
    runtime.db.collection(CHUNKS).document(chunk_id).create(
        {
            "workspace_id": workspace_id,
            "import_id": import_id,
            "list_id": list_id,
            "key": chunk_id,
            "lo": span[0],
            "hi": span[1],
            "custom": custom,
            "payload": encode_rows(rows),
            "rows": len(rows),
            "status": "queued",
            "done": 0,
            "written": 0,
            "updated_at": runtime.clock.now(),
        }
    )
    runtime.enqueuer.enqueue(chunk_task(chunk_id, workspace_id))


def import_contacts(
    runtime: Runtime,
    workspace_id: str,
    data: bytes,
    filename: str,
    mapping: dict[str, Any],
    list_id: str | None = None,
) -> dict[str, Any]:
    """Validate the whole file, then write; returns counts and the validation report.

    Up to SYNC_ROWS accepted contacts are written in the request; a larger file is
    staged in chunks written by background tasks: the answer then has `status:
    importing` and `GET .../imports/{import_id}` shows the progress."""
    db = runtime.db
    if list_id and scoped_get(db, CONTACT_LISTS, workspace_id, list_id) is None:
        raise NotFound("no such contact list")
    suppressed = all_suppressed(db, workspace_id)
    tally = Tally()
    staged = Staged()
    for digest, text in validate(data, filename, mapping, suppressed, tally):
        staged.add(digest, text)  # nothing is written until the file has been read whole
    now = runtime.clock.now()
    import_id = new_id()
    record = db.collection(CONTACT_IMPORTS).document(import_id)
    background = tally.accepted > SYNC_ROWS
    record.set(
        {
            "workspace_id": workspace_id,
            "filename": filename[:200],
            "list_id": list_id,
            "total_rows": tally.total,
            "accepted": tally.accepted,
            "rejected": tally.reasons,
            "report": tally.report[:200],
            "created_at": now,
            "status": "staging" if background else "writing",
            "background": background,
            "written": 0,
        }
    )
    result = {
        "import_id": import_id,
        "list_id": list_id,
        "total_rows": tally.total,
        "accepted": tally.accepted,
        "imported": 0,
        "rejected": tally.reasons,
        "report": tally.report,
        "report_truncated": sum(tally.reasons.values()) > len(tally.report),
    }
    progress = [0]
    try:
        if background:
            chunks = stage(runtime, workspace_id, import_id, staged, list_id, tally.custom)
            record.update({"status": "importing", "chunks_total": chunks})
            settle(runtime, import_id)  # chunk tasks may all have run already
            return result | {"status": "importing", "chunks_total": chunks, "staged": len(staged)}
        rows = staged.all_rows()
        write_rows(db, workspace_id, rows, list_id, tally.custom, now, progress=progress)
    except Exception as exc:
        written = progress[0]
        record.update({"status": "partial", "written": written, "error": str(exc)[:500]})
        raise ProviderError(
            f"the import stopped after writing {written} of {tally.accepted} contacts "
            f"({exc}); importing the same file again completes it without duplicates",
            {"import_id": import_id, "written": written, "accepted": tally.accepted},
        ) from exc
    record.update({"status": "done", "written": progress[0]})
    return result | {"status": "done", "imported": progress[0]}
