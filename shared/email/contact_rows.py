"""A contacts file as validated rows: column mapping, checks, dedupe, the rejection report.

`validate()` streams the file once (shared.email.contacts_file) and yields each accepted
row as (contact hash, entry text): the hash (email_hash, 32 hex digits) places the contact
in its document id and in its list's member pages; the text is the contact's fields as
compact JSON (shared.email.members.entry_text), which is both what an import chunk
stages and what a member page keeps. Rejected rows go to the Tally with their reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from shared.email.contacts_file import read_rows
from shared.email.members import entry_text
from shared.email.model import normalize_email, valid_email
from shared.errors import ValidationError
from shared.zones import find_zone

REPORT_LIMIT = 1000
STANDARD = ("email", "first_name", "last_name", "timezone")
# Custom fields per contact: 50 of at most 1,000 characters keep a contact (and its
# member entry) far under Firestore's 1 MiB per document.
MAX_CUSTOM_FIELDS = 50
FIELD_CHARS = 1000
NAME_CHARS = 120


@dataclass
class Mapping:
    """Target field -> column index in the file."""

    email: int
    first_name: int | None
    last_name: int | None
    timezone: int | None
    fields: dict[str, int]


def resolve_mapping(headers: list[str], mapping: dict[str, Any]) -> Mapping:
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
    if len(custom) > MAX_CUSTOM_FIELDS:
        raise ValidationError(
            f"map at most {MAX_CUSTOM_FIELDS} custom fields ({len(custom)} were mapped)",
            {"field": "fields"},
        )
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
class Tally:
    total: int = 0
    accepted: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    report: list[dict[str, Any]] = field(default_factory=list)
    custom: list[str] = field(default_factory=list)  # the custom fields the file maps

    def reject(self, row: int, reason: str, email: str) -> None:
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        if len(self.report) < REPORT_LIMIT:
            self.report.append({"row": row, "reason": reason, "email": email[:254]})


def _cell(cells: list[str], col: int | None) -> str:
    return cells[col] if col is not None and col < len(cells) else ""


def validate(
    data: bytes, filename: str, mapping: dict[str, Any], suppressed: set[str], tally: Tally
) -> Iterator[tuple[str, str]]:
    """Valid, first-seen, not suppressed rows as (contact hash, entry text); rejects go to
    `tally`. Raises ValidationError for a file that cannot be read to its end."""
    rows = read_rows(data, filename)
    header = next(rows, None)
    if header is None:
        raise ValidationError("the file has no header row")
    cols = resolve_mapping(header[1], mapping)
    custom = list(cols.fields.items())
    tally.custom = list(cols.fields)
    # The first 8 bytes of each accepted address's SHA-256: dedupe without holding the
    # addresses (the hash also names the contact, so it is computed once).
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
        digest = hashlib.sha256(norm.encode()).digest()
        if digest[:8] in seen:
            tally.reject(number, "duplicate", raw)
            continue
        seen.add(digest[:8])
        if norm in suppressed:
            tally.reject(number, "suppressed", raw)
            continue
        tz = _cell(cells, cols.timezone)
        if tz:
            known = zones.get(tz)
            if known is None:  # a long or odd name is unknown, not an error
                known = zones[tz] = find_zone(tz) is not None
            if not known:
                tally.reject(number, "unknown timezone", raw)
                continue
        tally.accepted += 1
        contact = {
            "email": raw.strip(),
            "email_norm": norm,
            "first_name": _cell(cells, cols.first_name)[:NAME_CHARS],
            "last_name": _cell(cells, cols.last_name)[:NAME_CHARS],
            "timezone": tz or None,
            "fields": {k: _cell(cells, c)[:FIELD_CHARS] for k, c in custom},
        }
        yield digest.hex()[:32], entry_text(contact)
