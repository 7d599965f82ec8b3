"""A contact's writes, built from prototypes, are what the client library builds."""

from __future__ import annotations

from datetime import UTC, datetime

from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.firestore_v1 import _helpers

from shared.email.contact_writes import ContactWrites
from shared.email.members import entry_text

NOW = datetime(2026, 5, 4, 3, 2, 1, 654321, tzinfo=UTC)


NAME = "projects/p/databases/(default)/documents/contacts/ws__0abc"


def _library_write(contact: dict, list_id: str | None) -> object:  # type: ignore[type-arg]
    data = {"workspace_id": "ws", **contact, "updated_at": NOW}
    if list_id:
        data["list_ids"] = firestore.ArrayUnion([list_id])
    [write] = _helpers.pbs_for_set_with_merge(NAME, data, merge=True)
    return type(write).pb(write)


def _library_create(contact: dict, list_id: str) -> object:  # type: ignore[type-arg]
    data = {"workspace_id": "ws", **contact, "updated_at": NOW, "list_ids": [list_id]}
    [write] = _helpers.pbs_for_create(NAME, data)
    return type(write).pb(write)


def test_contact_writes_equal_the_librarys() -> None:
    db = firestore.Client(project="p", credentials=AnonymousCredentials())
    build = ContactWrites(db, "ws", "L1", ["company", "notes"], NOW)
    full = {
        "email": "Ann@Example.com",
        "email_norm": "ann@example.com",
        "first_name": "Ann",
        "last_name": "O'Neil",
        "timezone": "Europe/Paris",
        "fields": {"company": "Acme", "notes": 'Met at "Expo"'},
    }
    sparse = {
        "email": "bo@example.com",
        "email_norm": "bo@example.com",
        "first_name": "",
        "last_name": "",
        "timezone": None,
        "fields": {"company": "", "notes": "x"},
    }
    for contact in (full, sparse):
        assert build.create("0abc", entry_text(contact)) == _library_create(contact, "L1")
        ours = build.merge("0abc", entry_text(contact))
        theirs = _library_write(contact, "L1")
        assert sorted(ours.update_mask.field_paths) == sorted(theirs.update_mask.field_paths)
        ours.update_mask.Clear()
        theirs.update_mask.Clear()
        assert ours == theirs
    lone = ContactWrites(db, "ws", None, [], NOW).merge("0abc", entry_text({**full, "fields": {}}))
    theirs = _library_write({**full, "fields": {}}, None)
    assert sorted(lone.update_mask.field_paths) == sorted(theirs.update_mask.field_paths)
