"""Per-workspace Gemini usage counters.

`generation_usage/{workspace_id}`: running totals; `generation_usage_daily/{ws}__{day}`:
the same per UTC day, for the admin page and budgets. Counters are top-level fields
updated with Increment (atomic on Firestore and the emulator), so concurrent
generations never lose a count.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.generate.drafting import Usage

USAGE = "generation_usage"
USAGE_DAILY = "generation_usage_daily"


def record_usage(
    db: Any, workspace_id: str, usage: Usage, now: datetime, generator: str = "gemini"
) -> None:
    if usage.requests == 0:
        return
    from google.cloud.firestore import Increment

    counters = {
        "requests": Increment(usage.requests),
        "prompt_tokens": Increment(usage.prompt_tokens),
        "output_tokens": Increment(usage.output_tokens),
        "total_tokens": Increment(usage.total_tokens),
    }
    base = {"workspace_id": workspace_id, "updated_at": now, "generator": generator}
    batch = db.batch()
    batch.set(db.collection(USAGE).document(workspace_id), {**base, **counters}, merge=True)
    day = now.strftime("%Y-%m-%d")
    batch.set(
        db.collection(USAGE_DAILY).document(f"{workspace_id}__{day}"),
        {**base, "day": day, **counters},
        merge=True,
    )
    batch.commit()


def get_usage(db: Any, workspace_id: str) -> dict[str, Any]:
    snap = db.collection(USAGE).document(workspace_id).get()
    data = snap.to_dict() if snap.exists else {}
    keys = ("requests", "prompt_tokens", "output_tokens", "total_tokens")
    return {k: int(data.get(k) or 0) for k in keys}
