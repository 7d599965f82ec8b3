"""A list's members as dispatch reads them: pages of hash ranges, one writer each.

`contact_list_members/{list_id}__{lo}`: workspace_id, list_id, lo, hi, n, size, members.
The pages of a list partition the contact-hash space (email_hash: 32 hex digits): page
[lo, hi) holds the list's contacts whose hash falls in it, `n` of them, as `members`:
one `<hash> <entry JSON>` line each, in hash order, zlib-compressed (`size` bytes; ~30
bytes a member, never queried, so exempt from indexing). One bytes value, not a map of
thousands: nothing per member for Firestore to index, and the emulator writes a page of
2,000 in a sixth of the time. A page past MAX_ROWS or MAX_BYTES is split, so none nears
Firestore's 1 MiB. A list starts with one empty page [000..., ~) (ensure_root); pages are
only ever split, never joined, so a boundary once made stays.

Writers. An import gives each of its chunks a hash range made of whole pages
(shared.email.imports plans them), so each page has one writer per import: no hot
document, however many chunks run at once. Every change to a page (a chunk's merge, a
split, an API edit) reads it, changes it and writes it back in one transaction, so a
concurrent change elsewhere (another import, an API edit) is serialised, never lost,
and an entry always lands in the page whose range holds its hash: a contact is in at
most one page of a list. Counts are exact.

Readers page by `hi` (dispatch: `hi > cursor`, the cursor being the last page's `hi`): a
split of a page already read makes pages below the cursor, one not yet read pages above
it, so no member is read twice. A list of 100,000 is ~20-50 pages: that many reads.
"""

from __future__ import annotations

import itertools
import json
import math
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from shared import firestore_writes as fw
from shared.firestore import transact

MEMBERS = "contact_list_members"
LOW = "0" * 32  # the lowest contact hash
END = "~"  # above every hash: the `hi` of a list's last page
MAX_ROWS = 10_000  # a page past these is split
MAX_BYTES = 700_000  # compressed: far under 1 MiB
SPLIT_ROWS = 5_000  # what a split aims at, leaving room to grow
SPLIT_BYTES = 350_000
PAGE_READ = 8  # pages per dispatch query
MERGE_ATTEMPTS = 5
# Read whole by dispatch and the list views, never queried (see model.UNINDEXED_FIELDS).
UNINDEXED_FIELDS = {MEMBERS: ("members",)}


def page_id(list_id: str, lo: str) -> str:
    return f"{list_id}__{lo}"


ENTRY_FIELDS = ("email", "email_norm", "first_name", "last_name", "timezone")
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def entry_text(contact: Mapping[str, Any]) -> str:
    """A member as its page keeps it (and an import chunk stages it): the contact's
    fields, empty ones left out."""
    entry = {k: contact[k] for k in ENTRY_FIELDS if contact.get(k)}
    fields = {k: v for k, v in (contact.get("fields") or {}).items() if v}
    if fields:
        entry["fields"] = fields
    return _encode(entry)


def entry_bytes(digest: str, text: str) -> int:
    """What an entry adds to its page (Firestore counts a string's UTF-8 bytes + 1)."""
    return len(digest) + 1 + len(text.encode()) + 1


def decode(workspace_id: str, digest: str, text: str) -> dict[str, Any]:
    """An entry as dispatch and the send path use it."""
    entry: dict[str, Any] = json.loads(text)
    return {
        "id": f"{workspace_id}__{digest}",
        "email": entry["email"],
        "first_name": entry.get("first_name") or "",
        "last_name": entry.get("last_name") or "",
        "timezone": entry.get("timezone"),
        "fields": entry.get("fields") or {},
    }


def pack(entries: Mapping[str, str]) -> bytes:
    """A page's `members` value from its entries (hash -> entry text)."""
    return zlib.compress("".join(f"{d} {entries[d]}\n" for d in sorted(entries)).encode(), 6)


def unpack(blob: bytes) -> dict[str, str]:
    text = zlib.decompress(blob).decode() if blob else ""
    return {line[:32]: line[33:] for line in text.split("\n") if line}


@dataclass(frozen=True)
class Page:
    """A page's place and counters as last read (not its members)."""

    ref: Any
    lo: str
    hi: str
    n: int
    size: int
    update_time: Any

    @classmethod
    def of(cls, snap: Any) -> Page:
        data = snap.to_dict() or {}
        return cls(
            snap.reference,
            data["lo"],
            data["hi"],
            int(data.get("n") or 0),
            int(data.get("size") or 0),
            snap.update_time,
        )


