"""Contacts, contact lists and imports.

`contacts/{workspace_id}__{hash(email)}`: workspace_id, email, email_norm, first_name,
last_name, timezone, fields (custom, not queried), list_ids (array), updated_at.
The id comes from the normalized address, so a re-import updates instead of duplicating.

An import reads the file twice, streamed: the first pass validates everything (a
malformed file fails before anything is written), the second writes in batches. The
`contact_imports` record says how far the writing got if it stops midway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
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
    from google.cloud.firestore_v1.base_query import FieldFilter

    docs = (
        runtime.db.collection(CONTACT_LISTS)
        .where(filter=FieldFilter("workspace_id", "==", workspace_id))
        .stream()
    )
    return sorted((public(d.id, d.to_dict()) for d in docs), key=lambda x: x["name"])


def get_contact_list(runtime: Runtime, workspace_id: str, list_id: str) -> dict[str, Any]:
    from google.cloud.firestore_v1.base_query import FieldFilter

    data = scoped_get(runtime.db, CONTACT_LISTS, workspace_id, list_id)
    if data is None:
        raise NotFound("no such contact list")
    count = (
        runtime.db.collection(CONTACTS)
        .where(filter=FieldFilter("workspace_id", "==", workspace_id))
        .where(filter=FieldFilter("list_ids", "array_contains", list_id))
        .count()
        .get()
    )
    out = public(data.pop("id"), data)
    out["contact_count"] = int(count[0][0].value)
    return out


def list_contacts(
    runtime: Runtime,
    workspace_id: str,
    *,
    list_id: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """One page ordered by address; pass the returned `next` as `after` for the next page."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    limit = max(1, min(int(limit), 500))
    query = runtime.db.collection(CONTACTS).where(
        filter=FieldFilter("workspace_id", "==", workspace_id)
    )
    if list_id:
        query = query.where(filter=FieldFilter("list_ids", "array_contains", list_id))
    if after:
        query = query.where(filter=FieldFilter("email_norm", ">", after))
    docs = list(query.order_by("email_norm").limit(limit).stream())
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
                except (ZoneInfoNotFoundError, ValueError):
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
    """One batched write; list_ids are merged with the stored ones (ArrayUnion is not
    supported by the emulator, so the chunk's existing documents are read first)."""
    if list_id:
        existing = {
            snap.id: snap.get("list_ids") or []
            for snap in db.get_all([ref for ref, _ in chunk])
            if snap.exists
        }
        for ref, doc in chunk:
            doc["list_ids"] = sorted({*existing.get(ref.id, []), list_id})
    batch = db.batch()
    for ref, doc in chunk:
        batch.set(ref, doc, merge=True)
    batch.commit()
    return len(chunk)


def import_contacts(
    runtime: Runtime,
    workspace_id: str,
    data: bytes,
    filename: str,
    mapping: dict[str, Any],
    list_id: str | None = None,
) -> dict[str, Any]:
    """Validate the whole file, then write; returns counts and the validation report."""
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
    summary = {
        "workspace_id": workspace_id,
        "filename": filename[:200],
        "list_id": list_id,
        "total_rows": check.total,
        "accepted": check.accepted,
        "rejected": check.reasons,
        "report": check.report[:200],
        "created_at": now,
        "status": "writing",
        "written": 0,
    }
    record.set(summary)
    written = 0
    chunk: list[tuple[Any, dict[str, Any]]] = []
    buckets: dict[int, dict[str, Any]] = {}
    buffered = 0
    try:
        for contact in _contacts(data, filename, mapping, suppressed, _Tally()):
            doc: dict[str, Any] = {**contact, "workspace_id": workspace_id, "updated_at": now}
            digest = email_hash(contact["email_norm"])
            cid = f"{workspace_id}__{digest}"
            if list_id:
                entry = members.member(cid, contact)
                buckets.setdefault(members.bucket_of(digest), {})[digest] = entry
                buffered += 1
            chunk.append((db.collection(CONTACTS).document(cid), doc))
            if len(chunk) == WRITE_BATCH:
                written += _write_contacts(db, chunk, list_id)
                chunk = []
            if list_id and buffered >= MEMBER_FLUSH:
                members.flush(db, workspace_id, list_id, buckets)
                buffered = 0
        if chunk:
            written += _write_contacts(db, chunk, list_id)
        if list_id and buckets:
            members.flush(db, workspace_id, list_id, buckets)
    except Exception as exc:
        record.update({"status": "partial", "written": written, "error": str(exc)[:500]})
        raise ProviderError(
            f"the import stopped after writing {written} of {check.accepted} contacts "
            f"({exc}); importing the same file again completes it without duplicates",
            {"import_id": import_id, "written": written, "accepted": check.accepted},
        ) from exc
    record.update({"status": "done", "written": written})
    return {
        "import_id": import_id,
        "list_id": list_id,
        "total_rows": check.total,
        "imported": written,
        "rejected": check.reasons,
        "report": check.report,
        "report_truncated": sum(check.reasons.values()) > len(check.report),
    }
