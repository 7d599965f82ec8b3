"""Contacts as a person manages them: search, each one's subscription status, edit,
delete, and the lists with their contact counts.

Status is derived, never stored on the contact: `subscribed`, or from the workspace's
suppression list (shared.email.suppression) `unsubscribed` (the recipient's own
one-click or a manual unsubscribe), `bounced` (a hard bounce) or `suppressed` (any
other reason). A page of 50 contacts costs two `in` queries for it.

An edit or a delete also updates the contact's entries in the member pages of its lists
(shared.email.members: what dispatch reads), so the next campaign sees the change. The
address itself is the contact's identity (its id derives from it) and cannot be edited:
delete the contact and add the new address. A deleted contact's suppression stays, so a
later import of the same address still refuses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
        contact["list_ids"] = sorted(contact.get("list_ids") or [])


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


def update_contact(
    runtime: Runtime, workspace_id: str, contact_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Edit names, timezone and custom fields (shared.email.contacts.update_contact, which
    rewrites the contact's entry in its lists' member pages); `status` subscribes or
    unsubscribes; the address cannot change."""
    from shared.email.contacts import update_contact as edit

    contact = _contact(runtime, workspace_id, contact_id)
    if "email" in body and normalize_email(str(body["email"])) != contact.get("email_norm"):
        raise ValidationError(
            "an address cannot be changed: delete the contact and add the new address",
            {"field": "email"},
        )
    changes = {
        k: v for k, v in body.items() if k in ("first_name", "last_name", "timezone", "fields")
    }
    if "fields" in changes:
        changes["fields"] = {k: str(v) for k, v in (changes["fields"] or {}).items()}
    if changes:
        out = edit(runtime, workspace_id, contact_id, changes, data=contact)
    else:
        out = public(contact_id, {k: v for k, v in contact.items() if k != "id"})
    if "status" in body:
        _set_status(runtime, workspace_id, contact, body["status"])
    with_status(runtime, workspace_id, [out])  # read after the change of status
    return out


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
    """The contact and its entries in its lists' member pages (those first: a failure
    between the two leaves it out of the sends); a suppression of its address stays."""
    contact = _contact(runtime, workspace_id, contact_id)
    digest = contact_id.partition("__")[2]
    for list_id in sorted(contact.get("list_ids") or []):
        members.put(runtime.db, workspace_id, list_id, digest, None)
    runtime.db.collection(CONTACTS).document(contact_id).delete()


def lists_with_counts(runtime: Runtime, workspace_id: str) -> list[dict[str, Any]]:
    """The workspace's lists by name, each with `contact_count` (one count() aggregation
    per list over `list_ids`, a read per 1,000 members), counted side by side."""
    from concurrent.futures import ThreadPoolExecutor

    from shared.email.contacts import contact_count, list_contact_lists

    lists = list_contact_lists(runtime, workspace_id)
    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = pool.map(lambda x: contact_count(runtime, workspace_id, x["id"]), lists)
        return [x | {"contact_count": n} for x, n in zip(lists, counts, strict=True)]
