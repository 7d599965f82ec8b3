"""Contacts, contact lists and imports.

`contacts/{workspace_id}__{hash(email)}`: workspace_id, email, email_norm, first_name,
last_name, timezone, fields (custom, not queried), lists (map list id -> {added_at}, merged on
import; not queried: a list's contacts are read from its member buckets), updated_at.
The id comes from the normalized address, so a re-import updates instead of duplicating.

An import reads the file twice, streamed: the first pass validates everything (a
malformed file fails before anything is written), the second writes in batches, or,
above SYNC_ROWS accepted rows, stages chunks that background tasks write (imports.py).
The `contact_imports` record says how far the writing got if it stops midway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.email import members
from shared.email.contacts_file import read_rows
from shared.email.model import (
    CONTACT_IMPORTS,
    CONTACT_LISTS,
    CONTACTS,
    email_hash,
    normalize_email,
    public,
    valid_email,
)
from shared.email.suppression import all_suppressed
from shared.errors import NotFound, ProviderError, ValidationError
from shared.tenancy import new_id, scoped_get

if TYPE_CHECKING:
    from shared.runtime import Runtime

WRITE_BATCH = 400
# Accepted rows written within the request; a larger import runs as background chunks.
SYNC_ROWS = 2000
# List members accumulated before their bucket documents are merged (bounds memory).
MEMBER_FLUSH = 5000
REPORT_LIMIT = 1000
STANDARD = ("email", "first_name", "last_name", "timezone")


def create_contact_list(runtime: Runtime, workspace_id: str, name: str) -> dict[str, Any]:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationError("list name must be 1-120 characters", {"field": "name"})
    list_id = new_id()
    data = {"workspace_id": workspace_id, "name": name, "created_at": runtime.clock.now()}
    runtime.db.collection(CONTACT_LISTS).document(list_id).set(data)
    return public(list_id, data)


def list_contact_lists(runtime: Runtime, workspace_id: str) -> list[dict[str, Any]]:
    from shared.queries import build
    from shared.queries.email import CONTACT_LISTS as LISTS

    docs = build(runtime.db, LISTS, workspace_id=workspace_id).stream()
    return sorted((public(d.id, d.to_dict()) for d in docs), key=lambda x: x["name"])


def get_contact_list(runtime: Runtime, workspace_id: str, list_id: str) -> dict[str, Any]:
    data = scoped_get(runtime.db, CONTACT_LISTS, workspace_id, list_id)
    if data is None:
        raise NotFound("no such contact list")
    out = public(data.pop("id"), data)
    out["contact_count"] = sum(
        len(doc.get("members") or {})
        for page in _member_pages(runtime, workspace_id, list_id)
        for doc in page
    )
    return out


def _member_pages(
    runtime: Runtime, workspace_id: str, list_id: str, after: str | None = None
) -> Any:
    from shared.queries import pages
    from shared.queries.email import LIST_MEMBERS

    return pages(
        runtime.db,
        LIST_MEMBERS,
        page_size=4,
        after=[after] if after else None,
        list_id=list_id,
        workspace_id=workspace_id,
    )


def _list_members_page(
    runtime: Runtime, workspace_id: str, list_id: str, after: str | None, limit: int
) -> dict[str, Any]:
    """A list's contacts from its member buckets: ordered by bucket, then address.

    The cursor is `<bucket key>|<address>`; list membership lives in the buckets.
    """
    bucket_after, _, email_after = (after or "").partition("|")
    start = None  # keyset start: the bucket before the cursor's, so that one is re-read
    if bucket_after:
        number = int(bucket_after.rpartition("__")[2] or 0)
        start = members.bucket_id(list_id, number - 1) if number > 0 else None
    items: list[dict[str, Any]] = []
    for page in _member_pages(runtime, workspace_id, list_id, start):
        for doc in page:
            key = doc.get("key")
            entries = sorted(
                (
                    dict(m, email_norm=normalize_email(m["email"]))
                    for m in (doc.get("members") or {}).values()
                ),
                key=lambda m: m["email_norm"],
            )
            for entry in entries:
                if bucket_after and (key, entry["email_norm"]) <= (bucket_after, email_after):
                    continue
                items.append({**entry, "list_id": list_id})
                if len(items) == limit:
                    return {"items": items, "next": f"{key}|{entry['email_norm']}"}
    return {"items": items, "next": None}


def list_contacts(
    runtime: Runtime,
    workspace_id: str,
    *,
    list_id: str | None = None,
    after: str | None = None,
    limit: int = 50,
    prefix: str | None = None,
) -> dict[str, Any]:
    """One page ordered by address (only those starting with `prefix`, normalized, when
    given); pass the returned `next` as `after` for the next page."""
    from shared.queries import build
    from shared.queries.email import CONTACTS as ALL_CONTACTS

    limit = max(1, min(int(limit), 500))
    if list_id:
        return _list_members_page(runtime, workspace_id, list_id, after, limit)
    # The prefix bounds the address range; `after` resumes within it (a cursor).
    bounds: dict[str, Any] = {"ge": prefix, "lt": prefix + "\uf8ff"} if prefix else {}
    query = build(runtime.db, ALL_CONTACTS, workspace_id=workspace_id, **bounds)
    if after:
        query = query.start_after([after])
    docs = list(query.limit(limit).stream())
    items = [public(d.id, d.to_dict()) for d in docs]
    return {"items": items, "next": docs[-1].get("email_norm") if len(docs) == limit else None}


def get_contact(runtime: Runtime, workspace_id: str, contact_id_: str) -> dict[str, Any]:
    data = scoped_get(runtime.db, CONTACTS, workspace_id, contact_id_)
    if data is None:
        raise NotFound("no such contact")
    return public(data.pop("id"), data)


@dataclass
class Mapping:
    """Target field -> column index in the file."""

    email: int
    first_name: int | None
    last_name: int | None
    timezone: int | None
    fields: dict[str, int]


def _resolve_mapping(headers: list[str], mapping: dict[str, Any]) -> Mapping:
    index = {h.strip().lower(): i for i, h in enumerate(headers) if h.strip()}

    def column(target: str, source: Any, required: bool = False) -> int | None:
        if source in (None, ""):
            if required:
                raise ValidationError("map a column to email", {"field": "email"})
            return None
        if not isinstance(source, str) or source.strip().lower() not in index:
            raise ValidationError(
                f"column {source!r} (mapped to {target}) is not in the file",
                {"field": target, "found": [h for h in headers if h]},
            )
        return index[source.strip().lower()]

    email = column("email", mapping.get("email"), required=True)
    assert email is not None
    custom = mapping.get("fields") or {}
    if not isinstance(custom, dict):
        raise ValidationError("fields must map field names to column names")
    fields: dict[str, int] = {}
    for name, source in custom.items():
        key = str(name).strip()
        if not key.isidentifier() or key in STANDARD:
            raise ValidationError(
                f"custom field name {name!r} must be a simple identifier (letters, digits, _)",
                {"field": name},
            )
        col = column(key, source)
        if col is not None:
            fields[key] = col
    return Mapping(
        email=email,
        first_name=column("first_name", mapping.get("first_name")),
        last_name=column("last_name", mapping.get("last_name")),
        timezone=column("timezone", mapping.get("timezone")),
        fields=fields,
    )


@dataclass
class _Tally:
    total: int = 0
    accepted: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    report: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, row: int, reason: str, email: str) -> None:
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        if len(self.report) < REPORT_LIMIT:
            self.report.append({"row": row, "reason": reason, "email": email[:254]})


def _cell(cells: list[str], col: int | None) -> str:
    return cells[col] if col is not None and col < len(cells) else ""


def _contacts(
    data: bytes, filename: str, mapping: dict[str, Any], suppressed: set[str], tally: _Tally
) -> Iterator[dict[str, Any]]:
    """Valid, first-seen, not suppressed rows as contact fields; rejects go to `tally`."""
    rows = read_rows(data, filename)
    header = next(rows, None)
    if header is None:
        raise ValidationError("the file has no header row")
    cols = _resolve_mapping(header[1], mapping)
    seen: set[bytes] = set()
    zones: dict[str, bool] = {}
    for number, cells in rows:
        if not any(cells):
            continue
        tally.total += 1
        raw = _cell(cells, cols.email)
        norm = normalize_email(raw)
        if not valid_email(norm):
            tally.reject(number, "invalid address", raw)
            continue
        digest = hashlib.blake2b(norm.encode(), digest_size=8).digest()
        if digest in seen:
            tally.reject(number, "duplicate", raw)
            continue
        seen.add(digest)
        if norm in suppressed:
            tally.reject(number, "suppressed", raw)
            continue
        tz = _cell(cells, cols.timezone)
        if tz:
            if tz not in zones:
                try:
                    ZoneInfo(tz)
                    zones[tz] = True
                except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: name too long
                    zones[tz] = False
            if not zones[tz]:
                tally.reject(number, "unknown timezone", raw)
                continue
        tally.accepted += 1
        yield {
            "email": raw.strip(),
            "email_norm": norm,
            "first_name": _cell(cells, cols.first_name)[:120],
            "last_name": _cell(cells, cols.last_name)[:120],
            "timezone": tz or None,
            "fields": {k: _cell(cells, c)[:1000] for k, c in cols.fields.items()},
        }


def _write_contacts(db: Any, chunk: list[tuple[Any, dict[str, Any]]], list_id: str | None) -> int:
    """One batched write. List membership is a map merged without reading (`lists`), and
    the list's member buckets (members.py) are the queryable side of it."""
    batch = db.batch()
    for ref, doc in chunk:
        if list_id:
            # A map value, not `True`: the emulator drops a merged scalar under a key that
            # needs quoting in a field path (ids may start with a digit).
            doc["lists"] = {list_id: {"added_at": doc["updated_at"]}}
        batch.set(ref, doc, merge=True)
    batch.commit()
    return len(chunk)


