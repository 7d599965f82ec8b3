"""Dashboard queries for the API: `(runtime, workspace_id, ...) -> dict`, rollups only.

A dashboard load reads one `metrics_daily` document per day shown (get_all of ids
`{workspace}_{yyyy-mm-dd}`; a day without activity is a missing document and reads as
zeros), never the raw events: its cost is the number of days, however many events,
posts or insights the workspace has. The other views read one rollup document each, or
a bounded list (top campaigns, a post's snapshots).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.errors import NotFound, ValidationError
from shared.metrics import budget
from shared.metrics.best_time import summarize
from shared.metrics.email_rollups import EVENT_TYPES, MACHINE_FIELDS, TYPE_FIELD
from shared.metrics.model import (
    BEST_TIME,
    DAILY,
    EMAIL_CAMPAIGN_METRICS,
    POSTS,
    X_METRIC_FIELDS,
    daily_id,
    day_key,
    local_day,
    workspace_timezone,
)
from shared.tenancy import scoped_get

if TYPE_CHECKING:
    from shared.runtime import Runtime

MAX_DAYS = 366
EMAIL_FIELDS = tuple(
    f"email_{f}"
    for f in (*(TYPE_FIELD[t] for t in EVENT_TYPES), "unique_opens", "unique_clicks", "events")
)
X_FIELDS = tuple(f"x_{f}" for f in ("posts", *X_METRIC_FIELDS, "engagements"))
ADS_FIELDS = ("ads_impressions", "ads_clicks", "ads_spend")
SERIES_FIELDS = (*EMAIL_FIELDS, *X_FIELDS, *ADS_FIELDS)


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _instant(ms: Any) -> str | None:
    """An epoch-milliseconds field (what the fold's Maximum/Minimum keep) as ISO 8601."""
    if not isinstance(ms, int | float) or ms <= 0:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def _ratio(part: float, whole: float, digits: int = 4) -> float:
    return round(part / whole, digits) if whole else 0.0


def overview(
    runtime: Runtime, workspace_id: str, days: int = 7, end: str | date | None = None
) -> dict[str, Any]:
    """Per-day series and totals of email, X and ads activity for `days` days to `end`.

    Days are the workspace's local days; `end` defaults to today there.
    """
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationError(f"days must be between 1 and {MAX_DAYS}", {"field": "days"})
    db = runtime.db
    if end is None:
        end_day = local_day(runtime.clock.now(), workspace_timezone(db, workspace_id))
    elif isinstance(end, date):
        end_day = end
    else:
        try:
            end_day = date.fromisoformat(end)
        except ValueError as exc:
            raise ValidationError("end must be a date (YYYY-MM-DD)", {"field": "end"}) from exc
    span = [end_day - timedelta(days=i) for i in range(days - 1, -1, -1)]
    refs = [db.collection(DAILY).document(daily_id(workspace_id, d)) for d in span]
    found = {snap.id: snap.to_dict() for snap in db.get_all(refs) if snap.exists}
    series = []
    totals: dict[str, float] = dict.fromkeys(SERIES_FIELDS, 0)
    for d in span:
        doc = found.get(daily_id(workspace_id, d)) or {}
        if doc.get("workspace_id", workspace_id) != workspace_id:
            doc = {}
        row: dict[str, Any] = {"date": day_key(d)}
        for f in SERIES_FIELDS:
            row[f] = doc.get(f, 0) or 0
            totals[f] += row[f]
        series.append(row)
    totals["ads_spend"] = round(float(totals["ads_spend"]), 2)
    rates = {
        "email_open_rate": _ratio(totals["email_unique_opens"], totals["email_sent"]),
        "email_click_rate": _ratio(totals["email_unique_clicks"], totals["email_sent"]),
        "email_bounce_rate": _ratio(totals["email_bounces"], totals["email_sent"]),
        "x_engagement_rate": _ratio(totals["x_engagements"], totals["x_impressions"]),
        "ads_ctr": _ratio(totals["ads_clicks"], totals["ads_impressions"], 6),
        "ads_cpc": _ratio(totals["ads_spend"], totals["ads_clicks"]),
    }
    return {
        "start": day_key(span[0]),
        "end": day_key(span[-1]),
        "days": series,
        "totals": totals,
        "rates": rates,
    }


def campaign_view(data: dict[str, Any], top: int = 20) -> dict[str, Any]:
    """A campaign rollup as the API shows it: counts, rates, top links, days by date."""
    counts = {
        name: int(data.get(name) or 0)
        for name in (
            *TYPE_FIELD.values(),
            *MACHINE_FIELDS,
            "unique_opens",
            "unique_clicks",
            "events",
        )
    }
    sent = counts["sent"]
    links = sorted(
        (
            {"url": v.get("url"), "clicks": int(v.get("clicks") or 0)}
            for v in (data.get("links") or {}).values()
        ),
        key=lambda link: (-link["clicks"], str(link["url"])),
    )
    daily = {
        f"{k[1:5]}-{k[5:7]}-{k[7:9]}": {"opens": v.get("opens", 0), "clicks": v.get("clicks", 0)}
        for k, v in sorted((data.get("daily") or {}).items())
        if k.startswith("d") and len(k) == 9
    }
    return {
        "campaign_id": data.get("campaign_id"),
        **counts,
        "open_rate": _ratio(counts["unique_opens"], sent),
        "click_rate": _ratio(counts["unique_clicks"], sent),
        "bounce_rate": _ratio(counts["bounces"], sent),
        "unsubscribe_rate": _ratio(counts["unsubscribes"], sent),
        "top_links": links[:top],
        "daily": daily,
        "first_open_at": _instant(data.get("first_open_ms")),
        "last_event_at": _instant(data.get("last_event_ms")),
        "updated_at": _plain(data.get("updated_at")),
    }


def email_campaign_metrics(runtime: Runtime, workspace_id: str, campaign_id: str) -> dict[str, Any]:
    """A campaign's engagement rollup (opens, clicks, unsubscribes, bounces, rates, top
    links, per day): one read. Folded within a dispatch tick of each event."""
    data = scoped_get(runtime.db, EMAIL_CAMPAIGN_METRICS, workspace_id, campaign_id)
    # No event folded yet: zeros, not an error (the campaign may not have started).
    return campaign_view(data or {"campaign_id": campaign_id})


def top_email_campaigns(
    runtime: Runtime, workspace_id: str, limit: int = 5
) -> list[dict[str, Any]]:
    """The campaigns with the most recent engagement (reads ≤ limit)."""
    from shared.queries import build
    from shared.queries.metrics import TOP_EMAIL_CAMPAIGNS

    limit = max(1, min(int(limit), 50))
    query = build(runtime.db, TOP_EMAIL_CAMPAIGNS, workspace_id=workspace_id).limit(limit)
    out = []
    for snap in query.stream():
        view = campaign_view(snap.to_dict(), top=3)
        view.pop("daily")
        out.append(view)
    return out


def post_metrics(runtime: Runtime, workspace_id: str, post_id: str) -> dict[str, Any]:
    """A post's latest counters and its snapshots over time (a growth curve)."""
    from shared.queries import build
    from shared.queries.metrics import POST_SNAPSHOTS

    post = scoped_get(runtime.db, POSTS, workspace_id, post_id)
    if post is None:
        raise NotFound(f"post {post_id!r} not found")
    # The schedule takes at most 24 + 29 readings.
    query = build(runtime.db, POST_SNAPSHOTS, post_id=post_id).limit(200)
    points = []
    for snap in query.stream():
        s = snap.to_dict()
        if s.get("workspace_id") != workspace_id:
            continue
        points.append(
            {
                "at": _plain(s["at"]),
                **{k: s.get(k, 0) for k in X_METRIC_FIELDS},
                "engagements": s.get("engagements", 0),
                "source": s.get("source"),
            }
        )
    latest = {k: post.get(f"metrics_{k}", 0) for k in (*X_METRIC_FIELDS, "engagements")}
    return {
        "post_id": post_id,
        "published_at": _plain(post.get("published_at")),
        "status": post.get("metrics_status"),
        "error": post.get("metrics_error"),
        "next_metrics_at": _plain(post.get("next_metrics_at")),
        "latest": latest,
        "snapshots": points,
    }


def best_time(runtime: Runtime, workspace_id: str, account_id: str) -> dict[str, Any]:
    """Engagement by hour of week for an account on its network (one read)."""
    data = scoped_get(runtime.db, BEST_TIME, workspace_id, account_id)
    if data is None:
        return {"account_id": account_id, "posts": 0, "buckets": [], "best": []}
    out = summarize(data)
    out["computed_at"] = _plain(out["computed_at"])
    return out


def read_budget(runtime: Runtime, workspace_id: str) -> dict[str, Any]:
    """This month's X read budget: limit, used, remaining, when it ran out."""
    return {k: _plain(v) for k, v in budget.usage(runtime, workspace_id).items()}
