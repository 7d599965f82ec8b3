"""Contacts as a person manages them: search, each one's subscription status, edit,
delete, and the lists with their contact counts.

Status is derived, never stored on the contact: `subscribed`, or from the workspace's
suppression list (shared.email.suppression) `unsubscribed` (the recipient's own
one-click or a manual unsubscribe), `bounced` (a hard bounce) or `suppressed` (any
other reason). A page of 50 contacts costs two `in` queries for it.

An edit or a delete also updates the contact's entries in the member buckets of its
lists (what dispatch reads), so the next campaign sees the change. The address itself
is the contact's identity (its id derives from it) and cannot be edited: delete the
contact and add the new address. A deleted contact's suppression stays, so a later
import of the same address still refuses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.email import members
from shared.email.model import (
    CONTACTS,
    SUPPRESSIONS,
    normalize_email,
    public,
    suppression_id,
)
from shared.email.suppression import suppress, suppression_chunks
from shared.errors import Conflict, NotFound, ValidationError
from shared.tenancy import scoped_get

if TYPE_CHECKING:
    from shared.runtime import Runtime

STATUSES = ("subscribed", "unsubscribed", "bounced", "suppressed")
_REASON_STATUS = {"unsubscribe": "unsubscribed", "manual": "unsubscribed", "hard_bounce": "bounced"}


def suppression_reasons(db: Any, workspace_id: str, emails: list[str]) -> dict[str, str]:
    """normalized address -> suppression reason, for the suppressed ones among `emails`."""
    from shared.queries import build
    from shared.queries.email import SUPPRESSED_IN

    out: dict[str, str] = {}
    for chunk in suppression_chunks(e for e in emails if e):
        query = build(db, SUPPRESSED_IN, workspace_id=workspace_id, email_norm=chunk)
        for doc in query.stream():
            out[str(doc.get("email_norm"))] = str(doc.get("reason") or "manual")
    return out


def status_of(reason: str | None) -> str:
    return "subscribed" if reason is None else _REASON_STATUS.get(reason, "suppressed")


def with_status(runtime: Runtime, workspace_id: str, items: list[dict[str, Any]]) -> None:
    """Adds `status` and `list_ids` to each contact of a page (in place)."""
    reasons = suppression_reasons(runtime.db, workspace_id, [str(c.get("email")) for c in items])
    for contact in items:
        reason = reasons.get(normalize_email(str(contact.get("email") or "")))
        contact["status"] = status_of(reason)
        contact["suppression_reason"] = reason
        contact["list_ids"] = sorted(contact.get("lists") or {})


def search_contacts(
    runtime: Runtime, workspace_id: str, prefix: str, *, after: str | None, limit: int
) -> dict[str, Any]:
    """Contacts whose address starts with `prefix` (case-insensitive), by address."""
    from shared.email.contacts import list_contacts

    start = normalize_email(prefix)
    if not start or len(start) > 254:
        raise ValidationError("search for 1 to 254 characters of an address", {"field": "q"})
    return list_contacts(runtime, workspace_id, after=after, limit=limit, prefix=start)


def _contact(runtime: Runtime, workspace_id: str, contact_id: str) -> dict[str, Any]:
    data = scoped_get(runtime.db, CONTACTS, workspace_id, contact_id)
    if data is None:
        raise NotFound("no such contact")
    return data


def _view(runtime: Runtime, workspace_id: str, contact_id: str) -> dict[str, Any]:
    data = _contact(runtime, workspace_id, contact_id)
    out = public(data.pop("id"), data)
    with_status(runtime, workspace_id, [out])
    return out


def get_contact(runtime: Runtime, workspace_id: str, contact_id: str) -> dict[str, Any]:
    return _view(runtime, workspace_id, contact_id)


def _name(value: Any, key: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 120 or "\n" in value or "\r" in value:
        raise ValidationError(f"{key} must be one line of at most 120 characters", {"field": key})
    return value.strip()


def _changes(body: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for key in ("first_name", "last_name"):
        if key in body:
            changes[key] = _name(body[key], key)
    if "timezone" in body:
        tz = body["timezone"]
        if tz in (None, ""):
            changes["timezone"] = None
        else:
            try:
                ZoneInfo(str(tz))
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValidationError(
                    f"unknown timezone {tz!r}; use an IANA name", {"field": "timezone"}
                ) from exc
            changes["timezone"] = str(tz)
    if "fields" in body:
        fields = body["fields"] or {}
        if not isinstance(fields, dict) or not all(
            isinstance(k, str) and k.isidentifier() and isinstance(v, str | int | float)
            for k, v in fields.items()
        ):
            raise ValidationError(
                "fields must map simple names (letters, digits, _) to values", {"field": "fields"}
            )
        changes["fields"] = {k: str(v)[:1000] for k, v in fields.items()}
    return changes


def _bucket_refs(db: Any, contact: dict[str, Any]) -> list[tuple[Any, str]]:
    """(bucket document, member key) of each list the contact is in."""
    digest = str(contact["id"]).rpartition("__")[2]
    bucket = members.bucket_of(digest)
    return [
        (db.collection(members.MEMBERS).document(members.bucket_id(lid, bucket)), digest)
        for lid in sorted(contact.get("lists") or {})
    ]


def update_contact(
    runtime: Runtime, workspace_id: str, contact_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Edit names, timezone and custom fields; `status` subscribes or unsubscribes."""
    from google.cloud.firestore_v1.field_path import FieldPath

    db = runtime.db
    contact = _contact(runtime, workspace_id, contact_id)
    if "email" in body and normalize_email(str(body["email"])) != contact.get("email_norm"):
        raise ValidationError(
            "an address cannot be changed: delete the contact and add the new address",
            {"field": "email"},
        )
    changes = _changes(body)
    if changes:
        now = runtime.clock.now()
        batch = db.batch()
        batch.update(db.collection(CONTACTS).document(contact_id), {**changes, "updated_at": now})
        entry = members.member(contact_id, {**contact, **changes})
        for ref, key in _bucket_refs(db, contact):
            batch.update(ref, {FieldPath("members", key).to_api_repr(): entry})
        batch.commit()
    if "status" in body:
        _set_status(runtime, workspace_id, contact, body["status"])
    return _view(runtime, workspace_id, contact_id)


