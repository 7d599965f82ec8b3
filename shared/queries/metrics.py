"""Queries of the metrics pipeline: pulls, rollups, dashboards, CSV exports."""

from shared.queries.spec import QuerySpec, asc, desc

PUBLISHED_POSTS = QuerySpec(
    "metrics.published_posts",
    "posts",
    range="published_at",
    order=(asc("published_at"),),
    paged=True,
    why="discovery of newly published posts",
)
DUE_PULLS = QuerySpec(
    "metrics.due_pulls",
    "posts",
    range="next_metrics_at",
    range_required=True,
    order=(asc("next_metrics_at"),),
)
ACCOUNT_POSTS_SINCE = QuerySpec(
    "metrics.account_posts_since",
    "posts",
    equals=("account_id",),
    range="published_at",
    range_required=True,
    why="best posting time",
)
DAY_POSTS = QuerySpec(
    "metrics.day_posts",
    "posts",
    equals=("workspace_id",),
    range="published_at",
    range_required=True,
)
POST_SNAPSHOTS = QuerySpec(
    "metrics.post_snapshots", "post_metrics_snapshots", equals=("post_id",), order=(asc("at"),)
)
TOP_EMAIL_CAMPAIGNS = QuerySpec(
    "metrics.top_email_campaigns",
    "email_campaign_metrics",
    equals=("workspace_id",),
    order=(desc("last_event_ms"),),
)
WORKSPACES = QuerySpec("metrics.workspaces", "workspaces", order=(asc("created_at"),), paged=True)
EMAIL_EVENTS = QuerySpec(
    "metrics.email_events",
    "email_events",
    equals=("workspace_id",),
    range="at",
    order=(asc("at"),),
    paged=True,
)
EMAIL_FOLD_PENDING = QuerySpec(
    "metrics.email_fold_pending",
    "email_events",
    equals=("fold_pending",),
    why="the incremental fold: events not yet counted into the rollups (any workspace)",
)
CAMPAIGN_DAYS = QuerySpec(
    "metrics.campaign_days",
    "email_campaign_days",
    equals=("workspace_id", "campaign_id"),
    order=(asc("date"),),
    paged=True,
)
PULL_AD_CAMPAIGNS = QuerySpec(
    "metrics.pull_ad_campaigns",
    "ad_campaigns",
    within=(("status", 3),),
    order=(asc("sort_key"),),
    paged=True,
)
AD_INSIGHT_DAYS = QuerySpec(
    "metrics.ad_insight_days",
    "ad_insights",
    equals=("workspace_id",),
    within=(("date", 30),),
)

# CSV exports: a workspace's table in its pipeline's order (shared.metrics.csv_export).
EXPORTS = {
    table: QuerySpec(
        f"metrics.export_{table}",
        collection,
        equals=("workspace_id",),
        order=(asc(order),),
        paged=True,
    )
    for table, collection, order in (
        ("posts", "posts", "due_key"),
        ("post_metrics", "post_metrics_snapshots", "at"),
        ("x_accounts", "x_accounts", "created_key"),
        ("email_campaigns", "email_campaigns", "key"),
        ("email_campaign_metrics", "email_campaign_metrics", "campaign_id"),
        ("email_recipients", "email_batches", "key"),
        ("email_events", "email_events", "at"),
        ("contacts", "contacts", "email_norm"),
        ("candidates", "candidates", "sort_key"),
        ("job_openings", "job_openings", "sort_key"),
        ("ad_campaigns", "ad_campaigns", "sort_key"),
        ("ad_performance", "ad_insights", "date"),
        ("daily_metrics", "metrics_daily", "date"),
        ("campaigns", "campaigns", "created_key"),
        ("post_templates", "post_templates", "created_key"),
        ("series", "post_series", "created_key"),
        ("contact_lists", "contact_lists", "created_at"),
        ("email_templates", "email_templates", "created_at"),
        ("segments", "segments", "sort_key"),
    )
}
