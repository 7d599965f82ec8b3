"""Segmentation runs and their segments (the light half: no scikit-learn here).

`segment_runs/{id}`: workspace_id, status (queued | running | done | failed), k_requested
(None = chosen by silhouette), k, criterion, scores {k: silhouette}, candidate_count,
error, created_at, finished_at, sort_key.
`segments/{run_id}-{index}`: workspace_id, run_id, index, label, size, share, profile
{median_years, p25_years, p75_years, top_skills, top_locations, top_education,
top_sources}, keywords, locations, created_at, sort_key.

The computation runs in the `segment` function (shared.jobs.segmentation), enqueued on
the "segments" queue, so no other function imports scikit-learn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.errors import ValidationError
from shared.jobs.store import get_or_404, insert, page, public
from shared.queries import build
from shared.queries import jobs as q
from shared.tasks import TaskSpec

if TYPE_CHECKING:
    from shared.runtime import Runtime

RUNS = "segment_runs"
SEGMENTS = "segments"
K_MIN, K_MAX_AUTO, K_MAX = 2, 8, 20


def start_segmentation(runtime: Runtime, workspace_id: str, k: int | None = None) -> dict[str, Any]:
    """Queue a run; the `segment` function computes it. k=None: best silhouette over 2..8."""
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= K_MAX):
        raise ValidationError(f"k must be a whole number from 1 to {K_MAX}", {"field": "k"})
    run = insert(runtime, RUNS, workspace_id, {"status": "queued", "k_requested": k})
    runtime.enqueuer.enqueue(
        TaskSpec(
            kind="segments",
            target="segment",
            payload={"workspace_id": workspace_id, "run_id": run["id"]},
            task_id=f"segment-{run['id']}",
        )
    )
    return run


def get_run(runtime: Runtime, workspace_id: str, run_id: str) -> dict[str, Any]:
    return public(get_or_404(runtime.db, RUNS, workspace_id, run_id, "segmentation run"))


def list_runs(
    runtime: Runtime, workspace_id: str, *, after: str | None = None, limit: int = 20
) -> dict[str, Any]:
    return page(runtime.db, q.SEGMENT_RUNS, workspace_id, after=after, limit=limit)


def latest_done_run_id(runtime: Runtime, workspace_id: str) -> str | None:
    query = build(runtime.db, q.LATEST_DONE_RUN, workspace_id=workspace_id, status="done")
    docs = list(query.limit(1).stream())
    return docs[0].id if docs else None


def list_segments(runtime: Runtime, workspace_id: str, run_id: str | None = None) -> dict[str, Any]:
    """The segments of one run (default: the latest finished run), largest first."""
    run_id = run_id or latest_done_run_id(runtime, workspace_id)
    if run_id is None:
        return {"run_id": None, "items": []}
    get_or_404(runtime.db, RUNS, workspace_id, run_id, "segmentation run")
    docs = build(runtime.db, q.RUN_SEGMENTS, workspace_id=workspace_id, run_id=run_id).stream()
    items = sorted((public({**d.to_dict(), "id": d.id}) for d in docs), key=lambda s: -s["size"])
    return {"run_id": run_id, "items": items}


def get_segment(runtime: Runtime, workspace_id: str, segment_id: str) -> dict[str, Any]:
    return public(get_or_404(runtime.db, SEGMENTS, workspace_id, segment_id, "segment"))