def _set_status(runtime: Runtime, workspace_id: str, contact: dict[str, Any], wanted: Any) -> None:
    if wanted not in ("subscribed", "unsubscribed"):
        raise ValidationError(
            "status can be set to subscribed or unsubscribed", {"field": "status"}
        )
    db = runtime.db
    norm = str(contact["email_norm"])
    ref = db.collection(SUPPRESSIONS).document(suppression_id(workspace_id, norm))
    snap = ref.get()
    reason = (snap.to_dict() or {}).get("reason") if snap.exists else None
    if wanted == "unsubscribed":
        if reason is None:
            suppress(db, workspace_id, str(contact["email"]), "manual", runtime.clock.now())
        return
    if reason is None:
        return
    if reason != "manual":
        what = "unsubscribed themselves" if reason == "unsubscribe" else "hard-bounced"
        raise Conflict(
            f"{contact['email']} {what}; only the recipient can subscribe again "
            "(for example through a sign-up form): Herald will not re-add them",
            {"field": "status", "reason": reason},
        )
    ref.delete()


def delete_contact(runtime: Runtime, workspace_id: str, contact_id: str) -> None:
    """The contact and its list memberships; a suppression of its address stays."""
    from google.cloud import firestore
    from google.cloud.firestore_v1.field_path import FieldPath

    db = runtime.db
    contact = _contact(runtime, workspace_id, contact_id)
    batch = db.batch()
    for ref, key in _bucket_refs(db, contact):
        batch.update(ref, {FieldPath("members", key).to_api_repr(): firestore.DELETE_FIELD})
    batch.delete(db.collection(CONTACTS).document(contact_id))
    batch.commit()


def lists_with_counts(runtime: Runtime, workspace_id: str) -> list[dict[str, Any]]:
    """The workspace's lists by name, each with `contact_count`: the entries of its member
    buckets (`contacts.lists` is not indexed, so no count() can serve it), read one list
    per thread side by side. A read per member bucket of each list (at most 128)."""
    from concurrent.futures import ThreadPoolExecutor

    from shared.email.contacts import get_contact_list, list_contact_lists

    lists = list_contact_lists(runtime, workspace_id)
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda x: get_contact_list(runtime, workspace_id, x["id"]), lists))
