"""List membership snapshots for dispatch: `contact_list_members/{list_id}__{bucket:03d}`.

Fields: workspace_id, list_id, bucket, members (map: email hash -> {id, email,
first_name, last_name, timezone, fields}). Contacts are spread over BUCKETS documents
by their address hash, so expanding a campaign of 20,000 recipients reads ~128
documents instead of 20,000 (the send path's cost grows with batches, not recipients).
Written by the contacts import alongside the contact documents (merge: a re-import
updates the entry in place).
"""

from __future__ import annotations

from typing import Any

MEMBERS = "contact_list_members"
BUCKETS = 128
# Read whole by dispatch and the list views, never queried (see model.UNINDEXED_FIELDS).
UNINDEXED_FIELDS = {MEMBERS: ("members",)}


def bucket_of(email_hash: str) -> int:
    return int(email_hash[:4], 16) % BUCKETS


def bucket_id(list_id: str, bucket: int) -> str:
    return f"{list_id}__{bucket:03d}"


def member(contact_id: str, contact: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": contact_id,
        "email": contact["email"],
        "first_name": contact.get("first_name") or "",
        "last_name": contact.get("last_name") or "",
        "timezone": contact.get("timezone"),
        "fields": contact.get("fields") or {},
    }


def flush(db: Any, workspace_id: str, list_id: str, pending: dict[int, dict[str, Any]]) -> None:
    """Merge accumulated members into their bucket documents (batched writes)."""
    batch = db.batch()
    for n, (bucket, members) in enumerate(sorted(pending.items()), start=1):
        ref = db.collection(MEMBERS).document(bucket_id(list_id, bucket))
        batch.set(
            ref,
            {
                "workspace_id": workspace_id,
                "list_id": list_id,
                "bucket": bucket,
                "key": bucket_id(list_id, bucket),
                "members": members,
            },
            merge=True,
        )
        if n % 400 == 0:
            batch.commit()
            batch = db.batch()
    batch.commit()
    pending.clear()
