"""Workspaces, users and roles: every entity hangs off a workspace.

Collections (flat, top level):
- `workspaces/{workspace_id}`: name, timezone, created_at
- `users/{user_id}`: username (unique through `usernames/{username}` created with
  `create()`), password_hash (argon2id), created_at
- `memberships/{workspace_id}__{user_id}`: workspace_id, user_id, role

Multi-tenant isolation: every other document carries `workspace_id`, and readers go
through `scoped_get`, which answers "not found" for another workspace's document.
"""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.errors import ValidationError
from shared.firestore import is_already_exists, is_doc_id
from shared.zones import find_zone

WORKSPACES = "workspaces"
USERS = "users"
USERNAMES = "usernames"
MEMBERSHIPS = "memberships"


class Role(enum.StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return {"viewer": 0, "editor": 1, "owner": 2}[self.value]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


class TenancyError(ValidationError):
    """A request about workspaces or users that cannot be honoured; message is user-facing."""


class Conflict(TenancyError):
    code = "conflict"
    status = 409


def new_id() -> str:
    return uuid.uuid4().hex[:20]


def check_timezone(name: str) -> str:
    if find_zone(name) is None:
        text = str(name)
        shown = text[:64] + ("..." if len(text) > 64 else "")
        raise TenancyError(f"unknown timezone {shown!r}; use an IANA name such as Europe/Paris")
    return name


USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")
_USERNAME = USERNAME_PATTERN


@dataclass(frozen=True)
class Membership:
    workspace_id: str
    user_id: str
    role: Role


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id with the library's current recommended parameters


def hash_password(password: str) -> str:
    if len(password) < 10:
        raise TenancyError("password must be at least 10 characters")
    return str(_hasher().hash(password))


def verify_password(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def create_user(db: Any, username: str, password: str, now: datetime) -> str:
    username = username.strip().lower()
    if not _USERNAME.match(username) or not is_doc_id(username):
        raise TenancyError("username must be 3-64 letters, digits or . _ @ -")
    user_id = new_id()
    try:
        # The username document is the uniqueness guard: create() is atomic.
        db.collection(USERNAMES).document(username).create({"user_id": user_id})
    except Exception as exc:
        if is_already_exists(exc):
            raise Conflict(f"username {username!r} is taken") from exc
        raise
    db.collection(USERS).document(user_id).set(
        {
            "username": username,
            "password_hash": hash_password(password),
            "created_at": now,
            "disabled": False,
        }
    )
    return user_id


def find_user(db: Any, username: str) -> tuple[str, dict[str, Any]] | None:
    username = username.strip().lower()
    if not _USERNAME.match(username) or not is_doc_id(username):
        # No such user can exist; and the name must never become a document path.
        return None
    ref = db.collection(USERNAMES).document(username).get()
    if not ref.exists:
        return None
    user_id = ref.get("user_id")
    snap = db.collection(USERS).document(user_id).get()
    return (user_id, snap.to_dict()) if snap.exists else None


def create_workspace(
    db: Any, name: str, owner_user_id: str, now: datetime, timezone: str = "UTC"
) -> str:
    name = name.strip()
    if not name or len(name) > 120:
        raise TenancyError("workspace name must be 1-120 characters")
    workspace_id = new_id()
    db.collection(WORKSPACES).document(workspace_id).set(
        {"name": name, "timezone": check_timezone(timezone), "created_at": now}
    )
    set_role(db, workspace_id, owner_user_id, Role.OWNER, now)
    return workspace_id


def membership_id(workspace_id: str, user_id: str) -> str:
    return f"{workspace_id}__{user_id}"


def set_role(db: Any, workspace_id: str, user_id: str, role: Role, now: datetime) -> None:
    db.collection(MEMBERSHIPS).document(membership_id(workspace_id, user_id)).set(
        {"workspace_id": workspace_id, "user_id": user_id, "role": role.value, "updated_at": now}
    )


def role_of(db: Any, workspace_id: str, user_id: str) -> Role | None:
    doc_id = membership_id(workspace_id, user_id)
    if not is_doc_id(doc_id):
        return None  # a workspace id from a URL that cannot name a document
    snap = db.collection(MEMBERSHIPS).document(doc_id).get()
    if not snap.exists:
        return None
    return Role(snap.get("role"))


def workspaces_of(db: Any, user_id: str) -> list[Membership]:
    from shared.queries import build
    from shared.queries.core import WORKSPACES_OF_USER

    docs = build(db, WORKSPACES_OF_USER, user_id=user_id).stream()
    return [Membership(d.get("workspace_id"), d.get("user_id"), Role(d.get("role"))) for d in docs]


def scoped_get(db: Any, collection: str, workspace_id: str, doc_id: str) -> dict[str, Any] | None:
    """A document of this workspace, or None (also for another workspace's document)."""
    if not is_doc_id(doc_id):
        return None
    snap = db.collection(collection).document(doc_id).get()
    if not snap.exists:
        return None
    data: dict[str, Any] = snap.to_dict()
    if data.get("workspace_id") != workspace_id:
        return None
    data["id"] = snap.id
    return data
