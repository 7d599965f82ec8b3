"""Collections, document ids and day keys of the metrics data model.

Every collection is flat and top level with a `workspace_id` field (see README, "Data
model"). Document ids are deterministic where a write must be idempotent: recomputing a
rollup or re-running a pull overwrites the same document instead of adding one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Owned by other pipelines; read (and, for posts, the `metrics_*` / `next_metrics_at`
# fields written) here.
POSTS = "posts"
X_ACCOUNTS = "x_accounts"
EMAIL_EVENTS = "email_events"
WORKSPACES = "workspaces"

# Owned by metrics.
SNAPSHOTS = "post_metrics_snapshots"  # {post_id}_{slot}: one reading of a post's counters
DAILY = "metrics_daily"  # {workspace}_{yyyy-mm-dd}: what a dashboard day reads
EMAIL_CAMPAIGN_METRICS = "email_campaign_metrics"  # {campaign_id}: per-campaign rollup
EMAIL_CAMPAIGN_DAYS = "email_campaign_days"  # {campaign_id}_{yyyy-mm-dd}: a campaign's day
BEST_TIME = "best_time"  # {x_account_id}: 168 hour-of-week buckets
BUDGETS = "metrics_budgets"  # {workspace}_{yyyy-mm}_{shard}: X reads used this month
X_READ_RATE = "metrics_x_rate"  # {x_account_id}: last known read rate-limit reset
AD_INSIGHTS = "ad_insights"  # written by the ads function (see ads_tasks)
AD_CAMPAIGNS = "ad_campaigns"  # owned by the ads pipeline; read to fan out insight pulls
SYSTEM = "system"
SWEEPS_DOC = "metrics_sweeps"  # system/metrics_sweeps: next due instant of each sweep
DISCOVERY_DOC = "metrics_discovery"  # system/metrics_discovery: published_at watermark

# Read whole, never queried: not indexed (see shared.email.model.UNINDEXED_FIELDS).
UNINDEXED_FIELDS = {
    BEST_TIME: ("buckets",),  # 168 hour-of-week buckets
    EMAIL_CAMPAIGN_METRICS: ("daily", "links"),  # one entry per day / per link clicked
    EMAIL_CAMPAIGN_DAYS: ("links",),  # one entry per link clicked that day
}

# The counters X returns in `public_metrics`, under the names Herald stores.
X_METRIC_FIELDS: dict[str, str] = {
    "impressions": "impression_count",
    "likes": "like_count",
    "reposts": "retweet_count",
    "replies": "reply_count",
    "quotes": "quote_count",
    "bookmarks": "bookmark_count",
}
ENGAGEMENT_FIELDS = ("likes", "reposts", "replies", "quotes", "bookmarks")


def engagements(metrics: dict[str, int]) -> int:
    return sum(int(metrics.get(k, 0) or 0) for k in ENGAGEMENT_FIELDS)


def day_key(d: date) -> str:
    return d.isoformat()


def daily_id(workspace_id: str, d: date | str) -> str:
    return f"{workspace_id}_{d if isinstance(d, str) else day_key(d)}"


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        from shared.errors import ValidationError

        raise ValidationError(f"{value!r} is not a date; use YYYY-MM-DD") from exc


def parse_instant(value: str, field: str) -> datetime:
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        from shared.errors import ValidationError

        raise ValidationError(f"{field} must be an ISO 8601 instant, got {value!r}") from exc
    if instant.tzinfo is None:
        from shared.errors import ValidationError

        raise ValidationError(f"{field} needs a timezone offset")
    return instant.astimezone(UTC)


def zone(name: str | None) -> ZoneInfo:
    from shared.zones import zone_or_utc

    return zone_or_utc(name)


def day_bounds(d: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants where local day `d` starts and the next one starts (DST-safe)."""
    start = datetime.combine(d, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(d + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def local_day(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def slot_key(instant: datetime) -> str:
    """A compact, sortable, id-safe form of an instant (minute precision)."""
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


def workspace_timezone(db: object, workspace_id: str) -> ZoneInfo:
    snap = db.collection(WORKSPACES).document(workspace_id).get()  # type: ignore[attr-defined]
    return zone((snap.to_dict() or {}).get("timezone") if snap.exists else None)
