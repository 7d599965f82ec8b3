"""Queries of the drafts generator and its autopilot."""

from shared.queries.spec import QuerySpec, asc, desc

ACTIVE_CAMPAIGNS = QuerySpec(
    "generate.active_campaigns",
    "campaigns",
    equals=("status",),
    order=(asc("created_key"),),
    paged=True,
    why="the hourly autopilot scan",
)
CHANGED_CAMPAIGNS = QuerySpec(
    "generate.changed_campaigns",
    "campaigns",
    range="updated_at",
    range_required=True,
    order=(asc("updated_at"),),
    why="campaigns changed since the scan",
)
UPCOMING_POSTS = QuerySpec(
    "generate.upcoming_posts",
    "posts",
    equals=("campaign_id",),
    range="due_at",
    range_required=True,
    why="the autopilot plans around the campaign's posts still to come",
)

RECENT_TEXTS = QuerySpec(
    "generate.recent_texts",
    "posts",
    equals=("account_id",),
    order=(desc("created_at"),),
    why="the drafts writer avoids repeating an account's latest posts",
)
