"""Writing validated contacts: their documents and their list's member pages, in bulk.

Used by a small import in its request and by each import chunk's task. Contact
documents are created, or merged where they exist (a re-import updates in place;
`list_ids` gains the list by ArrayUnion, so membership of other lists stays), in
commits of 500, several in flight;
the member entries go to the list's pages in one write per page (shared.email.members).
Both are idempotent: running the same rows again writes the same values.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from shared import firestore_writes as fw
from shared.email import members
from shared.email.model import CONTACTS
from shared.firestore import is_already_exists

IN_FLIGHT = 4  # commits at once: the client encodes the next while Firestore applies one
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def pool() -> ThreadPoolExecutor:
    """The commit threads, started on first use and kept by the warm instance."""
    global _pool  # noqa: PLW0603
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="contact-writes")
        return _pool


class ContactWrites:
    """Builds the write of one contact document from its entry text: `create` (the
    contact is new) or `merge` (it may exist: its other lists and unmapped custom
    fields stay). A name or mapped custom field left empty in the file is written
    empty, as the file says.

    Every contact of a chunk shares its workspace, list, mapped fields and time, so
    those, the field mask and the ArrayUnion are built once into prototypes that each
    write copies; per contact only its own values are set (~15 µs, where building the
    whole message took ~60)."""

    def __init__(
        self,
        db: Any,
        workspace_id: str,
        list_id: str | None,
        custom: Sequence[str],
        now: datetime,
    ) -> None:
        shape: dict[str, Any] = {
            "workspace_id": workspace_id,
            "email": "",
            "email_norm": "",
            "first_name": "",
            "last_name": "",
            "timezone": None,
            "fields": dict.fromkeys(custom, ""),
            "updated_at": now,
        }
        union = {"list_ids": [list_id]} if list_id else None
        self._merge = fw.merge_write("", shape, array_union=union)
        self._create = fw.set_write("", {**shape, **(union or {})})
        self._create.current_document.exists = False
        self._prefix = fw.document_name(db, f"{CONTACTS}/{workspace_id}__")
        self._custom = list(custom)
        self._type = type(self._merge)

    def create(self, digest: str, text: str) -> Any:
        return self._fill(self._create, digest, text)

    def merge(self, digest: str, text: str) -> Any:
        return self._fill(self._merge, digest, text)

    def _fill(self, prototype: Any, digest: str, text: str) -> Any:
        entry = json.loads(text)
        write = self._type()
        write.CopyFrom(prototype)
        document = write.update
        document.name = self._prefix + digest
        fields = document.fields
        fields["email"].string_value = entry["email"]
        fields["email_norm"].string_value = entry["email_norm"]
        for key in ("first_name", "last_name", "timezone"):
            if key in entry:
                fields[key].string_value = entry[key]
        found = entry.get("fields")
        if found:
            custom = fields["fields"].map_value.fields
            for name in self._custom:
                if name in found:
                    custom[name].string_value = found[name]
        return write


def write_rows(
    db: Any,
    workspace_id: str,
    rows: Sequence[tuple[str, str]],
    list_id: str | None,
    custom: Sequence[str],
    now: datetime,
    lo: str = members.LOW,
    hi: str = members.END,
    progress: list[int] | None = None,
) -> int:
    """Write `rows` ((contact hash, entry text), hashes within [lo, hi)) as contacts and
    members of `list_id`. `progress[0]` counts the contacts written so far (for a caller
    that reports a failure midway). Returns how many contacts were written."""
    progress = progress if progress is not None else [0]
    build = ContactWrites(db, workspace_id, list_id, custom, now)
    groups = [rows[i : i + fw.MAX_WRITES] for i in range(0, len(rows), fw.MAX_WRITES)]
    counted = threading.Lock()

    def commit(group: Sequence[tuple[str, str]]) -> None:
        # Most contacts of a large import are new: creating them writes what the row
        # says and no more (in the emulator, half a merge's work). A commit is atomic,
        # so a group with one contact that exists already fails whole and is merged.
        try:
            fw.commit(db, [build.create(digest, text) for digest, text in group])
        except Exception as exc:
            if not is_already_exists(exc):
                raise
            fw.commit(db, [build.merge(digest, text) for digest, text in group])
        with counted:
            progress[0] += len(group)

    threads = pool()
    pending = [threads.submit(commit, group) for group in groups]
    if list_id:
        members.merge(db, workspace_id, list_id, dict(rows), lo, hi)
    for future in pending:
        future.result()  # re-raises the first failure
    return len(rows)