def _query(db: Any, workspace_id: str, list_id: str, **bounds: Any) -> Any:
    """The list's pages by `hi` within `bounds` (gt=, le=), in order."""
    from shared.queries import build
    from shared.queries.email import MEMBER_PAGES

    return build(db, MEMBER_PAGES, list_id=list_id, workspace_id=workspace_id, **bounds)


def _page_doc(
    workspace_id: str, list_id: str, lo: str, hi: str, entries: Mapping[str, str]
) -> dict[str, Any]:
    blob = pack(entries)
    return {
        "workspace_id": workspace_id,
        "list_id": list_id,
        "lo": lo,
        "hi": hi,
        "n": len(entries),
        "size": len(blob),
        "members": blob,
    }


def ensure_root(db: Any, workspace_id: str, list_id: str) -> None:
    """The list's first page, covering every hash (a no-op when the list has pages)."""
    from shared.firestore import is_already_exists

    ref = db.collection(MEMBERS).document(page_id(list_id, LOW))
    try:
        ref.create(_page_doc(workspace_id, list_id, LOW, END, {}))
    except Exception as exc:
        if not is_already_exists(exc):
            raise


def layout(db: Any, workspace_id: str, list_id: str, lo: str = LOW, hi: str = END) -> list[Page]:
    """The pages covering [lo, hi), in order (lo and hi being page boundaries), without
    their members: one read per page. A list made before member pages existed has none:
    it gets its first page here."""
    for _ in range(2):
        query = _query(db, workspace_id, list_id, gt=lo, le=hi)
        found = [Page.of(snap) for snap in query.select(["lo", "hi", "n", "size"]).stream()]
        if found:
            return found
        ensure_root(db, workspace_id, list_id)
    raise RuntimeError(f"list {list_id} has no member page for [{lo}, {hi})")


