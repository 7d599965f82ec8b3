"""The per-workspace monthly X read budget (pay-per-use bills every post read).

`metrics_budgets/{workspace}_{yyyy-mm}`: workspace_id, period, reads_used (Increment),
limit, exhausted_at. A pull reserves what it is about to request before it calls X and
gives back what X did not bill (429, errors before an answer). Without transaction
isolation the check-then-increment can overshoot by what concurrent pulls of the same
workspace reserve at once (at most 100 posts each); the metrics queue's concurrency
bounds that.
"""

from __future__ import annotations

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


def budget_ref(db: Any, workspace_id: str, now: datetime) -> Any:
    return db.collection(BUDGETS).document(f"{workspace_id}_{period(now)}")


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


def reserve(runtime: Runtime, workspace_id: str, wanted: int) -> Reservation:
    """Reserve up to `wanted` reads; `granted` may be less (0 when the month is spent)."""
    from google.cloud import firestore

    now = runtime.clock.now()
    limit = limit_for(runtime, workspace_id)
    ref = budget_ref(runtime.db, workspace_id, now)
    snap = ref.get()
    used = int((snap.to_dict() or {}).get("reads_used", 0)) if snap.exists else 0
    granted = max(0, min(wanted, limit - used))
    fields: dict[str, Any] = {
        "workspace_id": workspace_id,
        "period": period(now),
        "limit": limit,
        "updated_at": now,
    }
    if granted:
        fields["reads_used"] = firestore.Increment(granted)
    if granted < wanted:
        fields["exhausted_at"] = now
        fields["reads_refused"] = firestore.Increment(wanted - granted)
    ref.set(fields, merge=True)
    return Reservation(granted=granted, limit=limit, used_before=used)


def refund(runtime: Runtime, workspace_id: str, reads: int) -> None:
    """Give back reserved reads that X did not bill."""
    if reads <= 0:
        return
    from google.cloud import firestore

    ref = budget_ref(runtime.db, workspace_id, runtime.clock.now())
    ref.set({"reads_used": firestore.Increment(-reads)}, merge=True)


def usage(runtime: Runtime, workspace_id: str) -> dict[str, Any]:
    now = runtime.clock.now()
    snap = budget_ref(runtime.db, workspace_id, now).get()
    data = snap.to_dict() or {} if snap.exists else {}
    limit = limit_for(runtime, workspace_id)
    used = int(data.get("reads_used", 0))
    return {
        "period": period(now),
        "limit": limit,
        "used": used,
        "remaining": max(0, limit - used),
        "exhausted_at": data.get("exhausted_at"),
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
