"""K-means segmentation of a workspace's candidates (runs in the `segment` function).

Features, one row per candidate:
- numeric: years of experience, standardized (zero mean, unit variance);
- one-hot: location, education, source; multi-hot: skills. Each categorical block is
  L2-normalized per row, so every block weighs about as much as the numeric feature,
  whatever its number of columns (otherwise a 40-skill vocabulary would drown
  experience). Categories seen fewer than `min_count` times are dropped to keep noise
  out of the distances.

k: set by the user, or chosen as the k in 2..8 with the highest silhouette score
(computed on at most 2,000 sampled rows), with KMeans(n_init=10, random_state=0) so a
re-run on the same pool gives the same segments.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.errors import ValidationError
from shared.jobs.candidates import CANDIDATES
from shared.jobs.segments import K_MAX_AUTO, K_MIN, RUNS, SEGMENTS
from shared.jobs.store import Batch, sort_key
from shared.log import get_logger

if TYPE_CHECKING:
    import numpy as np

    from shared.runtime import Runtime

log = get_logger("segment")
CRITERION = "silhouette (k = 2..8, highest wins)"
SILHOUETTE_SAMPLE = 2000
TOP = 5


@dataclass
class Result:
    labels: list[int]
    k: int
    criterion: str
    scores: dict[int, float]


def features(candidates: list[dict[str, Any]], min_count: int = 2) -> np.ndarray:
    import numpy as np
    from sklearn.preprocessing import MultiLabelBinarizer, StandardScaler, normalize

    years = np.array([[float(c["years_experience"])] for c in candidates])
    blocks = [StandardScaler().fit_transform(years)]
    for field in ("skills", "location", "education", "source"):
        values = [c[field] if field == "skills" else [c[field]] for c in candidates]
        counts = Counter(v for vs in values for v in vs)
        floor = min(min_count, len(candidates))
        keep = sorted(v for v, n in counts.items() if n >= floor)
        if not keep:
            continue
        kept = [[v for v in vs if counts[v] >= floor] for vs in values]
        block = MultiLabelBinarizer(classes=keep).fit_transform(kept).astype(float)
        blocks.append(normalize(block))  # rows with no kept category stay all-zero
    return np.hstack(blocks)


def cluster(x: np.ndarray, k: int | None = None) -> Result:
    from threadpoolctl import threadpool_limits

    # One thread: the function has one vCPU, and OpenMP's spinning threads make small
    # fits 50x slower on a busy machine (measured: 0.5 s vs 29 s for k=2..8 on 300 rows).
    with threadpool_limits(limits=1):
        return _cluster(x, k)


def _cluster(x: np.ndarray, k: int | None) -> Result:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    n = x.shape[0]
    if k is not None:
        if k > n:
            raise ValidationError(f"k={k} is more than the {n} candidates")
        model = KMeans(n_clusters=k, n_init=10, random_state=0).fit(x)
        return Result([int(v) for v in model.labels_], k, "set by the user", {})
    if n < K_MIN + 1:
        raise ValidationError(f"segmentation needs at least {K_MIN + 1} candidates, found {n}")
    import numpy as np

    distinct = len(np.unique(x, axis=0))
    scores: dict[int, float] = {}
    best: tuple[float, int, Any] | None = None
    # More clusters than distinct rows would only split identical candidates.
    for kk in range(K_MIN, min(K_MAX_AUTO, n - 1, distinct) + 1):
        model = KMeans(n_clusters=kk, n_init=10, random_state=0).fit(x)
        if len(set(model.labels_)) < 2:
            continue
        score = float(
            silhouette_score(
                x, model.labels_, sample_size=min(n, SILHOUETTE_SAMPLE), random_state=0
            )
        )
        scores[kk] = round(score, 4)
        if best is None or score > best[0]:
            best = (score, kk, model)
    if best is None:
        # Every candidate has the same features: one segment is the honest answer.
        return Result([0] * n, 1, CRITERION + "; all candidates are alike", scores)
    return Result([int(v) for v in best[2].labels_], best[1], CRITERION, scores)


def _top(counter: Counter[str], size: int, limit: int = TOP) -> list[dict[str, Any]]:
    return [{"value": v, "share": round(n / size, 3)} for v, n in counter.most_common(limit)]


def profile(members: list[dict[str, Any]], total: int) -> dict[str, Any]:
    years = sorted(float(m["years_experience"]) for m in members)
    size = len(members)
    quart = statistics.quantiles(years, n=4) if size > 1 else [years[0]] * 3
    skills = Counter(s for m in members for s in m["skills"])
    locations = Counter(m["location"] for m in members)
    education = Counter(m["education"] for m in members)
    sources = Counter(m["source"] for m in members)
    top_skills = _top(skills, size)
    top_locations = _top(locations, size, 3)
    median = statistics.median(years)
    label = (
        f"{', '.join(s['value'] for s in top_skills[:3])} · {median:g} yrs median"
        f" · {top_locations[0]['value']}"
    )
    return {
        "label": label,
        "size": size,
        "share": round(size / total, 3),
        "profile": {
            "median_years": median,
            "p25_years": round(quart[0], 2),
            "p75_years": round(quart[2], 2),
            "top_skills": top_skills,
            "top_locations": top_locations,
            "top_education": _top(education, size, 3),
            "top_sources": _top(sources, size, 3),
        },
        # What ad targeting can use: skills as search keywords, places as geo hints.
        "keywords": [s["value"] for s in top_skills if s["share"] >= 0.3],
        "locations": [loc["value"] for loc in top_locations if loc["share"] >= 0.2],
    }


def load_candidates(runtime: Runtime, workspace_id: str) -> list[dict[str, Any]]:
    from shared.queries import pages
    from shared.queries.jobs import CANDIDATES as ALL

    every = pages(runtime.db, ALL, page_size=500, workspace_id=workspace_id)
    return [{**d.to_dict(), "id": d.id} for docs in every for d in docs]


def run(runtime: Runtime, workspace_id: str, run_id: str) -> dict[str, Any]:
    """Compute and store one run; idempotent (a repeated delivery of a done run is a no-op)."""
    ref = runtime.db.collection(RUNS).document(run_id)
    snap = ref.get()
    if not snap.exists or snap.get("workspace_id") != workspace_id:
        log.warning("segmentation run not found", run_id=run_id, workspace_id=workspace_id)
        return {"status": "missing"}
    if snap.get("status") in ("done", "failed"):
        return {"status": snap.get("status")}
    ref.update({"status": "running", "started_at": runtime.clock.now()})
    candidates = load_candidates(runtime, workspace_id)
    try:
        if not candidates:
            raise ValidationError("there are no candidates to segment; import some first")
        result = cluster(features(candidates), snap.get("k_requested"))
    except ValidationError as exc:
        ref.update({"status": "failed", "error": exc.message, "finished_at": runtime.clock.now()})
        return {"status": "failed", "error": exc.message}
    now = runtime.clock.now()
    db = runtime.db
    batch = Batch(db)
    groups: dict[int, list[dict[str, Any]]] = {}
    for cand, label in zip(candidates, result.labels, strict=True):
        groups.setdefault(label, []).append(cand)
    # Number segments largest first so "segment 1" is the biggest.
    order = sorted(groups, key=lambda g: -len(groups[g]))
    for index, label in enumerate(order):
        seg_id = f"{run_id}-{index}"
        doc = {
            **profile(groups[label], len(candidates)),
            "workspace_id": workspace_id,
            "run_id": run_id,
            "index": index,
            "created_at": now,
            "sort_key": sort_key(now, seg_id),
        }
        db.collection(SEGMENTS).document(seg_id).set(doc)
        for cand in groups[label]:
            ref_c = db.collection(CANDIDATES).document(cand["id"])
            batch.update(ref_c, {"segment_id": seg_id, "segment_run_id": run_id})
    batch.commit()
    summary = {
        "status": "done",
        "k": result.k,
        "criterion": result.criterion,
        "scores": {str(k): v for k, v in result.scores.items()},
        "candidate_count": len(candidates),
        "finished_at": now,
        "error": None,
    }
    ref.update(summary)
    log.info("segmentation done", run_id=run_id, k=result.k, candidates=len(candidates))
    return summary
