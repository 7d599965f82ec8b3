"""Raw protobuf writes: the same messages the client library builds, committed through it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.api_core import exceptions
from google.cloud import firestore
from google.cloud.firestore_v1 import _helpers

from shared import firestore_writes as fw

NAME = "projects/p/databases/(default)/documents/contacts/ws__0abc"
AT = datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)
DATA = {
    "email": "Ann@Example.com",
    "first_name": "Ann",
    "count": 3,
    "score": 1.5,
    "ok": True,
    "gone": None,
    "raw": b"\x00\x01",
    "updated_at": AT,
    "fields": {"company": "Acme", "prénom": "Anne", "nested": {"x": [1, "two", None]}},
    "empty": {},
    "tags": ["a", "b"],
    "none": [],
}


def _library(pbs: list) -> list:
    return [type(w).pb(w) for w in pbs]


def _same(ours, theirs) -> None:  # type: ignore[no-untyped-def]
    """Equal messages; the mask's order and the transforms' order do not matter."""
    assert sorted(ours.update_mask.field_paths) == sorted(theirs.update_mask.field_paths)
    key = lambda t: t.field_path  # noqa: E731
    assert sorted(ours.update_transforms, key=key) == sorted(theirs.update_transforms, key=key)
    for message in (ours, theirs):
        message.update_mask.Clear()
        message.ClearField("update_transforms")
    assert ours == theirs


def test_a_merge_is_what_set_merge_builds() -> None:
    [theirs] = _library(
        _helpers.pbs_for_set_with_merge(
            NAME,
            {
                **DATA,
                "list_ids": firestore.ArrayUnion(["L1", "L2"]),
                "n": firestore.Increment(4),
            },
            merge=True,
        )
    )
    ours = fw.merge_write(NAME, DATA, array_union={"list_ids": ["L1", "L2"]}, increments={"n": 4})
    _same(ours, theirs)


def test_an_update_of_field_paths_is_what_update_builds() -> None:
    paths = {"members.`0ab`": '{"e":"a"}', "members.f1": '{"e":"b"}'}
    [theirs] = _library(_helpers.pbs_for_update(NAME, {**paths, "n": firestore.Increment(2)}, None))
    ours = fw.merge_write(
        NAME,
        {"members": {"0ab": '{"e":"a"}', "f1": '{"e":"b"}'}},
        paths=list(paths),
        increments={"n": 2},
        exists=True,
    )
    _same(ours, theirs)


def test_a_set_and_a_delete_are_what_the_library_builds() -> None:
    [theirs] = _library(_helpers.pbs_for_set_no_merge(NAME, DATA))
    assert fw.set_write(NAME, DATA) == theirs
    assert fw.delete_write(NAME) == type(_helpers.pb_for_delete(NAME, None)).pb(
        _helpers.pb_for_delete(NAME, None)
    )


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(TypeError, match="object"):
        fw.merge_write(NAME, {"x": object()})


def test_commits_merge_into_stored_documents(db) -> None:  # type: ignore[no-untyped-def]
    ref = db.collection("contacts").document("ws__0abc")
    ref.set({"email": "old@example.com", "list_ids": ["L0"], "keep": 1, "n": 1})
    writes = [
        fw.merge_write(
            fw.document_name(db, ref.path),
            {"email": "new@example.com", "fields": {"prénom": "Anne"}},
            array_union={"list_ids": ["L1", "L0"]},
            increments={"n": 2},
        )
    ]
    writes += [fw.set_write(fw.document_name(db, f"contacts/c{i}"), {"i": i}) for i in range(1200)]
    assert fw.commit_all(db, writes, size=fw.MAX_WRITES) == 1201
    got = ref.get().to_dict()
    assert got == {
        "email": "new@example.com",
        "fields": {"prénom": "Anne"},
        "list_ids": ["L0", "L1"],
        "keep": 1,
        "n": 3,
    }
    assert db.collection("contacts").document("c1199").get().get("i") == 1199
    with pytest.raises(ValueError, match="at most 500"):
        fw.commit(db, writes[:501])


def test_a_precondition_on_the_update_time_refuses_a_changed_document(db) -> None:  # type: ignore[no-untyped-def]
    ref = db.collection("pages").document("p")
    ref.set({"n": 1})
    seen = ref.get()
    name = fw.document_name(db, ref.path)
    [result] = fw.commit(db, [fw.merge_write(name, {"n": 2}, update_time=seen.update_time)])
    with pytest.raises(exceptions.FailedPrecondition):
        fw.commit(db, [fw.merge_write(name, {"n": 3}, update_time=seen.update_time)])
    assert ref.get().get("n") == 2
    assert result.update_time is not None
    with pytest.raises(exceptions.NotFound):
        fw.commit(db, [fw.merge_write(fw.document_name(db, "pages/none"), {"n": 1}, exists=True)])
