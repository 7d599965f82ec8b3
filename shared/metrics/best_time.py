"""Best time to post: engagement by hour of week per X account, from its history.

`best_time/{account_id}`: workspace_id, account_id, timezone, computed_at, posts,
buckets (168 entries, index = weekday * 24 + hour in the workspace's timezone, Monday
0): posts, impressions, engagements per bucket. Recomputed from the account's posts of
the last HISTORY days (latest counters on each post) at most once a day per account,
after a metrics pull; one read serves the dashboard.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shared import claims
from shared.metrics.model import BEST_TIME, workspace_timezone

if TYPE_CHECKING:
    from shared.runtime import Runtime

HISTORY = timedelta(days=90)
REFRESH = timedelta(hours=24)
BUCKETS = 168
MIN_POSTS = 2  # a bucket needs this many posts before it can be recommended
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def bucket_of(instant: Any, tz: Any) -> int:
    local = instant.astimezone(tz)
    return int(local.weekday() * 24 + local.hour)


def recompute(runtime: Runtime, workspace_id: str, account_id: str) -> dict[str, Any]:
    from shared.queries import build
    from shared.queries.metrics import ACCOUNT_POSTS_SINCE

    db, now = runtime.db, runtime.clock.now()
    tz = workspace_timezone(db, workspace_id)
    buckets = [{"posts": 0, "impressions": 0, "engagements": 0} for _ in range(BUCKETS)]
    query = build(db, ACCOUNT_POSTS_SINCE, account_id=account_id, ge=now - HISTORY)
    posts = 0
    for snap in query.stream():
        post = snap.to_dict()
        if post.get("workspace_id") != workspace_id or "metrics_at" not in post:
            continue
        b = buckets[bucket_of(post["published_at"], tz)]
        b["posts"] += 1
        b["impressions"] += int(post.get("metrics_impressions", 0) or 0)
        b["engagements"] += int(post.get("metrics_engagements", 0) or 0)
        posts += 1
    doc = {
        "workspace_id": workspace_id,
        "account_id": account_id,
        "timezone": str(tz),
        "computed_at": now,
        "posts": posts,
        "buckets": buckets,
    }
    db.collection(BEST_TIME).document(account_id).set(doc)
    return doc


def refresh_if_stale(runtime: Runtime, workspace_id: str, account_id: str) -> bool:
    db, now = runtime.db, runtime.clock.now()
    snap = db.collection(BEST_TIME).document(account_id).get()
    computed = (snap.to_dict() or {}).get("computed_at") if snap.exists else None
    if computed and now - computed < REFRESH:
        return False
    day = now.strftime("%Y-%m-%d")
    if not claims.try_claim(
        db, claims.claim_id("besttime", account_id, day), owner="collect_metrics", now=now,
        workspace_id=workspace_id, ttl=timedelta(days=2),
    ):  # fmt: skip
        return False
    recompute(runtime, workspace_id, account_id)
    return True


def summarize(doc: dict[str, Any], top: int = 5) -> dict[str, Any]:
    """The buckets plus the best hours by mean engagements per post."""
    ranked = []
    for i, b in enumerate(doc.get("buckets", [])):
        if b["posts"] >= MIN_POSTS:
            mean = b["engagements"] / b["posts"]
            rate = b["engagements"] / b["impressions"] if b["impressions"] else 0.0
            ranked.append(
                {
                    "bucket": i,
                    "weekday": DAY_NAMES[i // 24],
                    "hour": i % 24,
                    "posts": b["posts"],
                    "mean_engagements": round(mean, 2),
                    "engagement_rate": round(rate, 4),
                }
            )
    ranked.sort(key=lambda r: (-r["mean_engagements"], r["bucket"]))
    return {
        "account_id": doc.get("account_id"),
        "timezone": doc.get("timezone"),
        "computed_at": doc.get("computed_at"),
        "posts": doc.get("posts", 0),
        "buckets": doc.get("buckets", []),
        "best": ranked[:top],
    }
