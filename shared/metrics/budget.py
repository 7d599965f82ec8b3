"""The per-workspace monthly X read budget (pay-per-use bills every post read).

`metrics_budgets/{workspace}_{yyyy-mm}_{shard}`, SHARDS documents a month: workspace_id,
period, shard, reads_used (Increment), reads_refused, limit, exhausted_at. A pull
reserves what it is about to request before it calls X: one round trip reads the
month's shards (their sum is what is used), then one write increments the shard its key
hashes to; what X did not bill (429, errors before an answer) goes back to that shard.
Sharded because every pull writes here: the metrics queue dispatches up to 5 pulls a
second, most of them one workspace's in a large fan-out, and a Firestore document
sustains about one write a second; over SHARDS documents each sees a fraction of that.
Without transaction isolation the check-then-increment can overshoot by what concurrent
pulls of the same workspace reserve at once (at most 200 posts each); the metrics
queue's concurrency bounds that.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.metrics.model import BUDGETS, WORKSPACES

if TYPE_CHECKING:
    from shared.runtime import Runtime


def period(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m")


def next_period_start(now: datetime) -> datetime:
    n = now.astimezone(UTC)
    return datetime(n.year + (n.month == 12), n.month % 12 + 1, 1, tzinfo=UTC)


# Pulls a second the metrics queue dispatches at most (infra/queues.tf) over this stays
# under one write a second per shard on average (tests/metrics/test_hot_documents.py).
SHARDS = 8


def shard_of(key: str) -> int:
    return zlib.crc32(key.encode()) % SHARDS


def shard_ref(db: Any, workspace_id: str, month: str, shard: int) -> Any:
    return db.collection(BUDGETS).document(f"{workspace_id}_{month}_{shard}")


def _shards(db: Any, workspace_id: str, month: str) -> list[dict[str, Any]]:
    refs = [shard_ref(db, workspace_id, month, k) for k in range(SHARDS)]
    return [snap.to_dict() or {} for snap in db.get_all(refs) if snap.exists]


def limit_for(runtime: Runtime, workspace_id: str) -> int:
    snap = runtime.db.collection(WORKSPACES).document(workspace_id).get()
    override = (snap.to_dict() or {}).get("metrics_read_budget") if snap.exists else None
    if isinstance(override, int) and not isinstance(override, bool) and override >= 0:
        return override
    return max(0, runtime.settings.metrics_read_budget)


@dataclass(frozen=True)
class Reservation:
    granted: int
    limit: int
    used_before: int
    period: str
    shard: int


def reserve(runtime: Runtime, workspace_id: str, wanted: int, *, key: str) -> Reservation:
    """Reserve up to `wanted` reads; `granted` may be less (0 when the month is spent).
    `key` names the caller (a pull): it picks the shard that is written."""
    from google.cloud import firestore

    now = runtime.clock.now()
    month, shard = period(now), shard_of(key)
    limit = limit_for(runtime, workspace_id)
    used = sum(int(d.get("reads_used") or 0) for d in _shards(runtime.db, workspace_id, month))
    granted = max(0, min(wanted, limit - used))
    fields: dict[str, Any] = {
        "workspace_id": workspace_id,
        "period": month,
        "shard": shard,
        "limit": limit,
        "updated_at": now,
    }
    if granted:
        fields["reads_used"] = firestore.Increment(granted)
    if granted < wanted:
        fields["exhausted_at"] = now
        fields["reads_refused"] = firestore.Increment(wanted - granted)
    shard_ref(runtime.db, workspace_id, month, shard).set(fields, merge=True)
    return Reservation(granted, limit, used, month, shard)


def refund(runtime: Runtime, workspace_id: str, reservation: Reservation, reads: int) -> None:
    """Give back reserved reads that X did not bill (to the month and shard reserved)."""
    if reads <= 0:
        return
    from google.cloud import firestore

    ref = shard_ref(runtime.db, workspace_id, reservation.period, reservation.shard)
    ref.set({"reads_used": firestore.Increment(-reads)}, merge=True)


def usage(runtime: Runtime, workspace_id: str) -> dict[str, Any]:
    now = runtime.clock.now()
    shards = _shards(runtime.db, workspace_id, period(now))
    limit = limit_for(runtime, workspace_id)
    used = sum(int(d.get("reads_used") or 0) for d in shards)
    exhausted = [d["exhausted_at"] for d in shards if d.get("exhausted_at")]
    return {
        "period": period(now),
        "limit": limit,
        "used": used,
        "remaining": max(0, limit - used),
        "exhausted_at": max(exhausted) if exhausted else None,
    }


MAX_LIMIT = 10_000_000


def set_limit(runtime: Runtime, workspace_id: str, limit: int | None) -> dict[str, Any]:
    """Set this workspace's monthly X read budget (None: back to the deployment default)."""
    from shared.errors import ValidationError

    if limit is not None and (
        not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= MAX_LIMIT
    ):
        raise ValidationError(
            f"the read budget must be a whole number from 0 to {MAX_LIMIT:,}",
            {"field": "metrics_read_budget"},
        )
    runtime.db.collection(WORKSPACES).document(workspace_id).set(
        {"metrics_read_budget": limit}, merge=True
    )
    return usage(runtime, workspace_id)
