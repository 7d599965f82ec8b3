"""Segmentation on a synthetic pool with known clusters, end to end through the function."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import pytest
from sklearn.metrics import adjusted_rand_score

from shared.jobs import service
from shared.jobs.segmentation import cluster, features
from shared.runtime import set_runtime

WS = "ws-seg"
ROOT = Path(__file__).resolve().parents[2]

# Three recruiting pools that differ in skills, experience, place, education and source.
ARCHETYPES = [
    {"skills": ["python", "sql", "pandas"], "years": (1, 3), "location": "Austin",
     "education": "bsc", "source": "linkedin"},
    {"skills": ["java", "spring", "kubernetes"], "years": (9, 15), "location": "New York",
     "education": "msc", "source": "referral"},
    {"skills": ["figma", "ux research", "prototyping"], "years": (4, 7), "location": "Denver",
     "education": "ba", "source": "job board"},
]  # fmt: skip
NOISE_SKILLS = ["git", "excel", "communication", "docker", "jira"]


def synthetic_pool(per_cluster: int = 40, seed: int = 7) -> tuple[str, list[int]]:
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "skills", "years_experience", "location", "education", "source"])
    truth = []
    n = 0
    for label, arch in enumerate(ARCHETYPES):
        for _ in range(per_cluster):
            skills = rng.sample(arch["skills"], 2) + rng.sample(NOISE_SKILLS, rng.randint(0, 2))
            # A tenth of each pool lives elsewhere or came through another channel.
            location = arch["location"] if rng.random() > 0.1 else "Chicago"
            source = arch["source"] if rng.random() > 0.1 else "career fair"
            years = round(rng.uniform(*arch["years"]), 1)
            writer.writerow(
                [f"c{n}@example.com", ";".join(skills), years, location, arch["education"], source]
            )
            truth.append(label)
            n += 1
    return out.getvalue(), truth


def test_features_are_scaled_blocks():
    common = {"location": "x", "education": "e", "source": "s"}
    cands = [
        {"skills": ["a", "b"], "years_experience": 1, **common},
        {"skills": ["a"], "years_experience": 3, **common},
    ]
    x = features(cands, min_count=1)
    assert x.shape == (2, 1 + 2 + 1 + 1 + 1)
    assert abs(x[:, 0].mean()) < 1e-9  # experience standardized
    assert abs((x[0, 1:3] ** 2).sum() - 1) < 1e-9  # the skills block is unit length


def test_recovers_known_clusters_and_profiles(runtime, monkeypatch):
    data, truth = synthetic_pool()
    report = service.import_candidates(runtime, WS, data.encode(), "pool.csv")
    assert report["imported"] == len(truth) and report["rejected"] == {}
    run = service.run_segmentation(runtime, WS)
    task = runtime.enqueuer.tasks[-1]
    assert (task.kind, task.target, task.payload) == (
        "segments", "segment", {"workspace_id": WS, "run_id": run["id"]}
    )  # fmt: skip

    # The segment function, in process, handles the task as Cloud Tasks would send it.
    from functions_framework import create_app

    set_runtime(runtime)
    try:
        app = create_app("segment", str(ROOT / "functions/segment/main.py"), "http")
        resp = app.test_client().post("/", json=task.payload)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        again = app.test_client().post("/", json=task.payload)  # a repeated delivery
        assert again.get_json() == {"ok": True, "status": "done"}
        bad = app.test_client().post("/", data=b"nope", content_type="application/json")
        assert bad.status_code == 200 and bad.get_json()["ok"] is False
    finally:
        set_runtime(None)

    done = service.get_run(runtime, WS, run["id"])
    assert done["status"] == "done" and done["k"] == 3
    assert done["criterion"].startswith("silhouette")
    assert set(done["scores"]) == {str(k) for k in range(2, 9)}
    segments = service.list_segments(runtime, WS)["items"]
    assert len(segments) == 3 and sum(s["size"] for s in segments) == len(truth)

    # Recovered clusters: compare each candidate's segment with its archetype.
    by_email = {}
    page = service.list_candidates(runtime, WS, limit=200)
    for cand in page["items"]:
        by_email[cand["email"]] = cand["segment_id"]
    predicted = [by_email[f"c{i}@example.com"] for i in range(len(truth))]
    assert adjusted_rand_score(truth, predicted) >= 0.9

    seniors = next(s for s in segments if s["profile"]["top_locations"][0]["value"] == "New York")
    assert 9 <= seniors["profile"]["median_years"] <= 15
    assert {t["value"] for t in seniors["profile"]["top_skills"][:3]} == {
        "java",
        "spring",
        "kubernetes",
    }
    assert "java" in seniors["keywords"] and "New York" in seniors["locations"]
    assert "yrs median" in seniors["label"]
    only = service.list_candidates(runtime, WS, segment_id=seniors["id"], limit=200)["items"]
    assert len(only) == seniors["size"]


def test_user_chosen_k_and_empty_pool(runtime):
    data, _ = synthetic_pool(per_cluster=10)
    service.import_candidates(runtime, WS, data.encode(), "pool.csv")
    from shared.jobs.segmentation import run

    r = service.run_segmentation(runtime, WS, k=2)
    assert run(runtime, WS, r["id"])["k"] == 2
    assert service.get_run(runtime, WS, r["id"])["criterion"] == "set by the user"
    empty = service.run_segmentation(runtime, "ws-empty")
    assert run(runtime, "ws-empty", empty["id"])["status"] == "failed"
    assert "no candidates" in service.get_run(runtime, "ws-empty", empty["id"])["error"]
    with pytest.raises(Exception, match="k must be"):
        service.run_segmentation(runtime, WS, k=0)


def test_identical_candidates_make_one_segment():
    import numpy as np

    result = cluster(np.zeros((5, 3)))
    assert result.k == 1 and set(result.labels) == {0}