def write_contacts(
    runtime: Runtime,
    workspace_id: str,
    contacts: Iterable[dict[str, Any]],
    list_id: str | None,
    progress: list[int] | None = None,
) -> int:
    """Merge contacts (and their list membership) in batched writes; idempotent.

    `progress[0]` counts what is written so far, for a caller that reports a failure."""
    db = runtime.db
    now = runtime.clock.now()
    progress = progress if progress is not None else [0]
    chunk: list[tuple[Any, dict[str, Any]]] = []
    buckets: dict[int, dict[str, Any]] = {}
    buffered = 0
    for contact in contacts:
        doc: dict[str, Any] = {**contact, "workspace_id": workspace_id, "updated_at": now}
        digest = email_hash(contact["email_norm"])
        cid = f"{workspace_id}__{digest}"
        if list_id:
            entry = members.member(cid, contact)
            buckets.setdefault(members.bucket_of(digest), {})[digest] = entry
            buffered += 1
        chunk.append((db.collection(CONTACTS).document(cid), doc))
        if len(chunk) == WRITE_BATCH:
            progress[0] += _write_contacts(db, chunk, list_id)
            chunk = []
        if list_id and buffered >= MEMBER_FLUSH:
            members.flush(db, workspace_id, list_id, buckets)
            buffered = 0
    if chunk:
        progress[0] += _write_contacts(db, chunk, list_id)
    if list_id and buckets:
        members.flush(db, workspace_id, list_id, buckets)
    return progress[0]


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
    staged in chunks written by background tasks (shared.email.imports): the answer then
    has `status: importing` and `GET .../imports/{import_id}` shows the progress."""
    from shared.email import imports

    db = runtime.db
    if list_id and scoped_get(db, CONTACT_LISTS, workspace_id, list_id) is None:
        raise NotFound("no such contact list")
    suppressed = all_suppressed(db, workspace_id)
    check = _Tally()
    for _ in _contacts(data, filename, mapping, suppressed, check):
        pass  # pass 1: the file is readable to the end, or ValidationError was raised
    now = runtime.clock.now()
    import_id = new_id()
    record = db.collection(CONTACT_IMPORTS).document(import_id)
    background = check.accepted > SYNC_ROWS
    summary = {
        "workspace_id": workspace_id,
        "filename": filename[:200],
        "list_id": list_id,
        "total_rows": check.total,
        "accepted": check.accepted,
        "rejected": check.reasons,
        "report": check.report[:200],
        "created_at": now,
        "status": "staging" if background else "writing",
        "background": background,
        "written": 0,
    }
    record.set(summary)
    result = {
        "import_id": import_id,
        "list_id": list_id,
        "total_rows": check.total,
        "accepted": check.accepted,
        "imported": 0,
        "rejected": check.reasons,
        "report": check.report,
        "report_truncated": sum(check.reasons.values()) > len(check.report),
    }
    progress = [0]
    contacts = _contacts(data, filename, mapping, suppressed, _Tally())
    try:
        if background:
            chunks, staged = imports.stage(runtime, workspace_id, import_id, contacts, list_id)
            record.update({"status": "importing", "chunks_total": chunks})
            imports.settle(runtime, import_id)  # chunk tasks may all have run already
            return result | {"status": "importing", "chunks_total": chunks, "staged": staged}
        write_contacts(runtime, workspace_id, contacts, list_id, progress)
    except Exception as exc:
        written = progress[0]
        record.update({"status": "partial", "written": written, "error": str(exc)[:500]})
        raise ProviderError(
            f"the import stopped after writing {written} of {check.accepted} contacts "
            f"({exc}); importing the same file again completes it without duplicates",
            {"import_id": import_id, "written": written, "accepted": check.accepted},
        ) from exc
    record.update({"status": "done", "written": progress[0]})
    return result | {"status": "done", "imported": progress[0]}
