"""Many independent writes per round trip, each with its own outcome (Firestore BatchWrite).

A dispatch tick moves thousands of documents, each guarded on its own (an update that
carries the snapshot's update time, a create that only one caller wins). One commit per
document costs a round trip and a server-side commit each; a commit of many is atomic,
so one lost guard would fail all the others. BatchWrite sends up to MAX_WRITES writes
in one request, applies each independently and answers each one's status: a write whose
precondition fails costs the others nothing. The client's BulkWriter wraps the same RPC
but swallows a failed request (its futures are never read) and throttles every new
writer to 500 writes/s; a tick needs the outcome of every write, so the batch is sent
here and its answer read write by write.

A request that fails as a whole raises: some of its writes may have been applied (the
answer was lost), exactly as for a single update whose answer was lost, so callers
treat those items as they would such an update.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

# google.rpc.Code values a write's status can carry.
OK = 0
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
ALREADY_EXISTS = 6
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
ABORTED = 10
UNAVAILABLE = 14
# A write that failed with one of these was not applied and may simply be sent again
# (the client's BulkWriter retries the same codes); the others are final.
RETRYABLE = frozenset({ABORTED, RESOURCE_EXHAUSTED, UNAVAILABLE})
MAX_WRITES = 500  # writes per BatchWrite request
ATTEMPTS = 3
BACKOFF_S = 0.25


@dataclass(frozen=True)
class Write:
    """One write of a batch: an update of existing fields or a create."""

    ref: Any  # DocumentReference
    data: dict[str, Any]
    op: Literal["update", "create"] = "update"
    # Update only: applied only if the document still has this update time.
    last_update_time: datetime | None = None


@dataclass(frozen=True)
class Outcome:
    code: int  # google.rpc.Code: OK, FAILED_PRECONDITION, NOT_FOUND, ALREADY_EXISTS...
    message: str = ""
    update_time: datetime | None = None  # the write's commit time when it was applied

    @property
    def ok(self) -> bool:
        return self.code == OK


def apply_each(
    db: Any, writes: Sequence[Write], *, attempts: int = ATTEMPTS, backoff_s: float = BACKOFF_S
) -> list[Outcome]:
    """Apply `writes` (at most MAX_WRITES, one per document) independently.

    Returns one outcome per write, in order. Writes refused with a retryable status
    (contention, throttling) are sent again, up to `attempts` requests in all, with the
    same preconditions: a write that failed was not applied, so sending it again is as
    safe as the first time. A failed request raises (see the module's docstring).
    """
    from google.cloud.firestore_v1.bulk_batch import BulkWriteBatch

    if len(writes) > MAX_WRITES:
        raise ValueError(f"at most {MAX_WRITES} writes per request, got {len(writes)}")
    outcomes: list[Outcome | None] = [None] * len(writes)
    todo = list(range(len(writes)))
    for attempt in range(attempts):
        batch = BulkWriteBatch(db)
        for i in todo:
            write = writes[i]
            if write.op == "create":
                batch.create(write.ref, write.data)
            else:
                option = None
                if write.last_update_time is not None:
                    option = db.write_option(last_update_time=write.last_update_time)
                batch.update(write.ref, write.data, option=option)
        response = batch.commit()
        again = []
        for i, status, result in zip(todo, response.status, response.write_results, strict=True):
            if status.code in RETRYABLE and attempt + 1 < attempts:
                again.append(i)
                continue
            applied = result.update_time if status.code == OK else None
            outcomes[i] = Outcome(status.code, status.message, applied)
        if not again:
            break
        todo = again
        time.sleep(backoff_s * 2**attempt)
    return [o if o is not None else Outcome(ABORTED, "not sent") for o in outcomes]