def pages(
    db: Any, workspace_id: str, list_id: str, after: str | None = None
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(page hi, its members in hash order) for every page past the cursor `after` (a
    page hi from an earlier call; None from the start), PAGE_READ pages per query."""
    cursor = after or ""
    while True:
        docs = list(_query(db, workspace_id, list_id, gt=cursor).limit(PAGE_READ).stream())
        for snap in docs:
            data = snap.to_dict() or {}
            lo, hi = max(data["lo"], cursor), data["hi"]
            found = unpack(data.get("members") or b"")
            yield hi, [decode(workspace_id, d, t) for d, t in found.items() if lo <= d < hi]
            cursor = hi
        if len(docs) < PAGE_READ:
            return


def route(
    layout_: list[Page], entries: Mapping[str, str | None]
) -> list[tuple[Page, dict[str, str | None]]]:
    """The entries grouped by the page whose range holds their hash."""
    from bisect import bisect_right

    los = [p.lo for p in layout_]
    groups: dict[int, dict[str, str | None]] = {}
    for digest, text in entries.items():
        i = bisect_right(los, digest) - 1
        if i < 0 or digest >= layout_[i].hi:
            raise ValueError(f"no page of the layout holds {digest}")
        groups.setdefault(i, {})[digest] = text
    return [(layout_[i], group) for i, group in sorted(groups.items())]


def merge(
    db: Any,
    workspace_id: str,
    list_id: str,
    entries: Mapping[str, str],
    lo: str = LOW,
    hi: str = END,
) -> None:
    """Merge `entries` (hash -> entry_text) into the list's pages in [lo, hi): one
    transaction per page (splitting it if it grows too big). Idempotent: merging the
    same entries again writes the same values."""
    pending: dict[str, str | None] = dict(entries)
    for _ in range(MERGE_ATTEMPTS):
        left: dict[str, str | None] = {}
        for page, group in route(layout(db, workspace_id, list_id, lo, hi), pending):
            # A page split since the layout was read keeps only its part: the rest
            # goes round again, to the pages that now hold it.
            left |= rewrite(db, workspace_id, list_id, page.lo, add=group)
        if not left:
            return
        pending = left
    raise RuntimeError(f"{len(pending)} list members kept meeting concurrent page splits")


def rewrite(
    db: Any,
    workspace_id: str,
    list_id: str,
    lo: str,
    add: Mapping[str, str | None] | None = None,
    at: list[str] | None = None,
) -> dict[str, str | None]:
    """In one transaction: read page `lo`, set the entries of `add` within its range (a
    None removes one) and write it back, cut `at` these hashes, or wherever it would
    pass MAX_ROWS / MAX_BYTES. Returns the changes of `add` outside the page's range (a
    split since the caller looked moved them)."""
    ref = db.collection(MEMBERS).document(page_id(list_id, lo))
    outside: dict[str, str | None] = {}

    def run(transaction: Any) -> None:
        outside.clear()
        snap = ref.get(transaction=transaction)
        if not snap.exists:
            raise RuntimeError(f"no member page {ref.id}")
        data = snap.to_dict()
        hi = data["hi"]
        found = unpack(data.get("members") or b"")
        for digest, text in (add or {}).items():
            if not lo <= digest < hi:
                outside[digest] = text
            elif text is None:
                found.pop(digest, None)
            else:
                found[digest] = text
        writes = []
        for part_lo, part_hi, part in _parts(found, lo, hi, at):
            doc = _page_doc(workspace_id, list_id, part_lo, part_hi, part)
            if doc["size"] > MAX_BYTES:  # the guard on Firestore's 1 MiB (_parts prevents it)
                raise ValueError(f"member page {part_lo} would hold {doc['size']} bytes")
            name = fw.document_name(db, f"{MEMBERS}/{page_id(list_id, part_lo)}")
            writes.append(fw.set_write(name, doc))
        transaction._add_write_pbs(writes)

    transact(db, run)
    return outside


def split(db: Any, workspace_id: str, list_id: str, lo: str, at: list[str]) -> None:
    """Cut page `lo` at these hashes (an import does it before its chunks run)."""
    rewrite(db, workspace_id, list_id, lo, at=at)


def _parts(
    members: dict[str, str], lo: str, hi: str, at: list[str] | None
) -> Iterator[tuple[str, str, dict[str, str]]]:
    """[lo, hi) cut at `at` (or, without, only as _cuts says), and again wherever a part
    would pass MAX_ROWS or MAX_BYTES: (part lo, part hi, its members)."""
    if at is None:
        too_big = len(members) > MAX_ROWS or len(pack(members)) > MAX_BYTES
        cuts = _cuts(members) if too_big else []
    else:
        cuts = sorted({c for c in at if lo < c < hi})
    bounds = [lo, *cuts, hi]
    ordered = sorted(members.items())
    k = 0
    for part_lo, part_hi in itertools.pairwise(bounds):
        part: dict[str, str] = {}
        while k < len(ordered) and ordered[k][0] < part_hi:
            part[ordered[k][0]] = ordered[k][1]
            k += 1
        if at is not None and (len(part) > MAX_ROWS or len(pack(part)) > MAX_BYTES):
            yield from _parts(part, part_lo, part_hi, None)
        else:
            yield part_lo, part_hi, part


def _cuts(members: Mapping[str, str]) -> list[str]:
    """Hashes to cut a page's members at, into parts under SPLIT_ROWS and SPLIT_BYTES."""
    ordered = sorted(members.items())
    sizes = [entry_bytes(d, t) for d, t in ordered]
    packed = len(pack(members))
    parts = max(1, math.ceil(len(ordered) / SPLIT_ROWS), math.ceil(packed / SPLIT_BYTES))
    if parts == 1:
        return []
    target = sum(sizes) / parts
    cuts: list[str] = []
    running = 0
    for (digest, _), size in zip(ordered, sizes, strict=True):
        if running >= target * (len(cuts) + 1) and len(cuts) < parts - 1:
            cuts.append(digest)
        running += size
    return cuts


def put(db: Any, workspace_id: str, list_id: str, digest: str, text: str | None) -> None:
    """Set one member's entry (or, with None, remove it) in the page holding its hash."""
    for _ in range(MERGE_ATTEMPTS):
        query = _query(db, workspace_id, list_id, gt=digest).limit(1).select(["lo", "hi"])
        found = [Page.of(s) for s in query.stream()]
        if not found:  # a list made before member pages existed: its first page
            ensure_root(db, workspace_id, list_id)
            continue
        if found[0].lo > digest:
            raise RuntimeError(f"list {list_id} has no member page for {digest}")
        if not rewrite(db, workspace_id, list_id, found[0].lo, add={digest: text}):
            return
    raise RuntimeError(f"list member {digest} kept meeting concurrent page splits")
