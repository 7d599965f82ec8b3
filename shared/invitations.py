"""Invitations: membership only with the invitee's consent.

An owner invites a username with a role; the invitee, once signed in, sees the
invitation and accepts or declines it. Inviting answers the same whether or not an
account has that username (an invitation to a name nobody holds yet waits, and expires),
so inviting cannot be used to find out which usernames exist.

`invitations/{workspace_id}__{digest(username)}`: workspace_id, username, role,
invited_by, created_at, expires_at (TTL policy). One pending invitation per workspace
and username: inviting again replaces its role and renews it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from shared.errors import Conflict, NotFound, ValidationError
from shared.firestore import is_doc_id
from shared.tenancy import USERNAME_PATTERN, WORKSPACES, Role, role_of, set_role

INVITATIONS = "invitations"
LIFETIME = timedelta(days=14)
MAX_PENDING = 100  # per workspace


def invitation_id(workspace_id: str, username: str) -> str:
    digest = hashlib.sha256(username.encode()).hexdigest()[:24]
    return f"{workspace_id}__{digest}"


def _normal(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME_PATTERN.match(name) or not is_doc_id(name):
        raise ValidationError(
            "username must be 3-64 letters, digits or . _ @ -",
            [{"field": "username", "message": "not a valid username"}],
        )
    return name


def public(inv_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": inv_id,
        "username": data.get("username"),
        "role": data.get("role"),
        "created_at": data.get("created_at"),
        "expires_at": data.get("expires_at"),
    }


def invite(
    db: Any, workspace_id: str, username: str, role: Role, by_user: str, now: datetime
) -> dict[str, Any]:
    """Create or renew the invitation. Never says whether the username has an account."""
    name = _normal(username)
    inv_id = invitation_id(workspace_id, name)
    pending = pending_of_workspace(db, workspace_id, now)
    if len(pending) >= MAX_PENDING and inv_id not in {p["id"] for p in pending}:
        raise Conflict(f"this workspace has {MAX_PENDING} pending invitations; revoke some first")
    data = {
        "workspace_id": workspace_id,
        "username": name,
        "role": role.value,
        "invited_by": by_user,
        "created_at": now,
        "expires_at": now + LIFETIME,
    }
    db.collection(INVITATIONS).document(inv_id).set(data)
    return public(inv_id, data)


def pending_of_workspace(db: Any, workspace_id: str, now: datetime) -> list[dict[str, Any]]:
    from shared.queries import build
    from shared.queries import core as q

    query = build(db, q.INVITATIONS_OF_WORKSPACE, workspace_id=workspace_id)
    out = [public(s.id, s.to_dict() or {}) for s in query.limit(MAX_PENDING + 1).stream()]
    live = [i for i in out if isinstance(i["expires_at"], datetime) and i["expires_at"] > now]
    return sorted(live, key=lambda i: (str(i["username"]), i["id"]))


def pending_for(db: Any, username: str, now: datetime) -> list[dict[str, Any]]:
    """The signed-in user's pending invitations, with each workspace's name."""
    from shared.queries import build
    from shared.queries import core as q

    query = build(db, q.INVITATIONS_FOR_USER, username=username)
    found = [(s.id, s.to_dict() or {}) for s in query.limit(200).stream()]
    live = [
        (i, d)
        for i, d in found
        if isinstance(d.get("expires_at"), datetime) and d["expires_at"] > now
    ]
    refs = [db.collection(WORKSPACES).document(d["workspace_id"]) for _, d in live]
    names = {s.id: (s.to_dict() or {}).get("name", "") for s in db.get_all(refs) if s.exists}
    return [
        {
            **public(i, d),
            "workspace_id": d["workspace_id"],
            "workspace_name": names[d["workspace_id"]],
        }
        for i, d in live
        if d["workspace_id"] in names
    ]


def _mine(db: Any, inv_id: str, username: str, now: datetime) -> dict[str, Any]:
    if not is_doc_id(inv_id):
        raise NotFound("invitation not found")
    snap = db.collection(INVITATIONS).document(inv_id).get()
    data = snap.to_dict() if snap.exists else None
    expires = (data or {}).get("expires_at")
    if not data or data.get("username") != username or not isinstance(expires, datetime):
        raise NotFound("invitation not found")
    if expires <= now:
        raise NotFound("this invitation has expired; ask for a new one")
    return data


def accept(db: Any, inv_id: str, user_id: str, username: str, now: datetime) -> dict[str, Any]:
    """Join the workspace with the invited role (a member keeps a higher role)."""
    data = _mine(db, inv_id, username, now)
    workspace_id = str(data["workspace_id"])
    role = Role(data["role"])
    current = role_of(db, workspace_id, user_id)
    if current is None or role.rank > current.rank:
        set_role(db, workspace_id, user_id, role, now)
    db.collection(INVITATIONS).document(inv_id).delete()
    return {
        "workspace_id": workspace_id,
        "role": (current if current and current.rank >= role.rank else role).value,
    }


def decline(db: Any, inv_id: str, username: str, now: datetime) -> None:
    _mine(db, inv_id, username, now)
    db.collection(INVITATIONS).document(inv_id).delete()


def revoke(db: Any, workspace_id: str, inv_id: str) -> None:
    snap = db.collection(INVITATIONS).document(inv_id).get() if is_doc_id(inv_id) else None
    if snap is None or not snap.exists or snap.get("workspace_id") != workspace_id:
        raise NotFound("invitation not found in this workspace")
    db.collection(INVITATIONS).document(inv_id).delete()
