"""Contacts and contact lists (imports: shared.email.imports).

`contacts/{workspace_id}__{hash(email)}`: workspace_id, email, email_norm, first_name,
last_name, timezone, fields (custom, not queried), list_ids (the lists it is in; ArrayUnion
on import, so its other lists stay), updated_at. The id comes from the normalized address,
so a re-import updates instead of duplicating. A list's contacts are counted and paged by
query on `list_ids`; dispatch reads them from the list's member pages
(shared.email.members), which every change here keeps in step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.email import members
from shared.email.contact_rows import FIELD_CHARS, MAX_CUSTOM_FIELDS, NAME_CHARS
from shared.email.model import CONTACT_LISTS, CONTACTS, public
from shared.errors import NotFound, ValidationError
from shared.tenancy import new_id, scoped_get
from shared.zones import find_zone

if TYPE_CHECKING:
    from shared.runtime import Runtime


def create_contact_list(runtime: Runtime, workspace_id: str, name: str) -> dict[str, Any]:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationError("list name must be 1-120 characters", {"field": "name"})
    list_id = new_id()
    data = {"workspace_id": workspace_id, "name": name, "created_at": runtime.clock.now()}
    runtime.db.collection(CONTACT_LISTS).document(list_id).set(data)
    members.ensure_root(runtime.db, workspace_id, list_id)
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
    out["contact_count"] = contact_count(runtime, workspace_id, list_id)
    return out


def contact_count(runtime: Runtime, workspace_id: str, list_id: str) -> int:
    """One read per 1,000 members (an aggregation bills index entries, not documents)."""
    from shared.queries import aggregate
    from shared.queries.email import LIST_CONTACT_COUNT

    counted = aggregate(runtime.db, LIST_CONTACT_COUNT, workspace_id=workspace_id, list_ids=list_id)
    return int(counted["count"])


def list_contacts(
    runtime: Runtime,
    workspace_id: str,
    *,
    list_id: str | None = None,
    after: str | None = None,
    limit: int = 50,
    prefix: str | None = None,
) -> dict[str, Any]:
    """One page ordered by address (of one list, or all; only addresses starting with
    `prefix`, normalized, when given without a list); pass the returned `next` as `after`
    for the next page."""
    from shared.queries import build
    from shared.queries.email import CONTACTS as ALL_CONTACTS
    from shared.queries.email import LIST_CONTACTS

    limit = max(1, min(int(limit), 500))
    if list_id:
        query = build(runtime.db, LIST_CONTACTS, workspace_id=workspace_id, list_ids=list_id)
    else:
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


def _changes(body: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """The checked fields of a contact update (names, timezone, custom fields)."""
    changes: dict[str, Any] = {}
    for key in ("first_name", "last_name"):
        if key in body:
            value = body[key] or ""
            if not isinstance(value, str) or len(value) > NAME_CHARS:
                raise ValidationError(f"{key} must be text of at most {NAME_CHARS} characters")
            changes[key] = value.strip()
    if "timezone" in body:
        zone = body["timezone"] or None
        if zone is not None and find_zone(zone) is None:
            raise ValidationError(f"unknown timezone {str(zone)[:80]!r}", {"field": "timezone"})
        changes["timezone"] = zone
    if "fields" in body:
        fields = {**(stored.get("fields") or {}), **(body["fields"] or {})}
        bad = [k for k, v in fields.items() if not str(k).isidentifier() or not isinstance(v, str)]
        if bad or len(fields) > MAX_CUSTOM_FIELDS:
            raise ValidationError(
                f"custom fields: at most {MAX_CUSTOM_FIELDS}, simple names, text values",
                {"field": "fields", "invalid": bad},
            )
        changes["fields"] = {k: v[:FIELD_CHARS] for k, v in fields.items()}
    return changes


def update_contact(
    runtime: Runtime,
    workspace_id: str,
    contact_id_: str,
    body: dict[str, Any],
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Change a contact's names, timezone or custom fields; its entry in each of its lists'
    member pages changes with it (campaigns expanded afterwards use the new values).
    `data`: the contact as the caller already read it (else it is read here)."""
    data = (
        dict(data)
        if data is not None
        else scoped_get(runtime.db, CONTACTS, workspace_id, contact_id_)
    )
    if data is None:
        raise NotFound("no such contact")
    changes = _changes(body, data)
    if changes:
        changes["updated_at"] = runtime.clock.now()
        runtime.db.collection(CONTACTS).document(contact_id_).update(changes)
        data.update(changes)
        digest = contact_id_.partition("__")[2]
        for list_id in data.get("list_ids") or []:
            members.put(runtime.db, workspace_id, list_id, digest, members.entry_text(data))
    return public(data.pop("id"), data)


def remove_from_list(runtime: Runtime, workspace_id: str, list_id: str, contact_id_: str) -> None:
    """Take a contact out of a list (its contact document stays, with its other lists)."""
    from google.cloud import firestore

    if scoped_get(runtime.db, CONTACT_LISTS, workspace_id, list_id) is None:
        raise NotFound("no such contact list")
    if scoped_get(runtime.db, CONTACTS, workspace_id, contact_id_) is None:
        raise NotFound("no such contact")
    # The page first: a failure between the two leaves the contact out of the sends.
    members.put(runtime.db, workspace_id, list_id, contact_id_.partition("__")[2], None)
    runtime.db.collection(CONTACTS).document(contact_id_).update(
        {"list_ids": firestore.ArrayRemove([list_id]), "updated_at": runtime.clock.now()}
    )
